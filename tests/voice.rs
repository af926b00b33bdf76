//! One voice: every message ghr prints goes through `src/cli/ui.rs` (results on stdout,
//! diagnostics on stderr, `warning:`/`error:` prefixes, progress bars only on a terminal).
//! A `println!` elsewhere in `src/` would bypass all of that, so this test names each one.

use std::path::{Path, PathBuf};

/// The printing macros that write to stdout or stderr by themselves.
const MACROS: [&str; 5] = ["println!", "print!", "eprintln!", "eprint!", "dbg!"];

/// Where printing is allowed: the message module, and `main.rs` should it ever need to.
const ALLOWED: [&str; 2] = ["src/cli/ui.rs", "src/main.rs"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The macros a line calls: a name preceded by no identifier character (so `eprintln!` is
/// not also counted as `println!`), outside a `//` comment.
fn calls(line: &str) -> Vec<&'static str> {
    let code = line.split("//").next().unwrap_or("");
    MACROS
        .iter()
        .filter(|m| {
            code.match_indices(*m).any(|(at, _)| {
                !code[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .copied()
        .collect()
}

#[test]
fn only_ui_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    assert!(files.len() > 10, "found the sources: {files:?}");
    let mut offenders = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy()
            .into_owned();
        if ALLOWED.contains(&rel.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read a source file");
        for (n, line) in text.lines().enumerate() {
            for call in calls(line) {
                offenders.push(format!("{rel}:{}: {call} {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "print through crate::ui instead:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_lint_sees_each_macro_once() {
    assert_eq!(calls("    println!(\"x\");"), ["println!"]);
    assert_eq!(calls("eprintln!(\"{e}\")"), ["eprintln!"]);
    assert_eq!(
        calls("eprint!(\"x\"); print!(\"y\")"),
        ["print!", "eprint!"]
    );
    assert_eq!(calls("let x = dbg!(y);"), ["dbg!"]);
    assert!(calls("// println! in a comment").is_empty());
    assert!(calls("ui::info(&text); // not eprintln!").is_empty());
    assert!(calls("my_println!(x)").is_empty());
}
