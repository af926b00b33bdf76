//! Registration-token cache: one file per scope, so repeated ghr commands (and several ghr
//! processes started together) reuse one token instead of asking GitHub each time.
//!
//! # File format
//! ghr writes three lines:
//! ```text
//! 1732300000            <- epoch seconds when the token was fetched
//! AABBCCDD...           <- the registration token
//! 1732303600            <- GitHub's expires_at, epoch seconds
//! ```
//! Lines 1-2 are exactly the shell tool's format, which reads only those two lines, so both
//! tools can share a cache file. A two-line file (written by the shell tool) is read with
//! `expires_at` = fetched + 1 hour, GitHub's lifetime of registration tokens.
//!
//! A fourth line says whom the token is for: the URL runners register to
//! (`GITHUB_SERVER_URL/<org>[/<repo>]`). A token is only good for the server and scope that
//! issued it, so after `GITHUB_SERVER_URL` (or the scope) changed, the cached token is a miss
//! instead of a failed registration. A file without that line (the shell tool's, an older
//! ghr's) was written for the default server, `https://github.com`, and the scope of its name.
//!
//! # Rules
//! A cached token is used while it is younger than the TTL (`REG_TOKEN_CACHE_TTL`, default
//! 300 s; 0 disables the cache) and never within 60 s of `expires_at`. The file is 0600 and
//! replaced atomically (temp file created 0600 in the same directory, then renamed). An
//! exclusive lock on the sidecar `<file>.lock` is held from reading to writing, so a second
//! process waits for the first one's token instead of fetching its own.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::world::error::{Error, Result};

use crate::world::github::{now_epoch, Scope, Secret, Token};

pub const DEFAULT_TTL_SECS: u64 = 300;
/// Never hand out a token that expires within this many seconds.
pub const EXPIRY_MARGIN_SECS: i64 = 60;
/// The longest wait for another process's token fetch (its request gives up after 25 s).
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// GitHub's registration tokens live one hour; assumed when the file does not say.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;
/// The server a cache file without a fourth line was written for.
pub const DEFAULT_SERVER_URL: &str = "https://github.com";

/// `.reg_token.cache.<org>` or `.reg_token.cache.<org>.<repo>` (the shell tool's names).
pub fn default_file_name(scope: &Scope) -> String {
    match &scope.repo {
        None => format!(".reg_token.cache.{}", scope.org),
        Some(r) => format!(".reg_token.cache.{}.{}", scope.org, r),
    }
}

/// One cache file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    pub fetched_at: i64,
    pub token: Secret,
    pub expires_at: i64,
    /// The registration URL the token is for; `None` in files without a fourth line.
    pub target: Option<String>,
}

impl CachedToken {
    /// Reads ghr's four- or three-line or the shell tool's two-line format; `None` if it is
    /// neither (then the cache is a miss, never an error).
    pub fn parse(text: &str) -> Option<CachedToken> {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let (fetched, token, expires, target) = match lines.as_slice() {
            [f, t] => (*f, *t, None, None),
            [f, t, e] => (*f, *t, Some(*e), None),
            [f, t, e, u] => (*f, *t, Some(*e), Some(u.to_string())),
            _ => return None,
        };
        let fetched_at: i64 = fetched.parse().ok()?;
        // `jq -r .token` prints `null` when the API call failed; such files hold no token.
        if token == "null" || token.contains(char::is_whitespace) {
            return None;
        }
        let expires_at = match expires {
            Some(e) => e.parse().ok()?,
            None => fetched_at + TOKEN_LIFETIME_SECS,
        };
        Some(CachedToken {
            fetched_at,
            token: Secret::new(token),
            expires_at,
            target,
        })
    }

