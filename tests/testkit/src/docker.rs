//! Builds the FROM-scratch test image of the fake runner (no pull needed) and the static
//! binaries that go into containers. Built once per test run: an in-process once-cell, a file
//! lock across test processes, and a content-hash tag that is reused when it already exists.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const TARGET: &str = "x86_64-unknown-linux-gnu";
pub const IMAGE_REPO: &str = "ghr-testkit-runner";
const BASH_STATIC: &str = "/bin/bash-static";
const BUSYBOX_STATIC: &str = "/bin/busybox";

/// Why Docker tests should be skipped: `Some(..)` when GHR_SKIP_DOCKER_TESTS=1.
/// Otherwise Docker tests must run, and a missing engine makes them fail loudly.
pub fn skip_reason() -> Option<String> {
    (std::env::var("GHR_SKIP_DOCKER_TESTS").as_deref() == Ok("1"))
        .then(|| "GHR_SKIP_DOCKER_TESTS=1".to_string())
}

/// Whether `docker info` answers.
pub fn docker_available() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The workspace root (where the top Cargo.toml is).
pub fn workspace_root() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    p.canonicalize().unwrap_or(p)
}

/// `<workspace>/target/static`: a separate target dir so +crt-static does not thrash normal builds.
pub fn static_target_dir() -> PathBuf {
    workspace_root().join("target").join("static")
}

