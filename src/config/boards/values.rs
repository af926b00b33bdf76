//! The value syntaxes of board keys, shared by both board syntaxes: comma and `;` lists,
//! `K=V;K2=V2` environments and `host[:container[:rwm]]` devices. Errors name the key, the
//! bad entry and the fix.

use crate::config::error::ConfigError;

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

/// Parses `K=V;K2=V2` for `key` (named in errors); blanks around names and values go.
pub fn parse_env_pairs(key: &str, value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    split_list(value, ';')
        .into_iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !k.trim().contains(char::is_whitespace) => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(ConfigError::new(format!(
                "{key}: entry '{item}' is not NAME=VALUE; write it as NAME=VALUE;NAME2=VALUE2"
            ))),
        })
        .collect()
}

/// Parses a comma list of devices, `host[:container[:permissions]]`, for `key`. A device
/// without a container path is mapped to the same path, as Docker and the shell tool do.
pub fn parse_devices(key: &str, value: &str) -> Result<Vec<String>, ConfigError> {
    split_list(value, ',')
        .into_iter()
        .map(|entry| {
            let bad = |why: &str| {
                ConfigError::new(format!(
                    "{key}: device '{entry}' {why}; write host[:container[:rwm]] like /dev/ttyUSB0, /dev/serial/by-id/usb-FTDI_A50285BI-if00-port0 or /dev/ttyUSB1:/dev/ttyS1"
                ))
            };
            let absolute = |p: &str| p.starts_with('/') && p.len() > 1;
            let (paths, perms) = device_parts(&entry);
            if let Some(perms) = perms {
                if perms.is_empty() || !perms.chars().all(|c| "rwm".contains(c)) {
                    return Err(bad(&format!(
                        "has permissions '{perms}', which are not r, w or m"
                    )));
                }
            }
            // `/dev/a:dev/b`: a container path that is not absolute, not a by-path name.
            if paths
                .iter()
                .any(|p| p.split_once(':').is_some_and(|(_, after)| after.contains('/')))
            {
                return Err(bad("is not an absolute path"));
            }
            match paths.as_slice() {
                [host] if absolute(host) && perms.is_none() => Ok(format!("{host}:{host}")),
                [host, _] | [host, _, _] if !absolute(host) => Err(bad("is not an absolute path")),
                [_, container] if !absolute(container) => Err(bad("is not an absolute path")),
                [_, _] => Ok(entry.clone()),
                [_] => Err(bad("is not an absolute path")),
                _ => Err(bad("has too many ':'")),
            }
        })
        .collect()
}

/// The paths of a device entry and its permissions. A `:` separates two paths only where the
/// next path starts (`:/`), and the permissions only at the end: by-path names hold `:` of
/// their own (`/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0`).
pub fn device_parts(entry: &str) -> (Vec<&str>, Option<&str>) {
    let (rest, perms) = match entry.rsplit_once(':') {
        Some((rest, last))
            if !last.starts_with('/')
                && !rest.is_empty()
                && (last.is_empty() || last.chars().all(|c| c.is_ascii_alphabetic()))
                && rest.contains(":/") =>
        {
            (rest, Some(last))
        }
        _ => (entry, None),
    };
    let mut paths = Vec::new();
    let mut start = 0;
    for (at, _) in rest.match_indices(":/") {
        paths.push(&rest[start..at]);
        start = at + 1;
    }
    paths.push(&rest[start..]);
    (paths, perms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_checked_and_completed() {
        assert_eq!(
            parse_devices(
                "K",
                " /dev/ttyUSB0 , /dev/ttyUSB1:/dev/ttyS1,/dev/kvm:/dev/kvm:rw"
            )
            .unwrap(),
            [
                "/dev/ttyUSB0:/dev/ttyUSB0",
                "/dev/ttyUSB1:/dev/ttyS1",
                "/dev/kvm:/dev/kvm:rw"
            ]
        );
        for (value, needle) in [
            ("ttyUSB0", "device 'ttyUSB0' is not an absolute path"),
            (
                "dev/a:/dev/b",
                "device 'dev/a:/dev/b' is not an absolute path",
            ),
            ("/dev/a:dev/b", "is not an absolute path"),
            ("/dev/a:/dev/b:x", "permissions 'x'"),
            ("/dev/a:/dev/b:", "permissions ''"),
            ("/a:/b:/c", "too many ':'"),
            ("/", "not an absolute path"),
        ] {
            let err = parse_devices("BOARD_RUNNER_DEVICES_2", value)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("BOARD_RUNNER_DEVICES_2: "), "{err}");
            assert!(err.contains(needle), "{value}: {err}");
            assert!(err.contains("host[:container[:rwm]]"), "{err}");
        }
    }

    #[test]
    fn stable_device_names_keep_their_own_colons() {
        let by_path = "/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0";
        let by_id = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0";
        for (value, want) in [
            (by_path.to_string(), format!("{by_path}:{by_path}")),
            (
                format!("{by_path}:/dev/ttyS1"),
                format!("{by_path}:/dev/ttyS1"),
            ),
            (
                format!("{by_path}:/dev/ttyS1:rw"),
                format!("{by_path}:/dev/ttyS1:rw"),
            ),
            (by_id.to_string(), format!("{by_id}:{by_id}")),
            (
                format!("{by_id}:/dev/console0"),
                format!("{by_id}:/dev/console0"),
            ),
        ] {
            assert_eq!(parse_devices("K", &value).unwrap(), [want], "{value}");
        }
        assert_eq!(
            device_parts(&format!("{by_path}:/dev/x:rw")),
            (vec![by_path, "/dev/x"], Some("rw"))
        );
    }

    #[test]
    fn env_pairs_keep_equals_in_values_and_refuse_bare_words() {
        assert_eq!(
            parse_env_pairs("K", "A=1; B = x=y ;;").unwrap(),
            [("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        for bad in ["novalue", "=1", "A B=1"] {
            let err = parse_env_pairs("BOARD_ENV_PI", bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("entry '{bad}'")), "{err}");
            assert!(err.contains("NAME=VALUE;NAME2=VALUE2"), "{err}");
        }
    }

    #[test]
    fn lists_trim_and_dedup_keeps_order() {
        assert_eq!(split_list(" a, ,b ,", ','), ["a", "b"]);
        assert_eq!(dedup(split_list("b,a,b", ',')), ["b", "a"]);
    }
}
