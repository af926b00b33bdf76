//! Board runners: which exist and what each gets, from both of the shell tool's syntaxes
//! (`BOARD_RUNNERS` with per-board keys, see `named.rs`; `RUNNER_BOARD_COUNT` with indexed
//! keys, see `indexed.rs`), plus the keys both share: the resource (or pool) a board's jobs
//! lock, its health check, and each pool member's environment.

pub mod hardware;
pub mod indexed;
pub mod named;
pub mod values;

pub use hardware::Hardware;
pub use values::{dedup, split_list};

use crate::config::error::ConfigError;
use runner_wrapper::contract::{self, env, key_form};

/// One board runner as the user declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    /// What follows `runner-` in its name: the `BOARD_RUNNERS` name, or `board-<i>`.
    pub name: String,
    /// `Some(i)` for indexed board runner `i` (`RUNNER_BOARD_COUNT`).
    pub index: Option<u32>,
    pub labels: Vec<String>,
    /// `RUNNER_RESOURCE_ID_<BOARD>`, else `RUNNER_RESOURCE_ID`: one resource id or the members
    /// of a pool. Empty: the board is not shared, and no wrapper runs.
    pub resources: Vec<String>,
    /// `BOARD_HEALTHCHECK_<BOARD>`: the wrapper's `RUNNER_HEALTHCHECK`.
    pub healthcheck: Option<String>,
    /// `BOARD_REPAIR_<BOARD>` (else `BOARD_RUNNER_REPAIR[_<i>]`): the wrapper's `RUNNER_REPAIR`,
    /// run under the lock when the health check fails.
    pub repair: Option<String>,
    /// `RESOURCE_ENV_<MEMBER>` of its members that are set, passed on as they are.
    pub resource_env: Vec<(String, String)>,
    pub hardware: Hardware,
    /// The runner command when it is not `run.sh` (`BOARD_RUNNER_COMMAND`, indexed only).
    pub command: Option<String>,
    /// `BOARD_QUEUE_AT_GITHUB_<BOARD>` (else `BOARD_RUNNER_QUEUE_AT_GITHUB[_<i>]`): queue at
    /// GitHub for this board, over the fleet-wide `RUNNER_QUEUE_AT_GITHUB`; `None`: not set.
    pub queue_at_github: Option<bool>,
    /// `BOARD_EPHEMERAL_<BOARD>` (else `BOARD_RUNNER_EPHEMERAL[_<i>]`): a one-job runner, over
    /// the fleet-wide `RUNNER_EPHEMERAL`; `None`: not set.
    pub ephemeral: Option<bool>,
}

impl Board {
    /// `<BOARD>` in the per-board keys (`board-3` -> `BOARD_3`).
    pub fn key(&self) -> String {
        key_form(&self.name)
    }

    pub fn is_shared(&self) -> bool {
        !self.resources.is_empty()
    }
}

/// One-job (ephemeral, JIT) runners, fleet-wide.
pub const EPHEMERAL: &str = "RUNNER_EPHEMERAL";
/// One-job runners, per board (`BOARD_EPHEMERAL_<BOARD>`).
pub const BOARD_EPHEMERAL_PREFIX: &str = "BOARD_EPHEMERAL_";

/// Key families both syntaxes share, per board (`<FAMILY><BOARD>`).
pub const SHARED_FAMILIES: [&str; 5] = [
    env::BOARD_RESOURCE_ID_PREFIX,
    env::BOARD_HEALTHCHECK_PREFIX,
    env::BOARD_REPAIR_PREFIX,
    env::BOARD_QUEUE_AT_GITHUB_PREFIX,
    BOARD_EPHEMERAL_PREFIX,
];

/// The fleet's board runners, and warnings about keys that configure nothing.
#[derive(Debug, Default)]
pub struct Boards {
    pub boards: Vec<Board>,
    pub warnings: Vec<String>,
}

