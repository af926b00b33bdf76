//! The `.env` file: read it the way the shell tool's users wrote it, and write keys back
//! without disturbing the user's other lines and comments.

use crate::fsutil::write_atomic;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::Path;

/// Reads `KEY=VALUE` pairs. A missing file is an empty one (first run).
pub fn read(path: &Path) -> Result<HashMap<String, String>> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let mut pairs = HashMap::new();
    let iter = dotenvy::from_path_iter(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    for item in iter {
        let (key, value) = item.map_err(|e| {
            crate::settings::ConfigError::new(format!("{}: {}", path.display(), describe_dotenv_error(&e)))
        })?;
        pairs.insert(key, value);
    }
    Ok(pairs)
}

// dotenvy's messages quote the offending line, which may hold the PAT: name only its key.
fn describe_dotenv_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(line, _) => {
            let key = line.split_once('=').map(|(k, _)| k.trim()).unwrap_or("a line");
            format!(
                "cannot parse the value of {key}; put the value in single quotes, e.g. {key}='...'"
            )
        }
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "cannot parse the file".to_string(),
    }
}

/// Sets `updates` in the file at `path`: an existing `KEY=` line is replaced in place, new keys
/// are appended; every other line (comments included) is kept. The file is 0600 (it holds the
/// PAT) and written atomically.
pub fn upsert(path: &Path, updates: &[(&str, &str)]) -> Result<()> {
    let original = if path.exists() {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    } else {
        String::new()
    };
    let updated = upsert_text(&original, updates);
    write_atomic(path, updated.as_bytes(), 0o600)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn upsert_text(original: &str, updates: &[(&str, &str)]) -> String {
    let mut pending: Vec<(&str, &str)> = updates.to_vec();
    let mut out = String::with_capacity(original.len() + 64);
    for line in original.lines() {
        let key = line_key(line);
        if let Some(pos) = key.and_then(|k| pending.iter().position(|(p, _)| *p == k)) {
            let (k, v) = pending.remove(pos);
            out.push_str(&format_line(k, v));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    for (k, v) in pending {
        out.push_str(&format_line(k, v));
        out.push('\n');
    }
    out
}

fn line_key(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    let trimmed = trimmed.strip_prefix("export ").unwrap_or(trimmed);
    let (key, _) = trimmed.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('#')).then_some(key)
}

// Quote only when the plain form would not read back the same.
fn format_line(key: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@,;+=%".contains(c));
    if plain || value.is_empty() {
        format!("{key}={value}")
    } else {
        let escaped = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('$', "\\$");
        format!("{key}=\"{escaped}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_comments_and_order_replaces_in_place() {
        let text = "# my lab\nORG=old\n\nRUNNER_LABELS=a,b # trailing\n";
        let out = upsert_text(text, &[("ORG", "new"), ("GH_PAT", "p")]);
        assert_eq!(
            out,
            "# my lab\nORG=new\n\nRUNNER_LABELS=a,b # trailing\nGH_PAT=p\n"
        );
    }

    #[test]
    fn written_values_read_back_identically() {
        let dir = std::env::temp_dir().join(format!("ghr-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        let tricky = "a b#c'd\"e$f";
        upsert(&path, &[("ORG", "acme"), ("REPO", tricky)]).unwrap();
        let pairs = read(&path).unwrap();
        assert_eq!(pairs["ORG"], "acme");
        assert_eq!(pairs["REPO"], tricky);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
