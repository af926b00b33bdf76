//! Every key ghr reads from `.env`, so a key it does not know can be named instead of being
//! silently ignored (`RUNER_NAME_PREFIX=nc-` would otherwise plan a second fleet under the
//! default prefix). A typo gets the closest known key as a suggestion.

use crate::config::boards::{indexed, named, SHARED_FAMILIES};
use runner_wrapper::contract::env;

/// Keys read as they are (ghr's settings, runner.sh's, and the wrapper contract's that `.env`
/// may set for the whole fleet).
pub const KNOWN: &[&str] = &[
    "ORG",
    "REPO",
    "GH_PAT",
    crate::config::github_app::ID,
    crate::config::github_app::CLIENT_ID,
    crate::config::github_app::KEY_FILE,
    crate::config::github_app::INSTALLATION_ID,
    "REG_TOKEN",
    "ENV_FILE",
    "SERVE_GITHUB_REFRESH",
    "RUNNER_NAME_PREFIX",
    "RUNNER_GROUP",
    "RUNNER_LABELS",
    "RUNNER_COUNT",
    "RUNNER_IMAGE",
    "RUNNER_CUSTOM_IMAGE",
    "RUNNER_DOCKERFILE",
    "RUNNER_WORKDIR",
    "RUNNER_KVM_GID",
    "RUNNER_WRAPPER_BIN",
    "RUNNER_STOP_GRACE_PERIOD",
    "RUNNER_REGISTER_TIMEOUT",
    "RUNNER_LOCK_HOST_PATH",
    crate::config::logging::DRIVER_KEY,
    crate::config::logging::OPTS_KEY,
    "DISABLE_AUTO_UPDATE",
    "REG_TOKEN_CACHE_FILE",
    "REG_TOKEN_CACHE_TTL",
    "COMPOSE_FILE",
    "DOCKERFILE_HASH_FILE",
    "PRIVILEGED",
    "MAP_LOOP_DEVICES",
    "LOOP_DEVICE_COUNT",
    "MAP_KVM_DEVICE",
    "MAP_USB_DEVICE",
    "MOUNT_UDEV_RULES_DIR",
    "MOUNT_DOCKER_SOCK",
    "GITHUB_API_URL",
    "GITHUB_SERVER_URL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "BOARD_RUNNERS",
    indexed::COUNT,
    indexed::COUNT_ALIAS,
    env::LOCK_DIR,
    env::LOCK_GROUP,
    env::LOCK_TIMEOUT,
    env::LOCK_STATUS_INTERVAL,
    env::HEALTHCHECK_INTERVAL,
    env::HEALTHCHECK_TIMEOUT,
    env::REPAIR_ATTEMPTS,
    env::QUEUE_AT_GITHUB,
    env::QUEUE_COURTESY,
    env::RESOURCE_ID,
    crate::config::boards::EPHEMERAL,
];

/// Families of keys named after a board, a pool member or a runner index.
fn families() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = named::FAMILIES
        .iter()
        .chain(SHARED_FAMILIES.iter())
        .copied()
        .collect();
    all.push(env::RESOURCE_ENV_PREFIX);
    all
}

/// Is `key` one ghr reads?
pub fn is_known(key: &str) -> bool {
    KNOWN.contains(&key)
        || families()
            .iter()
            .any(|family| key.len() > family.len() && key.starts_with(family))
        || indexed::FAMILIES.iter().any(|family| {
            key == *family
                || key
                    .strip_prefix(family)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The known key `key` most likely meant, if one is close enough to be a typo.
pub fn closest(key: &str) -> Option<String> {
    let mut candidates: Vec<String> = KNOWN
        .iter()
        .chain(indexed::FAMILIES.iter())
        .map(|k| k.to_string())
        .collect();
    // A family key with its prefix misspelt keeps its board part: BOARD_DEVICE_PI ->
    // BOARD_DEVICES_PI.
    for family in families() {
        for (at, _) in key.match_indices('_') {
            let (head, tail) = key.split_at(at + 1);
            if tail.is_empty() || distance(head, family) > 2 {
                continue;
            }
            candidates.push(format!("{family}{tail}"));
        }
    }
    candidates
        .into_iter()
        .map(|candidate| (distance(key, &candidate), candidate))
        .filter(|(d, candidate)| *d > 0 && *d <= (candidate.len() / 6).clamp(1, 3))
        .min()
        .map(|(_, candidate)| candidate)
}

/// The warning for a key of `file` that ghr does not read.
pub fn unknown_key_warning(key: &str, file: &str) -> String {
    match closest(key) {
        Some(known) => {
            format!("{key} in {file} is not a ghr setting; did you mean {known}? (it is ignored)")
        }
        None => format!(
            "{key} in {file} is not a ghr setting; it is ignored (.env.example lists every key)"
        ),
    }
}

/// Levenshtein distance over bytes (keys are ASCII).
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_and_families() {
        for key in [
            "ORG",
            "RUNNER_NAME_PREFIX",
            "BOARD_DEVICES_PHYTIUMPI",
            "BOARD_HEALTHCHECK_BOARD_2",
            "RUNNER_RESOURCE_ID_ROC_RK3568_PC",
            "RESOURCE_ENV_RK_A",
            "BOARD_RUNNER_LABELS",
            "BOARD_RUNNER_LABELS_12",
            "RUNNER_LOCK_TIMEOUT",
            "https_proxy",
        ] {
            assert!(is_known(key), "{key}");
        }
        for key in [
            "RUNER_NAME_PREFIX",
            "BOARD_DEVICE_BOARDA",
            "BOARD_DEVICES_",
            "BOARD_RUNNER_LABELS_X",
            "MY_OWN_THING",
        ] {
            assert!(!is_known(key), "{key}");
        }
    }

    #[test]
    fn typos_get_the_closest_key() {
        let cases = [
            ("RUNER_NAME_PREFIX", Some("RUNNER_NAME_PREFIX")),
            ("BOARD_DEVICE_BOARDA", Some("BOARD_DEVICES_BOARDA")),
            ("RUNNER_LABEL", Some("RUNNER_LABELS")),
            ("GH_PATT", Some("GH_PAT")),
            ("PRIVILEDGED", Some("PRIVILEGED")),
            ("BOARD_RUNNER_DEVICE", Some("BOARD_RUNNER_DEVICES")),
            ("MY_OWN_THING", None),
            ("XYZ", None),
        ];
        for (key, want) in cases {
            assert_eq!(closest(key).as_deref(), want, "{key}");
        }
    }

    #[test]
    fn the_warning_names_key_file_and_suggestion() {
        assert_eq!(
            unknown_key_warning("RUNER_NAME_PREFIX", ".env"),
            "RUNER_NAME_PREFIX in .env is not a ghr setting; did you mean RUNNER_NAME_PREFIX? (it is ignored)"
        );
    }
}
