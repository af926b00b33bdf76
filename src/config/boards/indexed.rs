//! Indexed board runners, the shell tool's newest board syntax: `RUNNER_BOARD_COUNT` runners
//! `runner-board-<i>`, each configured by a fleet-wide `BOARD_RUNNER_<KEY>` or its own
//! `BOARD_RUNNER_<KEY>_<i>`, which replaces the fleet-wide value (no merging).

use super::hardware::Hardware;
use super::values::{dedup, parse_devices, parse_env_pairs, split_list};
use crate::config::error::ConfigError;

/// The count, and its alias (the shell tool reads `RUNNER_BOARD_COUNT`, else `RUNNER_BOARD`).
pub const COUNT: &str = "RUNNER_BOARD_COUNT";
pub const COUNT_ALIAS: &str = "RUNNER_BOARD";

pub const LABELS: &str = "BOARD_RUNNER_LABELS";
pub const DEVICES: &str = "BOARD_RUNNER_DEVICES";
pub const GROUP_ADD: &str = "BOARD_RUNNER_GROUP_ADD";
pub const VOLUMES: &str = "BOARD_RUNNER_VOLUMES";
pub const ENV: &str = "BOARD_RUNNER_ENV";
pub const COMMAND: &str = "BOARD_RUNNER_COMMAND";
/// The repair command (`RUNNER_REPAIR`) of a runner with a health check.
pub const REPAIR: &str = "BOARD_RUNNER_REPAIR";

/// Queue at GitHub (`RUNNER_QUEUE_AT_GITHUB`) for the indexed runners, over the fleet-wide one.
pub const QUEUE_AT_GITHUB: &str = "BOARD_RUNNER_QUEUE_AT_GITHUB";
/// One-job runners (`RUNNER_EPHEMERAL`) for the indexed runners, over the fleet-wide one.
pub const EPHEMERAL: &str = "BOARD_RUNNER_EPHEMERAL";

/// Every per-runner family, with its `_<i>` overrides.
pub const FAMILIES: [&str; 9] = [
    LABELS,
    DEVICES,
    GROUP_ADD,
    VOLUMES,
    ENV,
    COMMAND,
    REPAIR,
    QUEUE_AT_GITHUB,
    EPHEMERAL,
];

pub const DEFAULT_LABELS: &str = "board";
pub const DEFAULT_GROUP_ADD: &str = "dialout";

/// The environment variable that tells an indexed runner its index.
pub const INDEX_ENV: &str = "RUNNER_BOARD_INDEX";

/// `board-<i>`: what follows `runner-` in the runner's name.
pub fn name(index: u32) -> String {
    format!("board-{index}")
}

/// How many indexed board runners there are: `RUNNER_BOARD_COUNT`, else `RUNNER_BOARD`, else
/// none (the shell tool's default of 2 would surprise a `BOARD_RUNNERS` user).
pub fn count(lookup: &impl Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    let Some((key, value)) = [COUNT, COUNT_ALIAS]
        .into_iter()
        .find_map(|k| lookup(k).map(|v| (k, v)))
    else {
        return Ok(0);
    };
    value.trim().parse().map_err(|_| {
        ConfigError::new(format!(
            "{key}={value} is not a whole number; set {key} to the number of indexed board runners (0 for none)"
        ))
    })
}

/// One indexed runner's settings.
pub struct Indexed {
    pub labels: Vec<String>,
    pub hardware: Hardware,
    /// `BOARD_RUNNER_COMMAND[_<i>]` when it is not the default `run.sh`.
    pub command: Option<String>,
    /// `BOARD_RUNNER_REPAIR[_<i>]`, with the key it came from (for errors).
    pub repair: Option<(String, String)>,
    /// `BOARD_RUNNER_QUEUE_AT_GITHUB[_<i>]`, with the key it came from.
    pub queue_at_github: Option<(String, String)>,
    /// `BOARD_RUNNER_EPHEMERAL[_<i>]`, with the key it came from.
    pub ephemeral: Option<(String, String)>,
}

