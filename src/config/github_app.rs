//! The GitHub App settings, ghr's alternative to a personal token: `GITHUB_APP_ID` (or
//! `GITHUB_APP_CLIENT_ID`), `GITHUB_APP_PRIVATE_KEY_FILE` and, optionally,
//! `GITHUB_APP_INSTALLATION_ID`. Checked here for shape; the key file itself is read and
//! checked where it is used (the world stage), with the same one-line settings errors.

use crate::config::error::ConfigError;
use std::path::PathBuf;

pub const ID: &str = "GITHUB_APP_ID";
pub const CLIENT_ID: &str = "GITHUB_APP_CLIENT_ID";
pub const KEY_FILE: &str = "GITHUB_APP_PRIVATE_KEY_FILE";
pub const INSTALLATION_ID: &str = "GITHUB_APP_INSTALLATION_ID";
/// Every key of the App, for the known-keys list and the prompts.
pub const KEYS: [&str; 4] = [ID, CLIENT_ID, KEY_FILE, INSTALLATION_ID];

/// A GitHub App ghr authenticates as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSettings {
    /// Which key holds the id: [`ID`] or [`CLIENT_ID`] (the JWT's `iss` either way).
    pub id_key: &'static str,
    pub id: String,
    pub key_file: PathBuf,
    pub installation_id: Option<u64>,
}

/// The App settings when any is set; an error naming the key when they are incomplete or
/// malformed. `get` is the layered lookup (an empty value counts as unset).
pub fn resolve(get: impl Fn(&str) -> Option<String>) -> Result<Option<AppSettings>, ConfigError> {
    let id = get(ID).map(|v| v.trim().to_string());
    let client_id = get(CLIENT_ID).map(|v| v.trim().to_string());
    let key_file = get(KEY_FILE);
    let installation = get(INSTALLATION_ID);
    if id.is_none() && client_id.is_none() && key_file.is_none() && installation.is_none() {
        return Ok(None);
    }
    let (id_key, id) = match (id, client_id) {
        (Some(id), None) => {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError::new(format!(
                    "{ID}={id} is not an App id; set it to the number on the App's settings page (App ID), or set {CLIENT_ID} to its client id instead"
                )));
            }
            (ID, id)
        }
        (None, Some(client)) => {
            if client.is_empty() || !client.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
                return Err(ConfigError::new(format!(
                    "{CLIENT_ID}={client} is not a client id; copy the App's Client ID from its settings page (like Iv23liAbCdEf...)"
                )));
            }
            (CLIENT_ID, client)
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(format!(
                "{ID} and {CLIENT_ID} are both set; set one of them (either names the App)"
            )))
        }
        (None, None) => {
            return Err(ConfigError::new(format!(
                "{} is set but neither {ID} nor {CLIENT_ID}; set {ID} to the App's id (its settings page, App ID)",
                if key_file.is_some() { KEY_FILE } else { INSTALLATION_ID }
            )))
        }
    };
    let Some(key_file) = key_file else {
        return Err(ConfigError::new(format!(
            "{id_key}={id} is set but {KEY_FILE} is not; set {KEY_FILE} to the path of the App's private key (.pem, mode 600)"
        )));
    };
    let installation_id = match installation {
        None => None,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(ConfigError::new(format!(
                    "{INSTALLATION_ID}={v} is not an installation id; set it to the number at the end of the installation's settings URL, or leave it empty and ghr finds it"
                )))
            }
        },
    };
    Ok(Some(AppSettings {
        id_key,
        id,
        key_file: PathBuf::from(key_file),
        installation_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve_with(pairs: &[(&str, &str)]) -> Result<Option<AppSettings>, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(|k| map.get(k).filter(|v| !v.is_empty()).cloned())
    }

    #[test]
    fn nothing_set_is_no_app() {
        assert_eq!(resolve_with(&[]).unwrap(), None);
        assert_eq!(resolve_with(&[(ID, "")]).unwrap(), None);
    }

    #[test]
    fn an_id_or_a_client_id_with_a_key() {
        let app = resolve_with(&[(ID, "123"), (KEY_FILE, "app.pem")])
            .unwrap()
            .unwrap();
        assert_eq!(
            app,
            AppSettings {
                id_key: ID,
                id: "123".into(),
                key_file: "app.pem".into(),
                installation_id: None
            }
        );
        let app = resolve_with(&[
            (CLIENT_ID, "Iv23liAbC"),
            (KEY_FILE, "/k.pem"),
            (INSTALLATION_ID, "42"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!((app.id_key, app.installation_id), (CLIENT_ID, Some(42)));
    }

    #[test]
    fn incomplete_or_malformed_settings_name_the_key_and_fix() {
        for (pairs, needle) in [
            (
                vec![(ID, "12a"), (KEY_FILE, "k")],
                "GITHUB_APP_ID=12a is not an App id",
            ),
            (
                vec![(CLIENT_ID, "a b"), (KEY_FILE, "k")],
                "GITHUB_APP_CLIENT_ID=a b is not a client id",
            ),
            (
                vec![(ID, "1"), (CLIENT_ID, "Iv1"), (KEY_FILE, "k")],
                "both set; set one",
            ),
            (
                vec![(KEY_FILE, "k")],
                "GITHUB_APP_PRIVATE_KEY_FILE is set but neither GITHUB_APP_ID",
            ),
            (
                vec![(INSTALLATION_ID, "4")],
                "GITHUB_APP_INSTALLATION_ID is set but neither",
            ),
            (
                vec![(ID, "1")],
                "GITHUB_APP_ID=1 is set but GITHUB_APP_PRIVATE_KEY_FILE is not",
            ),
            (
                vec![(ID, "1"), (KEY_FILE, "k"), (INSTALLATION_ID, "x")],
                "GITHUB_APP_INSTALLATION_ID=x is not an installation id",
            ),
            (
                vec![(ID, "1"), (KEY_FILE, "k"), (INSTALLATION_ID, "0")],
                "GITHUB_APP_INSTALLATION_ID=0 is not",
            ),
        ] {
            let err = resolve_with(&pairs).expect_err(needle).to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
