//! No import circles between the files of `core/runtime` and `core/sdk`.
//!
//! A file should use names only from files below it, so each can be read (and
//! changed) knowing only what it stands on. This test reads every source file's
//! `use crate::…`, `use super::…` and inline `crate::…`/`super::…` paths, maps each to
//! the file that defines the module it names (a re-export in a `mod.rs` counts as that
//! `mod.rs` using the child), and fails on any cycle between files. Inline
//! `#[cfg(test)] mod tests { … }` blocks are left out: a test may use anything.
//!
//! Cycles that existed when this test was written and are being taken apart are
//! listed in [`KNOWN`]: the test fails on any cycle not listed there, and on a listed
//! one that no longer exists (so the list only shrinks).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles still to be broken, each as its sorted file list (relative to the crate's
/// `src/`), per crate. Empty: the actor knot (issue 15, item 1) is taken apart, and
/// this test now guards that no cycle comes back.
const KNOWN: &[(&str, &[&str])] = &[];

/// A crate's files: module path (`a::b`) -> file.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// The module path of the file `module` names as its own (`a::b` for `a/b.rs` and
/// `a/b/mod.rs`), and the path `super` means from it.
fn parent_of(module: &str) -> String {
    module
        .rsplit_once("::")
        .map_or(String::new(), |(p, _)| p.to_owned())
}

/// Source with comments, string literals and inline test modules removed.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut in_str = false;
        let mut prev = ' ';
        for c in line.chars() {
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            } else if !in_str {
                out.push(c);
            }
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// Expand `use` trees: `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(&tree).to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len().saturating_sub(1)];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|i| !i.is_empty())
        .flat_map(|i| expand(&format!("{prefix}{i}")))
        .collect()
}

/// Every `crate::`/`super::`/`self::` path the code names.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `use` trees, expanded; the rest of the code keeps only what is not in them.
    let mut inline = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        inline.push_str(&rest[..i]);
        rest = &rest[i + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            inline.push_str("use ");
            continue;
        }
        let end = rest.find(';').unwrap_or(rest.len());
        out.extend(expand(&rest[..end]));
        rest = &rest[end..];
    }
    inline.push_str(rest);
    let code = inline.as_str();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut at = 0;
        while let Some(i) = code[at..].find(start) {
            let i = at + i;
            at = i + start.len();
            if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
                continue;
            }
            let end = code[i..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| i + e);
            out.push(code[i..end].trim_end_matches(':').to_owned());
        }
    }
    out
}

fn join(module: &str, child: &str) -> String {
    if module.is_empty() {
        child.to_owned()
    } else {
        format!("{module}::{child}")
    }
}

/// The module (a key of `mods`) a path from `module` lands in (its longest prefix
/// that is a file), and the segments after it.
fn resolve(
    path: &str,
    module: &str,
    mods: &BTreeMap<String, PathBuf>,
) -> Option<(String, Vec<String>)> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let base: Vec<String>;
    let own = || {
        module
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<String>>()
    };
    match segs.first().copied() {
        Some("crate") => {
            segs.remove(0);
            base = Vec::new();
        }
        Some("self") => {
            segs.remove(0);
            base = own();
        }
        Some("super") => {
            let mut m = module.to_owned();
            while segs.first() == Some(&"super") {
                segs.remove(0);
                m = parent_of(&m);
            }
            base = m
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        // A `use` path relative to this module (`use child::Name;` in a `mod.rs`).
        Some(first) if mods.contains_key(&join(module, first)) => base = own(),
        _ => return None,
    }
    let mut full = base;
    full.extend(segs.iter().map(|s| (*s).to_owned()));
    (0..=full.len()).rev().find_map(|n| {
        let m = full[..n].join("::");
        mods.contains_key(&m).then(|| (m, full[n..].to_vec()))
    })
}

/// Re-exports: (module, name) -> the path it re-exports, as written there.
type ReExports = BTreeMap<(String, String), String>;

fn re_exports(module: &str, code: &str) -> Vec<((String, String), String)> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("pub") {
        let rest = &code[i..];
        let Some(after) = rest
            .strip_prefix("pub use ")
            .or_else(|| rest.strip_prefix("pub(crate) use "))
            .or_else(|| rest.strip_prefix("pub(super) use "))
        else {
            continue;
        };
        let end = after.find(';').unwrap_or(after.len());
        for path in expand(&after[..end]) {
            let (path, name) = match path.split_once("as") {
                Some((p, alias)) if path.contains("as") && !alias.contains("::") => {
                    (p.to_owned(), alias.to_owned())
                }
                _ => {
                    let name = path.rsplit("::").next().unwrap_or("").to_owned();
                    (path.clone(), name)
                }
            };
            if name != "*" && !name.is_empty() {
                out.push(((module.to_owned(), name), path));
            }
        }
    }
    out
}

