//! Where a bind-mounted lock directory comes from, as `/proc/self/mountinfo` says. Inside a
//! container that is the only sign that the host directory was renamed (the mount follows the
//! directory, so the path still leads to it); removed, it reads `<path>//deleted`.

use std::path::Path;

/// The source (the mount's root within its file system) of the mount at `mount_point`, if it is
/// a mount point; the last such line wins (a later mount hides an earlier one).
pub fn source_of(mountinfo: &str, mount_point: &Path) -> Option<String> {
    let want = mount_point.to_str()?;
    mountinfo.lines().rev().find_map(|l| {
        let mut f = l.split(' ');
        let root = f.nth(3)?;
        let point = f.next()?;
        (unescape(point) == want).then(|| unescape(root))
    })
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal escapes.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The source of the mount at `mount_point` now (None: not a mount point, or unreadable).
pub fn read(mount_point: &Path) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    source_of(&text, mount_point)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
70 47 254:0 /srv/locks /tmp/github-runner-locks rw,relatime - ext4 /dev/vda rw
71 47 254:0 /srv/my\\040locks /tmp/spaced\\040dir rw,relatime - ext4 /dev/vda rw
72 47 254:0 /srv/locks.old//deleted /tmp/gone rw - ext4 /dev/vda rw
";

    #[test]
    fn the_source_of_a_mount_point() {
        let table = [
            ("/tmp/github-runner-locks", Some("/srv/locks")),
            ("/tmp/spaced dir", Some("/srv/my locks")),
            ("/tmp/gone", Some("/srv/locks.old//deleted")),
            ("/tmp", None),
            ("/proc", Some("/")),
        ];
        for (point, want) in table {
            assert_eq!(
                source_of(INFO, Path::new(point)).as_deref(),
                want,
                "{point}"
            );
        }
        // Mounted again over it: the last one counts.
        let again =
            format!("{INFO}80 47 254:0 /srv/new /tmp/github-runner-locks rw - ext4 /dev/vda rw\n");
        assert_eq!(
            source_of(&again, Path::new("/tmp/github-runner-locks")).as_deref(),
            Some("/srv/new")
        );
    }
}
