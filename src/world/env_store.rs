//! Writing keys back into `.env` (the first-run prompts): 0600, since it holds the PAT, and
//! atomic, so an interrupted write leaves the old file.

use crate::config::env_file::upsert_text;
use crate::world::error::{Error, Result};
use crate::world::fsutil::write_atomic;
use std::path::Path;

/// Sets `updates` in the file at `path` (see [`upsert_text`]).
pub fn upsert(path: &Path, updates: &[(&str, &str)]) -> Result<()> {
    let original = if path.exists() {
        std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?
    } else {
        String::new()
    };
    let updated = upsert_text(&original, updates);
    write_atomic(path, updated.as_bytes(), 0o600)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env_file::read;

    #[test]
    fn written_values_read_back_identically() {
        let dir = std::env::temp_dir().join(format!("ghr-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        let tricky = "a b#c'd\"e$f\\g\nh";
        upsert(&path, &[("ORG", "acme"), ("REPO", tricky)]).unwrap();
        let pairs = read(&path).unwrap();
        assert_eq!(pairs["ORG"], "acme");
        assert_eq!(pairs["REPO"], tricky);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