    /// The format described in the module docs (the fourth line when the target is known).
    pub fn render(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.fetched_at,
            self.token.expose(),
            self.expires_at
        );
        if let Some(target) = &self.target {
            text.push_str(target);
            text.push('\n');
        }
        text
    }

    /// Whether the token was issued for `target` (a registration URL): the file says so, or
    /// says nothing and `target` is on the default server.
    pub fn is_for(&self, target: &str) -> bool {
        match &self.target {
            Some(t) => t == target,
            None => target
                .strip_prefix(DEFAULT_SERVER_URL)
                .is_some_and(|rest| rest.starts_with('/')),
        }
    }

    /// Usable at `now` under a TTL of `ttl_secs`: younger than the TTL, not from the future
    /// (beyond a minute of clock skew), and more than 60 s before `expires_at`.
    pub fn is_fresh(&self, now: i64, ttl_secs: u64) -> bool {
        let age = now - self.fetched_at;
        age >= -EXPIRY_MARGIN_SECS
            && age < ttl_secs.min(i64::MAX as u64) as i64
            && now < self.expires_at - EXPIRY_MARGIN_SECS
    }

    pub fn to_token(&self) -> Token {
        Token {
            token: self.token.clone(),
            expires_at: self.expires_at,
        }
    }
}

/// The cache of one scope. See the module docs for the rules.
#[derive(Debug, Clone)]
pub struct TokenCache {
    path: PathBuf,
    ttl_secs: u64,
    /// The registration URL tokens are for (see the module docs); `None`: any token.
    target: Option<String>,
    /// How long to wait for another process holding the lock.
    lock_wait: std::time::Duration,
}

impl TokenCache {
    pub fn new(path: impl Into<PathBuf>, ttl_secs: u64) -> Self {
        TokenCache {
            path: path.into(),
            ttl_secs,
            target: None,
            lock_wait: LOCK_WAIT,
        }
    }

