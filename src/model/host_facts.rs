//! What this host has that runner containers may be given: loop devices, KVM, serial
//! adapters, the Docker socket. Plain data: `world::host` probes it once per command, so the
//! compose model stays a pure function.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `/dev/loop-control` and `/dev/loopN` that exist, N below the requested count.
    pub loop_devices: Vec<String>,
    /// `/dev/kvm` and its group id, when present.
    pub kvm_gid: Option<u32>,
    /// `/dev/ttyUSB*` and `/dev/ttyACM*`, in natural order.
    pub usb_serial: Vec<String>,
    /// Group id of the Docker socket, when present: added to the groups of runners that
    /// mount it, so jobs (uid 1001 in the stock image) can use it.
    pub docker_sock_gid: Option<u32>,
    /// Board device paths that are symlinks (`/dev/serial/by-id/...`), each with the node it
    /// resolves to now: Docker maps nodes, and a by-path name's `:` cannot pass its syntax.
    pub device_nodes: std::collections::BTreeMap<String, String>,
    /// Board device paths that lead nowhere now (the board is unplugged, or a symlink dangles):
    /// the runner waits for them, stopped (see `plan::devices`).
    pub missing_devices: std::collections::BTreeSet<String>,
}

/// The Docker socket runners get with `MOUNT_DOCKER_SOCK=true`.
pub const DOCKER_SOCK: &str = "/var/run/docker.sock";
