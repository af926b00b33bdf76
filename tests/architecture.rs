//! The house's rules (ARCHITECTURE.md), checked on every test run: `src/` is cut into stages,
//! each a folder that imports only itself and the stages before it, the modules import each
//! other without cycles (an acyclic graph, `mod.rs` re-exports followed to the file that
//! defines the item), and the pure stages do no I/O.
//!
//! The graph is read from the source: every `crate::`, `super::` and `self::` path, `use`
//! trees with braces, and paths through a child module's name. A module is a file. Test code
//! (`#[cfg(test)]` items and modules) is left out: nothing imports a test, so it closes no
//! cycle, and table tests may reach their stage's entry point.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The stages, in order: a module may import its own stage and the ones before it.
const STAGES: [&str; 7] = ["config", "model", "plan", "report", "world", "serve", "cli"];

/// What a pure stage must not touch (`config` may read the `.env` file, in `env_file.rs`).
const IO: [&str; 8] = [
    "std::fs",
    "std::process",
    "std::net",
    "Command::new",
    "reqwest",
    "std::io::stdin",
    "std::env::var",
    "File::",
];
const PURE: [&str; 4] = ["config", "model", "plan", "report"];
const MAY_READ_FILES: [&str; 2] = ["config::env_file", "config::settings"];

struct Source {
    /// `a::b` for `src/a/b.rs` and `src/a/b/mod.rs`; "" for the crate root.
    module: String,
    code: String,
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    files
        .iter()
        .map(|file| {
            let rel = file.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            Source {
                module: parts.join("::"),
                code: strip_comments(&std::fs::read_to_string(file).unwrap()),
            }
        })
        .collect()
}

/// The code that ships: everything before a file's inline test module (ghr keeps it at the
/// end of the file), and no module that exists only for tests.
fn shipped(mut sources: Vec<Source>) -> Vec<Source> {
    let mut test_only = BTreeSet::new();
    for source in &sources {
        let lines: Vec<&str> = source.code.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            let child = pair[1]
                .strip_prefix("mod ")
                .or_else(|| pair[1].strip_prefix("pub mod "))
                .and_then(|rest| rest.strip_suffix(';'));
            if let (true, Some(child)) = (pair[0] == "#[cfg(test)]", child) {
                let mut path = split(&source.module);
                path.push(child.to_string());
                test_only.insert(path.join("::"));
            }
        }
    }
    sources.retain(|s| !test_only.contains(&s.module));
    for source in &mut sources {
        let inline = ["#[cfg(test)]\nmod tests {", "#[cfg(test)]\npub mod tests {"];
        if let Some(at) = inline.iter().filter_map(|m| source.code.find(m)).min() {
            source.code.truncate(at);
        }
    }
    sources
}

/// The code without `//` comments (doc comments name paths that are not imports).
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut in_string = false;
            let bytes = line.as_bytes();
            for i in 0..bytes.len() {
                match bytes[i] {
                    b'"' if i == 0 || bytes[i - 1] != b'\\' => in_string = !in_string,
                    b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
                    _ => {}
                }
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The paths of a `use` tree or an expression starting at `at` (just after `crate::` etc.),
/// each as its segments, braces expanded.
fn paths_at(code: &[u8], mut at: usize, base: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = base;
    loop {
        while at < code.len() && code[at].is_ascii_whitespace() {
            at += 1;
        }
        if at < code.len() && code[at] == b'{' {
            at += 1;
            loop {
                at = paths_at(code, at, path.clone(), out);
                while at < code.len() && (code[at].is_ascii_whitespace() || code[at] == b',') {
                    at += 1;
                }
                if at >= code.len() || code[at] == b'}' {
                    return at + 1;
                }
            }
        }
        let start = at;
        while at < code.len() && is_ident(code[at]) {
            at += 1;
        }
        if start == at {
            out.push(path);
            return at;
        }
        let ident = String::from_utf8_lossy(&code[start..at]).into_owned();
        if ident != "self" {
            path.push(ident);
        }
        if code[at..].starts_with(b"::") {
            at += 2;
        } else {
            out.push(path);
            return at;
        }
    }
}

/// Every path the code names, made absolute (segments from the crate root).
fn paths(source: &Source, modules: &BTreeSet<String>) -> Vec<Vec<String>> {
    let own: Vec<String> = split(&source.module);
    let code = source.code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        if i > 0 && (is_ident(code[i - 1]) || code[i - 1] == b':') || !code[i].is_ascii_lowercase()
        {
            i += 1;
            continue;
        }
        let start = i;
        while i < code.len() && is_ident(code[i]) {
            i += 1;
        }
        if !code[i..].starts_with(b"::") {
            continue;
        }
        let word = std::str::from_utf8(&code[start..i]).unwrap();
        let base = match word {
            "crate" => Vec::new(),
            // `super::` in a file is its parent; in its inline `mod tests` it is the file
            // itself, which adds no edge either way.
            "super" => own[..own.len().saturating_sub(1)].to_vec(),
            "self" => own.clone(),
            child => {
                let mut path = own.clone();
                path.push(child.to_string());
                if !modules.contains(&path.join("::")) {
                    continue;
                }
                own.clone()
            }
        };
        let skip = if matches!(word, "crate" | "super" | "self") {
            i + 2
        } else {
            start
        };
        i = paths_at(code, skip, base, &mut out);
    }
    out
}

fn split(module: &str) -> Vec<String> {
    if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(String::from).collect()
    }
}

