//! `RUNNER_LOCK_GROUP`: the group that may use the lock directory (root and the runners), as a
//! gid, from a number or a group name of this host.

use runner_wrapper::contract::env::LOCK_GROUP;

/// `RUNNER_LOCK_GROUP` as a gid: a number, or a group name in `group_file` (/etc/group's text).
pub fn resolve_group(value: &str, group_file: &str) -> Result<u32, String> {
    let value = value.trim();
    if let Ok(gid) = value.parse() {
        return Ok(gid);
    }
    group_file
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(value)).then(|| f.nth(1)?.parse().ok())?
        })
        .ok_or_else(|| {
            format!(
                "{LOCK_GROUP}={value} is neither a group id nor a group of this host; set {LOCK_GROUP} to a gid (e.g. 1001, the stock runner image's group) or create the group (sudo groupadd {value})"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_group_is_a_gid_or_a_host_group() {
        let etc = "root:x:0:\nrunner:x:1001:\nghr-locks:x:2345:alice,bob\n";
        assert_eq!(resolve_group("1001", etc), Ok(1001));
        assert_eq!(resolve_group(" 7 ", etc), Ok(7));
        assert_eq!(resolve_group("ghr-locks", etc), Ok(2345));
        let e = resolve_group("nobody-here", etc).unwrap_err();
        assert!(
            e.starts_with("RUNNER_LOCK_GROUP=nobody-here is neither"),
            "{e}"
        );
        assert!(e.contains("sudo groupadd nobody-here"), "{e}");
    }
}
