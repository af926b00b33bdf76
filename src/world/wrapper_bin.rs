//! Which runner-wrapper board runners run. ghr is itself the wrapper (multi-call: started as
//! `runner-wrapper` it runs the wrapper), so by default ghr mounts its own binary read-only
//! into board containers. That works in any image only when ghr is statically linked, which
//! the README's install command gives; `RUNNER_WRAPPER_BIN` names another binary.

use crate::config::error::ConfigError;
use std::path::{Path, PathBuf};

/// Why a binary cannot be mounted as the wrapper; `None` when it can.
pub fn unusable(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(format!("cannot be read ({e})")),
    };
    if !meta.is_file() {
        return Some("is not a file".into());
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Some("is not executable".into());
    }
    let head = match read_head(path) {
        Ok(h) => h,
        Err(e) => return Some(format!("cannot be read ({e})")),
    };
    match elf_linkage(&head) {
        Linkage::Static => None,
        Linkage::Dynamic => Some(
            "is dynamically linked, so it cannot run inside runner images (which may lack its libraries)"
                .into(),
        ),
        Linkage::NotElf => Some(format!(
            "is not an ELF executable for this host ({})",
            HOST_MACHINE.1
        )),
    }
}

/// The host path to mount at [`WRAPPER_MOUNT_POINT`](crate::config::runner_image::WRAPPER_MOUNT_POINT): `RUNNER_WRAPPER_BIN` when set, else ghr itself.
/// Either must be a static executable; the error names the setting and the fix.
pub fn resolve(setting: Option<&Path>, ghr_exe: &Path) -> Result<PathBuf, ConfigError> {
    match setting {
        Some(path) => match unusable(path) {
            None => Ok(path.to_path_buf()),
            Some(why) => Err(ConfigError::new(format!(
                "RUNNER_WRAPPER_BIN={} {why}; set it to a static runner-wrapper binary, or leave it empty so ghr mounts itself",
                path.display()
            ))),
        },
        None => match unusable(ghr_exe) {
            None => Ok(ghr_exe.to_path_buf()),
            Some(why) => Err(ConfigError::new(format!(
                "board runners with a resource id run ghr as runner-wrapper, but {} {why}; install ghr with `cargo install --path .` from its source (static, see README) or set RUNNER_WRAPPER_BIN to a static runner-wrapper",
                ghr_exe.display()
            ))),
        },
    }
}

/// The wrapper to mount for this fleet: `None` when no board runner has a resource id (then
/// nothing runs the wrapper), else the checked host path.
pub fn for_fleet(
    settings: &crate::config::settings::Settings,
) -> Result<Option<PathBuf>, ConfigError> {
    if !settings.boards.iter().any(|b| b.is_shared()) {
        return Ok(None);
    }
    let own = match &settings.wrapper_bin {
        Some(_) => PathBuf::new(),
        None => own_binary()?,
    };
    resolve(settings.wrapper_bin.as_deref(), &own).map(Some)
}

/// ghr's own binary, with symlinks resolved (`/proc/self/exe`).
pub fn own_binary() -> Result<PathBuf, ConfigError> {
    std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| ConfigError::new(format!("cannot find ghr's own binary ({e}); set RUNNER_WRAPPER_BIN to a static runner-wrapper")))
}

/// The ELF header and program headers: enough to see whether there is an interpreter.
fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)?
        .take(64 * 1024)
        .read_to_end(&mut head)?;
    Ok(head)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    Static,
    Dynamic,
    NotElf,
}

/// ELF machine numbers of the hosts ghr runs on.
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;

/// This host's machine: the wrapper runs in containers on this host.
pub const HOST_MACHINE: (u16, &str) = if cfg!(target_arch = "aarch64") {
    (EM_AARCH64, "aarch64")
} else {
    (EM_X86_64, "x86-64")
};

/// The linkage of an executable for this host (see [`elf_linkage_for`]).
pub fn elf_linkage(head: &[u8]) -> Linkage {
    elf_linkage_for(head, HOST_MACHINE.0)
}

/// A 64-bit little-endian ELF executable for `machine` is dynamically linked iff one of its
/// program headers is `PT_INTERP` (the dynamic loader it needs); static-pie binaries have
/// none. An executable for another machine is `NotElf` (it cannot run here).
pub fn elf_linkage_for(head: &[u8], machine: u16) -> Linkage {
    const PT_INTERP: u32 = 3;
    let u16_at = |o: usize| head.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        head.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        head.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let is_elf64_le =
        head.starts_with(b"\x7fELF") && head.get(4) == Some(&2) && head.get(5) == Some(&1);
    if !is_elf64_le || u16_at(18) != Some(machine) {
        return Linkage::NotElf;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(32), u16_at(54), u16_at(56)) else {
        return Linkage::NotElf;
    };
    let table_end = phoff as usize + phnum as usize * phentsize as usize;
    if head.len() < table_end {
        return Linkage::NotElf;
    }
    for i in 0..phnum as usize {
        let at = phoff as usize + i * phentsize as usize;
        match u32_at(at) {
            Some(PT_INTERP) => return Linkage::Dynamic,
            Some(_) => {}
            None => return Linkage::NotElf,
        }
    }
    Linkage::Static
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with the given program header types.
    fn elf(machine: u16, types: &[u32]) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h[32..40].copy_from_slice(&64u64.to_le_bytes());
        h[54..56].copy_from_slice(&56u16.to_le_bytes());
        h[56..58].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for t in types {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&t.to_le_bytes());
            h.extend(ph);
        }
        h
    }

    #[test]
    fn linkage_from_program_headers() {
        for (head, want) in [
            (elf(62, &[6, 3, 1, 1]), Linkage::Dynamic),
            (elf(62, &[6, 1, 1, 2]), Linkage::Static),
            (elf(62, &[]), Linkage::Static),
            (elf(183, &[1]), Linkage::NotElf),
            (b"#!/bin/sh\necho hi\n".to_vec(), Linkage::NotElf),
            (elf(62, &[1])[..70].to_vec(), Linkage::NotElf),
        ] {
            assert_eq!(elf_linkage_for(&head, EM_X86_64), want);
        }
        // An aarch64 host takes aarch64 binaries, and no x86-64 one.
        assert_eq!(
            elf_linkage_for(&elf(183, &[1]), EM_AARCH64),
            Linkage::Static
        );
        assert_eq!(elf_linkage_for(&elf(62, &[1]), EM_AARCH64), Linkage::NotElf);
    }

    #[test]
    fn this_test_binary_is_static_as_the_build_config_says() {
        let exe = std::env::current_exe().unwrap();
        assert_eq!(elf_linkage(&read_head(&exe).unwrap()), Linkage::Static);
    }

    #[test]
    fn settings_errors_name_the_key_and_the_fix() {
        let dir = std::env::temp_dir().join(format!("ghr-wrapper-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = resolve(Some(&dir), Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "RUNNER_WRAPPER_BIN={} is not a file",
                dir.display()
            )),
            "{err}"
        );
        let script = dir.join("script");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let err = resolve(Some(&script), Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not executable"), "{err}");
        let err = resolve(None, &dir.join("missing")).unwrap_err().to_string();
        assert!(err.contains("set RUNNER_WRAPPER_BIN"), "{err}");
        let exe = std::env::current_exe().unwrap();
        assert_eq!(resolve(None, &exe).unwrap(), exe);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
