//! Lays out a fake runner root on the host, as the test image has it in /home/runner.

use std::io;
use std::path::Path;

/// Creates `root/bin/Runner.Listener` (a symlink to the fake-runner `binary`), and
/// `bin/Runner.Worker`, `config.sh` and `run.sh` linked to it as in the test image.
pub fn install(root: &Path, binary: &Path) -> io::Result<()> {
    std::fs::create_dir_all(root.join("bin"))?;
    for link in [
        "config.sh",
        "run.sh",
        "bin/Runner.Worker",
        "bin/Runner.Listener",
    ] {
        let _ = std::fs::remove_file(root.join(link));
    }
    std::os::unix::fs::symlink(binary, root.join("bin/Runner.Listener"))?;
    crate::docker::runner_files(root, "Runner.Listener")
}

/// The host-level tests run the fake runner as the sandbox's user, root, which the runner
/// refuses unless told otherwise: root on purpose, since those tests exercise the runner's
/// protocol and the wrapper around it, not the image's user; the image tests
/// (`docker_image.rs` and every e2e test) run it as uid 1001, as the real image does.
pub const AS_ROOT: (&str, &str) = ("RUNNER_ALLOW_RUNASROOT", "1");

/// The runner honours proxy variables: none of the machine's may reach a fake runner.
pub const PROXY_VARS: [&str; 6] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// A fake runner root in the temp directory (see [`install`]), removed when dropped.
pub struct TempRoot(pub std::path::PathBuf);

impl TempRoot {
    /// `binary`: the fake runner (`env!("CARGO_BIN_EXE_fake-runner")` in testkit's tests).
    pub fn new(tag: &str, binary: &Path) -> TempRoot {
        let dir = std::env::temp_dir().join(format!(
            "testkit-runner-{tag}-{}-{}",
            std::process::id(),
            crate::timefmt::unix_now()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        install(&dir, binary).expect("lay out a fake runner root");
        TempRoot(dir)
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
