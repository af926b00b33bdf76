//! First-run prompts: ask for what is missing, on a terminal only, and remember the answers.

use crate::cli::credential_check::{cannot_ask, check_credential, Check};
use crate::config::error::ConfigError;
use crate::config::settings::Sources;
use crate::world::env_store;
use crate::world::error::Result;
use dialoguer::{Input, Password};
use std::io::IsTerminal;

/// Which keys a command cannot do without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Local only (`ghr locks`): nothing is required.
    Nothing,
    /// Naming the fleet needs the org (for the default prefix and file names).
    Org,
    /// Talking to GitHub needs the org and the PAT.
    OrgAndPat,
    /// Registering runners needs the org and the PAT, or a REG_TOKEN instead of the PAT.
    OrgAndRegistration,
}

/// Makes sure the keys `need` names are set: asks on a terminal (and writes the answers into
/// the `.env` file), otherwise fails naming the missing keys and how to set them.
pub fn ensure_required(sources: &mut Sources, need: Need) -> Result<()> {
    if need == Need::Nothing {
        return Ok(());
    }
    let missing_org = sources.get("ORG").is_none();
    // A GitHub App (any of its keys; the settings check the rest) stands in for the PAT.
    let no_pat = sources.get("GH_PAT").is_none()
        && crate::config::github_app::KEYS
            .iter()
            .all(|k| sources.get(k).is_none());
    let needed_pat = no_pat
        && match need {
            Need::OrgAndPat => true,
            Need::OrgAndRegistration => sources.get("REG_TOKEN").is_none(),
            Need::Nothing | Need::Org => false,
        };
    if !missing_org && !needed_pat {
        return Ok(());
    }
    // A first run (no ORG) asks for the PAT too, so the next command can talk to GitHub.
    let missing_pat = needed_pat || (missing_org && no_pat);
    let missing: Vec<&str> = [(missing_org, "ORG"), (needed_pat, "GH_PAT")]
        .into_iter()
        .filter_map(|(m, k)| m.then_some(k))
        .collect();
    if !std::io::stdin().is_terminal() {
        let token_note = if needed_pat && sources.get("REG_TOKEN").is_some() {
            " (REG_TOKEN registers runners, but reading and removing them on GitHub takes the PAT)"
        } else {
            ""
        };
        return Err(ConfigError::new(format!(
            "{} not set{token_note}; add {} to {} or export {}",
            missing.join(" and ") + if missing.len() > 1 { " are" } else { " is" },
            missing
                .iter()
                .map(|k| format!("{k}=..."))
                .collect::<Vec<_>>()
                .join(" and "),
            sources.env_path.display(),
            missing.join(" and "),
        ))
        .into());
    }

    if !sources.env_path.exists() {
        crate::cli::ui::info(&format!(
            "There is no {} yet: ghr asks for what it needs and saves the answers there (mode 0600).",
            sources.env_path.display()
        ));
    }
    let mut answers: Vec<(&str, String)> = Vec::new();
    if missing_org {
        let org: String = Input::new()
            .with_prompt("GitHub organization (or user) that owns the runners")
            .validate_with(|v: &String| {
                if v.trim().is_empty() {
                    Err("required")
                } else {
                    Ok(())
                }
            })
            .interact_text()
            .map_err(cannot_ask)?;
        answers.push(("ORG", org.trim().to_string()));
        sources.set_cli("ORG", org.trim().to_string());
    }
    if missing_org && sources.get("REPO").is_none() {
        let repo: String = Input::new()
            .with_prompt("Repository (optional; empty for organization runners)")
            .allow_empty(true)
            .interact_text()
            .map_err(cannot_ask)?;
        if !repo.trim().is_empty() {
            answers.push(("REPO", repo.trim().to_string()));
            sources.set_cli("REPO", repo.trim().to_string());
        }
    }
    if missing_pat {
        answers.extend(ask_checked_pat(sources)?);
    }
    let pairs: Vec<(&str, &str)> = answers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env_store::upsert(&sources.env_path, &pairs)?;
    crate::cli::ui::info(&format!(
        "Saved {} to {}",
        answers
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(", "),
        sources.env_path.display()
    ));
    for (key, value) in answers {
        sources.set_cli(key, value);
    }
    Ok(())
}

/// How many times a PAT is asked for before ghr gives up.
const PAT_TRIES: usize = 3;

/// Asks for the PAT until GitHub accepts it (one call: the scope's runners), at most
/// [`PAT_TRIES`] times. A GitHub that cannot be reached does not block a first run: the PAT is
/// saved unchecked, and the line says so. `app` typed instead asks for a GitHub App
/// ([`crate::cli::prompt_app`]). Returns the `.env` lines to save.
fn ask_checked_pat(sources: &mut Sources) -> Result<Vec<(&'static str, String)>> {
    for attempt in 1..=PAT_TRIES {
        let pat = Password::new()
            .with_prompt(
                "Classic PAT (admin:org for org runners, repo admin for repo runners; hidden), or app to use a GitHub App",
            )
            .allow_empty_password(true)
            .interact()
            .map_err(cannot_ask)?;
        let pat = pat.trim().to_string();
        let again = if attempt < PAT_TRIES {
            "; please enter it again"
        } else {
            ""
        };
        if pat.is_empty() {
            crate::cli::ui::info(&format!("The PAT is required{again}."));
            continue;
        }
        if pat.eq_ignore_ascii_case(crate::cli::prompt_app::SWITCH) {
            return crate::cli::prompt_app::ask(sources);
        }
        sources.set_cli("GH_PAT", pat.clone());
        match check_credential(sources)? {
            Check::Accepted => return Ok(vec![("GH_PAT", pat)]),
            Check::Unchecked(why) => {
                crate::cli::ui::warn(&format!(
                    "the PAT could not be checked with GitHub ({why}); it is saved unchecked"
                ));
                return Ok(vec![("GH_PAT", pat)]);
            }
            Check::Rejected(why) => crate::cli::ui::info(&format!("{why}{again}.")),
        }
    }
    Err(ConfigError::new(format!(
        "no PAT that GitHub accepts after {PAT_TRIES} tries; nothing was saved; create a classic PAT (admin:org for organization runners, repo for repository runners) and run the command again, or put GH_PAT=... in {}",
        sources.env_path.display()
    ))
    .into())
}
