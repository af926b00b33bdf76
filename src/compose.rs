//! The compose file: a typed model of the services ghr runs, serialized with serde_yaml.
//! Nothing here builds YAML by hand, so no label or value can break out of its field.

use crate::fleet::DesiredRunner;
use crate::host::HostFacts;
use crate::settings::Settings;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_yaml::Value;

/// Where ghr mounts a host copy of runner-wrapper (`RUNNER_WRAPPER_BIN`).
pub const MOUNTED_WRAPPER: &str = "/opt/ghr/runner-wrapper";
/// Where the repo's Dockerfile bakes runner-wrapper in.
pub const BAKED_WRAPPER: &str = "/usr/local/bin/runner-wrapper";
pub const RUN_SCRIPT: &str = "/home/runner/run.sh";

/// Label keys of ghr's own namespace, on every container and volume it creates.
pub mod label {
    pub const PREFIX: &str = "ghr.prefix";
    pub const RUNNER: &str = "ghr.runner";
    pub const ORG: &str = "ghr.org";
    pub const REPO: &str = "ghr.repo";
    pub const KIND: &str = "ghr.kind";
    pub const BOARD: &str = "ghr.board";
    pub const RESOURCE: &str = "ghr.resource";
}

/// A map that keeps insertion order, so runner-2 comes before runner-10 and output is stable.
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> Ordered<V> {
    fn insert(&mut self, key: impl Into<String>, value: V) {
        self.0.push((key.into(), value));
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ComposeFile {
    pub services: Ordered<Service>,
    pub volumes: Ordered<Volume>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Service {
    pub container_name: String,
    pub image: String,
    pub restart: String,
    pub network_mode: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    pub environment: Ordered<String>,
    pub volumes: Vec<String>,
    pub labels: Ordered<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Volume {
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub labels: Ordered<String>,
}

/// Everything the compose file depends on besides the settings.
pub struct RenderInput<'a> {
    pub settings: &'a Settings,
    pub runners: &'a [DesiredRunner],
    pub image: &'a str,
    pub host: &'a HostFacts,
}

pub fn render(input: &RenderInput) -> ComposeFile {
    let mut services = Ordered::default();
    let mut volumes = Ordered::default();
    for runner in input.runners {
        let service = service(input, runner, runner_labels(input.settings, runner));
        // Volumes carry just enough to be found again by `ghr rm`.
        let mut labels = Ordered::default();
        labels.insert(label::PREFIX, input.settings.prefix.clone());
        labels.insert(label::RUNNER, runner.name.clone());
        volumes.insert(
            format!("{}-data", runner.name),
            Volume {
                labels: labels.clone(),
            },
        );
        if input.settings.mount_udev_rules_dir {
            volumes.insert(format!("{}-udev-rules", runner.name), Volume { labels });
        }
        services.insert(runner.name.clone(), service);
    }
    ComposeFile { services, volumes }
}

fn runner_labels(settings: &Settings, runner: &DesiredRunner) -> Ordered<String> {
    let board = runner.board();
    let mut labels = Ordered::default();
    labels.insert(label::PREFIX, settings.prefix.clone());
    labels.insert(label::RUNNER, runner.name.clone());
    labels.insert(label::ORG, settings.org.clone());
    labels.insert(label::REPO, settings.repo.clone().unwrap_or_default());
    labels.insert(label::KIND, runner.kind_label().to_string());
    labels.insert(
        label::BOARD,
        board.map(|b| b.name.clone()).unwrap_or_default(),
    );
    labels.insert(
        label::RESOURCE,
        board
            .and_then(|b| b.resource_id.clone())
            .unwrap_or_default(),
    );
    labels
}

fn service(input: &RenderInput, runner: &DesiredRunner, labels: Ordered<String>) -> Service {
    let s = input.settings;
    let host = input.host;
    let board = runner.board();
    let resource = board.and_then(|b| b.resource_id.as_deref());

    let mut devices: Vec<String> = Vec::new();
    if s.map_loop_devices {
        devices.extend(host.loop_devices.iter().cloned());
    }
    let kvm_mapped = s.map_kvm_device && host.kvm_gid.is_some();
    if kvm_mapped {
        devices.push("/dev/kvm".into());
    }
    match board.filter(|b| !b.devices.is_empty()) {
        // A board runner sees its own board, not every serial adapter on the host.
        Some(b) => devices.extend(b.devices.iter().cloned()),
        None if s.map_usb_device => devices.extend(host.usb_serial.iter().cloned()),
        None => {}
    }
    let devices = devices
        .into_iter()
        .map(|d| {
            if d.contains(':') {
                d
            } else {
                format!("{d}:{d}")
            }
        })
        .collect();

    let mut group_add = Vec::new();
    if kvm_mapped {
        if let Some(gid) = s.kvm_gid.or(host.kvm_gid) {
            group_add.push(gid.to_string());
        }
    }
    if s.map_usb_device {
        group_add.push("dialout".to_string());
    }
    if let Some(b) = board {
        group_add.extend(b.group_add.iter().cloned());
    }
    let group_add = crate::boards::dedup(group_add);

    let mut env = Ordered::default();
    env.insert("RUNNER_NAME", runner.name.clone());
    env.insert("RUNNER_LABELS", runner.labels(s).join(","));
    env.insert("RUNNER_GROUP", s.runner_group.clone());
    if let Some(workdir) = &s.workdir {
        env.insert("RUNNER_WORKDIR", workdir.clone());
    }
    env.insert("DISABLE_AUTO_UPDATE", s.disable_auto_update.to_string());
    for (key, value) in [
        ("HTTP_PROXY", &s.http_proxy),
        ("HTTPS_PROXY", &s.https_proxy),
        ("NO_PROXY", &s.no_proxy),
    ] {
        if let Some(value) = value {
            // Many tools only read the lower-case spelling.
            env.insert(key, value.clone());
            env.insert(key.to_ascii_lowercase(), value.clone());
        }
    }
    let mut volumes = vec![format!("{}-data:/home/runner", runner.name)];
    if s.mount_udev_rules_dir {
        volumes.push(format!("{}-udev-rules:/etc/udev/rules.d", runner.name));
    }
    if s.mount_docker_sock {
        volumes.push("/var/run/docker.sock:/var/run/docker.sock".into());
    }
    let command = match resource {
        Some(resource) => {
            env.insert("RUNNER_RESOURCE_ID", resource.to_string());
            env.insert("RUNNER_LOCK_DIR", s.lock_dir.clone());
            if let Some(timeout) = s.lock_timeout {
                env.insert("RUNNER_LOCK_TIMEOUT", timeout.to_string());
            }
            env.insert("RUNNER_SCRIPT", RUN_SCRIPT.to_string());
            env.insert("GHR_ORG", s.org.clone());
            env.insert("GHR_REPO", s.repo.clone().unwrap_or_default());
            volumes.push(format!("{}:{}", s.lock_host_path, s.lock_dir));
            match &s.wrapper_bin {
                Some(bin) => {
                    volumes.push(format!("{}:{MOUNTED_WRAPPER}:ro", bin.display()));
                    vec![MOUNTED_WRAPPER.to_string()]
                }
                None => vec![BAKED_WRAPPER.to_string()],
            }
        }
        None => vec![RUN_SCRIPT.to_string()],
    };
    if let Some(b) = board {
        for (key, value) in &b.env {
            env.insert(key.clone(), value.clone());
        }
        volumes.extend(b.volumes.iter().cloned());
    }

    Service {
        container_name: runner.name.clone(),
        image: input.image.to_string(),
        restart: "unless-stopped".into(),
        network_mode: "host".into(),
        privileged: s.privileged,
        command,
        devices,
        group_add,
        environment: env,
        volumes,
        labels,
    }
}

impl ComposeFile {
    /// The file's text. Every string is escaped for compose's `$` interpolation, so a value
    /// is taken literally, whatever it holds.
    pub fn to_yaml(&self) -> String {
        let value = serde_yaml::to_value(self).expect("the compose model always serializes");
        let header =
            "# Generated by ghr from .env and BOARD_RUNNERS; `ghr compose` regenerates it.\n";
        let body = serde_yaml::to_string(&escape_interpolation(value))
            .expect("a YAML value always serializes");
        format!("{header}{body}")
    }
}

fn escape_interpolation(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace('$', "$$")),
        Value::Sequence(items) => {
            Value::Sequence(items.into_iter().map(escape_interpolation).collect())
        }
        Value::Mapping(map) => Value::Mapping(
            map.into_iter()
                .map(|(k, v)| (escape_interpolation(k), escape_interpolation(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Settings, Sources};
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("ORG".into()).or_insert_with(|| "acme".into());
        map.entry("RUNNER_NAME_PREFIX".into())
            .or_insert_with(|| "h".into());
        Settings::resolve(&Sources::from_maps(HashMap::new(), map)).unwrap()
    }

    fn host() -> HostFacts {
        HostFacts {
            loop_devices: vec!["/dev/loop-control".into(), "/dev/loop0".into()],
            kvm_gid: Some(108),
            usb_serial: vec!["/dev/ttyACM0".into(), "/dev/ttyUSB0".into()],
        }
    }

    fn services(s: &Settings, host: &HostFacts) -> Vec<(String, Service)> {
        let runners = crate::fleet::desired(s, 1);
        render(&RenderInput {
            settings: s,
            runners: &runners,
            image: "img",
            host,
        })
        .services
        .0
    }

    #[test]
    fn generic_runners_get_the_host_devices_that_exist() {
        let s = settings(&[]);
        let svc = &services(&s, &host())[0].1;
        assert_eq!(
            svc.devices,
            [
                "/dev/loop-control:/dev/loop-control",
                "/dev/loop0:/dev/loop0",
                "/dev/kvm:/dev/kvm",
                "/dev/ttyACM0:/dev/ttyACM0",
                "/dev/ttyUSB0:/dev/ttyUSB0"
            ]
        );
        assert_eq!(svc.group_add, ["108", "dialout"]);
    }

    #[test]
    fn kvm_gid_setting_wins_and_missing_kvm_maps_nothing() {
        let s = settings(&[("RUNNER_KVM_GID", "993")]);
        assert_eq!(services(&s, &host())[0].1.group_add, ["993", "dialout"]);
        let no_kvm = HostFacts {
            kvm_gid: None,
            ..host()
        };
        let svc = &services(&s, &no_kvm)[0].1;
        assert!(!svc.devices.iter().any(|d| d.contains("kvm")));
        assert_eq!(svc.group_add, ["dialout"]);
    }

    #[test]
    fn a_board_with_devices_sees_its_board_not_every_adapter() {
        let s = settings(&[
            ("BOARD_RUNNERS", "pi:board"),
            ("BOARD_DEVICES_PI", "/dev/ttyUSB7"),
            ("BOARD_GROUP_ADD_PI", "plugdev,dialout"),
            ("MAP_LOOP_DEVICES", "false"),
        ]);
        let all = services(&s, &host());
        let board = &all[1].1;
        assert_eq!(
            board.devices,
            ["/dev/kvm:/dev/kvm", "/dev/ttyUSB7:/dev/ttyUSB7"]
        );
        assert_eq!(board.group_add, ["108", "dialout", "plugdev"]);
        assert_eq!(board.command, [RUN_SCRIPT], "no resource id: no wrapper");
    }

    #[test]
    fn map_keys_turn_mapping_off() {
        let s = settings(&[
            ("MAP_LOOP_DEVICES", "0"),
            ("MAP_KVM_DEVICE", "no"),
            ("MAP_USB_DEVICE", "false"),
        ]);
        let svc = &services(&s, &host())[0].1;
        assert!(svc.devices.is_empty() && svc.group_add.is_empty());
    }
}