/// Builds a workspace binary statically (`fake-runner`, `fake-github`, `runner-wrapper`, ...)
/// and returns its path.
pub fn static_binary(name: &str) -> Result<PathBuf> {
    let package = match name {
        "fake-runner" | "fake-github" => "testkit",
        other => other,
    };
    let target_dir = static_target_dir();
    fs::create_dir_all(&target_dir)?;
    let _lock = lock(&target_dir.join("testkit-build.lock"))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(workspace_root())
        .args([
            "build", "--quiet", "-p", package, "--bin", name, "--target", TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .output()
        .with_context(|| format!("running {cargo} build for {name}"))?;
    if !out.status.success() {
        bail!(
            "static build of {name} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = target_dir.join(TARGET).join("debug").join(name);
    if !path.exists() {
        bail!("static build of {name} produced no {}", path.display());
    }
    Ok(path)
}

fn lock(path: &Path) -> Result<fs::File> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening lock {}", path.display()))?;
    f.lock()
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(f)
}

/// The test image tag (`ghr-testkit-runner:<content hash>`), built if it does not exist yet.
///
/// As strict as `ghcr.io/actions/actions-runner` wherever ghr or runner-wrapper can see it:
/// user `runner` (uid 1001, gid 1001, also in `docker` gid 123 and `sudo`), a `dialout`
/// group, HOME and WORKDIR `/home/runner` (mode 0777) holding `config.sh`, `run.sh` and
/// `bin/Runner.{Listener,Worker}` (the static fake runner), no ENTRYPOINT and no CMD, no
/// runner-wrapper, and the image's `RUNNER_MANUALLY_TRAP_SIG=1` and
/// `ACTIONS_RUNNER_PRINT_LOG_TO_STDOUT=1`. `/bin/bash` is Debian's bash-static and the usual
/// tools are busybox applets.
pub fn test_image() -> Result<String> {
    static IMAGE: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| build_test_image().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

/// The runner's files as the official image lays them out, linked to the fake runner
/// `binary` (which picks its role from the name it is started as).
pub(crate) fn runner_files(home: &Path, binary_name: &str) -> std::io::Result<()> {
    use std::os::unix::fs::symlink;
    fs::create_dir_all(home.join("bin"))?;
    symlink(binary_name, home.join("bin/Runner.Worker"))?;
    symlink(format!("bin/{binary_name}"), home.join("config.sh"))?;
    symlink(format!("bin/{binary_name}"), home.join("run.sh"))?;
    Ok(())
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
                      runner:x:1001:1001:,,,:/home/runner:/bin/bash\n";
const GROUP: &str = "root:x:0:\ndialout:x:20:\nsudo:x:27:runner\ndocker:x:123:runner\n\
                     runner:x:1001:\n";

fn build_test_image() -> Result<String> {
    if !docker_available() {
        bail!("docker is not available (docker info failed); set GHR_SKIP_DOCKER_TESTS=1 to skip Docker tests");
    }
    for (path, package) in [
        (BASH_STATIC, "bash-static"),
        (BUSYBOX_STATIC, "busybox-static"),
    ] {
        if !Path::new(path).exists() {
            bail!("{path} missing: apt-get install {package}");
        }
    }
    let runner = static_binary("fake-runner")?;
    let ctx = static_target_dir().join("testkit-image");
    let _lock = lock(&static_target_dir().join("testkit-image.lock"))?;
    let _ = fs::remove_dir_all(&ctx);
    let system = ctx.join("system");
    let home = ctx.join("home/home/runner");
    fs::create_dir_all(system.join("bin"))?;
    fs::create_dir_all(system.join("etc"))?;
    fs::create_dir_all(system.join("tmp"))?;
    fs::create_dir_all(system.join("home"))?;
    fs::set_permissions(system.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::write(system.join("etc/passwd"), PASSWD)?;
    fs::write(system.join("etc/group"), GROUP)?;
    fs::copy(BASH_STATIC, system.join("bin/bash"))?;
    fs::copy(BUSYBOX_STATIC, system.join("bin/busybox"))?;
    let list = Command::new(BUSYBOX_STATIC).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet != "bash" && applet != "busybox" && !applet.contains('/') {
            std::os::unix::fs::symlink("busybox", system.join("bin").join(applet))?;
        }
    }

    fs::create_dir_all(&home)?;
    fs::copy(&runner, home.join("bin-listener"))?;
    fs::create_dir_all(home.join("bin"))?;
    fs::rename(home.join("bin-listener"), home.join("bin/Runner.Listener"))?;
    runner_files(&home, "Runner.Listener")?;
    fs::set_permissions(&home, fs::Permissions::from_mode(0o777))?;

    // One tarball with the owners of the real image (ADD keeps them): the system as root,
    // the runner's home as runner:docker.
    let tar = ctx.join("rootfs.tar");
    for (dir, what, owner, group, flag) in [
        (&system, ".", "0", "0", "-cf"),
        (&ctx.join("home"), "home/runner", "1001", "123", "-rf"),
    ] {
        let out = Command::new("tar")
            .args(["--numeric-owner", "--sort=name", "--mtime=@0"])
            .arg(format!("--owner={owner}"))
            .arg(format!("--group={group}"))
            .arg(flag)
            .arg(&tar)
            .arg("-C")
            .arg(dir)
            .arg(what)
            .output()
            .context("running tar")?;
        if !out.status.success() {
            bail!("tar failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nADD rootfs.tar /\n\
         ENV PATH=/usr/local/bin:/usr/bin:/bin RUNNER_MANUALLY_TRAP_SIG=1 \\\n\
         \x20   ACTIONS_RUNNER_PRINT_LOG_TO_STDOUT=1 ImageOS=ubuntu24\n\
         USER runner\nWORKDIR /home/runner\nLABEL ghr.testkit=runner\n",
    )?;
    fs::remove_dir_all(&system)?;
    fs::remove_dir_all(ctx.join("home"))?;

    let tag = format!("{IMAGE_REPO}:{}", &content_hash(&ctx)?[..16]);
    let exists = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &tag])
        .output()?
        .status
        .success();
    if !exists {
        let out = Command::new("docker")
            .args(["build", "--quiet", "-t", &tag])
            .arg(&ctx)
            .output()
            .context("running docker build")?;
        if !out.status.success() {
            bail!(
                "docker build of {tag} failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    Ok(tag)
}

/// sha256 over every path, mode, symlink target and file content under `dir`, sorted.
fn content_hash(dir: &Path) -> Result<String> {
    let mut entries = Vec::new();
    walk(dir, dir, &mut entries)?;
    entries.sort();
    let mut h = Sha256::new();
    for (rel, path) in entries {
        let meta = fs::symlink_metadata(&path)?;
        h.update(rel.as_bytes());
        h.update(meta.permissions().mode().to_le_bytes());
        if meta.file_type().is_symlink() {
            h.update(fs::read_link(&path)?.as_os_str().as_encoded_bytes());
        } else if meta.is_file() {
            h.update(fs::read(&path)?);
        }
        h.update([0]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    for e in fs::read_dir(dir)? {
        let path = e?.path();
        let rel = path
            .strip_prefix(base)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let ft = fs::symlink_metadata(&path)?.file_type();
        out.push((rel, path.clone()));
        if ft.is_dir() {
            walk(base, &path, out)?;
        }
    }
    Ok(())
}
