//! Probes this host for what runner containers may be given (see `model::host_facts`).

use crate::model::host_facts::{HostFacts, DOCKER_SOCK};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// `device_paths`: the host paths of the boards' devices, resolved when they are symlinks.
pub fn probe(loop_count: u32, device_paths: &[String]) -> HostFacts {
    HostFacts {
        docker_sock_gid: std::fs::metadata(DOCKER_SOCK).ok().map(|m| m.gid()),
        device_nodes: device_nodes(device_paths),
        missing_devices: missing(device_paths),
        ..probe_root(Path::new("/dev"), loop_count)
    }
}

/// Each path that is a symlink (udev's by-id and by-path names, or a user's own), with the
/// node it leads to now. A missing or dangling one is left out: Docker then names it.
pub fn device_nodes(paths: &[String]) -> BTreeMap<String, String> {
    paths
        .iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()))
        .filter_map(|p| {
            let node = std::fs::canonicalize(p).ok()?;
            Some((p.clone(), node.to_str()?.to_string()))
        })
        .collect()
}

/// The paths that lead to nothing now: absent, or a symlink that dangles.
pub fn missing(paths: &[String]) -> std::collections::BTreeSet<String> {
    paths
        .iter()
        .filter(|p| std::fs::metadata(p).is_err())
        .cloned()
        .collect()
}

fn probe_root(dev: &Path, loop_count: u32) -> HostFacts {
    let exists = |name: &str| dev.join(name).exists();
    let mut loop_devices = Vec::new();
    if exists("loop-control") {
        loop_devices.push("/dev/loop-control".to_string());
    }
    for i in 0..loop_count {
        if exists(&format!("loop{i}")) {
            loop_devices.push(format!("/dev/loop{i}"));
        }
    }
    let kvm_gid = std::fs::metadata(dev.join("kvm")).ok().map(|m| m.gid());
    let mut usb_serial: Vec<(String, u32, String)> = std::fs::read_dir(dev)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            ["ttyUSB", "ttyACM"].iter().find_map(|family| {
                let n: u32 = name.strip_prefix(family)?.parse().ok()?;
                Some((family.to_string(), n, format!("/dev/{name}")))
            })
        })
        .collect();
    usb_serial.sort();
    HostFacts {
        loop_devices,
        kvm_gid,
        usb_serial: usb_serial.into_iter().map(|(_, _, path)| path).collect(),
        docker_sock_gid: None,
        device_nodes: BTreeMap::new(),
        missing_devices: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_device_names_resolve_to_their_node() {
        let dir = std::env::temp_dir().join(format!("ghr-links-{}", std::process::id()));
        let by_id = dir.join("serial/by-id");
        std::fs::create_dir_all(&by_id).unwrap();
        let link = by_id.join("usb-FTDI_FT232R_A50285BI-if00-port0");
        // A relative link, as udev makes them, to a real character device.
        std::os::unix::fs::symlink("../../../../../../../../dev/null", &link).unwrap();
        let dangling = by_id.join("usb-gone");
        std::os::unix::fs::symlink("/dev/ghr-no-such-node", &dangling).unwrap();
        let paths: Vec<String> = [&link, &dangling]
            .iter()
            .map(|p| p.display().to_string())
            .chain(["/dev/null".to_string()])
            .collect();
        let nodes = device_nodes(&paths);
        assert_eq!(
            nodes.into_iter().collect::<Vec<_>>(),
            [(paths[0].clone(), "/dev/null".to_string())],
            "only symlinks that lead somewhere"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn finds_devices_in_natural_order() {
        let dir = std::env::temp_dir().join(format!("ghr-host-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            "loop-control",
            "loop0",
            "loop1",
            "loop7",
            "ttyUSB10",
            "ttyUSB2",
            "ttyACM0",
            "ttyS0",
            "kvm",
        ] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let facts = probe_root(&dir, 4);
        assert_eq!(
            facts.loop_devices,
            ["/dev/loop-control", "/dev/loop0", "/dev/loop1"]
        );
        assert_eq!(
            facts.usb_serial,
            ["/dev/ttyACM0", "/dev/ttyUSB2", "/dev/ttyUSB10"]
        );
        assert!(facts.kvm_gid.is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
