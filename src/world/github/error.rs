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
    /// 401 to the App's JWT: the App id is not the key's App (or the clock is far off).
    /// `app` is `GITHUB_APP_ID=<id>` (or the client id's key).
    AppRejected {
        app: String,
        key_file: String,
        message: String,
    },
    /// The App is not installed on the scope (404 to its installation lookup), or
    /// `GITHUB_APP_INSTALLATION_ID` is not one of its installations.
    AppNotInstalled {
        app: String,
        scope: Scope,
        installation: Option<u64>,
    },
    /// 403 "This installation has been suspended" to minting a token: an owner suspended it.
    AppSuspended {
        app: String,
        scope: Scope,
        installation: u64,
    },
    /// 401 to an installation token GitHub had just issued (after the one renewal).
    AppBadCredentials { app: String },
    /// 403 that is not a rate limit to the App's installation token: a permission missing.
    AppForbidden { scope: Scope, message: String },
    /// The App's key could not sign its JWT.
    AppKey { app: String, message: String },
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
            GitHubError::BadCredentials
            | GitHubError::AppRejected { .. }
            | GitHubError::AppBadCredentials { .. } => Some(401),
            GitHubError::AppForbidden { .. } | GitHubError::AppSuspended { .. } => Some(403),
            GitHubError::AppNotInstalled { .. } => Some(404),
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
            GitHubError::AppRejected {
                app,
                key_file,
                message,
            } => write!(
                f,
                "GitHub rejected the App's JWT (HTTP 401: {message}): {app} is not the App whose private key is GITHUB_APP_PRIVATE_KEY_FILE={key_file}, or this host's clock is off; check the App id (or client id) in the App's settings and that the key is one of its private keys"
            ),
            GitHubError::AppNotInstalled {
                app,
                scope,
                installation: None,
            } => write!(
                f,
                "the GitHub App {app} is not installed on {} (HTTP 404); install it there (the App's settings > Install App), or check ORG/REPO and the App id",
                scope.describe()
            ),
            GitHubError::AppNotInstalled {
                app,
                installation: Some(id),
                ..
            } => write!(
                f,
                "GITHUB_APP_INSTALLATION_ID={id} is not an installation of the GitHub App {app} (HTTP 404); fix it, or remove it and ghr finds the installation itself"
            ),
            GitHubError::AppSuspended {
                app,
                scope,
                installation,
            } => write!(
                f,
                "the GitHub App {app}'s installation {installation} on {} is suspended (HTTP 403), so GitHub gives it no token; an owner unsuspends it in the account's Settings > GitHub Apps > Configure > Unsuspend (if the App's owner suspended it, only they can), then run the command again",
                scope.describe()
            ),
            GitHubError::AppBadCredentials { app } => write!(
                f,
                "GitHub rejected the installation token it had just issued to the App {app} (HTTP 401); check that the installation is not suspended, then run the command again"
            ),
            GitHubError::AppForbidden { scope, message } => {
                write!(
                    f,
                    "the GitHub App lacks permission to manage the self-hosted runners of {} (HTTP 403",
                    scope.describe()
                )?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                write!(
                    f,
                    "): it needs {}; grant it in the App's settings > Permissions, then accept the new permissions on the installation",
                    scope.app_permission_needed()
                )
            }
            GitHubError::AppKey { app, message } => {
                write!(f, "the private key of the GitHub App {app}: {message}")
            }
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
