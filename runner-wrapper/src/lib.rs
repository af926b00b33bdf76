//! runner-wrapper: the entrypoint of board runners. It runs the GitHub Actions runner as its
//! child and serializes *jobs* that share a hardware resource, across containers and orgs, with
//! flock locks in a shared directory. See README.md for the design and the on-disk format.
//!
//! `ghr locks` uses [`status::read_lock_dir`].

pub mod cli;
pub mod client;
pub mod config;
pub mod coordinator;
pub mod hooks;
pub mod lockdir;
pub mod output;
pub mod protocol;
pub mod record;
pub mod signals;
pub mod status;
pub mod supervise;
pub mod tickets;

pub use record::OwnerRecord;
pub use status::{read_lock_dir, Holder, ResourceStatus, Waiter};
