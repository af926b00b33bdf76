//! The JSON Web Token a GitHub App signs to speak for itself (RS256): what its claims are,
//! and how they are encoded and signed. GitHub's rules: `iat` a little in the past (clock
//! drift), `exp` at most 10 minutes after the JWT is made, `iss` the App's id or client id.

use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};

use super::secret::Secret;

/// How far in the past `iat` is put: GitHub's documented allowance for clock drift.
pub const IAT_BACKDATE_SECS: i64 = 60;
/// How long a JWT lives: under GitHub's 10-minute limit, measured from the true now, so a
/// host clock a little ahead of GitHub's is not refused with "exp too far in the future".
pub const LIFETIME_SECS: i64 = 9 * 60;

/// The claims of one JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

impl Claims {
    /// The claims of a JWT made at `now` (epoch seconds) by App `iss`.
    pub fn at(now: i64, iss: &str) -> Claims {
        Claims {
            iat: now - IAT_BACKDATE_SECS,
            exp: now + LIFETIME_SECS,
            iss: iss.to_string(),
        }
    }

    /// The payload: a numeric App id is a JSON number, a client id (`Iv23li...`) a string.
    fn json(&self) -> String {
        let iss = if !self.iss.is_empty() && self.iss.bytes().all(|b| b.is_ascii_digit()) {
            self.iss.clone()
        } else {
            serde_json::Value::String(self.iss.clone()).to_string()
        };
        format!(
            "{{\"iat\":{},\"exp\":{},\"iss\":{iss}}}",
            self.iat, self.exp
        )
    }
}

/// `header.payload.signature`, each base64url without padding, signed RS256 with `key`.
pub fn sign(claims: &Claims, key: &RsaKeyPair) -> Result<Secret, String> {
    let header = base64url(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = base64url(claims.json().as_bytes());
    let signing_input = format!("{header}.{payload}");
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "signing the App's JWT failed".to_string())?;
    Ok(Secret::new(format!(
        "{signing_input}.{}",
        base64url(&signature)
    )))
}

/// RFC 4648 §5 base64url, no padding (what JWTs use).
fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(input.as_bytes()), want, "{input:?}");
        }
        // The two characters that differ from standard base64.
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn claims_follow_githubs_rules() {
        let c = Claims::at(1_700_000_000, "123");
        assert_eq!(c.iat, 1_700_000_000 - 60, "60 s in the past");
        assert!(c.exp - 1_700_000_000 <= 600, "at most 10 minutes ahead");
        assert!(c.exp > 1_700_000_000);
        assert_eq!(c.iss, "123");
        assert_eq!(c.json(), r#"{"iat":1699999940,"exp":1700000540,"iss":123}"#);
        // A client id is a string claim.
        assert_eq!(
            Claims::at(0, "Iv23liAbC").json(),
            r#"{"iat":-60,"exp":540,"iss":"Iv23liAbC"}"#
        );
        assert_eq!(
            Claims::at(0, "a\"b").json(),
            r#"{"iat":-60,"exp":540,"iss":"a\"b"}"#
        );
    }
}