/// Runner `index`'s settings: each key's `_<index>` override, else the fleet-wide value, else
/// the default.
pub fn runner(
    index: u32,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Indexed, ConfigError> {
    // (the key the value came from, for errors; the value)
    let get = |family: &str| -> (String, Option<String>) {
        let own = format!("{family}_{index}");
        match lookup(&own) {
            Some(v) => (own, Some(v)),
            None => (family.to_string(), lookup(family)),
        }
    };
    let (labels_key, labels) = get(LABELS);
    let labels = labels.unwrap_or_else(|| DEFAULT_LABELS.into());
    let label_list = dedup(split_list(&labels, ','));
    if label_list.is_empty() {
        return Err(ConfigError::new(format!(
            "{labels_key}={labels} has no labels; write them as label1,label2 (default: {DEFAULT_LABELS})"
        )));
    }
    let (devices_key, devices) = get(DEVICES);
    let (env_key, env) = get(ENV);
    let (repair_key, repair) = get(REPAIR);
    let (queue_key, queue) = get(QUEUE_AT_GITHUB);
    let (ephemeral_key, ephemeral) = get(EPHEMERAL);
    let command = get(COMMAND)
        .1
        .map(|c| c.trim().to_string())
        .filter(|c| c != crate::config::runner_image::RUN_SCRIPT);
    Ok(Indexed {
        labels: label_list,
        hardware: Hardware {
            devices: parse_devices(&devices_key, &devices.unwrap_or_default())?,
            env: parse_env_pairs(&env_key, &env.unwrap_or_default())?,
            volumes: split_list(&get(VOLUMES).1.unwrap_or_default(), ';'),
            group_add: split_list(
                &get(GROUP_ADD).1.unwrap_or_else(|| DEFAULT_GROUP_ADD.into()),
                ',',
            ),
        },
        command,
        repair: repair.map(|r| (repair_key, r)),
        queue_at_github: queue.map(|q| (queue_key, q)),
        ephemeral: ephemeral.map(|e| (ephemeral_key, e)),
    })
}

/// The index a per-runner key overrides: `BOARD_RUNNER_LABELS_3` -> `Some(Ok(3))`; a key of
/// the families with a suffix that is not an index -> `Some(Err(suffix))`; other keys `None`.
pub fn override_index(key: &str) -> Option<(&'static str, Result<u32, String>)> {
    FAMILIES.iter().find_map(|family| {
        let suffix = key.strip_prefix(family)?.strip_prefix('_')?;
        // BOARD_RUNNER_GROUP_ADD is not an override of some BOARD_RUNNER_GROUP.
        Some((
            *family,
            suffix
                .parse::<u32>()
                .ok()
                .filter(|_| suffix.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| suffix.to_string()),
        ))
    })
}

/// The error for a key that configures indexed runner `index` when there is no such runner.
pub fn beyond_count(key: &str, index: u32, count: u32) -> ConfigError {
    let have = if count == 0 {
        format!("{COUNT} is not set (no indexed board runners)")
    } else {
        format!("{COUNT}={count}")
    };
    ConfigError::new(format!(
        "{key} configures indexed board runner {index}, but {have}; set {COUNT} to {index} or more, or remove {key}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn count_reads_the_alias_and_defaults_to_none() {
        assert_eq!(count(&lookup(&[])).unwrap(), 0);
        assert_eq!(count(&lookup(&[("RUNNER_BOARD", "3")])).unwrap(), 3);
        assert_eq!(
            count(&lookup(&[
                ("RUNNER_BOARD", "3"),
                ("RUNNER_BOARD_COUNT", "1")
            ]))
            .unwrap(),
            1
        );
        for (key, value) in [("RUNNER_BOARD_COUNT", "two"), ("RUNNER_BOARD", "-1")] {
            let err = count(&lookup(&[(key, value)])).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("{key}={value} is not a whole number; set {key}")),
                "{err}"
            );
        }
    }

    #[test]
    fn an_override_replaces_the_fleet_value_and_defaults_fill_the_rest() {
        let l = lookup(&[
            ("BOARD_RUNNER_LABELS", "board,arm"),
            ("BOARD_RUNNER_LABELS_2", "board,rk3568"),
            ("BOARD_RUNNER_GROUP_ADD_2", "plugdev"),
            ("BOARD_RUNNER_DEVICES", "/dev/ttyUSB0"),
            ("BOARD_RUNNER_ENV_1", "SERIAL=/dev/ttyUSB0;BAUD=115200"),
            ("BOARD_RUNNER_COMMAND_2", "/home/runner/run.sh --once"),
            ("BOARD_RUNNER_COMMAND_1", " /home/runner/run.sh "),
        ]);
        let one = runner(1, &l).unwrap();
        assert_eq!(one.labels, ["board", "arm"]);
        assert_eq!(one.hardware.group_add, ["dialout"]);
        assert_eq!(one.hardware.devices, ["/dev/ttyUSB0:/dev/ttyUSB0"]);
        assert_eq!(one.hardware.env.len(), 2);
        assert_eq!(one.command, None, "the default command is run directly");
        let two = runner(2, &l).unwrap();
        assert_eq!(two.labels, ["board", "rk3568"]);
        assert_eq!(two.hardware.group_add, ["plugdev"], "replaced, not merged");
        assert!(two.hardware.env.is_empty());
        assert_eq!(two.command.as_deref(), Some("/home/runner/run.sh --once"));
        let plain = runner(3, &lookup(&[])).unwrap();
        assert_eq!(plain.labels, ["board"]);
        assert!(plain.hardware.devices.is_empty());
    }

    #[test]
    fn bad_values_name_the_key_they_came_from() {
        for (pairs, needle) in [
            (
                vec![("BOARD_RUNNER_DEVICES_2", "ttyUSB0")],
                "BOARD_RUNNER_DEVICES_2: device 'ttyUSB0'",
            ),
            (
                vec![("BOARD_RUNNER_DEVICES", "/dev/a:/dev/b:q")],
                "BOARD_RUNNER_DEVICES: device '/dev/a:/dev/b:q'",
            ),
            (
                vec![("BOARD_RUNNER_ENV_2", "SERIAL")],
                "BOARD_RUNNER_ENV_2: entry 'SERIAL' is not NAME=VALUE",
            ),
            (
                vec![("BOARD_RUNNER_LABELS_2", " , ")],
                "BOARD_RUNNER_LABELS_2= ,  has no labels",
            ),
        ] {
            let err = runner(2, &lookup(&pairs)).err().unwrap().to_string();
            assert!(err.starts_with(needle), "{err}");
        }
    }

    #[test]
    fn override_keys_are_recognised() {
        assert_eq!(
            override_index("BOARD_RUNNER_LABELS_3"),
            Some((LABELS, Ok(3)))
        );
        assert_eq!(
            override_index("BOARD_RUNNER_GROUP_ADD_12"),
            Some((GROUP_ADD, Ok(12)))
        );
        assert_eq!(
            override_index("BOARD_RUNNER_ENV_X"),
            Some((ENV, Err("X".to_string())))
        );
        assert_eq!(override_index("BOARD_RUNNER_GROUP_ADD"), None);
        assert_eq!(override_index("BOARD_RUNNERS"), None);
        assert_eq!(override_index("BOARD_RUNNER_LABELS"), None);
        assert_eq!(
            override_index("BOARD_RUNNER_LABELS_+1"),
            Some((LABELS, Err("+1".to_string())))
        );
    }
}
