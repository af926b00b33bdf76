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