/// Reads both syntaxes through `lookup` (empty values count as unset); `keys` are every key
/// set anywhere, to find overrides and per-board keys that name nothing.
pub fn resolve(
    lookup: impl Fn(&str) -> Option<String>,
    keys: &[String],
) -> Result<Boards, ConfigError> {
    let entries = named::parse_board_runners(&lookup("BOARD_RUNNERS").unwrap_or_default())?;
    let count = indexed::count(&lookup)?;
    check_no_clash(&entries, count)?;
    check_overrides(keys, &entries, count)?;

    let mut boards = Vec::new();
    for entry in entries {
        let hardware = named::hardware(&entry.name, &lookup)?;
        boards.push(shared(
            entry.name,
            None,
            entry.labels,
            hardware,
            None,
            [None, None, None],
            &lookup,
        )?);
    }
    for i in 1..=count {
        let runner = indexed::runner(i, &lookup)?;
        boards.push(shared(
            indexed::name(i),
            Some(i),
            runner.labels,
            runner.hardware,
            runner.command,
            [runner.repair, runner.queue_at_github, runner.ephemeral],
            &lookup,
        )?);
    }
    check_members(&boards)?;
    let warnings = warnings(keys, &boards, count);
    Ok(Boards { boards, warnings })
}

/// Completes a board with the keys both syntaxes share.
fn shared(
    name: String,
    index: Option<u32>,
    labels: Vec<String>,
    hardware: Hardware,
    command: Option<String>,
    // BOARD_RUNNER_REPAIR[_<i>], BOARD_RUNNER_QUEUE_AT_GITHUB[_<i>] and
    // BOARD_RUNNER_EPHEMERAL[_<i>] (key, value).
    [indexed_repair, indexed_queue, indexed_ephemeral]: [Option<(String, String)>; 3],
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Board, ConfigError> {
    let key = key_form(&name);
    let own = format!("{}{key}", env::BOARD_RESOURCE_ID_PREFIX);
    let (resource_key, spec) = match lookup(&own) {
        Some(v) => (own, Some(v)),
        None => (env::RESOURCE_ID.to_string(), lookup(env::RESOURCE_ID)),
    };
    let resources = match spec {
        None => Vec::new(),
        Some(spec) => contract::parse_resource_list(&spec)
            .map_err(|why| ConfigError::new(format!("{resource_key}: {why}")))?,
    };
    let check_key = format!("{}{key}", env::BOARD_HEALTHCHECK_PREFIX);
    let healthcheck = lookup(&check_key);
    if healthcheck.is_some() && resources.is_empty() {
        return Err(ConfigError::new(format!(
            "{check_key} is set, but board {name} has no resource id, and a health check guards a shared resource; set {}{key} (or RUNNER_RESOURCE_ID), or remove {check_key}",
            env::BOARD_RESOURCE_ID_PREFIX
        )));
    }
    let own_repair = format!("{}{key}", env::BOARD_REPAIR_PREFIX);
    let repair = lookup(&own_repair)
        .map(|r| (own_repair, r))
        .or(indexed_repair);
    if let Some((repair_key, _)) = repair.as_ref().filter(|_| healthcheck.is_none()) {
        return Err(ConfigError::new(format!(
            "{repair_key} is set, but board {name} has no health check, and a repair runs only when its check fails; set {check_key}, or remove {repair_key}"
        )));
    }
    let repair = repair.map(|(_, r)| r);
    let own_queue = format!("{}{key}", env::BOARD_QUEUE_AT_GITHUB_PREFIX);
    let queue_at_github = match lookup(&own_queue).map(|q| (own_queue, q)).or(indexed_queue) {
        None => None,
        Some((k, v)) => Some(contract::flag(&k, Some(&v), false).map_err(ConfigError::new)?),
    };
    let own_ephemeral = format!("{BOARD_EPHEMERAL_PREFIX}{key}");
    let ephemeral = match lookup(&own_ephemeral)
        .map(|v| (own_ephemeral, v))
        .or(indexed_ephemeral)
    {
        None => None,
        Some((k, v)) => Some(contract::flag(&k, Some(&v), false).map_err(ConfigError::new)?),
    };
    let mut resource_env = Vec::new();
    for member in &resources {
        let env_key = contract::resource_env_key(member);
        if let Some(value) = lookup(&env_key) {
            contract::parse_resource_env(&value)
                .map_err(|why| ConfigError::new(format!("{env_key}: {why}")))?;
            resource_env.push((env_key, value));
        }
    }
    Ok(Board {
        name,
        index,
        labels,
        resources,
        healthcheck,
        repair,
        resource_env,
        hardware,
        command,
        queue_at_github,
        ephemeral,
    })
}

/// A `BOARD_RUNNERS` board and an indexed runner must not share a name or a key form.
fn check_no_clash(entries: &[named::BoardEntry], count: u32) -> Result<(), ConfigError> {
    for entry in entries {
        if let Some(i) = (1..=count).find(|i| key_form(&entry.name) == key_form(&indexed::name(*i)))
        {
            return Err(ConfigError::new(format!(
                "BOARD_RUNNERS board '{}' clashes with indexed board runner {i} ({} {count}), which is runner-{} with keys ending in _{}; rename the board",
                entry.name,
                indexed::COUNT,
                indexed::name(i),
                key_form(&indexed::name(i)),
            )));
        }
    }
    Ok(())
}

/// Keys that configure an indexed runner that does not exist are errors (the user meant a
/// runner that will not be there).
fn check_overrides(
    keys: &[String],
    entries: &[named::BoardEntry],
    count: u32,
) -> Result<(), ConfigError> {
    for key in keys {
        if let Some((family, index)) = indexed::override_index(key) {
            match index {
                Ok(i) if (1..=count).contains(&i) => {}
                Ok(i) => return Err(indexed::beyond_count(key, i, count)),
                Err(suffix) => {
                    return Err(ConfigError::new(format!(
                        "{key}: '{suffix}' is not a runner index; per-runner keys are {family}_<i> with i from 1 to {}",
                        indexed::COUNT
                    )))
                }
            }
        }
        // RUNNER_RESOURCE_ID_BOARD_<i> / BOARD_HEALTHCHECK_BOARD_<i> of a missing runner.
        for family in SHARED_FAMILIES {
            let Some(board) = key.strip_prefix(family) else {
                continue;
            };
            let named = entries.iter().any(|e| key_form(&e.name) == board);
            let index = board
                .strip_prefix("BOARD_")
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(i) = index.filter(|i| !named && !(1..=count).contains(i)) {
                return Err(indexed::beyond_count(key, i, count));
            }
        }
    }
    Ok(())
}

/// Two pool members whose `RESOURCE_ENV_<MEMBER>` keys are the same would get one
/// environment: refuse them.
fn check_members(boards: &[Board]) -> Result<(), ConfigError> {
    let mut seen: Vec<(String, &str)> = Vec::new();
    for member in boards.iter().flat_map(|b| &b.resources) {
        let key = key_form(member);
        match seen.iter().find(|(k, _)| *k == key) {
            Some((_, other)) if *other != member => {
                return Err(ConfigError::new(format!(
                    "resource ids {other} and {member} share the key form {key} (RESOURCE_ENV_{key} would name both); rename one"
                )))
            }
            Some(_) => {}
            None => seen.push((key, member)),
        }
    }
    Ok(())
}

/// Keys that configure nothing: likely typos, worth a warning each.
fn warnings(keys: &[String], boards: &[Board], count: u32) -> Vec<String> {
    let named: Vec<String> = boards
        .iter()
        .filter(|b| b.index.is_none())
        .map(Board::key)
        .collect();
    let all: Vec<String> = boards.iter().map(Board::key).collect();
    let members: Vec<String> = boards
        .iter()
        .flat_map(|b| &b.resources)
        .map(|m| key_form(m))
        .collect();
    let mut out = Vec::new();
    for key in keys {
        let names_none = |families: &[&str], known: &[String]| {
            families.iter().any(|family| {
                key.strip_prefix(family)
                    .is_some_and(|board| !board.is_empty() && !known.iter().any(|k| k == board))
            })
        };
        if names_none(&named::FAMILIES, &named) || names_none(&SHARED_FAMILIES, &all) {
            out.push(format!(
                "{key} names no board of BOARD_RUNNERS; it is ignored (check the spelling)"
            ));
        } else if names_none(&[env::RESOURCE_ENV_PREFIX], &members) {
            out.push(format!(
                "{key} names no resource id of this fleet's boards; it is ignored (check the spelling)"
            ));
        } else if count == 0 && indexed::FAMILIES.contains(&key.as_str()) {
            out.push(format!(
                "{key} is set, but {} is not, so there are no indexed board runners (runner.sh's default was 2); set {} to use it",
                indexed::COUNT,
                indexed::COUNT
            ));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve_pairs(pairs: &[(&str, &str)]) -> Result<Boards, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut keys: Vec<String> = map.keys().cloned().collect();
        keys.sort();
        resolve(|k| map.get(k).cloned(), &keys)
    }

    #[test]
    fn both_syntaxes_together_named_first() {
        let b = resolve_pairs(&[
            ("BOARD_RUNNERS", "pi:board,pi"),
            ("RUNNER_BOARD_COUNT", "2"),
            ("RUNNER_RESOURCE_ID", "bench"),
            ("RUNNER_RESOURCE_ID_BOARD_2", "rk-a,rk-b"),
            ("BOARD_HEALTHCHECK_BOARD_2", "test -e $SERIAL"),
            ("RESOURCE_ENV_RK_A", "SERIAL=/dev/ttyUSB0"),
        ])
        .unwrap();
        let rows: Vec<(&str, Option<u32>, Vec<&str>, bool)> = b
            .boards
            .iter()
            .map(|b| {
                (
                    b.name.as_str(),
                    b.index,
                    b.resources.iter().map(String::as_str).collect(),
                    b.healthcheck.is_some(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("pi", None, vec!["bench"], false),
                ("board-1", Some(1), vec!["bench"], false),
                ("board-2", Some(2), vec!["rk-a", "rk-b"], true),
            ]
        );
        assert_eq!(
            b.boards[2].resource_env,
            [("RESOURCE_ENV_RK_A".into(), "SERIAL=/dev/ttyUSB0".into())]
        );
        assert!(b.warnings.is_empty(), "{:?}", b.warnings);
    }

    #[test]
    fn a_repair_comes_from_its_board_key_or_the_indexed_family() {
        let b = resolve_pairs(&[
            ("BOARD_RUNNERS", "pi:x"),
            ("RUNNER_BOARD_COUNT", "3"),
            ("RUNNER_RESOURCE_ID", "rk-a"),
            ("BOARD_HEALTHCHECK_PI", "check pi"),
            ("BOARD_REPAIR_PI", "cycle pi"),
            ("BOARD_HEALTHCHECK_BOARD_1", "check"),
            ("BOARD_HEALTHCHECK_BOARD_2", "check"),
            ("BOARD_RUNNER_REPAIR", "cycle all"),
            ("BOARD_RUNNER_REPAIR_2", "cycle two"),
            ("BOARD_HEALTHCHECK_BOARD_3", "check"),
            ("BOARD_REPAIR_BOARD_3", "cycle three"),
        ])
        .unwrap();
        let repairs: Vec<Option<&str>> = b.boards.iter().map(|b| b.repair.as_deref()).collect();
        assert_eq!(
            repairs,
            [
                Some("cycle pi"),
                Some("cycle all"),
                Some("cycle two"),
                Some("cycle three")
            ]
        );
        assert!(b.warnings.is_empty(), "{:?}", b.warnings);
    }

    #[test]
    fn bad_board_keys_are_one_line_errors() {
        for (pairs, needle) in [
            (
                vec![("BOARD_RUNNERS", "board-1:x"), ("RUNNER_BOARD_COUNT", "1")],
                "BOARD_RUNNERS board 'board-1' clashes with indexed board runner 1",
            ),
            (
                vec![("BOARD_RUNNERS", "board_2:x"), ("RUNNER_BOARD", "2")],
                "BOARD_RUNNERS board 'board_2' clashes with indexed board runner 2",
            ),
            (
                vec![("RUNNER_BOARD_COUNT", "2"), ("BOARD_RUNNER_LABELS_3", "x")],
                "BOARD_RUNNER_LABELS_3 configures indexed board runner 3, but RUNNER_BOARD_COUNT=2; set RUNNER_BOARD_COUNT to 3 or more",
            ),
            (
                vec![("BOARD_RUNNER_ENV_1", "A=1")],
                "BOARD_RUNNER_ENV_1 configures indexed board runner 1, but RUNNER_BOARD_COUNT is not set",
            ),
            (
                vec![("RUNNER_BOARD_COUNT", "2"), ("BOARD_RUNNER_ENV_0", "A=1")],
                "BOARD_RUNNER_ENV_0 configures indexed board runner 0",
            ),
            (
                vec![("RUNNER_BOARD_COUNT", "1"), ("RUNNER_RESOURCE_ID_BOARD_4", "x")],
                "RUNNER_RESOURCE_ID_BOARD_4 configures indexed board runner 4",
            ),
            (
                vec![("RUNNER_BOARD_COUNT", "1"), ("BOARD_RUNNER_DEVICES_A", "/dev/x")],
                "BOARD_RUNNER_DEVICES_A: 'A' is not a runner index",
            ),
            (
                vec![("BOARD_RUNNERS", "pi:x"), ("RUNNER_RESOURCE_ID", "a,,b")],
                "RUNNER_RESOURCE_ID: \"a,,b\" has an empty resource id",
            ),
            (
                vec![("BOARD_RUNNERS", "pi:x"), ("RUNNER_RESOURCE_ID_PI", "a,a")],
                "RUNNER_RESOURCE_ID_PI: \"a,a\" lists a twice",
            ),
            (
                vec![("BOARD_RUNNERS", "pi:x"), ("BOARD_HEALTHCHECK_PI", "true")],
                "BOARD_HEALTHCHECK_PI is set, but board pi has no resource id",
            ),
            (
                vec![
                    ("BOARD_RUNNERS", "pi:x"),
                    ("RUNNER_RESOURCE_ID", "rk-a"),
                    ("BOARD_REPAIR_PI", "relay cycle"),
                ],
                "BOARD_REPAIR_PI is set, but board pi has no health check, and a repair runs only when its check fails; set BOARD_HEALTHCHECK_PI, or remove BOARD_REPAIR_PI",
            ),
            (
                vec![
                    ("BOARD_RUNNERS", "pi:x"),
                    ("RUNNER_RESOURCE_ID", "rk-a"),
                    ("BOARD_QUEUE_AT_GITHUB_PI", "sometimes"),
                ],
                "BOARD_QUEUE_AT_GITHUB_PI=sometimes is not a yes/no value; set BOARD_QUEUE_AT_GITHUB_PI to true or false",
            ),
            (
                vec![
                    ("RUNNER_BOARD_COUNT", "1"),
                    ("RUNNER_RESOURCE_ID", "rk-a"),
                    ("BOARD_RUNNER_REPAIR_1", "relay cycle"),
                ],
                "BOARD_RUNNER_REPAIR_1 is set, but board board-1 has no health check",
            ),
            (
                vec![
                    ("BOARD_RUNNERS", "pi:x"),
                    ("RUNNER_RESOURCE_ID", "rk-a"),
                    ("RESOURCE_ENV_RK_A", "SERIAL"),
                ],
                "RESOURCE_ENV_RK_A: entry \"SERIAL\" has no '='",
            ),
            (
                vec![
                    ("BOARD_RUNNERS", "pi:x;pj:y"),
                    ("RUNNER_RESOURCE_ID_PI", "rk-a"),
                    ("RUNNER_RESOURCE_ID_PJ", "rk.a"),
                ],
                "resource ids rk-a and rk.a share the key form RK_A",
            ),
        ] {
            let err = resolve_pairs(&pairs).expect_err(needle).to_string();
            assert!(err.starts_with(needle), "{needle}\n{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn keys_that_configure_nothing_warn() {
        let b = resolve_pairs(&[
            ("BOARD_RUNNERS", "roc-rk3568-pc:board"),
            ("RUNNER_RESOURCE_ID", "roc"),
            ("BOARD_ENV_ROC_RK3568_PC", "A=1"),
            ("BOARD_ENV_NOPE", "A=1"),
            ("RUNNER_RESOURCE_ID_X", "x"),
            ("RESOURCE_ENV_ROC", "A=1"),
            ("RESOURCE_ENV_OTHER", "A=1"),
            ("BOARD_RUNNER_LABELS", "board"),
        ])
        .unwrap();
        assert_eq!(
            b.warnings,
            [
                "BOARD_ENV_NOPE names no board of BOARD_RUNNERS; it is ignored (check the spelling)",
                "BOARD_RUNNER_LABELS is set, but RUNNER_BOARD_COUNT is not, so there are no indexed board runners (runner.sh's default was 2); set RUNNER_BOARD_COUNT to use it",
                "RESOURCE_ENV_OTHER names no resource id of this fleet's boards; it is ignored (check the spelling)",
                "RUNNER_RESOURCE_ID_X names no board of BOARD_RUNNERS; it is ignored (check the spelling)",
            ]
        );
    }

    #[test]
    fn a_named_board_may_be_called_board_n_beyond_the_count() {
        let b = resolve_pairs(&[
            ("BOARD_RUNNERS", "board-7:x"),
            ("RUNNER_BOARD_COUNT", "2"),
            ("RUNNER_RESOURCE_ID_BOARD_7", "seven"),
        ])
        .unwrap();
        assert_eq!(b.boards[0].resources, ["seven"]);
        assert_eq!(b.boards.len(), 3);
    }
}
