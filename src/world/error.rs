//! One error type for every failure ghr reports: each variant is one line that says what
//! went wrong and how to fix it, and is one kind of failure with its own exit code
//! (`cli::exit` maps them; the README lists them), so no failure can escape classification.

use crate::world::github::GitHubError;

#[derive(Debug)]
pub enum Error {
    /// A setting is wrong or missing (names the key, the value and the fix); nothing changed.
    Config(String),
    /// GitHub refused or failed.
    GitHub(GitHubError),
    /// GitHub refused or failed, and what the user can do instead (said after it).
    GitHubHint(GitHubError, String),
    /// Docker, compose or an image build failed, or the engine cannot be reached.
    Docker(String),
    /// Another ghr command is changing this fleet and `--no-wait` was given.
    Busy(String),
    /// The user declined a confirmation, or it was needed without a terminal.
    Cancelled(String),
    /// Some of the work failed; each failure was already reported on its own line.
    Partial(String),
    /// The command could not do what it was asked, and says why (e.g. a resource held by a
    /// job that `ghr release` without `--force` will not take away).
    Failed(String),
    /// A file of ghr's own could not be read or written.
    Io(String),
    /// The command was interrupted (a signal came) before this could be done.
    Interrupted(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O failure of `what` (e.g. "cannot write docker-compose.acme.yml").
    pub fn io(what: impl std::fmt::Display, e: std::io::Error) -> Error {
        Error::Io(format!("{what}: {e}"))
    }

    /// The same error with `context` in front (for GitHub errors, in the message only).
    pub fn context(self, context: impl std::fmt::Display) -> Error {
        match self {
            Error::Config(m) => Error::Config(format!("{context}: {m}")),
            Error::GitHub(e) => Error::Partial(format!("{context}: {e}")),
            Error::GitHubHint(e, hint) => Error::Partial(format!("{context}: {e}; {hint}")),
            Error::Docker(m) => Error::Docker(format!("{context}: {m}")),
            Error::Busy(m) => Error::Busy(format!("{context}: {m}")),
            Error::Cancelled(m) => Error::Cancelled(format!("{context}: {m}")),
            Error::Partial(m) => Error::Partial(format!("{context}: {m}")),
            Error::Failed(m) => Error::Failed(format!("{context}: {m}")),
            Error::Io(m) => Error::Io(format!("{context}: {m}")),
            Error::Interrupted(m) => Error::Interrupted(format!("{context}: {m}")),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::GitHub(e) => write!(f, "{e}"),
            Error::GitHubHint(e, hint) => write!(f, "{e}; {hint}"),
            Error::Config(m)
            | Error::Docker(m)
            | Error::Busy(m)
            | Error::Cancelled(m)
            | Error::Partial(m)
            | Error::Failed(m)
            | Error::Io(m)
            | Error::Interrupted(m) => f.write_str(m),
        }
    }
}

impl Error {
    /// The same failure with `hint` (what to do instead) said after it; the exit code stays.
    pub fn hint(self, hint: impl Into<String>) -> Error {
        let hint = hint.into();
        match self {
            Error::GitHub(e) => Error::GitHubHint(e, hint),
            Error::GitHubHint(e, first) => Error::GitHubHint(e, format!("{first}; {hint}")),
            Error::Config(m) => Error::Config(format!("{m}; {hint}")),
            other => other,
        }
    }
}

impl std::error::Error for Error {}

impl From<GitHubError> for Error {
    fn from(e: GitHubError) -> Self {
        Error::GitHub(e)
    }
}

impl From<crate::config::error::ConfigError> for Error {
    fn from(e: crate::config::error::ConfigError) -> Self {
        Error::Config(e.to_string())
    }
}
