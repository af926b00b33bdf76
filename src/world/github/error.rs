//! Errors of the GitHub client: one line each, saying what the user can do about it.
//!
//! No variant holds a secret, and none has a `source()`: transport errors are flattened to
//! a scrubbed message when they are built, so an error chain cannot carry a URL or header
//! of the request that failed.

use std::error::Error as StdError;
use std::fmt;

use super::scope::Scope;
use super::timefmt::format_utc;

/// Everything the GitHub client can fail with. All variants are GitHub errors (map them to
/// the GitHub exit code) except [`GitHubError::InvalidApiUrl`] and [`GitHubError::InvalidPat`],
/// which are settings errors ([`GitHubError::is_settings_error`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitHubError {
    /// 401: GitHub rejected the PAT.
    BadCredentials,
    /// 403 that is not a rate limit: the PAT lacks the permission for this scope. `message`
    /// is GitHub's own.
    /// `granted`: the classic PAT's scopes as GitHub lists them (`X-OAuth-Scopes`), when it
    /// says.
    Forbidden {
        scope: Scope,
        message: String,
        granted: Option<String>,
    },
    /// 403 with `X-GitHub-SSO: required`: the org enforces SAML single sign-on and the PAT
    /// is not authorized for it; `url` is where to authorize it.
    SsoRequired { scope: Scope, url: String },
    /// 404 on a scope endpoint: the org/repo does not exist or the PAT cannot see it.
    NotFound { scope: Scope },
    /// 404 on a runner endpoint: no runner with this id (any more).
    RunnerNotFound { scope: Scope, id: u64 },
    /// 422 on delete: the runner is running a job.
    RunnerBusy { runner: String },
    /// Rate limit whose reset is too far away to wait for.
    RateLimited { reset_at: i64 },
    /// Any other answer GitHub should not give, after retries (5xx) where they apply.
    Unexpected {
        status: u16,
        method: String,
        path: String,
        message: String,
    },
    /// Could not talk to the API (connect, reset, timeout), after retries.
    Network { api: String, message: String },
    /// GitHub answered with something we cannot read.
    InvalidResponse { path: String, message: String },
    /// `GITHUB_API_URL` is not an http(s) URL.
    InvalidApiUrl { url: String, message: String },
    /// `GH_PAT` holds characters an HTTP header cannot carry (e.g. a pasted newline).
    InvalidPat,
    /// `HTTP_PROXY` / `HTTPS_PROXY` is not a proxy URL.
    InvalidProxy { key: &'static str, message: String },
    /// The command is being interrupted: the request was not sent.
    Interrupted,
}

impl GitHubError {
    /// True for mistakes in ghr's settings rather than answers from GitHub.
    pub fn is_settings_error(&self) -> bool {
        matches!(
            self,
            GitHubError::InvalidApiUrl { .. }
                | GitHubError::InvalidPat
                | GitHubError::InvalidProxy { .. }
        )
    }

    /// The HTTP status GitHub answered with, when the error is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::BadCredentials => Some(401),
            GitHubError::Forbidden { .. } | GitHubError::SsoRequired { .. } => Some(403),
            GitHubError::NotFound { .. } | GitHubError::RunnerNotFound { .. } => Some(404),
            GitHubError::RunnerBusy { .. } => Some(422),
            GitHubError::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for GitHubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitHubError::BadCredentials => write!(
                f,
                "GitHub rejected the PAT (GH_PAT): bad credentials (HTTP 401); \
                 check that GH_PAT holds a valid, unexpired token"
            ),
            GitHubError::Forbidden {
                scope,
                message,
                granted,
            } => {
                write!(
                    f,
                    "the PAT (GH_PAT) lacks permission to manage the self-hosted runners of {} \
                     (HTTP 403",
                    scope.describe()
                )?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                write!(f, "): it needs {}", scope.permission_needed())?;
                match granted.as_deref().map(str::trim) {
                    Some("") => write!(f, "; the PAT has no scopes"),
                    Some(scopes) => write!(f, "; the PAT has: {scopes}"),
                    None => Ok(()),
                }
            }
            GitHubError::SsoRequired { scope, url } => {
                write!(
                    f,
                    "{} enforces SAML single sign-on and the PAT (GH_PAT) is not authorized for it (HTTP 403); authorize the token for the organization",
                    scope.describe()
                )?;
                if url.is_empty() {
                    write!(f, " (GitHub: Settings > Developer settings > Personal access tokens > Configure SSO)")
                } else {
                    write!(f, " at {url}")
                }
            }
            GitHubError::NotFound { scope } => write!(
                f,
                "{} does not exist or the PAT (GH_PAT) cannot see it (HTTP 404); \
                 check ORG/REPO and the token's access",
                scope.describe()
            ),
            GitHubError::RunnerNotFound { scope, id } => write!(
                f,
                "runner id {id} is not registered with {} (HTTP 404)",
                scope.describe()
            ),
            GitHubError::RunnerBusy { runner } => write!(
                f,
                "runner `{runner}` is running a job (HTTP 422); not removed, \
                 try again when the job has finished"
            ),
            GitHubError::RateLimited { reset_at } => write!(
                f,
                "GitHub API rate limit exhausted; it resets at {}, try again then",
                format_utc(*reset_at)
            ),
            GitHubError::Unexpected {
                status,
                method,
                path,
                message,
            } => {
                write!(f, "GitHub answered HTTP {status} to {method} {path}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            GitHubError::Network { api, message } => {
                write!(f, "cannot reach the GitHub API at {api}: {message}")
            }
            GitHubError::InvalidResponse { path, message } => {
                write!(f, "unreadable answer from GitHub for {path}: {message}")
            }
            GitHubError::InvalidApiUrl { url, message } => {
                write!(f, "GITHUB_API_URL `{url}` is not usable: {message}")
            }
            GitHubError::InvalidProxy { key, message } => write!(
                f,
                "{key} is not a usable proxy URL ({message}); set it like http://proxy.example:3128"
            ),
            GitHubError::Interrupted => write!(f, "interrupted before asking GitHub"),
            GitHubError::InvalidPat => write!(
                f,
                "GH_PAT contains characters that cannot be sent in an HTTP header \
                 (a stray newline or space?)"
            ),
        }
    }
}

impl StdError for GitHubError {}

/// A transport error as one line without URL: what went wrong and the innermost cause
/// (e.g. "connection failed: Connection refused (os error 111)").
pub(crate) fn describe_transport(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "reading the answer failed"
    } else {
        "request failed"
    };
    let mut cause: Option<String> = None;
    let mut source = err.source();
    while let Some(s) = source {
        cause = Some(s.to_string());
        source = s.source();
    }
    match cause {
        Some(c) if !c.is_empty() => format!("{kind}: {c}"),
        _ => kind.to_owned(),
    }
}
