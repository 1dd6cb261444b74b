//! The floors of the house, kept by a scan of the source: the core (`config`,
//! `model`, `task`) imports nothing from the floors above it. A plain text
//! scan of `crate::` paths (and `super::` chains that climb to the crate
//! root), run by `cargo test`, so that a new import that breaks a floor fails
//! here with the file and line instead of in a review.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each core floor and the crate's top-level modules it may use (itself included).
const FLOORS: &[(&str, &[&str])] = &[
    // The lowest floor: configuration values and their parsers.
    ("config", &["config"]),
    // The wire shapes of ACS and TCS: nothing of the crate.
    ("model", &["model"]),
    // The pure task core: its own values, the config's and the ACS wire types it validates.
    ("task", &["task", "config", "model"]),
    // What the agent shows (views, counters, stats samples): over the core,
    // under the engine, the endpoints and control that fill and read it.
    ("observe", &["observe", "task", "config", "model"]),
];

/// Test-only helpers any floor's tests may use; they import nothing of the crate.
const TEST_SUPPORT: &[&str] = &["fuzz_support"];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Names of the crate's top-level modules, from `src/lib.rs`.
fn top_level_modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(src_dir().join("lib.rs")).expect("read src/lib.rs");
    lib.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))?;
            Some(rest.trim_end_matches(';').trim().to_string())
        })
        .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .collect()
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read a source directory") {
            let path = entry.expect("read a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The code of a file with comments blanked out (doc comments name other
/// modules in prose; that is no import). Line numbers are kept.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l.split(" //").next().unwrap_or(l)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first path segment of each item of a `{a, b::c, d::{e, f}}` group
/// starting right after its `{`.
fn group_heads(s: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if item_start && (c.is_alphanumeric() || c == '_') => {
                heads.push(ident_at(&s[i..]).to_string());
                item_start = false;
            }
            _ => {}
        }
    }
    heads
}

/// The modules a path names right after `crate::` (or the root): one, or
/// each item's head of a `{...}` group.
fn heads_after(rest: &str) -> Vec<String> {
    match rest.strip_prefix('{') {
        Some(group) => group_heads(group),
        None => vec![ident_at(rest).to_string()],
    }
}

/// `(line, module)` for every top-level module `code` reaches through a
/// `crate::` path, or through `super::` chains at least `depth` long (the
/// number of modules between the crate root and this file).
fn crate_imports(code: &str, depth: usize, modules: &BTreeSet<String>) -> Vec<(usize, String)> {
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        // `crate::` inside a longer name (`my_crate::`) is not the crate.
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        for m in heads_after(&code[at + "crate::".len()..]) {
            found.push((line_of(at), m));
        }
    }
    for (at, _) in code.match_indices("super::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // the middle of a chain, counted from its start
        }
        let mut rest = &code[at..];
        let mut climbs = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = r;
        }
        if climbs < depth {
            continue;
        }
        // Past the root only top-level modules count; a test module's
        // `super::super::sibling` names a sibling, not a floor.
        for m in heads_after(rest) {
            if modules.contains(&m) {
                found.push((line_of(at), m));
            }
        }
    }
    found.sort();
    found
}

/// Modules between the crate root and the file: `task/mod.rs` is 1, `task/def.rs` 2.
fn module_depth(src: &Path, file: &Path) -> usize {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let parts = rel.components().count();
    if file.file_name().is_some_and(|n| n == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// Every import that breaks a floor, as `file:line: floor -> module`.
fn violations() -> Vec<String> {
    let src = src_dir();
    let modules = top_level_modules();
    let mut out = Vec::new();
    for (floor, allowed) in FLOORS {
        for file in rust_files(&src.join(floor)) {
            let text = std::fs::read_to_string(&file).expect("read a source file");
            let code = code_only(&text);
            for (line, module) in crate_imports(&code, module_depth(&src, &file), &modules) {
                let module = module.as_str();
                if !allowed.contains(&module) && !TEST_SUPPORT.contains(&module) && module != "self"
                {
                    out.push(format!(
                        "{}:{line}: {floor} -> {module}",
                        file.strip_prefix(&src).unwrap_or(&file).display()
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn the_core_imports_nothing_from_the_floors_above() {
    let bad = violations();
    assert!(
        bad.is_empty(),
        "imports that break the floors (config and model import nothing of the crate, task only \
         config and model):\n{}",
        bad.join("\n")
    );
}

#[test]
fn test_support_stays_on_the_ground() {
    let modules = top_level_modules();
    for m in TEST_SUPPORT {
        let file = src_dir().join(format!("{m}.rs"));
        let text = std::fs::read_to_string(&file).expect("read a test support file");
        let used = crate_imports(&code_only(&text), 1, &modules);
        assert!(used.is_empty(), "{m} imports {used:?}");
    }
}

#[test]
fn every_floor_is_scanned() {
    let modules = top_level_modules();
    for (floor, _) in FLOORS {
        assert!(
            modules.contains(*floor),
            "{floor} is not a module of lib.rs"
        );
        assert!(
            !rust_files(&src_dir().join(floor)).is_empty(),
            "no files under src/{floor}"
        );
    }
}

#[test]
fn the_scanner_sees_every_spelling_of_an_import() {
    let modules: BTreeSet<String> = ["task", "runtime", "network", "config"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let found = |code: &str, depth: usize| -> Vec<String> {
        crate_imports(&code_only(code), depth, &modules)
            .into_iter()
            .map(|(line, m)| format!("{line}:{m}"))
            .collect()
    };
    assert_eq!(found("use crate::runtime::Ulimit;", 2), ["1:runtime"]);
    assert_eq!(
        found(
            "use crate::{\n    config::X,\n    network::{Eni, Mode},\n};",
            2
        ),
        ["1:config", "1:network"]
    );
    assert_eq!(
        found("fn f() -> crate::network::Eni { todo!() }", 2),
        ["1:network"]
    );
    assert_eq!(found("use super::super::runtime::X;", 2), ["1:runtime"]);
    assert_eq!(found("use super::runtime::X;", 1), ["1:runtime"]);
    // Inside the floor, comments and other crates are no imports.
    assert!(found("use super::def::TaskDef;", 2).is_empty());
    assert!(found("use super::super::def::TaskDef;", 2).is_empty());
    assert!(found("/// See [`crate::runtime::X`].\n// crate::network", 2).is_empty());
    assert!(found("use my_crate::runtime;", 2).is_empty());
}
