//! The first-run prompts' other credential: a GitHub App instead of a PAT. Typed `app` at
//! the PAT prompt, ghr asks for the App's id (or client id) and its private key file, checks
//! them with one GitHub call (as it checks a PAT), and saves `GITHUB_APP_ID` (or
//! `GITHUB_APP_CLIENT_ID`) and `GITHUB_APP_PRIVATE_KEY_FILE`; the key stays in its file.

use crate::config::error::ConfigError;
use crate::config::github_app::{CLIENT_ID, ID, KEY_FILE};
use crate::config::settings::Sources;
use crate::world::error::{Error, Result};
use dialoguer::Input;

/// What typed at the PAT prompt switches to the App.
pub const SWITCH: &str = "app";

/// How many times the App is asked for before ghr gives up.
const TRIES: usize = 3;

/// Asks for the App until GitHub accepts it; the `.env` lines to save.
pub fn ask(sources: &mut Sources) -> Result<Vec<(&'static str, String)>> {
    crate::cli::ui::info(
        "GitHub App: it needs the organization permission \"Self-hosted runners\" (read and write), or \"Administration\" (read and write) for repository runners, and must be installed on the organization.",
    );
    for attempt in 1..=TRIES {
        let again = if attempt < TRIES {
            "; please enter it again"
        } else {
            ""
        };
        let id: String = Input::new()
            .with_prompt("GitHub App ID (or client ID)")
            .interact_text()
            .map_err(super::credential_check::cannot_ask)?;
        let id = id.trim().to_string();
        let id_key = if id.bytes().all(|b| b.is_ascii_digit()) {
            ID
        } else {
            CLIENT_ID
        };
        let key: String = Input::new()
            .with_prompt("Path of the App's private key (.pem, mode 600)")
            .interact_text()
            .map_err(super::credential_check::cannot_ask)?;
        let key = key.trim().to_string();
        let other = if id_key == ID { CLIENT_ID } else { ID };
        sources.set_cli(other, String::new());
        sources.set_cli(id_key, id.clone());
        sources.set_cli(KEY_FILE, key.clone());
        let answers = vec![(id_key, id), (KEY_FILE, key)];
        match super::credential_check::check_credential(sources) {
            Ok(super::credential_check::Check::Accepted) => return Ok(answers),
            Ok(super::credential_check::Check::Unchecked(why)) => {
                crate::cli::ui::warn(&format!(
                    "the App could not be checked with GitHub ({why}); it is saved unchecked"
                ));
                return Ok(answers);
            }
            Ok(super::credential_check::Check::Rejected(why)) => {
                crate::cli::ui::info(&format!("{why}{again}."))
            }
            // A key file or id the settings refuse: said, and asked again.
            Err(Error::Config(why)) => crate::cli::ui::info(&format!("{why}{again}.")),
            Err(e) => return Err(e),
        }
    }
    for key in [ID, CLIENT_ID, KEY_FILE] {
        sources.set_cli(key, String::new());
    }
    Err(ConfigError::new(format!(
        "no GitHub App that GitHub accepts after {TRIES} tries; nothing was saved; check the App id and its key file, and run the command again, or put {ID}=... and {KEY_FILE}=... in {}",
        sources.env_path.display()
    ))
    .into())
}
