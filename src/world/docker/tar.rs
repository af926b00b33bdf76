//! The few bytes of tar that `docker cp` speaks on stdin and stdout: a ustar archive of small
//! regular files (with their owner and mode, which `docker cp -` keeps), and the content of
//! the one file `docker cp CONTAINER:FILE -` sends back. Not worth a crate.

/// One regular file of an archive.
pub struct Entry<'a> {
    /// A name relative to the directory the archive is extracted into (at most 100 bytes).
    pub name: &'a str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub data: &'a [u8],
}

const BLOCK: usize = 512;

/// A ustar archive of `entries`, modified at `mtime` (seconds since the epoch).
pub fn archive(entries: &[Entry], mtime: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = [0u8; BLOCK];
        let name = e.name.as_bytes();
        assert!(name.len() <= 100, "tar names here are short");
        h[..name.len()].copy_from_slice(name);
        octal(&mut h[100..108], e.mode as u64);
        octal(&mut h[108..116], e.uid as u64);
        octal(&mut h[116..124], e.gid as u64);
        octal(&mut h[124..136], e.data.len() as u64);
        octal(&mut h[136..148], mtime);
        h[148..156].fill(b' ');
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        let sum: u64 = h.iter().map(|&b| b as u64).sum();
        // Six octal digits, NUL, space: what tar itself writes.
        let digits = format!("{sum:06o}");
        h[148..154].copy_from_slice(digits.as_bytes());
        h[154] = 0;
        h[155] = b' ';
        out.extend_from_slice(&h);
        out.extend_from_slice(e.data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    out.resize(out.len() + 2 * BLOCK, 0);
    out
}

/// `value` as zero-padded octal filling `field` but its last byte (a NUL).
fn octal(field: &mut [u8], value: u64) {
    let last = field.len() - 1;
    let digits = format!("{value:0last$o}");
    field[..last].copy_from_slice(digits.as_bytes());
    field[last] = 0;
}

/// The content of the first regular file in `tar`; `None` when there is none or the
/// archive is cut short.
pub fn first_file(tar: &[u8]) -> Option<Vec<u8>> {
    let mut at = 0;
    while at + BLOCK <= tar.len() {
        let h = &tar[at..at + BLOCK];
        if h.iter().all(|&b| b == 0) {
            return None;
        }
        let size_field = std::str::from_utf8(&h[124..136]).ok()?;
        let size = u64::from_str_radix(size_field.trim_matches(['\0', ' ']), 8).ok()? as usize;
        let start = at + BLOCK;
        if matches!(h[156], b'0' | 0) {
            return tar.get(start..start + size).map(<[u8]>::to_vec);
        }
        // PAX headers and the like: skip their data.
        at = start + size.div_ceil(BLOCK) * BLOCK;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_reads_back_and_has_tars_layout() {
        let tar = archive(
            &[
                Entry {
                    name: ".a",
                    mode: 0o600,
                    uid: 1001,
                    gid: 1001,
                    data: b"secret\n",
                },
                Entry {
                    name: ".b",
                    mode: 0o644,
                    uid: 1001,
                    gid: 1001,
                    data: &[b'x'; 600],
                },
            ],
            1_700_000_000,
        );
        // Two headers, 512 + 1024 bytes of data, two zero blocks.
        assert_eq!(tar.len(), 512 * 7);
        assert_eq!(&tar[100..108], b"0000600\0");
        assert_eq!(&tar[108..116], b"0001751\0", "uid 1001");
        assert_eq!(&tar[257..263], b"ustar\0");
        let sum: u64 = tar[..512]
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    b as u64
                }
            })
            .sum();
        assert_eq!(&tar[148..155], format!("{sum:06o}\0").as_bytes());
        assert_eq!(first_file(&tar).unwrap(), b"secret\n");
        assert_eq!(first_file(&tar[..515]), None, "cut short");
        assert_eq!(first_file(&[0; 1024]), None);
    }
}
