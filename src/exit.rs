//! Exit codes, in one place. README.md lists the same table; `Error::exit` maps each failure.

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
