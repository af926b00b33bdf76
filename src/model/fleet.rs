//! The domain: which runners this fleet should have, what Docker and GitHub say it has, and
//! how the two views join. Plain data; nothing here talks to Docker or GitHub.

use crate::config::boards::Board;
use crate::config::settings::Settings;

/// One runner the fleet should have. Its name is the container name and the GitHub name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRunner {
    pub name: String,
    pub kind: RunnerKind,
    /// The labels it registers with: its board's, or `RUNNER_LABELS`; de-duplicated.
    pub labels: Vec<String>,
    /// A one-job runner (see `model::ephemeral`).
    pub ephemeral: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerKind {
    Generic { index: u32 },
    Board(Box<Board>),
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
}

/// `generic` runners `<prefix>runner-1..=N`, then one per board `<prefix>runner-<board>`.
pub fn desired(settings: &Settings, generic: u32) -> Vec<DesiredRunner> {
    let generic_runners = (1..=generic).map(|index| DesiredRunner {
        name: format!("{}runner-{index}", settings.prefix),
        kind: RunnerKind::Generic { index },
        labels: crate::config::boards::dedup(settings.labels.clone()),
        ephemeral: crate::model::ephemeral::wanted(settings, None),
    });
    let board_runners = settings.boards.iter().map(|board| DesiredRunner {
        name: format!("{}runner-{}", settings.prefix, board.name),
        labels: crate::config::boards::dedup(board.labels.clone()),
        ephemeral: crate::model::ephemeral::wanted(settings, Some(board)),
        kind: RunnerKind::Board(Box::new(board.clone())),
    });
    generic_runners.chain(board_runners).collect()
}

/// How many generic runners the fleet has: `-n` when given, else the `-n` ghr recorded in its
/// compose file (a `-n` stays the fleet's size until another one), else `RUNNER_COUNT`. One
/// rule for every command, so `compose`, `init`, `start` and `list` agree.
pub fn size(cli: Option<u32>, recorded: Option<u32>, runner_count: u32) -> u32 {
    cli.or(recorded).unwrap_or(runner_count)
}

/// GitHub refuses runner names longer than this.
pub const MAX_NAME_LEN: usize = 64;

/// Every runner name fits GitHub's limit; the error names the runner, its length and the fix.
pub fn check_names(runners: &[DesiredRunner]) -> Result<(), crate::config::error::ConfigError> {
    match runners.iter().find(|r| r.name.chars().count() > MAX_NAME_LEN) {
        None => Ok(()),
        Some(r) => Err(crate::config::error::ConfigError::new(format!(
            "runner name {} is {} characters long, but GitHub allows at most {MAX_NAME_LEN}; shorten RUNNER_NAME_PREFIX{}",
            r.name,
            r.name.chars().count(),
            if r.board().is_some() {
                " or the board's name"
            } else {
                ""
            }
        ))),
    }
}

/// A container's state, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Restarting,
    Paused,
    Exited,
    Dead,
    Removing,
}

impl ContainerState {
    /// Its process ended (exited or dead): nothing restarts it but a start.
    pub fn has_ended(&self) -> bool {
        matches!(self, ContainerState::Exited | ContainerState::Dead)
    }

    pub fn parse(s: &str) -> ContainerState {
        match s {
            "created" => ContainerState::Created,
            "running" => ContainerState::Running,
            "restarting" => ContainerState::Restarting,
            "paused" => ContainerState::Paused,
            "removing" => ContainerState::Removing,
            "dead" => ContainerState::Dead,
            _ => ContainerState::Exited,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Restarting => "restarting",
            ContainerState::Paused => "paused",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
            ContainerState::Removing => "removing",
        }
    }

    /// Up, or trying to be (a crash loop counts).
    pub fn is_up(&self) -> bool {
        matches!(self, ContainerState::Running | ContainerState::Restarting)
    }
}

