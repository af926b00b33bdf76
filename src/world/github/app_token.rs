//! A GitHub App's installation token, as the client's bearer: [`GitHub::bearer`] hands out
//! the PAT, or an installation token from memory, the 0600 cache file, or minted now with a
//! JWT signed by the App's key (`GET /orgs/{org}/installation` or
//! `/repos/{o}/{r}/installation` finds the installation when its id is not given, then
//! `POST /app/installations/{id}/access_tokens`). A token is renewed 5 minutes before it
//! expires, or once when GitHub answers 401 to it.

use reqwest::{Method, Url};
use serde::Deserialize;

use super::auth::{lock, App, Auth};
use super::client::{github_message, GitHub, Reply, Result};
use super::error::GitHubError;
use super::install_token::{self, InstallToken};
use super::secret::Secret;
use super::timefmt::{now_epoch, parse_rfc3339};

#[derive(Deserialize)]
struct InstallationJson {
    id: u64,
}

#[derive(Deserialize)]
struct AccessTokenJson {
    token: String,
    expires_at: String,
}

impl GitHub {
    /// The token for the next request: the PAT, or a usable installation token (from memory,
    /// the cache file, or minted now). Parallel callers wait for one mint.
    pub(super) fn bearer(&self) -> Result<Secret> {
        let app = match &self.auth {
            Auth::Pat(pat) => return Ok(pat.clone()),
            Auth::App(app) => app,
        };
        let mut current = lock(&app.token);
        let now = now_epoch();
        if let Some(t) = current.as_ref().filter(|t| t.usable(now)) {
            return Ok(t.token.clone());
        }
        let identity = self.app_identity(app);
        if let Some(t) = app
            .cache
            .as_deref()
            .and_then(|p| install_token::read(p, &identity))
            .filter(|t| t.usable(now))
        {
            let token = t.token.clone();
            *current = Some(t);
            return Ok(token);
        }
        let minted = self.mint(app, identity)?;
        if let Some(path) = &app.cache {
            // A cache that cannot be written costs a mint per command, nothing more.
            let _ = install_token::write(path, &minted);
        }
        let token = minted.token.clone();
        *current = Some(minted);
        Ok(token)
    }

    /// GitHub answered 401 to `used`: forget it (memory and file), so the next
    /// [`GitHub::bearer`] mints a new one. False for a PAT (nothing to renew).
    pub(super) fn forget_bearer(&self, used: &Secret) -> bool {
        let Auth::App(app) = &self.auth else {
            return false;
        };
        let mut current = lock(&app.token);
        if current.as_ref().is_some_and(|t| &t.token == used) {
            *current = None;
            if let Some(path) = &app.cache {
                install_token::remove(path);
            }
        }
        true
    }

    /// Whom a cached token is for: the API, the App, the scope and the App's key (its public
    /// half's digest), so a changed key is tried at once rather than an hour later.
    fn app_identity(&self, app: &App) -> String {
        format!(
            "{} {} {} {}",
            self.api_url(),
            app.id,
            self.scope(),
            app.key_digest()
        )
    }

    /// Finds the installation (unless given) and mints an installation token.
    fn mint(&self, app: &App, identity: String) -> Result<InstallToken> {
        let jwt = app.jwt()?;
        let installation_id = match app.installation_id {
            Some(id) => id,
            None => {
                let mut segments = self.scope().path_segments();
                segments.push("installation");
                let url = self.url(&segments);
                let reply = self.send_as(&Method::GET, &url, None, &jwt)?;
                match reply.status {
                    200..=299 => self.decode::<InstallationJson>(&url, &reply.body)?.id,
                    404 => {
                        return Err(GitHubError::AppNotInstalled {
                            app: app.shown(),
                            scope: self.scope().clone(),
                            installation: None,
                        })
                    }
                    _ => return Err(self.app_refusal(app, &Method::GET, &url, reply)),
                }
            }
        };
        let url = self.url(&[
            "app",
            "installations",
            &installation_id.to_string(),
            "access_tokens",
        ]);
        let reply = self.send_as(&Method::POST, &url, None, &jwt)?;
        let json: AccessTokenJson = match reply.status {
            200..=299 => self.decode(&url, &reply.body)?,
            404 => {
                return Err(GitHubError::AppNotInstalled {
                    app: app.shown(),
                    scope: self.scope().clone(),
                    installation: Some(installation_id),
                })
            }
            403 if is_suspension(&github_message(&reply.body)) => {
                return Err(GitHubError::AppSuspended {
                    app: app.shown(),
                    scope: self.scope().clone(),
                    installation: installation_id,
                })
            }
            _ => return Err(self.app_refusal(app, &Method::POST, &url, reply)),
        };
        let expires_at =
            parse_rfc3339(&json.expires_at).ok_or_else(|| GitHubError::InvalidResponse {
                path: url.path().to_owned(),
                message: format!("`expires_at` is not an RFC 3339 time: {}", json.expires_at),
            })?;
        Ok(InstallToken {
            fetched_at: now_epoch(),
            token: Secret::new(json.token),
            expires_at,
            installation_id,
            identity,
        })
    }

    /// A refused JWT request as one line: 401 names the App id and key file.
    fn app_refusal(&self, app: &App, method: &Method, url: &Url, reply: Reply) -> GitHubError {
        let message = github_message(&reply.body);
        match reply.status {
            401 => GitHubError::AppRejected {
                app: app.shown(),
                key_file: app.key_file.display().to_string(),
                message,
            },
            status => GitHubError::Unexpected {
                status,
                method: method.to_string(),
                path: url.path().to_owned(),
                message,
            },
        }
    }
}

/// Whether GitHub's message to a token request says the installation is suspended ("This
/// installation has been suspended", or "... owned by <account> suspended ...").
fn is_suspension(message: &str) -> bool {
    message.to_ascii_lowercase().contains("suspended")
}

#[cfg(test)]
mod tests {
    use super::is_suspension;

    #[test]
    fn a_suspension_is_told_by_githubs_message() {
        for (message, want) in [
            ("This installation has been suspended", true),
            ("Sorry. This installation owned by acme is suspended.", true),
            ("Resource not accessible by integration", false),
            ("", false),
        ] {
            assert_eq!(is_suspension(message), want, "{message}");
        }
    }
}
