//! `RUNNER_LOG_DRIVER` and `RUNNER_LOG_OPTS`: where the runners' container logs go (compose's
//! `logging:`). Docker's own default, json-file without a cap, lets one chatty runner fill the
//! host's disk, so ghr caps json-file unless told otherwise.

pub const DRIVER_KEY: &str = "RUNNER_LOG_DRIVER";
pub const OPTS_KEY: &str = "RUNNER_LOG_OPTS";
pub const DEFAULT_DRIVER: &str = "json-file";
/// json-file's cap when `RUNNER_LOG_OPTS` does not set its own: at most 3 files of 50 MB.
pub const JSON_FILE_DEFAULTS: [(&str, &str); 2] = [("max-size", "50m"), ("max-file", "3")];

/// Options a driver cannot start a container without (Docker refuses it at creation, by
/// which time the runner is already registered).
const REQUIRED: &[(&str, &[&str])] = &[
    ("gelf", &["gelf-address"]),
    ("splunk", &["splunk-url", "splunk-token"]),
    ("awslogs", &["awslogs-group"]),
];

/// The `logging:` of every runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub driver: String,
    /// In the order given, defaults last.
    pub options: Vec<(String, String)>,
}

/// Checks and combines the two keys (unset or empty: `None`). The error is one line naming
/// the key, the bad part and the fix; a value is never echoed whole, as options may hold a
/// token (splunk-token).
pub fn resolve(driver: Option<&str>, opts: Option<&str>) -> Result<LogConfig, String> {
    let driver = driver.map(str::trim).unwrap_or(DEFAULT_DRIVER).to_string();
    // Plugins are `name[:tag]`, possibly with a registry path.
    let driver_ok = driver.starts_with(|c: char| c.is_ascii_alphanumeric())
        && driver
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c));
    if !driver_ok {
        return Err(format!(
            "{DRIVER_KEY}={} is not a logging driver name; set it to one Docker knows (json-file, local, syslog, journald, gelf, fluentd, none) or a plugin's name",
            driver.escape_debug()
        ));
    }
    let mut options: Vec<(String, String)> = Vec::new();
    for entry in opts.unwrap_or_default().split(';') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((key, value)) = entry.split_once('=') else {
            return Err(format!(
                "{OPTS_KEY} has '{}' without '='; write options as key=value;key=value (e.g. max-size=50m;max-file=3)",
                first_word(entry)
            ));
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(format!(
                "{OPTS_KEY} has the option name '{}', which no logging option has; use letters, digits, '-', '_' and '.' before '='",
                key.escape_debug()
            ));
        }
        if options.iter().any(|(k, _)| k == key) {
            return Err(format!(
                "{OPTS_KEY} sets {key} twice; keep one {key}=... in it"
            ));
        }
        let value = value.trim();
        check_value(&driver, key, value)?;
        options.push((key.to_string(), value.to_string()));
    }
    if driver == DEFAULT_DRIVER {
        for (key, value) in JSON_FILE_DEFAULTS {
            if !options.iter().any(|(k, _)| k == key) {
                options.push((key.to_string(), value.to_string()));
            }
        }
    }
    if let Some((_, needed)) = REQUIRED.iter().find(|(d, _)| *d == driver) {
        if let Some(missing) = needed
            .iter()
            .find(|n| !options.iter().any(|(k, _)| k == *n))
        {
            return Err(format!(
                "{DRIVER_KEY}={driver} needs the option {missing}; add {missing}=... to {OPTS_KEY} (key=value;key=value)"
            ));
        }
    }
    Ok(LogConfig { driver, options })
}

/// The size and count caps are checked here, since a typo there would otherwise surface
/// only when Docker creates the container.
fn check_value(driver: &str, key: &str, value: &str) -> Result<(), String> {
    let capped = matches!(driver, "json-file" | "local");
    let ok = match key {
        "max-size" if capped => {
            value == "-1"
                || value
                    .trim_end_matches(['k', 'm', 'g', 'K', 'M', 'G'])
                    .parse::<u64>()
                    .is_ok_and(|n| n > 0)
        }
        "max-file" if capped => value.parse::<u32>().is_ok_and(|n| n > 0),
        _ => true,
    };
    if ok {
        return Ok(());
    }
    let fix = if key == "max-size" {
        "a size such as 50m, 10k or 1g (-1: no cap)"
    } else {
        "a number of files, 1 or more"
    };
    Err(format!(
        "{OPTS_KEY} has {key}={}, which {driver} does not take; set {key} to {fix}",
        value.escape_debug()
    ))
}

