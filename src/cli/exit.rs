//! Exit codes, in one place. README.md lists the same table; [`Exit::of`] maps each failure.

use crate::world::error::Error;

/// What a ghr process tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Ok = 0,
    /// Something failed (a runner did not register, a busy runner was kept, ...).
    Failure = 1,
    /// The command line is wrong (unknown flag, missing argument).
    Usage = 2,
    /// A setting is wrong or missing (`.env`, environment, flags); nothing was changed.
    Config = 3,
    /// GitHub refused or failed (bad PAT, missing permission, SSO, unknown org, rate limit).
    GitHub = 4,
    /// Docker or compose failed or cannot be reached.
    Docker = 5,
    /// Another ghr command is changing this fleet and `--no-wait` was given.
    Busy = 6,
    /// The user declined a confirmation (or could not be asked); also Ctrl-C.
    Cancelled = 130,
}

impl Exit {
    /// The code of a failure.
    pub fn of(error: &Error) -> Exit {
        match error {
            Error::Config(_) => Exit::Config,
            Error::GitHub(e) | Error::GitHubHint(e, _) if e.is_settings_error() => Exit::Config,
            Error::GitHub(_) | Error::GitHubHint(..) => Exit::GitHub,
            Error::Docker(_) => Exit::Docker,
            Error::Busy(_) => Exit::Busy,
            Error::Cancelled(_) | Error::Interrupted(_) => Exit::Cancelled,
            Error::Partial(_) | Error::Failed(_) | Error::Io(_) => Exit::Failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::github::GitHubError;

    #[test]
    fn every_variant_has_its_exit_code() {
        let cases = [
            (Error::Config("x".into()), Exit::Config),
            (Error::GitHub(GitHubError::BadCredentials), Exit::GitHub),
            (Error::GitHub(GitHubError::InvalidPat), Exit::Config),
            (
                Error::GitHub(GitHubError::BadCredentials).hint("x"),
                Exit::GitHub,
            ),
            (Error::Docker("x".into()), Exit::Docker),
            (Error::Busy("x".into()), Exit::Busy),
            (Error::Cancelled("x".into()), Exit::Cancelled),
            (Error::Interrupted("x".into()), Exit::Cancelled),
            (Error::Partial("x".into()), Exit::Failure),
            (Error::Failed("x".into()), Exit::Failure),
            (Error::Io("x".into()), Exit::Failure),
        ];
        for (error, exit) in cases {
            assert_eq!(Exit::of(&error), exit, "{error}");
        }
    }
}
