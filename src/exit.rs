//! Exit codes, in one place. README.md lists the same table.

/// What a ghr process tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Ok = 0,
    /// Something failed (a runner did not register, a container did not start, ...).
    Failure = 1,
    /// The command line is wrong (unknown flag, missing argument).
    Usage = 2,
    /// A setting is wrong or missing (`.env`, environment, flags); nothing was changed.
    Config = 3,
    /// GitHub refused or failed (bad PAT, missing permission, unknown org, rate limit).
    GitHub = 4,
    /// Docker or compose failed or cannot be reached.
    Docker = 5,
    /// Another ghr command is changing this fleet and `--no-wait` was given.
    Busy = 6,
    /// The user declined a confirmation.
    Cancelled = 130,
}

/// The user said no (or could not be asked).
#[derive(Debug)]
pub struct Cancelled(pub String);

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Cancelled {}

/// Some of the work failed; each failure was already reported on its own line.
#[derive(Debug)]
pub struct PartialFailure(pub String);

impl std::fmt::Display for PartialFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PartialFailure {}

/// Maps an error to its exit code by the first typed cause in its chain.
pub fn classify(error: &anyhow::Error) -> Exit {
    for cause in error.chain() {
        if cause.is::<crate::settings::ConfigError>() {
            return Exit::Config;
        }
        if let Some(github) = cause.downcast_ref::<crate::github::GitHubError>() {
            return if github.is_settings_error() {
                Exit::Config
            } else {
                Exit::GitHub
            };
        }
        if cause.is::<crate::docker::DockerError>() {
            return Exit::Docker;
        }
        if cause.is::<crate::fleet_lock::Busy>() {
            return Exit::Busy;
        }
        if cause.is::<Cancelled>() {
            return Exit::Cancelled;
        }
        if cause.is::<PartialFailure>() {
            return Exit::Failure;
        }
    }
    Exit::Failure
}
