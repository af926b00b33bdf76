//! The runners parked for a resource (queue at GitHub): each parked wrapper keeps a
//! `parked.<id>` file in the resource's directory under an exclusive flock, with `runner=`,
//! `org=` and `since=` lines; a file nobody holds locked belongs to a dead wrapper and is not
//! listed. For `ghr locks` (and the wrappers' own counting).

use std::fs;
use std::path::{Path, PathBuf};

use crate::tickets;

pub const PREFIX: &str = "parked.";

/// One runner offline on GitHub while it waits for the resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parked {
    pub runner: String,
    pub org: String,
    /// Epoch seconds.
    pub since: u64,
}

impl Parked {
    pub fn parse(text: &str) -> Parked {
        let mut p = Parked::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("runner", v)) => p.runner = v.to_string(),
                Some(("org", v)) => p.org = v.to_string(),
                Some(("since", v)) => p.since = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
        p
    }
}

/// The live markers in the resource directory `dir` (paths, sorted).
pub fn live(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .map(|e| e.path())
        .filter(|p| tickets::is_alive(p).unwrap_or(false))
        .collect();
    out.sort();
    out
}

/// The runners parked for the resource in `dir`.
pub fn read(dir: &Path) -> Vec<Parked> {
    live(dir)
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .map(|t| Parked::parse(&t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_reads_back_and_ignores_what_it_does_not_know() {
        assert_eq!(
            Parked::parse("runner=b-pi\norg=beta\nsince=1795377600\nnext=1\n"),
            Parked {
                runner: "b-pi".into(),
                org: "beta".into(),
                since: 1_795_377_600
            }
        );
        assert_eq!(Parked::parse("garbage"), Parked::default());
    }
}