fn first_word(entry: &str) -> String {
    entry
        .chars()
        .take(40)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Driver and options given, driver and options resolved.
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
        Vec<(String, String)>,
    );

    #[test]
    fn drivers_and_options_resolve() {
        let capped = opts(&[("max-size", "50m"), ("max-file", "3")]);
        let cases: &[Case] = &[
            (None, None, "json-file", capped.clone()),
            (Some("json-file"), Some(""), "json-file", capped.clone()),
            // A user's option comes first; the cap it does not set stays.
            (
                None,
                Some("max-size=10m;compress=true"),
                "json-file",
                opts(&[("max-size", "10m"), ("compress", "true"), ("max-file", "3")]),
            ),
            (
                None,
                Some("max-size=-1"),
                "json-file",
                opts(&[("max-size", "-1"), ("max-file", "3")]),
            ),
            (Some("journald"), None, "journald", vec![]),
            (
                Some("syslog"),
                Some(" syslog-address=udp://10.0.0.5:514 ; tag={{.Name}};"),
                "syslog",
                opts(&[
                    ("syslog-address", "udp://10.0.0.5:514"),
                    ("tag", "{{.Name}}"),
                ]),
            ),
            (
                Some("gelf"),
                Some("gelf-address=udp://graylog:12201;labels=ghr.runner"),
                "gelf",
                opts(&[
                    ("gelf-address", "udp://graylog:12201"),
                    ("labels", "ghr.runner"),
                ]),
            ),
            // `=` inside a value stays in the value.
            (
                Some("fluentd"),
                Some("env=A=B"),
                "fluentd",
                opts(&[("env", "A=B")]),
            ),
            (Some("grafana/loki:2.9"), None, "grafana/loki:2.9", vec![]),
        ];
        for (driver, given, want_driver, want) in cases {
            let got = resolve(*driver, *given).unwrap();
            assert_eq!(got.driver, *want_driver, "{driver:?} {given:?}");
            assert_eq!(&got.options, want, "{driver:?} {given:?}");
        }
    }

    #[test]
    fn bad_values_name_key_part_and_fix() {
        let cases: &[(Option<&str>, Option<&str>, &str)] = &[
            (Some("json file"), None, "RUNNER_LOG_DRIVER=json file is not a logging driver name; set it to one Docker knows"),
            (Some("-x"), None, "RUNNER_LOG_DRIVER=-x is not a logging driver name"),
            (None, Some("max-size"), "RUNNER_LOG_OPTS has 'max-size' without '='; write options as key=value;key=value"),
            (None, Some("=5"), "RUNNER_LOG_OPTS has the option name '', which no logging option has"),
            (None, Some("max size=5m"), "RUNNER_LOG_OPTS has the option name 'max size'"),
            (None, Some("max-size=5m;max-size=6m"), "RUNNER_LOG_OPTS sets max-size twice; keep one max-size=... in it"),
            (None, Some("max-size=fifty"), "RUNNER_LOG_OPTS has max-size=fifty, which json-file does not take; set max-size to a size such as 50m"),
            (None, Some("max-size=0"), "RUNNER_LOG_OPTS has max-size=0"),
            (Some("local"), Some("max-file=0"), "RUNNER_LOG_OPTS has max-file=0, which local does not take; set max-file to a number of files, 1 or more"),
            (Some("gelf"), None, "RUNNER_LOG_DRIVER=gelf needs the option gelf-address; add gelf-address=... to RUNNER_LOG_OPTS"),
            (Some("splunk"), Some("splunk-url=https://s:8088"), "RUNNER_LOG_DRIVER=splunk needs the option splunk-token"),
        ];
        for (driver, given, needle) in cases {
            let err = resolve(*driver, *given).expect_err(needle);
            assert!(err.starts_with(needle), "{err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
        // A secret option is never echoed, even beside an error.
        let err = resolve(Some("splunk"), Some("splunk-token=s3cret;oops")).unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
