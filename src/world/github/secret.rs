//! A string that must never be shown: the PAT and the tokens GitHub hands out.

use std::fmt;

/// Holds a secret (PAT, registration or remove token).
///
/// `Debug` and `Display` print `***`, so a secret inside any struct, error or log line
/// cannot leak by accident; the value is only reachable through [`Secret::expose`].
/// There is deliberately no `Serialize` impl.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself; call only where it is put on the wire or into a 0600 file.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces every occurrence of the given secrets in `text` by `***`.
///
/// Used on every message that comes from outside (GitHub's error bodies, transport errors)
/// before it becomes part of an error, as a second line of defence.
pub(crate) fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        // Very short values would blank out ordinary words; real PATs and tokens are long.
        if secret.expose().len() >= 4 {
            out = out.replace(secret.expose(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("fakepat_supersecret");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "fakepat_supersecret");
    }

    #[test]
    fn scrub_replaces_every_occurrence() {
        let s = Secret::new("fakepat_abc123");
        assert_eq!(
            scrub("x fakepat_abc123 y fakepat_abc123", &[&s]),
            "x *** y ***".to_string()
        );
        assert_eq!(scrub("nothing here", &[&s]), "nothing here");
    }
}
