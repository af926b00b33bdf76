//! The GitHub App's installation token, cached in a file beside the registration-token cache
//! (`.app_token.cache.<org>[.<repo>]`, mode 0600, replaced atomically) so consecutive ghr
//! commands reuse one token for most of its hour instead of minting one each.
//!
//! # File format
//! ```text
//! 1732300000                        <- epoch seconds when it was minted
//! ghs_...                           <- the installation token
//! 1732303600                        <- GitHub's expires_at, epoch seconds
//! 42                                <- the installation id
//! https://api.github.com 123 acme 0a1b2c3d4e5f6a7b   <- API, App id (or client id), scope
//!                                                        and key digest it is for
//! ```
//! A token is used until [`RENEW_BEFORE_SECS`] before its `expires_at`; one minted for
//! another API, App or scope is a miss. Nothing about the token's length or format is
//! assumed (GitHub is rolling out longer `ghs_` tokens).

use std::path::{Path, PathBuf};

use super::secret::Secret;

/// A token is renewed this long before GitHub lets it expire: a command (or a job
/// registration) that starts with it has minutes to finish.
pub const RENEW_BEFORE_SECS: i64 = 300;

/// One installation token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallToken {
    pub fetched_at: i64,
    pub token: Secret,
    pub expires_at: i64,
    pub installation_id: u64,
    /// `<api> <app id> <scope>`: whom the token is for.
    pub identity: String,
}

impl InstallToken {
    /// Worth using at `now`: more than [`RENEW_BEFORE_SECS`] before it expires, and not
    /// minted in the future (a clock that jumped back by more than a minute).
    pub fn usable(&self, now: i64) -> bool {
        now < self.expires_at - RENEW_BEFORE_SECS && self.fetched_at <= now + 60
    }

    pub fn render(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n",
            self.fetched_at,
            self.token.expose(),
            self.expires_at,
            self.installation_id,
            self.identity
        )
    }

    /// The format of the module docs; `None` for anything else (a miss, never an error).
    pub fn parse(text: &str) -> Option<InstallToken> {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let [fetched, token, expires, installation, identity] = lines.as_slice() else {
            return None;
        };
        if token.is_empty() || token.contains(char::is_whitespace) || identity.is_empty() {
            return None;
        }
        Some(InstallToken {
            fetched_at: fetched.parse().ok()?,
            token: Secret::new(*token),
            expires_at: expires.parse().ok()?,
            installation_id: installation.parse().ok()?,
            identity: identity.to_string(),
        })
    }
}

/// `<dir of the registration-token cache>/.app_token.cache.<org>[.<repo>]`.
pub fn cache_path(reg_token_cache: &Path, scope: &super::scope::Scope) -> PathBuf {
    let name = match &scope.repo {
        None => format!(".app_token.cache.{}", scope.org),
        Some(r) => format!(".app_token.cache.{}.{}", scope.org, r),
    };
    match reg_token_cache.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(name),
        _ => PathBuf::from(name),
    }
}

/// The cached token for `identity`, if the file holds one (fresh or not).
pub fn read(path: &Path, identity: &str) -> Option<InstallToken> {
    let text = std::fs::read_to_string(path).ok()?;
    InstallToken::parse(&text).filter(|t| t.identity == identity)
}

/// Writes the token 0600, atomically. A cache that cannot be written costs a mint per
/// command, nothing more: the error is the caller's to ignore.
pub fn write(path: &Path, token: &InstallToken) -> std::io::Result<()> {
    crate::world::fsutil::write_atomic(path, token.render().as_bytes(), 0o600)
}

/// Forgets the cached token (GitHub refused it).
pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(fetched_at: i64, expires_at: i64) -> InstallToken {
        InstallToken {
            fetched_at,
            token: Secret::new("ghs_x"),
            expires_at,
            installation_id: 7,
            identity: "http://api 1 acme".into(),
        }
    }

    #[test]
    fn renewed_five_minutes_before_it_expires() {
        let t = token(1000, 1000 + 3600);
        for (now, usable) in [
            (1000, true),
            (1000 + 3600 - 301, true),
            (1000 + 3600 - 300, false),
            (1000 + 3600, false),
            (1000 + 9999, false),
            // Minted "in the future": the clock went back; not trusted.
            (1000 - 61, false),
            (1000 - 60, true),
        ] {
            assert_eq!(t.usable(now), usable, "now = {now}");
        }
        // A token GitHub gave a short life is never used.
        assert!(!token(1000, 1000 + 200).usable(1000));
    }

    #[test]
    fn the_file_round_trips_and_garbage_is_a_miss() {
        let t = token(1, 2);
        assert_eq!(InstallToken::parse(&t.render()), Some(t.clone()));
        // No assumption on the token's length or alphabet beyond "one word".
        let long = InstallToken {
            token: Secret::new(format!("ghs_{}", "A".repeat(400))),
            ..t.clone()
        };
        assert_eq!(InstallToken::parse(&long.render()), Some(long));
        for bad in [
            "",
            "1\nghs_x\n2\n7\n",
            "1\nghs x\n2\n7\nid\n",
            "x\nghs_x\n2\n7\nid\n",
            "1\nghs_x\n2\nseven\nid\n",
        ] {
            assert_eq!(InstallToken::parse(bad), None, "{bad:?}");
        }
        assert!(!format!("{t:?}").contains("ghs_x"));
    }

    #[test]
    fn the_cache_sits_beside_the_registration_token_cache() {
        use super::super::scope::Scope;
        assert_eq!(
            cache_path(Path::new(".reg_token.cache.acme"), &Scope::org("acme")),
            PathBuf::from(".app_token.cache.acme")
        );
        assert_eq!(
            cache_path(Path::new("/var/lib/ghr/reg"), &Scope::repo("o", "r")),
            PathBuf::from("/var/lib/ghr/.app_token.cache.o.r")
        );
    }
}