    /// Waits at most `wait` for another process's fetch (default [`LOCK_WAIT`]).
    pub fn with_lock_wait(mut self, wait: std::time::Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// The cache of tokens for `target`, the URL runners register to
    /// (`Settings::registration_url`): a token cached for another server or scope is a miss.
    pub fn for_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sidecar lock file, `<file>.lock`; never removed, so every process locks the same
    /// inode.
    pub fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// The cached token if it is fresh now, else calls `fetch` once and caches its token.
    /// Errors of `fetch` come back unchanged (downcast to `GitHubError` for the exit code).
    pub fn get_or_fetch<E>(&self, fetch: impl FnOnce() -> Result<Token, E>) -> Result<Token>
    where
        E: Into<Error>,
    {
        let _lock = self.lock()?;
        if let Some(cached) = self.read()? {
            let ours = self.target.as_deref().is_none_or(|t| cached.is_for(t));
            if ours && cached.is_fresh(now_epoch(), self.ttl_secs) {
                return Ok(cached.to_token());
            }
        }
        let token = fetch().map_err(Into::into)?;
        let entry = CachedToken {
            fetched_at: now_epoch(),
            token: token.token.clone(),
            expires_at: token.expires_at,
            target: self.target.clone(),
        };
        self.write(&entry).map_err(|e| {
            Error::io(
                format!("cannot write token cache {}", self.path.display()),
                e,
            )
        })?;
        Ok(token)
    }

    /// The file's content, fresh or not; `None` when missing or unreadable as a cache.
    pub fn read(&self) -> Result<Option<CachedToken>> {
        match fs::read_to_string(&self.path) {
            Ok(text) => Ok(CachedToken::parse(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            // Not UTF-8 or similar garbage: a miss, to be overwritten.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Ok(None),
            Err(e) => Err(Error::io(
                format!("cannot read token cache {}", self.path.display()),
                e,
            )),
        }
    }

    /// Forgets the cached token (e.g. after GitHub refused it), under the lock.
    pub fn invalidate(&self) -> Result<()> {
        let _lock = self.lock()?;
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(
                format!("cannot remove token cache {}", self.path.display()),
                e,
            )),
            _ => Ok(()),
        }
    }

    /// Exclusive lock on the sidecar; released when the returned file is dropped. Its holder
    /// fetches one token (a GitHub request has its own limit), so waiting for it is bounded
    /// too: said after a moment, given up after [`LOCK_WAIT`].
    fn lock(&self) -> Result<File> {
        let path = self.lock_path();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                Error::io(
                    format!("cannot open token cache lock {}", path.display()),
                    e,
                )
            })?;
        let started = std::time::Instant::now();
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::io(format!("cannot lock {}", path.display()), e))
                }
            }
            let waited = started.elapsed();
            if waited >= self.lock_wait {
                return Err(Error::Failed(format!(
                    "another ghr has held {} for {} s without finishing its registration token; run the command again, or look for a hung ghr",
                    path.display(),
                    self.lock_wait.as_secs()
                )));
            }
            if !said && waited >= std::time::Duration::from_secs(2) {
                said = true;
                crate::world::notify::info(&format!(
                    "waiting for another ghr that is fetching a registration token ({}; at most {} s)",
                    path.display(),
                    self.lock_wait.as_secs()
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// 0600 from creation, replaced atomically: the token is never world-readable.
    fn write(&self, entry: &CachedToken) -> io::Result<()> {
        crate::world::fsutil::write_atomic(&self.path, entry.render().as_bytes(), 0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_shell_tool() {
        assert_eq!(default_file_name(&Scope::org("o")), ".reg_token.cache.o");
        assert_eq!(
            default_file_name(&Scope::repo("o", "r")),
            ".reg_token.cache.o.r"
        );
    }

    #[test]
    fn parses_both_formats() {
        let shell = CachedToken::parse("1700000000\nAAAA\n").unwrap();
        assert_eq!(shell.fetched_at, 1_700_000_000);
        assert_eq!(shell.token.expose(), "AAAA");
        assert_eq!(shell.expires_at, 1_700_003_600);

        let ours = CachedToken::parse("1700000000\nBBBB\n1700001000\n").unwrap();
        assert_eq!(ours.expires_at, 1_700_001_000);
        assert_eq!(CachedToken::parse(&ours.render()), Some(ours));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "x\ny\n",
            "1700000000\n",
            "1700000000\nnull\n",
            "1\nA\nB\n",
            "1\nA\n2\n3\n4\n",
            "1\nA\nB\nhttps://github.com/o\n",
        ] {
            assert_eq!(CachedToken::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_token_belongs_to_one_server_and_scope() {
        let with = |target: Option<&str>| CachedToken {
            fetched_at: 1,
            token: Secret::new("T"),
            expires_at: 2,
            target: target.map(String::from),
        };
        for (file, asked, ok) in [
            // Files without a fourth line are the default server's.
            (None, "https://github.com/acme", true),
            (None, "https://github.com/acme/fw", true),
            (None, "https://ghes.example/acme", false),
            (None, "https://github.com.evil/acme", false),
            (
                Some("https://ghes.example/acme"),
                "https://ghes.example/acme",
                true,
            ),
            (
                Some("https://ghes.example/acme"),
                "https://github.com/acme",
                false,
            ),
            (
                Some("https://github.com/acme"),
                "https://github.com/acme/fw",
                false,
            ),
            (
                Some("http://127.0.0.1:9/acme"),
                "http://127.0.0.1:8/acme",
                false,
            ),
        ] {
            assert_eq!(with(file).is_for(asked), ok, "{file:?} for {asked}");
        }
        let t = with(Some("https://ghes.example/acme"));
        assert_eq!(CachedToken::parse(&t.render()), Some(t.clone()));
        assert_eq!(t.render().lines().count(), 4);
        assert_eq!(with(None).render().lines().count(), 3);
    }

    #[test]
    fn freshness_honours_ttl_and_expiry() {
        let t = CachedToken {
            fetched_at: 1000,
            token: Secret::new("T"),
            expires_at: 1000 + 3600,
            target: None,
        };
        assert!(t.is_fresh(1000, 300));
        assert!(t.is_fresh(1299, 300));
        assert!(!t.is_fresh(1300, 300));
        assert!(!t.is_fresh(1000, 0));
        // A long TTL is still bounded by expires_at - 60.
        assert!(t.is_fresh(4539, 100_000));
        assert!(!t.is_fresh(4540, 100_000));
        // From the future (clock jumped back): not trusted.
        assert!(!t.is_fresh(900, 300));
    }

    #[test]
    fn debug_hides_the_token() {
        let t = CachedToken::parse("1\nSECRETTOKEN\n").unwrap();
        assert!(!format!("{t:?}").contains("SECRETTOKEN"));
    }
}
