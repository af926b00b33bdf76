//! runner-wrapper: the entrypoint of board runners. It runs the GitHub Actions runner as its
//! child and serializes *jobs* that share a hardware resource, across containers and orgs, with
//! flock locks in a shared directory. See README.md for the design and the on-disk format.
//!
//! The decisions are a pure state machine ([`state`]); [`wrapper`] carries its effects out.
//! ghr uses [`contract`] (names, defaults, syntax), [`status`], [`ledger`] and [`history`] (the
//! lock directory), [`hold`] and [`control`] (maintenance holds and releases).

pub mod cli;
pub mod client;
pub mod config;
pub mod contract;
pub mod control;
pub mod dotenv;
pub mod escape;
pub mod health;
pub mod history;
pub mod hold;
pub mod hooks;
pub mod ledger;
pub mod lockdir;
pub mod lockfile;
pub mod messages;
pub mod mountinfo;
pub mod output;
pub mod park;
pub mod parked;
pub mod peer;
pub mod protocol;
pub mod record;
pub mod signals;
pub mod state;
pub mod status;
pub mod tickets;
pub mod turn;
pub mod wrapper;

pub use record::OwnerRecord;
pub use status::{read_lock_dir, Holder, ResourceStatus, Waiter};
