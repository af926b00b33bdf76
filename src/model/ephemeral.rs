//! One-job (ephemeral) runners: which runners are, and what they start from.
//!
//! An ephemeral runner registers with a JIT configuration (`generate-jitconfig`) instead of
//! a registration token, runs exactly one job and exits; GitHub then forgets it. Its
//! container does not restart (compose `restart: "no"`): `ghr serve` removes it with its
//! work volume and starts a new one, so nothing of the last job survives. `RUNNER_EPHEMERAL`
//! sets it fleet-wide; a board's `BOARD_EPHEMERAL_<BOARD>` (or `BOARD_RUNNER_EPHEMERAL[_<i>]`)
//! wins for that board, so generic and board runners can differ (a mixed fleet).

use crate::config::boards::Board;
use crate::config::settings::Settings;

/// The work folder a JIT configuration names when `RUNNER_WORKDIR` is not set (the real
/// runner's default).
pub const DEFAULT_WORK_FOLDER: &str = "_work";

/// Written by `ghr stop` into a one-job runner's volume before it stops it: the container's
/// start time then, so `ghr serve` leaves that run of it stopped (and replaces one that ended
/// by itself, or after a later start).
pub const STOPPED_MARK: &str = "/home/runner/.ghr-stopped";

/// The compose restart policy of an ephemeral runner: none (compose's default, `no`), so its
/// container ends with its job.
pub const RESTART: &str = "";

/// Whether the runner of `board` (`None`: a generic runner) is a one-job runner.
pub fn wanted(settings: &Settings, board: Option<&Board>) -> bool {
    match board {
        Some(board) => board.ephemeral.unwrap_or(settings.ephemeral),
        None => settings.ephemeral,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fleet::desired;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        use crate::config::settings::Sources;
        let mut map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("ORG".into(), "acme".into());
        map.insert("RUNNER_NAME_PREFIX".into(), "h-".into());
        Settings::resolve(&Sources::from_maps(Default::default(), map)).unwrap()
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        use crate::config::settings::Sources;
        let mut map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("ORG".into(), "acme".into());
        match Settings::resolve(&Sources::from_maps(Default::default(), map)) {
            Ok(_) => panic!("{pairs:?} is refused"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_value_that_is_no_yes_or_no_names_its_key() {
        assert!(
            error(&[("RUNNER_EPHEMERAL", "sometimes")]).contains("RUNNER_EPHEMERAL"),
            "{}",
            error(&[("RUNNER_EPHEMERAL", "sometimes")])
        );
        let e = error(&[("BOARD_RUNNERS", "pi:pi"), ("BOARD_EPHEMERAL_PI", "maybe")]);
        assert!(
            e.contains("BOARD_EPHEMERAL_PI=maybe") && e.contains("true or false"),
            "{e}"
        );
        let e = error(&[
            ("RUNNER_BOARD_COUNT", "1"),
            ("BOARD_RUNNER_EPHEMERAL_1", "2"),
        ]);
        assert!(e.contains("BOARD_RUNNER_EPHEMERAL_1=2"), "{e}");
    }

    fn lives(pairs: &[(&str, &str)]) -> Vec<(String, bool)> {
        let s = settings(pairs);
        desired(&s, 1)
            .iter()
            .map(|r| (r.name.clone(), r.ephemeral))
            .collect()
    }

    #[test]
    fn fleet_wide_and_per_board_keys_make_mixed_fleets() {
        let b = |name: &str, e: bool| (name.to_string(), e);
        for (pairs, want) in [
            (
                vec![("BOARD_RUNNERS", "pi:pi")],
                vec![b("h-runner-1", false), b("h-runner-pi", false)],
            ),
            (
                vec![("BOARD_RUNNERS", "pi:pi"), ("RUNNER_EPHEMERAL", "true")],
                vec![b("h-runner-1", true), b("h-runner-pi", true)],
            ),
            // Generic ephemeral, board long-lived.
            (
                vec![
                    ("BOARD_RUNNERS", "pi:pi"),
                    ("RUNNER_EPHEMERAL", "true"),
                    ("BOARD_EPHEMERAL_PI", "false"),
                ],
                vec![b("h-runner-1", true), b("h-runner-pi", false)],
            ),
            // And the reverse, both syntaxes.
            (
                vec![("BOARD_RUNNERS", "pi:pi"), ("BOARD_EPHEMERAL_PI", "true")],
                vec![b("h-runner-1", false), b("h-runner-pi", true)],
            ),
            (
                vec![
                    ("RUNNER_BOARD_COUNT", "2"),
                    ("BOARD_RUNNER_EPHEMERAL", "true"),
                    ("BOARD_RUNNER_EPHEMERAL_2", "false"),
                ],
                vec![
                    b("h-runner-1", false),
                    b("h-runner-board-1", true),
                    b("h-runner-board-2", false),
                ],
            ),
        ] {
            assert_eq!(lives(&pairs), want, "{pairs:?}");
        }
    }
}
