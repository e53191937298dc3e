//! The source tree keeps the shape docs/architecture.md describes: no file
//! under `crates/*/src` passes 800 lines, and no crate has an import circle
//! (module A naming B while B, directly or through others, names A). A
//! circle means two modules are one concept split badly, and it is where
//! changes start touching many files. (Function length is clippy's
//! `too_many_lines`, configured in clippy.toml.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 800;

type Module = Vec<String>;

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a/b.rs` and `a/b/mod.rs` are module `a::b`; lib.rs and main.rs the root.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] || parts == ["main"] {
        parts.pop();
    }
    parts
}

/// The code without comments and without its unit-test module (tests may
/// reach anywhere in their crate).
fn code(text: &str) -> String {
    let text = text
        .find("#[cfg(test)]\nmod tests {")
        .map_or(text, |i| &text[..i]);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else if let Some(after) = rest.strip_prefix('"') {
            // Skip string literals whole, so a URL's `//` cuts nothing.
            let mut chars = after.char_indices();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            out.push_str("\"\"");
            rest = &after[end..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path that starts at `crate::` or `super::`, with `{a, b::c}`
/// groups expanded: (start, segments).
fn paths(code: &str) -> Vec<(&'static str, Vec<String>)> {
    let mut found = Vec::new();
    for start in ["crate", "super"] {
        let needle = format!("{start}::");
        let mut from = 0;
        while let Some(i) = code[from..].find(&needle).map(|i| i + from) {
            from = i + needle.len();
            if code[..i].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            expand(&code[from..], Vec::new(), &mut |segments| {
                found.push((start, segments))
            });
        }
    }
    found
}

fn expand(rest: &str, prefix: Vec<String>, emit: &mut dyn FnMut(Vec<String>)) {
    let mut segments = prefix;
    let mut rest = rest;
    loop {
        let ident: String = rest.chars().take_while(|&c| is_ident(c)).collect();
        if !ident.is_empty() {
            rest = &rest[ident.len()..];
            segments.push(ident);
            match rest.strip_prefix("::") {
                Some(after) => rest = after,
                None => return emit(segments),
            }
        } else if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        expand(group[item_start..i].trim(), segments.clone(), emit);
                        return;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(group[item_start..i].trim(), segments.clone(), emit);
                        item_start = i + 1;
                    }
                    _ => {}
                }
            }
            return;
        } else {
            return emit(segments);
        }
    }
}

/// Which modules each module of one crate names (outside its own line of
/// ancestors and descendants, which are one module tree).
fn imports(files: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut graph = BTreeMap::new();
    for (module, text) in files {
        let mut names = BTreeSet::new();
        for (start, segments) in paths(&code(text)) {
            let mut candidate = match start {
                "crate" => Module::new(),
                _ => module[..module.len().saturating_sub(1)].to_vec(),
            };
            let mut best = None;
            for segment in segments {
                candidate.push(segment);
                if !files.contains_key(&candidate) {
                    break;
                }
                best = Some(candidate.clone());
            }
            let Some(target) = best else { continue };
            if target.starts_with(module) || module.starts_with(&target) {
                continue;
            }
            names.insert(target);
        }
        graph.insert(module.clone(), names);
    }
    graph
}

/// The circles of a graph: its strongly connected parts of more than one
/// module (Tarjan).
fn circles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, (usize, usize)>,
        stack: Vec<&'a Module>,
        found: Vec<Vec<Module>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a Module) {
            let n = self.index.len();
            self.index.insert(v, (n, n));
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                match self.index.get(w) {
                    None => {
                        self.visit(w);
                        let low = self.index[w].1.min(self.index[v].1);
                        self.index.get_mut(v).expect("visited").1 = low;
                    }
                    Some(&(wi, _)) if self.stack.contains(&w) => {
                        let low = wi.min(self.index[v].1);
                        self.index.get_mut(v).expect("visited").1 = low;
                    }
                    Some(_) => {}
                }
            }
            let (vi, low) = self.index[v];
            if vi == low {
                let at = self.stack.iter().position(|m| *m == v).expect("on stack");
                let part: Vec<Module> = self.stack.drain(at..).cloned().collect();
                if part.len() > 1 {
                    self.found.push(part);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

fn crate_sources() -> Vec<(String, PathBuf)> {
    let mut crates: Vec<_> = std::fs::read_dir(crates_dir())
        .expect("crates dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("src").is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    crates.sort();
    assert!(crates.len() >= 6, "found the crates: {crates:?}");
    crates
}

#[test]
fn no_source_file_passes_800_lines() {
    let mut long = Vec::new();
    for (_, dir) in crate_sources() {
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for file in files {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > MAX_FILE_LINES {
                long.push(format!("{} ({lines} lines)", file.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these files by concern: {long:#?}");
}

#[test]
fn no_crate_has_an_import_circle() {
    let mut found = Vec::new();
    for (name, dir) in crate_sources() {
        let src = dir.join("src");
        let mut paths = Vec::new();
        rust_files(&src, &mut paths);
        let files: BTreeMap<Module, String> = paths
            .iter()
            .map(|p| (module_of(&src, p), std::fs::read_to_string(p).unwrap()))
            .collect();
        assert!(files.len() > 1, "{name} has modules");
        for part in circles(&imports(&files)) {
            let names: Vec<String> = part.iter().map(|m| m.join("::")).collect();
            found.push(format!("{name}: {}", names.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "import circles: {found:#?}");
}

/// The finder sees a circle through a group import and a `super::` path,
/// and not through a comment, a string or a child module.
#[test]
fn the_circle_finder_sees_circles_and_only_circles() {
    let files: BTreeMap<Module, String> = [
        (vec![], "mod a; mod b; mod c;".to_string()),
        (vec!["a".into()], "use crate::{b::Thing, c};".to_string()),
        (vec!["b".into()], "fn f() { super::c::g() }".to_string()),
        (
            vec!["c".into()],
            "use crate::a::x; // crate::b\nconst U: &str = \"crate::b\";".to_string(),
        ),
        (vec!["c".into(), "d".into()], "use crate::c::y;".to_string()),
    ]
    .into_iter()
    .collect();
    let graph = imports(&files);
    assert_eq!(graph[&vec!["c".to_string()]].len(), 1, "{graph:?}");
    let found = circles(&graph);
    assert_eq!(found.len(), 1, "{found:?}");
    let mut part = found[0].clone();
    part.sort();
    assert_eq!(
        part,
        vec![vec!["a".to_string()], vec!["b".into()], vec!["c".into()]]
    );
}
