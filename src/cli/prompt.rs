//! First-run prompts: ask for what is missing, on a terminal only, and remember the answers.

use crate::config::error::ConfigError;
use crate::config::settings::Sources;
use crate::world::env_store;
use crate::world::error::{Error, Result};
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
    let no_pat = sources.get("GH_PAT").is_none();
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
    }
    if missing_pat {
        let pat = loop {
            let pat = Password::new()
                .with_prompt(
                    "Classic PAT (admin:org for org runners, repo admin for repo runners; hidden)",
                )
                .allow_empty_password(true)
                .interact()
                .map_err(cannot_ask)?;
            if !pat.trim().is_empty() {
                break pat.trim().to_string();
            }
            crate::cli::ui::info("The PAT is required; please enter it again.");
        };
        answers.push(("GH_PAT", pat));
    }
    if missing_org && sources.get("REPO").is_none() {
        let repo: String = Input::new()
            .with_prompt("Repository (optional; empty for organization runners)")
            .allow_empty(true)
            .interact_text()
            .map_err(cannot_ask)?;
        if !repo.trim().is_empty() {
            answers.push(("REPO", repo.trim().to_string()));
        }
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

fn cannot_ask(e: dialoguer::Error) -> Error {
    Error::Cancelled(format!("the question could not be asked: {e}"))
}
