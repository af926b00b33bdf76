//! Which fleets `ghr serve` shows: the `--env-file`s given, else every `*.env` and `.env` of
//! `--dir` (default: the current directory), each resolved like any ghr command's settings
//! (without prompts: nobody is there to answer).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runner_wrapper::contract::parse_duration;

use super::state::FleetInfo;
use crate::config::settings::{Settings, Sources};
use crate::world::error::{Error, Result};

pub const DEFAULT_GITHUB_REFRESH: Duration = Duration::from_secs(30);

/// Settings files named `*.env` or `.env` in a directory listing, sorted.
pub fn env_files_in(names: &[String]) -> Vec<String> {
    let mut v: Vec<String> = names
        .iter()
        .filter(|n| n.as_str() == ".env" || (n.ends_with(".env") && n.len() > 4))
        .cloned()
        .collect();
    v.sort();
    v
}

/// The settings files to serve.
pub fn env_files(given: &[PathBuf], dir: Option<&Path>) -> Result<Vec<PathBuf>> {
    if !given.is_empty() {
        if dir.is_some() {
            return Err(Error::Config(
                "give either --env-file (one per fleet) or --dir, not both".into(),
            ));
        }
        return Ok(given.to_vec());
    }
    let dir = dir.unwrap_or(Path::new("."));
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("cannot read --dir {}", dir.display()), e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let found = env_files_in(&names);
    if found.is_empty() {
        return Err(Error::Config(format!(
            "no settings files (*.env, .env) in {}; give --env-file PATH (once per fleet) or --dir DIR",
            dir.display()
        )));
    }
    Ok(found.into_iter().map(|n| dir.join(n)).collect())
}

/// `SERVE_GITHUB_REFRESH` (default 30s, at least 1s).
pub fn github_refresh(value: Option<&str>) -> std::result::Result<Duration, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_GITHUB_REFRESH),
        Some(text) => {
            let d = parse_duration(text).map_err(|e| e.message("SERVE_GITHUB_REFRESH"))?;
            if d < Duration::from_secs(1) {
                return Err(format!(
                    "SERVE_GITHUB_REFRESH={text} is less than 1s; GitHub would be asked too often (default 30s)"
                ));
            }
            Ok(d)
        }
    }
}

/// Each file's settings, and what the page shows of it.
pub fn load(paths: &[PathBuf]) -> Result<(Vec<FleetInfo>, Vec<Settings>)> {
    let mut infos = Vec::new();
    let mut all = Vec::new();
    for path in paths {
        let in_file = |e: Error| e.context(path.display());
        let sources =
            Sources::gather(HashMap::new(), Some(path.clone())).map_err(|e| in_file(e.into()))?;
        let settings = Settings::resolve(&sources).map_err(|e| in_file(e.into()))?;
        for w in &settings.warnings {
            crate::world::notify::warn(&format!("{}: {w}", path.display()));
        }
        let refresh = github_refresh(sources.get("SERVE_GITHUB_REFRESH").as_deref())
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        infos.push(FleetInfo {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            org: settings.org.clone(),
            repo: settings.repo.clone(),
            prefix: settings.prefix.clone(),
            // The same choice `ghr init` makes in that directory (RUNNER_DOCKERFILE, or a
            // ./Dockerfile built there before).
            image: match crate::world::image::choice(&settings, dir).dockerfile(dir) {
                Some(_) => settings.custom_image.clone(),
                None => settings.runner_image.clone(),
            },
            lock_dir: PathBuf::from(&settings.lock_host_path),
            github_refresh: refresh,
        });
        all.push(settings);
    }
    Ok((infos, all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_env_file_of_a_directory_and_nothing_else() {
        let names: Vec<String> = [
            "beta.env",
            ".env",
            "acme.env",
            ".env.example",
            "env",
            "notes.txt",
            ".env.bak",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(env_files_in(&names), [".env", "acme.env", "beta.env"]);
    }

    #[test]
    fn the_github_refresh_has_a_floor_and_a_default() {
        assert_eq!(github_refresh(None).unwrap(), Duration::from_secs(30));
        assert_eq!(github_refresh(Some("")).unwrap(), Duration::from_secs(30));
        assert_eq!(
            github_refresh(Some("2m")).unwrap(),
            Duration::from_secs(120)
        );
        assert!(github_refresh(Some("0s"))
            .unwrap_err()
            .contains("less than 1s"));
        assert!(github_refresh(Some("often")).is_err());
    }

    #[test]
    fn env_files_and_dir_do_not_mix() {
        let e = env_files(&["a.env".into()], Some(Path::new("."))).unwrap_err();
        assert!(e.to_string().contains("not both"));
    }
}
