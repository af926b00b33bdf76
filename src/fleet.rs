//! The domain: which runners this fleet should have, and how local and GitHub state join.

use crate::boards::Board;
use crate::settings::Settings;

/// One runner the fleet should have. Its name is the container name and the GitHub name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRunner {
    pub name: String,
    pub kind: RunnerKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerKind {
    Generic { index: u32 },
    Board(Board),
}

impl DesiredRunner {
    pub fn kind_label(&self) -> &'static str {
        match self.kind {
            RunnerKind::Generic { .. } => "generic",
            RunnerKind::Board(_) => "board",
        }
    }

    pub fn board(&self) -> Option<&Board> {
        match &self.kind {
            RunnerKind::Board(board) => Some(board),
            RunnerKind::Generic { .. } => None,
        }
    }

    /// Generic runners get `RUNNER_LABELS`; board runners only their own labels.
    pub fn labels<'a>(&'a self, settings: &'a Settings) -> &'a [String] {
        match &self.kind {
            RunnerKind::Generic { .. } => &settings.labels,
            RunnerKind::Board(board) => &board.labels,
        }
    }
}

/// `generic` runners `<prefix>runner-1..=N`, then one per board `<prefix>runner-<board>`.
pub fn desired(settings: &Settings, generic: u32) -> Vec<DesiredRunner> {
    let generic_runners = (1..=generic).map(|index| DesiredRunner {
        name: format!("{}runner-{index}", settings.prefix),
        kind: RunnerKind::Generic { index },
    });
    let board_runners = settings.boards.iter().map(|board| DesiredRunner {
        name: format!("{}runner-{}", settings.prefix, board.name),
        kind: RunnerKind::Board(board.clone()),
    });
    generic_runners.chain(board_runners).collect()
}

/// GitHub refuses runner names longer than this.
pub const MAX_NAME_LEN: usize = 64;

/// Every runner name fits GitHub's limit; the error names the runner, its length and the fix.
pub fn check_names(runners: &[DesiredRunner]) -> Result<(), crate::settings::ConfigError> {
    match runners.iter().find(|r| r.name.chars().count() > MAX_NAME_LEN) {
        None => Ok(()),
        Some(r) => Err(crate::settings::ConfigError::new(format!(
            "runner name {} is {} characters long, but GitHub allows at most {MAX_NAME_LEN}; shorten RUNNER_NAME_PREFIX{}",
            r.name,
            r.name.chars().count(),
            if r.board().is_some() { " or the board's name" } else { "" }
        ))),
    }
}

/// A runner as GitHub lists it (the fields `list` shows).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoteRunner {
    pub id: u64,
    #[serde(skip)]
    pub name: String,
    pub status: String,
    pub busy: bool,
    pub labels: Vec<String>,
}

/// One row of the fleet view: a name with what Docker and GitHub know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub container: Option<crate::docker::Container>,
    pub github: Option<RemoteRunner>,
}

/// GitHub's runners belong to this fleet when named `<prefix>runner-...`; other prefixes,
/// hosts and orgs sharing the scope are never ours.
pub fn is_ours(prefix: &str, github_name: &str) -> bool {
    github_name.starts_with(&format!("{prefix}runner-"))
}

/// Joins containers (already filtered by the prefix label) with GitHub's runners of the prefix,
/// by name, in natural order (runner-2 before runner-10).
pub fn join(
    prefix: &str,
    containers: Vec<crate::docker::Container>,
    remote: Vec<RemoteRunner>,
) -> Vec<Member> {
    let mut members: Vec<Member> = containers
        .into_iter()
        .map(|c| Member {
            name: c.name.clone(),
            container: Some(c),
            github: None,
        })
        .collect();
    for runner in remote.into_iter().filter(|r| is_ours(prefix, &r.name)) {
        match members.iter_mut().find(|m| m.name == runner.name) {
            Some(member) => member.github = Some(runner),
            None => members.push(Member {
                name: runner.name.clone(),
                container: None,
                github: Some(runner),
            }),
        }
    }
    members.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    members
}

/// Compares names with digit runs as numbers: `runner-2` < `runner-10`.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for ((da, xa), (db, xb)) in ca.iter().zip(cb.iter()) {
        let ord = if *da && *db {
            let (ta, tb) = (xa.trim_start_matches('0'), xb.trim_start_matches('0'));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            xa.cmp(xb)
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::Container;

    fn container(name: &str) -> Container {
        Container {
            id: format!("id-{name}"),
            name: name.into(),
            state: "running".into(),
            image: "img".into(),
            labels: Default::default(),
        }
    }

    fn remote(id: u64, name: &str) -> RemoteRunner {
        RemoteRunner {
            id,
            name: name.into(),
            status: "online".into(),
            busy: false,
            labels: vec![],
        }
    }

    #[test]
    fn join_marks_each_side_and_ignores_other_prefixes() {
        let members = join(
            "h-o-",
            vec![container("h-o-runner-10"), container("h-o-runner-2")],
            vec![
                remote(1, "h-o-runner-2"),
                remote(2, "h-o-runner-3"),
                remote(3, "other-runner-1"),
                remote(4, "h-o-x"),
            ],
        );
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["h-o-runner-2", "h-o-runner-3", "h-o-runner-10"]);
        assert!(members[0].container.is_some() && members[0].github.is_some());
        assert!(members[1].container.is_none() && members[1].github.is_some());
        assert!(members[2].container.is_some() && members[2].github.is_none());
    }

    #[test]
    fn names_longer_than_64_are_refused_naming_the_runner() {
        let runner = |name: &str| DesiredRunner {
            name: name.into(),
            kind: RunnerKind::Generic { index: 1 },
        };
        let ok = "x".repeat(64);
        assert!(check_names(&[runner(&ok)]).is_ok());
        let long = format!("{ok}1");
        let err = check_names(&[runner(&ok), runner(&long)])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("runner name {long} is 65 characters long")),
            "{err}"
        );
        assert!(err.contains("shorten RUNNER_NAME_PREFIX"), "{err}");
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["r-10", "r-2", "r-1", "r-b", "r-a"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["r-1", "r-2", "r-10", "r-a", "r-b"]);
    }
}