/// The file a path really lands in: through re-exports to where the name is defined.
fn target(
    path: &str,
    module: &str,
    mods: &BTreeMap<String, PathBuf>,
    re: &ReExports,
    depth: usize,
) -> Option<String> {
    let (m, rest) = resolve(path, module, mods)?;
    if depth < 16
        && let Some(first) = rest.first()
        && let Some(inner) = re.get(&(m.clone(), first.clone()))
        && let Some(t) = target(inner, &m, mods, re, depth + 1)
    {
        return Some(t);
    }
    Some(m)
}

/// The strongly connected components of more than one file (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(lw));
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                scc.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// The file cycles of the crate whose sources are in `src`, as sorted file lists.
fn file_cycles(src: &Path) -> Vec<Vec<String>> {
    let mods = modules(src);
    let code: BTreeMap<&String, String> = mods
        .iter()
        .map(|(m, f)| (m, code_of(&std::fs::read_to_string(f).unwrap())))
        .collect();
    // A re-export of a name to itself (an inline `pub mod prelude { pub use
    // crate::Ctx; }` read as the file's own) would lead nowhere: left out.
    let re: ReExports = code
        .iter()
        .flat_map(|(m, c)| re_exports(m, c))
        .filter(|((m, name), path)| {
            resolve(path, m, &mods).is_none_or(|(to, rest)| to != *m || rest != [name.clone()])
        })
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &code {
        let targets = edges.entry((*module).clone()).or_default();
        for p in paths(text) {
            if let Some(t) = target(&p, module, &mods, &re, 0)
                && t != **module
            {
                targets.insert(t);
            }
        }
    }
    // `IMPORT_CYCLES_DEBUG=1 cargo test --test import_cycles -- --nocapture` prints
    // the graph, to see which use makes a cycle.
    if std::env::var_os("IMPORT_CYCLES_DEBUG").is_some() {
        for (m, t) in &edges {
            eprintln!("{m:?} -> {t:?}");
        }
    }
    let file = |m: &String| {
        mods[m]
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    cycles(&edges)
        .into_iter()
        .map(|c| {
            let mut files: Vec<String> = c.iter().map(file).collect();
            files.sort();
            files
        })
        .collect()
}

fn check(krate: &str, src: PathBuf) {
    let found = file_cycles(&src);
    let known: Vec<Vec<String>> = KNOWN
        .iter()
        .filter(|(k, _)| *k == krate)
        .map(|(_, files)| files.iter().map(|f| (*f).to_owned()).collect())
        .collect();
    let new: Vec<&Vec<String>> = found.iter().filter(|c| !known.contains(c)).collect();
    let gone: Vec<&Vec<String>> = known.iter().filter(|c| !found.contains(c)).collect();
    assert!(
        new.is_empty(),
        "{krate}: files that use each other in a circle (each file should use only files below it): {new:#?}"
    );
    assert!(
        gone.is_empty(),
        "{krate}: these known cycles are gone: take them out of KNOWN: {gone:#?}"
    );
}

#[test]
fn the_runtime_has_no_import_cycles_between_files() {
    check(
        "runtime",
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"),
    );
}

#[test]
fn the_sdk_has_no_import_cycles_between_files() {
    check(
        "sdk",
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sdk/src"),
    );
}

#[test]
fn the_checker_finds_a_cycle_through_a_re_export() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod c;\n").unwrap();
    std::fs::write(src.join("a/mod.rs"), "mod b;\npub use b::B;\n").unwrap();
    std::fs::write(
        src.join("a/b.rs"),
        "use crate::c::C;\npub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::a::B;\n}\n",
    )
    .unwrap();
    std::fs::write(src.join("c.rs"), "pub struct C(crate::a::B);\n").unwrap();
    assert_eq!(
        file_cycles(src),
        // `crate::a::B` is `a/b.rs`'s, re-exported by `a/mod.rs`: the cycle is b <-> c.
        vec![vec!["a/b.rs".to_owned(), "c.rs".to_owned()]]
    );
    std::fs::write(
        src.join("c.rs"),
        "// crate::a::B in a comment\npub struct C;\n",
    )
    .unwrap();
    assert!(file_cycles(src).is_empty());
}
