//! Who may ask: a loopback-only server needs no token; any other address needs
//! `--token-file` (a 0600 file), and then every request carries the token, checked in
//! constant time. Pure decisions here; the server applies them.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The token requests must carry, kept only as its hash (never shown, never logged).
#[derive(Clone)]
pub struct Token {
    hash: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

impl Token {
    pub fn new(secret: &str) -> Token {
        Token {
            hash: Sha256::digest(secret.as_bytes()).into(),
        }
    }

    /// Constant time in the candidate's content: both sides are hashed to 32 bytes, and
    /// every byte is compared.
    pub fn matches(&self, candidate: &str) -> bool {
        let other: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        self.hash
            .iter()
            .zip(other.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// Reads the token file: it must be the caller's to read alone (no group or other bits),
/// and hold one non-empty line. Errors are one line that says what to fix.
pub fn read_token_file(path: &Path) -> Result<Token, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read --token-file {}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "--token-file {} has mode {mode:03o}; others could read the token: chmod 600 {}",
            path.display(),
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --token-file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(format!(
            "--token-file {} must hold one token (one line, no spaces)",
            path.display()
        ));
    }
    Ok(Token::new(token))
}

/// Binding to `addrs` without a token is refused unless every address is loopback.
pub fn check_exposure(addrs: &[SocketAddr], token: Option<&Token>) -> Result<(), String> {
    let open: Vec<String> = addrs
        .iter()
        .filter(|a| !a.ip().is_loopback())
        .map(|a| a.to_string())
        .collect();
    if token.is_none() && !open.is_empty() {
        return Err(format!(
            "--listen {} is reachable from other hosts; give --token-file PATH (a 0600 file with the token every request must carry), or listen on 127.0.0.1",
            open.join(", ")
        ));
    }
    Ok(())
}

/// Whether a request may be answered: no token configured, or `Authorization: Bearer
/// <token>`, or (GET only: the page, its live updates, a browser's bookmarks)
/// `?token=<token>`.
pub fn allowed(
    token: Option<&Token>,
    method: &str,
    authorization: Option<&str>,
    query_token: Option<&str>,
) -> bool {
    let Some(token) = token else {
        return true;
    };
    if let Some(given) = authorization.and_then(|a| a.strip_prefix("Bearer ")) {
        return token.matches(given.trim());
    }
    match query_token {
        Some(given) if method == "GET" || method == "HEAD" => token.matches(given),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_themselves() {
        let t = Token::new("s3cret");
        assert!(t.matches("s3cret"));
        assert!(!t.matches("s3cre"));
        assert!(!t.matches("s3cret "));
        assert!(!t.matches(""));
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn who_may_ask() {
        let t = Token::new("tok");
        for (token, method, auth, query, ok) in [
            (None, "GET", None, None, true),
            (None, "POST", None, None, true),
            (Some(&t), "GET", None, None, false),
            (Some(&t), "GET", Some("Bearer tok"), None, true),
            (Some(&t), "GET", Some("Bearer nope"), Some("tok"), false),
            (Some(&t), "GET", Some("Basic tok"), None, false),
            (Some(&t), "GET", None, Some("tok"), true),
            (Some(&t), "GET", None, Some("tok2"), false),
            (Some(&t), "POST", None, Some("tok"), false),
            (Some(&t), "DELETE", Some("Bearer tok"), None, true),
        ] {
            assert_eq!(
                allowed(token, method, auth, query),
                ok,
                "{method} {auth:?} {query:?}"
            );
        }
    }

    #[test]
    fn only_loopback_goes_without_a_token() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(check_exposure(&[lo, lo6], None).is_ok());
        let err = check_exposure(&[any], None).unwrap_err();
        assert!(err.contains("--token-file") && !err.contains('\n'), "{err}");
        assert!(check_exposure(&[any], Some(&Token::new("x"))).is_ok());
    }

    #[test]
    fn the_token_file_must_be_private_and_one_token() {
        let dir = std::env::temp_dir().join(format!("ghr-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("token");
        std::fs::write(&f, "abc\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_token_file(&f).unwrap_err();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_token_file(&f).unwrap().matches("abc"));
        std::fs::write(&f, "\n").unwrap();
        assert!(read_token_file(&f).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
