//! Pure renderings of what ghr knows, shared by the commands that print them (`ghr list
//! --json`, `ghr locks --json|--history --json|--prometheus`) and by `ghr serve`, which
//! answers them over HTTP: one shape, one place.

pub mod fleet_json;
pub mod history_json;
pub mod locks_json;
pub mod prometheus;
