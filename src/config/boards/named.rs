//! `BOARD_RUNNERS`, the shell tool's first board syntax: one runner per named board, with
//! per-board keys in the board's key form.
//!
//! Grammar: `name:label1[,label2];name2:label1`. Per-board keys use the board's key form: the
//! name upper-cased, every non-alphanumeric character turned into `_` (`roc-rk3568-pc` ->
//! `ROC_RK3568_PC`).

use super::hardware::Hardware;
use super::values::{dedup, parse_devices, parse_env_pairs, split_list};
use crate::config::error::ConfigError;
use runner_wrapper::contract::key_form;

/// The hardware key families of named boards (`BOARD_DEVICES_<BOARD>`, ...).
pub const FAMILIES: [&str; 4] = [
    "BOARD_DEVICES_",
    "BOARD_ENV_",
    "BOARD_VOLUMES_",
    "BOARD_GROUP_ADD_",
];

/// A (name, labels) pair from `BOARD_RUNNERS`, before per-board keys are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardEntry {
    pub name: String,
    pub labels: Vec<String>,
}

/// Parses `BOARD_RUNNERS`. Every error names the offending entry and how to fix it.
pub fn parse_board_runners(value: &str) -> Result<Vec<BoardEntry>, ConfigError> {
    let mut entries: Vec<BoardEntry> = Vec::new();
    for raw in value.split(';') {
        let entry = raw.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((name, labels)) = entry.split_once(':') else {
            return Err(bad(entry, "has no ':'; write it as name:label1,label2"));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(bad(
                entry,
                "has an empty board name; write it as name:label1,label2",
            ));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c)))
        {
            return Err(bad(
                entry,
                &format!(
                    "board name '{name}' has '{c}', which a container name cannot hold; use letters, digits, '_', '.', '-'"
                ),
            ));
        }
        if name.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad(
                entry,
                &format!("board name '{name}' would collide with generic runner {name}; give the board a name with a letter"),
            ));
        }
        let labels = split_list(labels, ',');
        if labels.is_empty() {
            return Err(bad(entry, "has no labels; write it as name:label1,label2"));
        }
        if let Some(first) = entries.iter().find(|e| key_form(&e.name) == key_form(name)) {
            let why = if first.name == name {
                format!("repeats board '{name}'; give each board one entry")
            } else {
                format!(
                    "board '{name}' and board '{}' share the per-board key form {}; rename one",
                    first.name,
                    key_form(name)
                )
            };
            return Err(bad(entry, &why));
        }
        entries.push(BoardEntry {
            name: name.to_string(),
            labels: dedup(labels),
        });
    }
    Ok(entries)
}

fn bad(entry: &str, why: &str) -> ConfigError {
    ConfigError::new(format!("BOARD_RUNNERS entry '{entry}' {why}"))
}

/// The board's own hardware keys, read through `lookup`.
pub fn hardware(
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Hardware, ConfigError> {
    let k = key_form(name);
    let get = |family: &str| {
        let key = format!("{family}{k}");
        let value = lookup(&key).unwrap_or_default();
        (key, value)
    };
    let (devices_key, devices) = get("BOARD_DEVICES_");
    let (env_key, env) = get("BOARD_ENV_");
    Ok(Hardware {
        devices: parse_devices(&devices_key, &devices)?,
        env: parse_env_pairs(&env_key, &env)?,
        volumes: split_list(&get("BOARD_VOLUMES_").1, ';'),
        group_add: split_list(&get("BOARD_GROUP_ADD_").1, ','),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_example_with_whitespace() {
        let boards =
            parse_board_runners(" phytiumpi:board,phytiumpi ; roc-rk3568-pc:board,roc-rk3568-pc ;")
                .unwrap();
        assert_eq!(boards.len(), 2);
        assert_eq!(boards[0].name, "phytiumpi");
        assert_eq!(boards[0].labels, ["board", "phytiumpi"]);
        assert_eq!(boards[1].name, "roc-rk3568-pc");
    }

    #[test]
    fn errors_name_the_entry() {
        for (input, needle) in [
            ("pi", "entry 'pi' has no ':'"),
            (":a", "empty board name"),
            ("pi:", "has no labels"),
            ("pi: , ", "has no labels"),
            ("pi:a;pi:b", "repeats board 'pi'"),
            ("a-b:x;a.b:y", "share the per-board key form A_B"),
            ("my pi:a", "cannot hold"),
            ("pi/1:a", "cannot hold"),
            ("3:a", "collide with generic runner 3"),
        ] {
            let err = parse_board_runners(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn hardware_keys_use_the_key_form_and_are_checked() {
        let lookup = |k: &str| match k {
            "BOARD_ENV_ROC_RK3568_PC" => Some("A=1; B = x=y".to_string()),
            "BOARD_DEVICES_ROC_RK3568_PC" => {
                Some("/dev/ttyUSB0,/dev/ttyUSB1:/dev/ttyS1".to_string())
            }
            "BOARD_GROUP_ADD_ROC_RK3568_PC" => Some("plugdev, dialout".to_string()),
            _ => None,
        };
        let hw = hardware("roc-rk3568-pc", lookup).unwrap();
        assert_eq!(
            hw.env,
            [("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(
            hw.devices,
            ["/dev/ttyUSB0:/dev/ttyUSB0", "/dev/ttyUSB1:/dev/ttyS1"]
        );
        assert_eq!(hw.group_add, ["plugdev", "dialout"]);
        assert!(hw.volumes.is_empty());
        let err = hardware("pi", |k: &str| {
            (k == "BOARD_DEVICES_PI").then(|| "ttyUSB0".into())
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("BOARD_DEVICES_PI: device 'ttyUSB0'"),
            "{err}"
        );
    }
}
