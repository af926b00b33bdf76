//! Whether GitHub accepts the credential the first-run prompts were given (a PAT or a
//! GitHub App): one call, the scope's runners.

use crate::config::settings::Sources;
use crate::world::error::{Error, Result};

/// What GitHub said of a credential.
pub(crate) enum Check {
    Accepted,
    /// GitHub refused it (401, 403): the reason, GitHub's words and the missing scope.
    Rejected(String),
    /// GitHub could not be asked (network, 5xx).
    Unchecked(String),
}

/// One GitHub call with the PAT or App in `sources` (settings errors are the caller's to
/// show).
pub(crate) fn check_credential(sources: &Sources) -> Result<Check> {
    let settings = crate::config::settings::Settings::resolve(sources)?;
    let remote = crate::world::remote::Remote::connect(&settings)?;
    Ok(match remote.list() {
        Ok(_) => Check::Accepted,
        Err(Error::GitHub(e)) if matches!(e.status(), Some(401 | 403 | 404)) => {
            Check::Rejected(e.to_string())
        }
        Err(e) => Check::Unchecked(e.to_string()),
    })
}

/// A prompt that could not be shown (no terminal any more, Ctrl-C).
pub(crate) fn cannot_ask(e: dialoguer::Error) -> Error {
    Error::Cancelled(format!("the question could not be asked: {e}"))
}
