//! No two source files import each other, directly or around a circle. A
//! plain text scan of the `crate::`, `super::` and child-module paths in each
//! file (comments, tests and `pub use` re-exports left out), resolved to the
//! file that defines the named module, then a search for strongly connected
//! files. A circle fails the test with every file in it and what ties them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Source files by their path under `src/`, test-only files and the two
/// binaries (which only wire) left out.
fn sources() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src_dir()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read a source directory") {
            let path = entry.expect("read a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(rel) = path.strip_prefix(src_dir()) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            let name = rel.rsplit('/').next().unwrap_or("");
            let test_only = name.ends_with("_tests.rs")
                || name == "tests.rs"
                || name == "fuzz_support.rs"
                || name.starts_with("fake");
            if rel.ends_with(".rs") && !rel.starts_with("bin/") && !test_only {
                let text = std::fs::read_to_string(&path).expect("read a source file");
                out.insert(rel, text);
            }
        }
    }
    out
}

/// The module path of a file: `engine/exec.rs` and `engine/exec/mod.rs` are
/// both `["engine", "exec"]`.
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The file defining the longest prefix of `path` that is a module.
fn file_of(files: &BTreeMap<String, String>, path: &[String]) -> Option<String> {
    (1..=path.len()).rev().find_map(|n| {
        let base = path[..n].join("/");
        [format!("{base}.rs"), format!("{base}/mod.rs")]
            .into_iter()
            .find(|f| files.contains_key(f))
    })
}

/// The code that ships: comments blanked, the inline test module and
/// `pub use` re-exports (a module's table of contents, not a dependency) cut.
fn shipped_code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out = String::new();
    let mut in_reexport = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("pub use ") || t.starts_with("pub(crate) use ") {
            in_reexport = !t.contains(';');
            continue;
        }
        if in_reexport {
            in_reexport = !t.contains(';');
            continue;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(line.split(" //").next().unwrap_or(line));
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path spelled from `s` on (`a::b::C`, `a::{b, c::{d, e}}`), each as
/// its segments, prefixed with `prefix`.
fn expand(prefix: &[String], s: &str, out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    let mut rest = s;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        expand(&path, group[start..i].trim(), out);
                        return;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&path, group[start..i].trim(), out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            return;
        }
        let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        let seg = &rest[..end];
        if seg != "self" {
            path.push(seg.to_string());
        }
        match rest[end..].strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    out.push(path);
}

/// Names that a `mod.rs` re-exports from its children (`pub use conn::Conn;`),
/// keyed by (that mod.rs, name), to the file that defines them: an import of
/// `super::Conn` depends on conn.rs, not on the module's table of contents.
type Reexports = BTreeMap<(String, String), String>;

fn reexports(files: &BTreeMap<String, String>) -> Reexports {
    let mut out = Reexports::new();
    for (rel, text) in files {
        if !(rel.ends_with("mod.rs") || rel == "lib.rs") {
            continue;
        }
        let module = module_of(rel);
        for stmt in text.split(';') {
            let t = stmt.trim_start();
            let Some(path) = t
                .strip_prefix("pub use ")
                .or_else(|| t.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            let mut paths = Vec::new();
            expand(&module, path.trim(), &mut paths);
            for p in paths {
                let (Some(name), Some(target)) = (p.last(), file_of(files, &p)) else {
                    continue;
                };
                if &target != rel {
                    out.insert((rel.clone(), name.clone()), target);
                }
            }
        }
    }
    out
}

/// The file a path depends on, through re-exports.
fn resolve(files: &BTreeMap<String, String>, re: &Reexports, path: &[String]) -> Option<String> {
    let file = file_of(files, path)?;
    let depth = module_of(&file).len();
    match path.get(depth) {
        Some(name) => Some(
            re.get(&(file.clone(), name.clone()))
                .cloned()
                .unwrap_or(file),
        ),
        None => Some(file),
    }
}

/// The files `rel` imports.
fn imports(
    files: &BTreeMap<String, String>,
    re: &Reexports,
    rel: &str,
    text: &str,
) -> BTreeSet<String> {
    let code = shipped_code(text);
    let module = module_of(rel);
    let mut paths = Vec::new();
    // Child modules a `mod.rs` (or lib.rs) names by their bare name.
    let children: Vec<&str> = if rel.ends_with("mod.rs") || rel == "lib.rs" {
        code.lines()
            .filter_map(|l| {
                let l = l.trim();
                let l = l
                    .strip_prefix("pub(crate) ")
                    .or(l.strip_prefix("pub "))
                    .unwrap_or(l);
                l.strip_prefix("mod ")?.strip_suffix(';')
            })
            .collect()
    } else {
        Vec::new()
    };
    let starts: Vec<usize> = code
        .char_indices()
        .filter(|(i, _)| *i == 0 || !code[..*i].ends_with(|c: char| is_ident(c) || c == ':'))
        .map(|(i, _)| i)
        .collect();
    for at in starts {
        let s = &code[at..];
        if let Some(rest) = s.strip_prefix("crate::") {
            expand(&[], rest, &mut paths);
        } else if s.starts_with("super::") {
            let mut rest = s;
            let mut base = module.clone();
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
            expand(&base, rest, &mut paths);
        } else if children
            .iter()
            .any(|c| s.strip_prefix(*c).is_some_and(|r| r.starts_with("::")))
        {
            expand(&module, s, &mut paths);
        }
    }
    paths
        .iter()
        .filter_map(|p| resolve(files, re, p))
        .filter(|f| f != rel)
        .collect()
}

/// Strongly connected groups of more than one file (Tarjan).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low[v];
                    self.low.insert(v, lv.min(lw));
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low[v];
                    self.low.insert(v, lv.min(iw));
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    group.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = sources();
    let re = reexports(&files);
    files
        .iter()
        .map(|(rel, text)| (rel.clone(), imports(&files, &re, rel, text)))
        .collect()
}

#[test]
fn no_two_files_import_each_other() {
    let graph = graph();
    let found = circles(&graph);
    let report: Vec<String> = found
        .iter()
        .map(|group| {
            let ties: Vec<String> = group
                .iter()
                .flat_map(|f| {
                    graph[f]
                        .iter()
                        .filter(|t| group.contains(t))
                        .map(move |t| format!("    {f} -> {t}"))
                })
                .collect();
            format!("{}\n{}", group.join(", "), ties.join("\n"))
        })
        .collect();
    assert!(report.is_empty(), "import circles:\n{}", report.join("\n"));
}

#[test]
fn the_scan_sees_imports() {
    // Guards the scan itself: a test that finds nothing because it reads
    // nothing would pass forever.
    let graph = graph();
    let engine = graph
        .get("engine/mod.rs")
        .expect("engine/mod.rs is scanned");
    assert!(engine.iter().any(|f| f.starts_with("task/")), "{engine:?}");
    let mut paths = Vec::new();
    expand(&[], "task::{def::{A, B}, spec}", &mut paths);
    assert_eq!(
        paths,
        vec![
            vec!["task", "def", "A"],
            vec!["task", "def", "B"],
            vec!["task", "spec"]
        ]
    );
    let mut g = BTreeMap::new();
    g.insert("a.rs".to_string(), BTreeSet::from(["b.rs".to_string()]));
    g.insert("b.rs".to_string(), BTreeSet::from(["a.rs".to_string()]));
    g.insert("c.rs".to_string(), BTreeSet::from(["a.rs".to_string()]));
    assert_eq!(
        circles(&g),
        vec![vec!["a.rs".to_string(), "b.rs".to_string()]]
    );
}
