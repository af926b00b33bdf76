//! The docs a newcomer reads hold together: every relative link of the READMEs, the reference
//! and ARCHITECTURE.md names a file that exists and a heading that is there; README.md and
//! README_CN.md have the same sections (they move together); both say the security model.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const DOCS: [&str; 6] = [
    "README.md",
    "README_CN.md",
    "docs/reference.md",
    "docs/reference_CN.md",
    "ARCHITECTURE.md",
    "runner-wrapper/README.md",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// GitHub's heading anchors: lower case, punctuation dropped, spaces to '-'.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim().to_lowercase();
        let anchor: String = title
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        out.insert(anchor);
    }
    out
}

/// `(target, anchor)` of every `](...)` link that is not a URL.
fn links(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let Some(end) = rest.find(')') else { break };
        let link = &rest[..end];
        if !link.contains("://") && !link.starts_with("mailto:") {
            let (path, anchor) = link.split_once('#').unwrap_or((link, ""));
            out.push((path.to_string(), anchor.to_string()));
        }
    }
    out
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for doc in DOCS {
        let text = read(doc);
        let dir = Path::new(doc).parent().unwrap_or(Path::new(""));
        for (path, anchor) in links(&text) {
            let target: PathBuf = if path.is_empty() {
                PathBuf::from(doc)
            } else {
                dir.join(&path)
            };
            let full = root().join(&target);
            if !full.exists() {
                broken.push(format!("{doc}: {path} does not exist"));
                continue;
            }
            if anchor.is_empty() || full.is_dir() {
                continue;
            }
            let Ok(target_text) = std::fs::read_to_string(&full) else {
                continue;
            };
            if !anchors(&target_text).contains(&anchor) {
                broken.push(format!("{doc}: {path}#{anchor} names no heading"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readmes_move_together() {
    let count = |doc: &str| read(doc).lines().filter(|l| l.starts_with("## ")).count();
    assert_eq!(count("README.md"), count("README_CN.md"), "README sections");
    assert_eq!(
        count("docs/reference.md"),
        count("docs/reference_CN.md"),
        "reference sections"
    );
}

#[test]
fn both_readmes_say_the_security_model() {
    for (doc, heading, needles) in [
        (
            "README.md",
            "## Security model",
            [
                "trusted workflows",
                "sudo",
                "Docker socket",
                "PRIVILEGED=false",
                "lock directory trusts",
            ],
        ),
        (
            "README_CN.md",
            "## 安全模型",
            [
                "可信的 workflow",
                "sudo",
                "Docker socket",
                "PRIVILEGED=false",
                "锁目录信任",
            ],
        ),
    ] {
        let text = read(doc);
        let section = text
            .split(heading)
            .nth(1)
            .unwrap_or_else(|| panic!("{doc} has no {heading}"));
        let section = section.split("\n## ").next().unwrap_or_default();
        for needle in needles {
            assert!(
                section.contains(needle),
                "{doc}'s {heading} says nothing of {needle}"
            );
        }
    }
}
