//! Runner names as users type them: the full name, `runner-3`, `3`, or a board name.

/// The outcome of resolving command-line names against the fleet's names.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Full runner names, in the order given, without repeats.
    pub found: Vec<String>,
    /// What the user typed that names no runner of this fleet.
    pub unknown: Vec<String>,
}

/// Resolves each `wanted` entry against `known` full names: exact, then `<prefix><x>`
/// (`runner-3`), then `<prefix>runner-<x>` (`3`, a board name).
pub fn resolve(prefix: &str, known: &[String], wanted: &[String]) -> Resolved {
    let mut out = Resolved::default();
    for raw in wanted {
        let x = raw.trim();
        let candidates = [
            x.to_string(),
            format!("{prefix}{x}"),
            format!("{prefix}runner-{x}"),
        ];
        match candidates.into_iter().find(|c| known.contains(c)) {
            Some(name) => {
                if !out.found.contains(&name) {
                    out.found.push(name);
                }
            }
            None => out.unknown.push(raw.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn every_spelling_resolves() {
        let known = s(&["h-o-runner-1", "h-o-runner-3", "h-o-runner-rk3588"]);
        let r = resolve(
            "h-o-",
            &known,
            &s(&["h-o-runner-1", "runner-3", "rk3588", "3", "9", "nope"]),
        );
        assert_eq!(
            r.found,
            s(&["h-o-runner-1", "h-o-runner-3", "h-o-runner-rk3588"])
        );
        assert_eq!(r.unknown, s(&["9", "nope"]));
    }

    #[test]
    fn other_prefixes_do_not_match() {
        let known = s(&["h-o-runner-1"]);
        let r = resolve("h-o-", &known, &s(&["x-runner-1"]));
        assert!(r.found.is_empty());
    }
}
