//! Stage 4, the effects: Docker, GitHub, the token cache, the lock directory, the fleet lock,
//! image builds, and `observe` (gather the state) and `apply` (carry a plan out). Every I/O
//! of ghr is here; nothing here prints (messages go through [`notify`]).

pub mod apply;
pub mod cancel;
pub mod children;
pub mod compose_file;
pub mod concurrent;
pub mod docker;
pub mod env_store;
pub mod ephemeral;
pub mod error;
pub mod fleet_lock;
pub mod fsutil;
pub mod github;
pub mod host;
pub mod image;
pub mod lockdir;
pub mod notify;
pub mod observe;
pub mod remote;
pub mod replug;
pub mod token_cache;
pub mod wrapper_bin;