/// The module a path lands in: the longest prefix that is a module, then through the
/// re-exports of a `mod.rs` to the module that defines the item.
fn resolve(
    path: &[String],
    modules: &BTreeSet<String>,
    reexports: &BTreeMap<(String, String), String>,
) -> Option<String> {
    let mut module = None;
    let mut rest = 0;
    for n in (1..=path.len()).rev() {
        let candidate = path[..n].join("::");
        if modules.contains(&candidate) {
            module = Some(candidate);
            rest = n;
            break;
        }
    }
    let mut module = module?;
    if let Some(item) = path.get(rest) {
        let mut seen = 0;
        while let Some(target) = reexports.get(&(module.clone(), item.clone())) {
            module = target.clone();
            seen += 1;
            if seen > 8 {
                break;
            }
        }
    }
    Some(module)
}

struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn graph() -> (Vec<Source>, Graph) {
    let sources = shipped(sources());
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    // `pub use child::Item` in a module: the item is the child's.
    let mut reexports = BTreeMap::new();
    for source in &sources {
        for line in source.code.lines() {
            let line = line.trim();
            let Some(tree) = line
                .strip_prefix("pub use ")
                .or_else(|| line.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            let scratch = Source {
                module: source.module.clone(),
                code: format!(
                    "{}{}",
                    if tree.starts_with("crate::")
                        || tree.starts_with("super::")
                        || tree.starts_with("self::")
                    {
                        ""
                    } else {
                        "self::"
                    },
                    tree
                ),
            };
            for path in paths(&scratch, &modules) {
                let (Some(item), Some(target)) =
                    (path.last(), resolve(&path, &modules, &BTreeMap::new()))
                else {
                    continue;
                };
                if target != source.module {
                    reexports.insert((source.module.clone(), item.clone()), target);
                }
            }
        }
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in &sources {
        let targets = edges.entry(source.module.clone()).or_default();
        for path in paths(source, &modules) {
            if let Some(target) = resolve(&path, &modules, &reexports) {
                if target != source.module && !target.is_empty() {
                    targets.insert(target);
                }
            }
        }
    }
    (sources, Graph { edges })
}

fn stage(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or("");
    STAGES.iter().position(|s| *s == top)
}

#[test]
fn every_module_is_in_a_stage() {
    let (sources, _) = graph();
    let strays: Vec<&str> = sources
        .iter()
        .map(|s| s.module.as_str())
        .filter(|m| !m.is_empty() && stage(m).is_none())
        .collect();
    assert!(
        strays.is_empty(),
        "modules outside the stages {STAGES:?}: {strays:?}"
    );
}

#[test]
fn no_module_imports_a_later_stage() {
    let (_, graph) = graph();
    let mut upward = Vec::new();
    for (from, targets) in &graph.edges {
        for to in targets {
            if let (Some(a), Some(b)) = (stage(from), stage(to)) {
                if b > a {
                    upward.push(format!("{from} -> {to}"));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports of a later stage (order {STAGES:?}):\n{}",
        upward.join("\n")
    );
}

/// Tarjan's strongly connected components: any with more than one module is a cycle.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

#[test]
fn the_module_graph_is_acyclic() {
    let (_, graph) = graph();
    let found = cycles(&graph);
    let describe: Vec<String> = found
        .iter()
        .map(|c| {
            let inner: Vec<String> = c
                .iter()
                .flat_map(|from| {
                    graph.edges[from]
                        .iter()
                        .filter(|to| c.contains(to))
                        .map(move |to| format!("{from} -> {to}"))
                })
                .collect();
            format!("{{{}}}: {}", c.join(", "), inner.join("; "))
        })
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", describe.join("\n"));
}

#[test]
fn pure_stages_do_no_io() {
    let (sources, _) = graph();
    let mut found = Vec::new();
    for source in &sources {
        let pure = PURE.iter().any(|p| stage(&source.module) == stage(p));
        if !pure {
            continue;
        }
        let code = &source.code;
        for needle in IO {
            let allowed = MAY_READ_FILES.contains(&source.module.as_str())
                && matches!(needle, "std::fs" | "std::env::var");
            if code.contains(needle) && !allowed {
                found.push(format!("{} uses {needle}", source.module));
            }
        }
    }
    assert!(
        found.is_empty(),
        "I/O in a pure stage:\n{}",
        found.join("\n")
    );
}

/// The checker itself: a cycle and an upward import in a made-up tree are found.
#[test]
fn the_checker_finds_a_cycle_and_follows_reexports() {
    let modules: BTreeSet<String> = ["plan", "plan::a", "plan::b", "world", "world::x"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let a = Source {
        module: "plan::a".into(),
        code: "use crate::plan::{b::{self, Thing}, Other};\nuse super::b::f;\nfn g() { crate::world::x::y(); }".into(),
    };
    let found: BTreeSet<Option<String>> = paths(&a, &modules)
        .iter()
        .map(|p| resolve(p, &modules, &BTreeMap::new()))
        .collect();
    assert!(found.contains(&Some("plan::b".into())), "{found:?}");
    assert!(found.contains(&Some("world::x".into())), "{found:?}");
    assert!(found.contains(&Some("plan".into())), "{found:?}");
    let mut reexports = BTreeMap::new();
    reexports.insert(
        ("plan".to_string(), "Other".to_string()),
        "plan::b".to_string(),
    );
    assert_eq!(
        resolve(&split("plan::Other"), &modules, &reexports),
        Some("plan::b".into())
    );
    let mut edges = BTreeMap::new();
    edges.insert(
        "plan::a".to_string(),
        BTreeSet::from(["plan::b".to_string()]),
    );
    edges.insert(
        "plan::b".to_string(),
        BTreeSet::from(["plan::a".to_string()]),
    );
    assert_eq!(
        cycles(&Graph { edges }),
        vec![vec!["plan::a".to_string(), "plan::b".to_string()]]
    );
}
