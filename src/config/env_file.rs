//! The `.env` file: read it the way the shell tool's users wrote it, and write keys back
//! without disturbing the user's other lines and comments.

use crate::config::error::ConfigError;
use std::collections::HashMap;
use std::path::Path;

/// Reads `KEY=VALUE` pairs the way the shell tool did (`export "$line"` of every line that is
/// not blank or a comment): the value is the rest of the line, taken literally. On top of
/// that, a value wrapped in double quotes is unescaped (`\\ \" \$ \n`) and one wrapped in
/// single quotes is taken as is, so the file ghr writes back reads the same.
///
/// Not dotenvy: it rejects unquoted spaces (`RUNNER_LABELS=a, b`), which existing files have.
/// A missing file is an empty one (first run).
pub fn read(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let bytes = std::fs::read(path).map_err(|e| {
        let fix = if path.is_dir() {
            "it is a directory; --env-file / ENV_FILE must name a file"
        } else {
            "check that ghr's user can read it"
        };
        ConfigError::new(format!("cannot read {}: {e}; {fix}", path.display()))
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        ConfigError::new(format!(
            "{} is not UTF-8 text (byte {} is not); save it as UTF-8",
            path.display(),
            e.utf8_error().valid_up_to() + 1
        ))
    })?;
    parse(&text)
        .map_err(|(line, why)| ConfigError::new(format!("{} line {line} {why}", path.display())))
}

/// The file's permission bits, when it exists.
pub fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
}

fn parse(text: &str) -> Result<HashMap<String, String>, (usize, String)> {
    // Editors on some systems start a UTF-8 file with a byte-order mark: not part of a key.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut pairs = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            // Never echo the line: it may be a pasted secret.
            return Err((
                index + 1,
                "is not KEY=VALUE; fix it or start it with # to comment it out".into(),
            ));
        };
        let key = key.trim();
        let valid_key = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err((
                index + 1,
                format!("has '{key}', which is not a variable name; use letters, digits and _"),
            ));
        }
        pairs.insert(key.to_string(), unquote(value));
    }
    Ok(pairs)
}

fn unquote(value: &str) -> String {
    let quoted = |q: char| value.len() >= 2 && value.starts_with(q) && value.ends_with(q);
    if quoted('\'') {
        return value[1..value.len() - 1].to_string();
    }
    if !quoted('"') {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value[1..value.len() - 1].chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', Some(next @ ('\\' | '"' | '$'))) => {
                out.push(next);
                chars.next();
            }
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// The file's text with `updates` set: an existing `KEY=` line is replaced in place, new keys
/// are appended; every other line (comments included) is kept.
pub fn upsert_text(original: &str, updates: &[(&str, &str)]) -> String {
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
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@,;+=%".contains(c));
    if plain {
        format!("{key}={value}")
    } else {
        let escaped = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('$', "\\$")
            .replace('\n', "\\n");
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
    fn reads_shell_tool_files_literally() {
        let text =
            "# c\n\nexport ORG=acme\nRUNNER_LABELS=a, b ,c\nX='k=v;y'\nY=\"q\\\"x\\ny\"\nZ=a #b\n";
        let pairs = parse(text).unwrap();
        assert_eq!(pairs["ORG"], "acme");
        assert_eq!(pairs["RUNNER_LABELS"], "a, b ,c");
        assert_eq!(pairs["X"], "k=v;y");
        assert_eq!(pairs["Y"], "q\"x\ny");
        assert_eq!(pairs["Z"], "a #b");
        assert_eq!(parse("fakepat_pasted_secret\n").unwrap_err().0, 1);
        assert!(parse("A-B=1").unwrap_err().1.contains("'A-B'"));
    }
}