/// One runner's container, as Docker shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRunner {
    pub name: String,
    pub state: ContainerState,
    /// The image reference it was created from, and the image id it runs.
    pub image: String,
    pub image_id: String,
    /// `ghr.spec`: the hash of the service it was created from (`None`: an older ghr's, or
    /// not ghr's: runner.sh made it).
    pub spec: Option<String>,
    /// The compose project it belongs to (`None`: not made by compose).
    pub project: Option<String>,
    /// `ghr.prefix`: the fleet ghr made it for (`None`: not made by ghr).
    pub prefix: Option<String>,
    /// `ghr.kind`: `generic` or `board`.
    pub kind: String,
    /// The volume at /home/runner (the runner's install and its registration).
    pub home_volume: Option<String>,
    /// Whether /home/runner holds a registration; `None` when nobody looked (it is only read
    /// where GitHub's view does not already tell).
    pub configured: Option<bool>,
    /// Why its first start did not register it (read with `configured`, when that is false).
    pub first_start_failure: Option<String>,
    /// Devices it was created with under another path than the host's node, as
    /// (path inside, node on the host): a stable name (`/dev/serial/by-id/...`) and the node it
    /// resolved to then, or a `host:container` rename.
    pub devices: Vec<(String, String)>,
}

/// One runner as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRunner {
    pub id: u64,
    pub name: String,
    /// `online` or `offline`.
    pub status: String,
    pub busy: bool,
    /// Every label, the read-only defaults (self-hosted, OS, architecture) first.
    pub labels: Vec<String>,
    /// The labels that are not read-only: the ones a runner registers with and ghr sets.
    pub custom_labels: Vec<String>,
    /// Its runner group; `None` when GitHub did not say (the field is optional).
    pub group_id: Option<u64>,
    /// A one-job runner (JIT or `--ephemeral`), as GitHub says.
    pub ephemeral: bool,
}

/// What one side (Docker or GitHub) says, or why it could not be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side<T> {
    Known(T),
    Unknown(String),
}

impl<T> Side<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Side::Known(t) => Some(t),
            Side::Unknown(_) => None,
        }
    }
}

/// GitHub's runners belong to this fleet when named `<prefix>runner-...`; other prefixes,
/// hosts and orgs sharing the scope are never ours.
pub fn is_ours(prefix: &str, github_name: &str) -> bool {
    github_name.starts_with(&format!("{prefix}runner-"))
}

/// How every runner name of the fleet begins: `<prefix>runner-`.
pub fn runner_name_start(prefix: &str) -> String {
    format!("{prefix}runner-")
}

/// Whether a container named `name` is one of the fleet's runners, labels or not (runner.sh
/// labelled nothing): `<prefix>runner-<something>`, one-off names aside.
pub fn is_fleet_name(prefix: &str, name: &str) -> bool {
    name.strip_prefix(&runner_name_start(prefix))
        .is_some_and(|rest| !rest.is_empty())
}

/// The volume kinds of a runner, by the suffix of their names (`<runner>-data` at
/// /home/runner, `<runner>-udev-rules` at /etc/udev/rules.d).
pub const VOLUME_SUFFIXES: [&str; 2] = ["-data", "-udev-rules"];

/// The runner a volume belongs to: its `ghr.runner` label when it has one, else its name,
/// `<runner>-data` as runner.sh and ghr name volumes, or `<project>_<runner>-data` as compose
/// named them before volumes had fixed names. `None`: not one of the fleet's.
pub fn volume_runner(prefix: &str, volume: &str, label: &str) -> Option<String> {
    if !label.is_empty() {
        return is_fleet_name(prefix, label).then(|| label.to_string());
    }
    let start = runner_name_start(prefix);
    let base = VOLUME_SUFFIXES
        .iter()
        .find_map(|suffix| volume.strip_suffix(suffix))?;
    let runner = match base.find(&start) {
        Some(0) => base,
        Some(at) if base[..at].ends_with('_') => &base[at..],
        _ => return None,
    };
    is_fleet_name(prefix, runner).then(|| runner.to_string())
}

/// The name ghr gives a runner's volume of this kind (`suffix` from [`VOLUME_SUFFIXES`]).
pub fn volume_name(runner: &str, suffix: &str) -> String {
    format!("{runner}{suffix}")
}

/// What `ghr list` says of a runner's registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// GitHub lists it (with this status).
    Listed(String),
    /// The container holds a registration GitHub no longer knows (e.g. deleted after 14 days
    /// offline): `ghr init` registers it again.
    DeletedOnGitHub,
    /// Nothing registered, locally or on GitHub.
    NotRegistered,
    /// GitHub lists it (with this status), but its volume holds no registration (an
    /// interrupted registration): it cannot run; `ghr init` registers it again.
    ListedNotInVolume(String),
    /// GitHub could not be asked.
    Unknown,
}

