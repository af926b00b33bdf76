//! Who ghr is to GitHub: a personal access token, or a GitHub App (its id, its signing key,
//! its current installation token). The client asks for the token of every request; for an
//! App, `app_token.rs` mints and renews it.

use std::path::PathBuf;
use std::sync::Mutex;

use ring::signature::RsaKeyPair;

use super::error::GitHubError;
use super::install_token::InstallToken;
use super::jwt::{self, Claims};
use super::secret::Secret;
use super::timefmt::now_epoch;

/// The credential of a client.
pub enum Auth {
    /// `GH_PAT`.
    Pat(Secret),
    /// A GitHub App (boxed: it carries its key and state).
    App(Box<App>),
}

/// A GitHub App's credential and its current installation token.
pub struct App {
    /// `GITHUB_APP_ID` or `GITHUB_APP_CLIENT_ID`, whichever is set: the JWT's `iss`.
    pub id_key: &'static str,
    pub id: String,
    /// The private key's file, for messages (never the key).
    pub key_file: PathBuf,
    key: RsaKeyPair,
    /// `GITHUB_APP_INSTALLATION_ID`; `None`: looked up for the scope.
    pub installation_id: Option<u64>,
    /// Where the installation token is cached; `None`: in memory only.
    pub cache: Option<PathBuf>,
    pub(super) token: Mutex<Option<InstallToken>>,
}

impl App {
    pub fn new(
        id_key: &'static str,
        id: impl Into<String>,
        key_file: impl Into<PathBuf>,
        key: RsaKeyPair,
        installation_id: Option<u64>,
        cache: Option<PathBuf>,
    ) -> App {
        App {
            id_key,
            id: id.into(),
            key_file: key_file.into(),
            key,
            installation_id,
            cache,
            token: Mutex::new(None),
        }
    }

    /// The first 16 hex digits of the SHA-256 of the public key (nothing secret).
    pub fn key_digest(&self) -> String {
        use ring::signature::KeyPair;
        crate::model::digest::sha256_hex(self.key.public_key().as_ref())[..16].to_string()
    }

    /// `GITHUB_APP_ID=123`, for messages.
    pub fn shown(&self) -> String {
        format!("{}={}", self.id_key, self.id)
    }

    pub(super) fn jwt(&self) -> Result<Secret, GitHubError> {
        jwt::sign(&Claims::at(now_epoch(), &self.id), &self.key).map_err(|message| {
            GitHubError::AppKey {
                app: self.shown(),
                message,
            }
        })
    }
}

impl Auth {
    pub fn is_app(&self) -> bool {
        matches!(self, Auth::App(_))
    }

    /// The secrets a message must never show: the PAT, or the App's current token. Never
    /// waits: while a token is being minted (its lock held, perhaps by this very thread,
    /// whose request failed), there is no current token to hide.
    pub(super) fn secrets(&self) -> Vec<Secret> {
        match self {
            Auth::Pat(pat) => vec![pat.clone()],
            Auth::App(app) => match app.token.try_lock() {
                Ok(token) => token.iter().map(|t| t.token.clone()).collect(),
                Err(std::sync::TryLockError::Poisoned(e)) => {
                    e.into_inner().iter().map(|t| t.token.clone()).collect()
                }
                Err(std::sync::TryLockError::WouldBlock) => Vec::new(),
            },
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Pat(_) => f.write_str("Pat(***)"),
            Auth::App(app) => write!(f, "App({})", app.shown()),
        }
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
