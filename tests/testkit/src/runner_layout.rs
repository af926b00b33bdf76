//! Lays out a fake runner root on the host (what the test image has in /home/runner).

use std::io;
use std::path::Path;

/// Creates `root/config.sh`, `root/run.sh` and `root/bin/Runner.Worker` as symlinks to the
/// fake-runner `binary`, which picks its role from the name it is started as.
pub fn install(root: &Path, binary: &Path) -> io::Result<()> {
    std::fs::create_dir_all(root.join("bin"))?;
    for link in ["config.sh", "run.sh", "bin/Runner.Worker"] {
        let path = root.join(link);
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(binary, &path)?;
    }
    Ok(())
}