/// One row of the fleet view: a name with what Docker and GitHub know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub container: Option<LocalRunner>,
    pub github: Option<RemoteRunner>,
    pub registration: Registration,
    /// Its volumes (by name), also when it has nothing else: what a failed first `init`
    /// leaves must show, since `ghr rm` removes it.
    pub volumes: Vec<String>,
    /// Its board's devices missing now: it waits for them, stopped (see `plan::devices`).
    pub missing_devices: Vec<String>,
}

/// Joins containers with GitHub's runners of the prefix, by name, in natural order
/// (runner-2 before runner-10). `remote` is `None` when GitHub could not be asked.
pub fn join(prefix: &str, local: &[LocalRunner], remote: Option<&[RemoteRunner]>) -> Vec<Member> {
    let mut members: Vec<Member> = local
        .iter()
        .map(|c| Member {
            name: c.name.clone(),
            container: Some(c.clone()),
            github: None,
            registration: Registration::Unknown,
            volumes: Vec::new(),
            missing_devices: Vec::new(),
        })
        .collect();
    for runner in remote
        .unwrap_or_default()
        .iter()
        .filter(|r| is_ours(prefix, &r.name))
    {
        match members.iter_mut().find(|m| m.name == runner.name) {
            Some(member) => member.github = Some(runner.clone()),
            None => members.push(Member {
                name: runner.name.clone(),
                container: None,
                github: Some(runner.clone()),
                registration: Registration::Unknown,
                volumes: Vec::new(),
                missing_devices: Vec::new(),
            }),
        }
    }
    for m in &mut members {
        m.registration = match (
            &m.github,
            remote,
            m.container.as_ref().and_then(|c| c.configured),
        ) {
            (Some(g), _, Some(false)) => Registration::ListedNotInVolume(g.status.clone()),
            (Some(g), _, _) => Registration::Listed(g.status.clone()),
            (None, None, _) => Registration::Unknown,
            (None, Some(_), Some(true)) => Registration::DeletedOnGitHub,
            (None, Some(_), _) => Registration::NotRegistered,
        };
    }
    members.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    members
}

/// Adds the runners' volumes (volume, runner) to the members, and a member for each runner
/// that has nothing but volumes (never registered, or GitHub could not be asked: `remote_known`).
pub fn with_volumes(
    mut members: Vec<Member>,
    volumes: &[(String, String)],
    remote_known: bool,
) -> Vec<Member> {
    for (volume, runner) in volumes {
        match members.iter_mut().find(|m| &m.name == runner) {
            Some(m) => m.volumes.push(volume.clone()),
            None => members.push(Member {
                name: runner.clone(),
                container: None,
                github: None,
                registration: if remote_known {
                    Registration::NotRegistered
                } else {
                    Registration::Unknown
                },
                volumes: vec![volume.clone()],
                missing_devices: Vec::new(),
            }),
        }
    }
    for m in &mut members {
        m.volumes.sort_by(|a, b| natural_cmp(a, b));
    }
    members.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    members
}

