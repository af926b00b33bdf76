//! Paths inside runner containers that the settings, the compose model and the effects agree
//! on: where the runner image keeps its start script, and where board containers find the
//! wrapper (named so that ghr, a multi-call binary, runs as it there).

pub const RUN_SCRIPT: &str = "/home/runner/run.sh";
/// Where board containers find the wrapper: the mount point, named so that ghr runs as it.
pub const WRAPPER_MOUNT_POINT: &str = "/opt/ghr/runner-wrapper";
