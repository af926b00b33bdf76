//! `BOARD_RUNNERS` and the per-board keys: which board runners exist and what each one gets.
//!
//! Grammar (the shell tool's): `name:label1[,label2];name2:label1`. Per-board keys use the
//! board's key form: the name upper-cased, every non-alphanumeric character turned into `_`.

use crate::settings::ConfigError;

/// One board runner as the user declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    pub name: String,
    pub labels: Vec<String>,
    /// `RUNNER_RESOURCE_ID_<BOARD>`, else `RUNNER_RESOURCE_ID`; `None`: the board is not shared.
    pub resource_id: Option<String>,
    /// `BOARD_DEVICES_<BOARD>`: `host[:container]` entries.
    pub devices: Vec<String>,
    /// `BOARD_ENV_<BOARD>`: `K=V;K2=V2`.
    pub env: Vec<(String, String)>,
    /// `BOARD_VOLUMES_<BOARD>`: `;` list of compose volume specs.
    pub volumes: Vec<String>,
    /// `BOARD_GROUP_ADD_<BOARD>`: comma list.
    pub group_add: Vec<String>,
}

/// The per-board key families, in the order the docs list them.
pub const PER_BOARD_KEYS: [&str; 5] = [
    "RUNNER_RESOURCE_ID_",
    "BOARD_DEVICES_",
    "BOARD_ENV_",
    "BOARD_VOLUMES_",
    "BOARD_GROUP_ADD_",
];

/// `phytium-pi.2` -> `PHYTIUM_PI_2`.
pub fn key_form(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

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

/// Splits a separated list, trimming items and dropping empty ones.
pub fn split_list(value: &str, separator: char) -> Vec<String> {
    value
        .split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Keeps the first occurrence of each item, in order.
pub fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// Parses `K=V;K2=V2` for `key` (named in errors).
pub fn parse_env_pairs(key: &str, value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    split_list(value, ';')
        .into_iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(ConfigError::new(format!(
                "{key}: entry '{item}' is not NAME=VALUE; write it as NAME=VALUE;NAME2=VALUE2"
            ))),
        })
        .collect()
}

/// Completes the entries with their per-board keys, read through `lookup`.
pub fn resolve(
    entries: Vec<BoardEntry>,
    default_resource: Option<&str>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Board>, ConfigError> {
    entries
        .into_iter()
        .map(|entry| {
            let k = key_form(&entry.name);
            let get = |family: &str| lookup(&format!("{family}{k}"));
            let env_key = format!("BOARD_ENV_{k}");
            Ok(Board {
                resource_id: get("RUNNER_RESOURCE_ID_").or(default_resource.map(str::to_string)),
                devices: split_list(&get("BOARD_DEVICES_").unwrap_or_default(), ','),
                env: parse_env_pairs(&env_key, &get("BOARD_ENV_").unwrap_or_default())?,
                volumes: split_list(&get("BOARD_VOLUMES_").unwrap_or_default(), ';'),
                group_add: split_list(&get("BOARD_GROUP_ADD_").unwrap_or_default(), ','),
                name: entry.name,
                labels: entry.labels,
            })
        })
        .collect()
}

/// Per-board keys that name no board of `BOARD_RUNNERS`: likely a typo, worth a warning.
pub fn orphan_keys<'a>(keys: impl Iterator<Item = &'a str>, boards: &[BoardEntry]) -> Vec<String> {
    let known: Vec<String> = boards.iter().map(|b| key_form(&b.name)).collect();
    let mut orphans: Vec<String> = keys
        .filter(|key| {
            PER_BOARD_KEYS.iter().any(|family| {
                key.strip_prefix(family)
                    .is_some_and(|board| !board.is_empty() && !known.iter().any(|k| k == board))
            })
        })
        .map(str::to_string)
        .collect();
    orphans.sort();
    orphans
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
    fn key_form_upcases_and_replaces() {
        assert_eq!(key_form("roc-rk3568-pc"), "ROC_RK3568_PC");
        assert_eq!(key_form("pi.2"), "PI_2");
    }

    #[test]
    fn per_board_keys_resolve_and_orphans_are_found() {
        let entries = parse_board_runners("roc-rk3568-pc:board").unwrap();
        let lookup = |k: &str| match k {
            "RUNNER_RESOURCE_ID_ROC_RK3568_PC" => Some("board-roc".to_string()),
            "BOARD_ENV_ROC_RK3568_PC" => Some("A=1; B = x=y".to_string()),
            "BOARD_DEVICES_ROC_RK3568_PC" => {
                Some("/dev/ttyUSB0,/dev/ttyUSB1:/dev/ttyS1".to_string())
            }
            _ => None,
        };
        let boards = resolve(entries.clone(), Some("shared"), lookup).unwrap();
        assert_eq!(boards[0].resource_id.as_deref(), Some("board-roc"));
        assert_eq!(
            boards[0].env,
            [("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(boards[0].devices.len(), 2);
        let keys = [
            "BOARD_ENV_ROC_RK3568_PC",
            "BOARD_ENV_NOPE",
            "RUNNER_RESOURCE_ID",
            "RUNNER_RESOURCE_ID_X",
        ];
        assert_eq!(
            orphan_keys(keys.into_iter(), &entries),
            ["BOARD_ENV_NOPE", "RUNNER_RESOURCE_ID_X"]
        );
    }
}