/// Marks each runner with its board's devices missing now (`(runner, paths)`).
pub fn with_missing_devices(
    mut members: Vec<Member>,
    missing: &[(String, Vec<String>)],
) -> Vec<Member> {
    for m in &mut members {
        if let Some((_, paths)) = missing.iter().find(|(r, _)| *r == m.name) {
            m.missing_devices = paths.clone();
        }
    }
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
pub mod tests {
    use super::*;

    pub fn local(name: &str) -> LocalRunner {
        LocalRunner {
            name: name.into(),
            state: ContainerState::Running,
            image: "img".into(),
            image_id: "sha256:1".into(),
            spec: None,
            project: Some("ghr-h".into()),
            prefix: Some("h-".into()),
            kind: "generic".into(),
            home_volume: Some(format!("{name}-data")),
            configured: None,
            first_start_failure: None,
            devices: Vec::new(),
        }
    }

    pub fn remote(id: u64, name: &str) -> RemoteRunner {
        RemoteRunner {
            id,
            name: name.into(),
            status: "online".into(),
            busy: false,
            labels: vec![],
            custom_labels: vec![],
            group_id: Some(1),
            ephemeral: false,
        }
    }

    #[test]
    fn join_marks_each_side_and_ignores_other_prefixes() {
        let mut deleted = local("h-o-runner-7");
        deleted.configured = Some(true);
        let mut half = local("h-o-runner-3");
        half.configured = Some(false);
        let members = join(
            "h-o-",
            &[local("h-o-runner-10"), local("h-o-runner-2"), deleted, half],
            Some(&[
                remote(1, "h-o-runner-2"),
                remote(2, "h-o-runner-3"),
                remote(3, "other-runner-1"),
                remote(4, "h-o-x"),
            ]),
        );
        let rows: Vec<(&str, bool, bool, &Registration)> = members
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    m.container.is_some(),
                    m.github.is_some(),
                    &m.registration,
                )
            })
            .collect();
        let online = Registration::Listed("online".into());
        assert_eq!(
            rows,
            [
                ("h-o-runner-2", true, true, &online),
                (
                    "h-o-runner-3",
                    true,
                    true,
                    &Registration::ListedNotInVolume("online".into())
                ),
                ("h-o-runner-7", true, false, &Registration::DeletedOnGitHub),
                ("h-o-runner-10", true, false, &Registration::NotRegistered),
            ]
        );
        let unknown = join("h-o-", &[local("h-o-runner-1")], None);
        assert_eq!(unknown[0].registration, Registration::Unknown);
    }

    #[test]
    fn volumes_join_their_runner_or_stand_alone() {
        let members = join("h-o-", &[local("h-o-runner-2")], Some(&[]));
        let volumes = [
            ("h-o-runner-2-data".to_string(), "h-o-runner-2".to_string()),
            ("h-o-runner-10-udev-rules".into(), "h-o-runner-10".into()),
            ("h-o-runner-10-data".into(), "h-o-runner-10".into()),
            ("lab_h-o-runner-1-data".into(), "h-o-runner-1".into()),
        ];
        let rows: Vec<(String, bool, Registration, Vec<String>)> =
            with_volumes(members, &volumes, true)
                .into_iter()
                .map(|m| (m.name, m.container.is_some(), m.registration, m.volumes))
                .collect();
        let v = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rows,
            [
                (
                    "h-o-runner-1".into(),
                    false,
                    Registration::NotRegistered,
                    v(&["lab_h-o-runner-1-data"])
                ),
                (
                    "h-o-runner-2".into(),
                    true,
                    Registration::NotRegistered,
                    v(&["h-o-runner-2-data"])
                ),
                (
                    "h-o-runner-10".into(),
                    false,
                    Registration::NotRegistered,
                    v(&["h-o-runner-10-data", "h-o-runner-10-udev-rules"])
                ),
            ]
        );
        let unknown = with_volumes(Vec::new(), &volumes[1..2], false);
        assert_eq!(unknown[0].registration, Registration::Unknown);
    }

    #[test]
    fn size_prefers_the_command_line_then_the_recorded_n() {
        assert_eq!(size(Some(5), Some(3), 2), 5);
        assert_eq!(size(None, Some(3), 2), 3);
        assert_eq!(size(None, None, 2), 2);
        assert_eq!(size(Some(0), Some(3), 2), 0);
    }

    #[test]
    fn names_longer_than_64_are_refused_naming_the_runner() {
        let runner = |name: &str| DesiredRunner {
            name: name.into(),
            kind: RunnerKind::Generic { index: 1 },
            labels: vec![],
            ephemeral: false,
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
    fn volumes_belong_by_label_else_by_name() {
        for (volume, label, runner) in [
            ("x", "h-o-runner-1", Some("h-o-runner-1")),
            // Found by name, but another fleet's (prefix lab-h-o-).
            ("lab-h-o-runner-1-data", "lab-h-o-runner-1", None),
            ("h-o-runner-1-data", "", Some("h-o-runner-1")),
            (
                "h-o-runner-board-2-udev-rules",
                "",
                Some("h-o-runner-board-2"),
            ),
            ("lab_h-o-runner-3-data", "", Some("h-o-runner-3")),
            ("my_dir_h-o-runner-pi-data", "", Some("h-o-runner-pi")),
            ("h-o-runner-1-cache", "", None),
            ("xh-o-runner-1-data", "", None),
            ("h-o-runner--data", "", None),
            ("other-runner-1-data", "", None),
        ] {
            assert_eq!(
                volume_runner("h-o-", volume, label).as_deref(),
                runner,
                "{volume}"
            );
        }
        assert!(is_fleet_name("h-o-", "h-o-runner-7"));
        assert!(!is_fleet_name("h-o-", "xh-o-runner-7"));
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["r-10", "r-2", "r-1", "r-b", "r-a"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["r-1", "r-2", "r-10", "r-a", "r-b"]);
    }
}
