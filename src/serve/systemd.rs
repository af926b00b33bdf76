//! The systemd unit of `ghr serve` (pure: what to run and where in, unit text out). A system
//! unit is hardened (read-only system and home, no new privileges, kernel and namespaces
//! off-limits) but still reaches the Docker socket (connecting to a socket needs no write
//! access to its file system) and writes the lock directories (holds from the page). The
//! host's /tmp stays shared: the default lock directory lives there.

use std::fmt::Write;
use std::path::PathBuf;

pub const UNIT_NAME: &str = "ghr-serve.service";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    /// The ghr executable (absolute).
    pub exe: PathBuf,
    /// The lab directory: WorkingDirectory, where the `.env` files are.
    pub dir: PathBuf,
    /// Arguments after `serve`.
    pub serve_args: Vec<String>,
    /// A user unit (`systemctl --user`) instead of a system one.
    pub user_unit: bool,
    /// `User=` of a system unit (`None`: root).
    pub run_as: Option<String>,
    /// The lock directories, writable.
    pub writable: Vec<PathBuf>,
}

/// One ExecStart word, quoted for systemd when it needs it (`%` and `$` are always escaped:
/// systemd would expand them).
pub fn quote(word: &str) -> String {
    let escaped = word.replace('%', "%%").replace('$', "$$");
    if !escaped.is_empty()
        && !escaped
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'))
    {
        return escaped;
    }
    format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn render(spec: &UnitSpec) -> String {
    let mut out = String::new();
    let exec: Vec<String> = std::iter::once(spec.exe.display().to_string())
        .chain(std::iter::once("serve".to_string()))
        .chain(spec.serve_args.iter().cloned())
        .map(|w| quote(&w))
        .collect();
    let _ = writeln!(
        out,
        "# Written by `ghr systemd`; `ghr systemd --print` shows what it would write now."
    );
    let _ = writeln!(out, "[Unit]");
    let _ = writeln!(
        out,
        "Description=ghr serve: dashboard, JSON API and metrics of the lab in {}",
        spec.dir.display()
    );
    let _ = writeln!(out, "After=network-online.target docker.service");
    let _ = writeln!(out, "Wants=network-online.target");
    let _ = writeln!(out);
    let _ = writeln!(out, "[Service]");
    let _ = writeln!(out, "Type=simple");
    if let (false, Some(user)) = (spec.user_unit, &spec.run_as) {
        let _ = writeln!(out, "User={user}");
    }
    let _ = writeln!(out, "WorkingDirectory={}", spec.dir.display());
    let _ = writeln!(out, "ExecStart={}", exec.join(" "));
    let _ = writeln!(out, "Restart=on-failure");
    let _ = writeln!(out, "RestartSec=5s");
    let _ = writeln!(out, "TimeoutStopSec=10s");
    let _ = writeln!(
        out,
        "# A hold taken from the page lives in its own keeper process: restarting serve keeps it."
    );
    let _ = writeln!(out, "KillMode=process");
    let _ = writeln!(out, "NoNewPrivileges=yes");
    if !spec.user_unit {
        for line in [
            "ProtectSystem=strict",
            "ProtectHome=read-only",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectKernelLogs=yes",
            "ProtectControlGroups=yes",
            "ProtectClock=yes",
            "ProtectHostname=yes",
            "RestrictNamespaces=yes",
            "RestrictRealtime=yes",
            "RestrictSUIDSGID=yes",
            "LockPersonality=yes",
            "MemoryDenyWriteExecute=yes",
            "SystemCallArchitectures=native",
            "# The Docker socket and the wrappers' control sockets are Unix sockets.",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        ] {
            let _ = writeln!(out, "{line}");
        }
        for dir in &spec.writable {
            // `-`: a lock directory not made yet is no error.
            let _ = writeln!(out, "ReadWritePaths=-{}", dir.display());
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "[Install]");
    let _ = writeln!(
        out,
        "WantedBy={}",
        if spec.user_unit {
            "default.target"
        } else {
            "multi-user.target"
        }
    );
    out
}

/// The two commands that start it now and at every boot.
pub fn enable_commands(user_unit: bool) -> [String; 2] {
    let ctl = if user_unit {
        "systemctl --user"
    } else {
        "sudo systemctl"
    };
    [
        format!("{ctl} daemon-reload"),
        format!("{ctl} enable --now {UNIT_NAME}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(user_unit: bool) -> UnitSpec {
        UnitSpec {
            exe: "/usr/local/bin/ghr".into(),
            dir: "/srv/lab".into(),
            serve_args: vec![
                "--listen".into(),
                "0.0.0.0:8080".into(),
                "--token-file".into(),
                "/srv/lab/my token".into(),
            ],
            user_unit,
            run_as: Some("lab".into()),
            writable: vec!["/tmp/github-runner-locks".into()],
        }
    }

    fn keys(unit: &str) -> Vec<(String, String)> {
        unit.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with('['))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn get(unit: &str, key: &str) -> Vec<String> {
        keys(unit)
            .into_iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect()
    }

    #[test]
    fn a_system_unit_runs_serve_in_the_lab_hardened_but_reaching_docker_and_the_locks() {
        let unit = render(&spec(false));
        assert_eq!(get(&unit, "WorkingDirectory"), ["/srv/lab"]);
        assert_eq!(
            get(&unit, "ExecStart"),
            ["/usr/local/bin/ghr serve --listen 0.0.0.0:8080 --token-file \"/srv/lab/my token\""]
        );
        assert!(get(&unit, "After")[0].contains("docker.service"));
        assert_eq!(get(&unit, "Restart"), ["on-failure"]);
        assert_eq!(get(&unit, "User"), ["lab"]);
        assert_eq!(get(&unit, "ProtectSystem"), ["strict"]);
        assert_eq!(get(&unit, "ReadWritePaths"), ["-/tmp/github-runner-locks"]);
        assert!(get(&unit, "RestrictAddressFamilies")[0].contains("AF_UNIX"));
        assert!(
            get(&unit, "PrivateTmp").is_empty(),
            "the lock directory may be in /tmp"
        );
        assert!(get(&unit, "PrivateNetwork").is_empty());
        assert_eq!(get(&unit, "WantedBy"), ["multi-user.target"]);
    }

    #[test]
    fn a_user_unit_has_no_system_sandboxing_and_starts_with_the_session() {
        let unit = render(&spec(true));
        assert!(get(&unit, "User").is_empty());
        assert!(get(&unit, "ProtectSystem").is_empty());
        assert_eq!(get(&unit, "WantedBy"), ["default.target"]);
        assert_eq!(get(&unit, "Restart"), ["on-failure"]);
        assert_eq!(
            enable_commands(true)[1],
            "systemctl --user enable --now ghr-serve.service"
        );
        assert_eq!(enable_commands(false)[0], "sudo systemctl daemon-reload");
    }

    #[test]
    fn words_are_quoted_for_systemd() {
        assert_eq!(quote("/a/b"), "/a/b");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("100%"), "100%%");
        assert_eq!(quote("$HOME"), "$$HOME");
        assert_eq!(quote("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(quote(""), "\"\"");
    }
}
