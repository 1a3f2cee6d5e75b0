//! No import circle between the modules of a crate.
//!
//! A module that imports from a module that imports back from it is one
//! module split across two files: neither can be read, tested or moved
//! without the other. This test reads the `.rs` files under each workspace
//! crate's `src/`, maps every file to its module path (`lib.rs` is the crate
//! root, `a/mod.rs` and `a.rs` are `a`, `a/b.rs` is `a::b`; an inline
//! `mod x { }` block counts as part of its file), and draws an edge from a
//! module to every module it names through `crate::…`, `super::…` or
//! `self::…` paths, in `use` items and in code alike. A path to an item is
//! an edge to the module that holds it. `use other_crate::…` is another
//! crate and is not an edge. Test code (`#[cfg(test)]` items and the files
//! of `#[cfg(test)] mod x;`) may import anything and is left out.
//!
//! A parent's reference to its own descendants is not an edge: a module's
//! private submodules are its implementation, and Rust's privacy has the
//! children reach up (`super::`) for the parent's types. Everything else —
//! siblings, cousins, a child and its parent's siblings — counts.
//!
//! The strongly connected components of the graph (Tarjan) are the import
//! circles; every component of more than one module fails the test, listed
//! module by module.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A crate's module graph: module path (`""` for the root) → modules it uses.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Crates that must have no import circle at all, by folder (`.` is the
/// controller, `src/`).
const ACYCLIC: &[&str] = &["checkers", "nemeses", "workloads", "ringkv", "."];

/// Circles in the `ACYCLIC` crates that are known and owed a fix, each
/// with why it is still here. A circle listed here must be exactly the one
/// found: one that grows fails, and one that is gone fails until its entry
/// is removed, so the list can only shrink.
const KNOWN: &[(&str, &[&str])] = &[];

#[test]
fn no_crate_has_an_import_circle() {
    let _area = crate::util::area::enter(module_path!());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut report = String::new();
    for name in ACYCLIC {
        let graph = module_graph(&root.join(name).join("src"));
        assert!(graph.len() > 1, "{name}: found no modules under {name}/src");
        let found = cycles(&graph);
        for cycle in &found {
            let known = KNOWN
                .iter()
                .any(|(c, modules)| c == name && modules[..] == cycle[..]);
            if !known {
                report.push_str(&format!("{name}: import circle: {}\n", show(cycle)));
            }
        }
        for (_, modules) in KNOWN.iter().filter(|(c, _)| c == name) {
            if !found.iter().any(|cycle| modules[..] == cycle[..]) {
                report.push_str(&format!(
                    "{name}: the known circle {modules:?} is gone: remove it from KNOWN\n"
                ));
            }
        }
    }
    assert!(report.is_empty(), "\n{report}");
}

// ---------------------------------------------------------------------------
// Self-test: the check must be able to fail.

/// A scratch crate under the system temp directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str, files: &[(&str, &str)]) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "faultline-module-graph-{tag}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        for (path, text) in files {
            let file = dir.join("src").join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
        }
        Scratch(dir)
    }

    fn cycles(&self) -> Vec<Vec<String>> {
        cycles(&module_graph(&self.0.join("src")))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn self_test_reports_a_known_circle() {
    let _area = crate::util::area::enter(module_path!());
    let s = Scratch::new(
        "cycle",
        &[
            ("lib.rs", "mod a;\nmod b;\nmod c;\nmod d;\n"),
            ("a.rs", "use crate::b::{self, Bee};\npub struct A;\n"),
            // An in-code path, not a `use`.
            ("b.rs", "pub fn f() -> crate::c::inner::C { todo!() }\n"),
            ("c/mod.rs", "pub mod inner;\n"),
            ("c/inner.rs", "use super::super::a::A;\npub struct C;\n"),
            ("d.rs", "use crate::a::A; // d is outside the circle\n"),
        ],
    );
    assert_eq!(
        s.cycles(),
        vec![vec!["a".to_string(), "b".into(), "c::inner".into()]]
    );
}

#[test]
fn self_test_passes_an_acyclic_crate() {
    let _area = crate::util::area::enter(module_path!());
    let s = Scratch::new(
        "acyclic",
        &[
            (
                "lib.rs",
                "mod a;\nmod b;\npub mod c;\npub use a::A;\n\
                 #[cfg(test)]\nmod tests;\n",
            ),
            // The parent names its child, the child reaches up: not a circle.
            ("a/mod.rs", "mod x;\npub use x::X;\npub struct A;\n"),
            ("a/x.rs", "use super::A;\npub struct X;\n"),
            (
                "b.rs",
                "use crate::a::A;\nuse other_crate::c::Thing;\n\
                 // use crate::c::Nope; a comment is not an import\n\
                 const S: &str = \"crate::c::Nope\";\n\
                 #[cfg(test)]\nmod tests {\n    use crate::c::Whatever;\n}\n",
            ),
            // `super` inside an inline block leaves the block, not the file.
            (
                "c.rs",
                "use crate::b;\nmod inner {\n    use super::super::b::B;\n    \
                 use super::Local;\n}\nstruct Local;\n",
            ),
            // Test code may import anything.
            ("tests.rs", "use crate::a::A;\nuse crate::c::Cee;\n"),
        ],
    );
    assert_eq!(s.cycles(), Vec::<Vec<String>>::new());
    let g = module_graph(&s.0.join("src"));
    assert_eq!(g["b"], BTreeSet::from(["a".to_string()]));
    assert_eq!(g["c"], BTreeSet::from(["b".to_string()]));
    assert!(!g.contains_key("tests"), "a #[cfg(test)] file is left out");
}

#[test]
fn self_test_sees_a_circle_between_siblings_under_one_parent() {
    let _area = crate::util::area::enter(module_path!());
    let s = Scratch::new(
        "siblings",
        &[
            ("lib.rs", "pub mod p;\n"),
            ("p/mod.rs", "mod x;\nmod y;\n"),
            ("p/x.rs", "use super::y::Y;\npub struct X;\n"),
            ("p/y.rs", "pub struct Y(super::x::X);\n"),
        ],
    );
    assert_eq!(s.cycles(), vec![vec!["p::x".to_string(), "p::y".into()]]);
}

#[test]
fn self_test_sees_a_circle_through_a_facade() {
    let _area = crate::util::area::enter(module_path!());
    // `b` reaches `a::A` through `f`'s re-export, and `a` uses `b`.
    let s = Scratch::new(
        "facade",
        &[
            ("lib.rs", "pub mod a;\npub mod b;\npub mod f;\n"),
            (
                "f/mod.rs",
                "mod inner;\npub use inner::Z;\npub use crate::a::A;\n",
            ),
            ("f/inner.rs", "pub struct Z;\n"),
            ("a.rs", "pub struct A(crate::b::B);\n"),
            (
                "b.rs",
                "pub struct B(crate::f::Z);\npub fn f(_: crate::f::A) {}\n",
            ),
        ],
    );
    assert_eq!(s.cycles(), vec![vec!["a".to_string(), "b".into()]]);
}

// ---------------------------------------------------------------------------
// The graph.

fn show(cycle: &[String]) -> String {
    let names: Vec<String> = cycle
        .iter()
        .map(|m| {
            if m.is_empty() {
                "crate".into()
            } else {
                m.clone()
            }
        })
        .collect();
    format!("{} modules: {}", names.len(), names.join(", "))
}

/// The module graph of the crate whose sources are under `src`.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    collect(src, &mut files);
    let has_lib = src.join("lib.rs").exists();
    // Module path of each file, and the modules declared `#[cfg(test)]`.
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    let mut test_only: BTreeSet<String> = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(src).unwrap();
        let Some(module) = module_path(rel, has_lib) else {
            continue;
        };
        let raw = fs::read_to_string(file).unwrap();
        let code = strip_comments_and_strings(&raw);
        for name in test_only_mods(&code) {
            test_only.insert(join(&module, &name));
        }
        texts.insert(module, remove_test_items(&code));
    }
    texts.retain(|m, _| !test_only.iter().any(|t| m == t || is_under(m, t)));
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    let reexports = reexports(&texts, &modules);
    let mut graph = Graph::new();
    for (module, code) in &texts {
        let mut uses = BTreeSet::new();
        for (path, inline) in paths(code) {
            let Some(absolute) = absolute(module, &path, inline) else {
                continue;
            };
            let target = defining(&modules, &reexports, &absolute);
            // A module's own descendants are its implementation.
            if target != *module && !is_under(&target, module) {
                uses.insert(target);
            }
        }
        graph.insert(module.clone(), uses);
    }
    graph
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `lib.rs` → `""`, `a.rs` / `a/mod.rs` → `a`, `a/b.rs` → `a::b`. A `main.rs`
/// beside a `lib.rs` is another crate (it reaches the library by name) and
/// is left out.
fn module_path(rel: &Path, has_lib: bool) -> Option<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.strip_suffix(".rs").unwrap();
    match stem {
        "lib" | "main" if parts.is_empty() => {
            if stem == "main" && has_lib {
                return None;
            }
        }
        "mod" => {}
        _ => parts.push(stem.to_string()),
    }
    Some(parts.join("::"))
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}::{child}")
    }
}

/// Whether `m` is a strict descendant of `ancestor`.
fn is_under(m: &str, ancestor: &str) -> bool {
    if ancestor.is_empty() {
        return !m.is_empty();
    }
    m.strip_prefix(ancestor)
        .is_some_and(|rest| rest.starts_with("::"))
}

fn parent(m: &str) -> Option<String> {
    if m.is_empty() {
        return None;
    }
    Some(m.rsplit_once("::").map_or(String::new(), |(p, _)| p.into()))
}

/// The module holding `path`: its longest prefix that is a module.
fn owner(modules: &BTreeSet<String>, path: &[String]) -> String {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
        .unwrap_or_default()
}

/// A module's re-exports: (module, name) → the absolute path of the item
/// its `pub use` names, so that a path through a façade (`settings::X`,
/// re-exported from `settings::flags`) is an edge to the module that
/// really holds the item.
type Reexports = BTreeMap<(String, String), Vec<String>>;

/// Every `pub use` (and `pub(crate) use`) of every module, resolved.
fn reexports(texts: &BTreeMap<String, String>, modules: &BTreeSet<String>) -> Reexports {
    let mut out = Reexports::new();
    for (module, code) in texts {
        let tokens = tokenize(code);
        let mut i = 0;
        while i < tokens.len() {
            if tokens[i] != "pub" {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            if tokens.get(j).is_some_and(|t| t == "(") {
                while j < tokens.len() && tokens[j] != ")" {
                    j += 1;
                }
                j += 1;
            }
            if tokens.get(j).is_none_or(|t| t != "use") {
                i += 1;
                continue;
            }
            let mut k = j + 1;
            let mut tree = Vec::new();
            while k < tokens.len() && tokens[k] != ";" {
                tree.push(tokens[k].clone());
                k += 1;
            }
            let mut expanded = Vec::new();
            expand(&tree, &mut Vec::new(), &mut expanded);
            for p in expanded {
                let Some(name) = p.last().cloned() else {
                    continue;
                };
                let child = join(module, &p[0]);
                let abs = if modules.contains(&child) {
                    let mut a: Vec<String> = if module.is_empty() {
                        Vec::new()
                    } else {
                        module.split("::").map(String::from).collect()
                    };
                    a.extend(p.iter().cloned());
                    Some(a)
                } else {
                    absolute(module, &p, 0)
                };
                if let Some(abs) = abs {
                    out.insert((module.clone(), name), abs);
                }
            }
            i = k + 1;
        }
    }
    out
}

/// The module that holds the item `path` names, through re-exports.
fn defining(modules: &BTreeSet<String>, reexports: &Reexports, path: &[String]) -> String {
    let mut path = path.to_vec();
    for _ in 0..8 {
        let target = owner(modules, &path);
        let depth = if target.is_empty() {
            0
        } else {
            target.split("::").count()
        };
        match path
            .get(depth)
            .and_then(|name| reexports.get(&(target.clone(), name.clone())))
        {
            Some(real) if real[..] != path[..depth + 1] => {
                let mut next = real.clone();
                next.extend(path[depth + 1..].iter().cloned());
                path = next;
            }
            _ => return target,
        }
    }
    owner(modules, &path)
}

/// `path` (starting with `crate`, `super` or `self`) made absolute from
/// `module`, as segments below the crate root; `inline` is how many inline
/// `mod x { }` blocks of the file the path is written in (its first
/// `super`s leave those, staying in the file's module).
fn absolute(module: &str, path: &[String], inline: usize) -> Option<Vec<String>> {
    let mut at: String = module.to_string();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            at.clear();
            rest = &path[1..];
        }
        Some("self") => rest = &path[1..],
        Some("super") => {
            let mut inline = inline;
            while inline > 0 && rest.first().is_some_and(|s| s == "super") {
                inline -= 1;
                rest = &rest[1..];
            }
            while rest.first().is_some_and(|s| s == "super") {
                at = parent(&at)?;
                rest = &rest[1..];
            }
            if rest.first().is_some_and(|s| s == "self") {
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    let mut out: Vec<String> = if at.is_empty() {
        Vec::new()
    } else {
        at.split("::").map(String::from).collect()
    };
    out.extend(rest.iter().cloned());
    Some(out)
}

// ---------------------------------------------------------------------------
// Reading the source.

/// The source with comments removed and string and char literals emptied,
/// so neither can hold a path.
fn strip_comments_and_strings(s: &str) -> String {
    let b: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Names of `#[cfg(test)] mod name;` declarations (files that are test code).
fn test_only_mods(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        rest = &rest[at + "#[cfg(test)]".len()..];
        let item = skip_attributes(rest);
        let item = item
            .strip_prefix("pub(crate) ")
            .or_else(|| item.strip_prefix("pub "))
            .unwrap_or(item);
        if let Some(decl) = item.strip_prefix("mod ") {
            let name: String = decl
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let after = decl.trim_start()[name.len()..].trim_start();
            if after.starts_with(';') {
                out.push(name);
            }
        }
    }
    out
}

fn skip_attributes(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if !s.starts_with("#[") {
            return s;
        }
        let mut depth = 0;
        for (i, c) in s.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        s = &s[i + 1..];
                        break;
                    }
                }
                _ => {}
            }
        }
    }
}

/// The code with every `#[cfg(test)]` item (a `mod tests { }` block, a
/// `use`, a function) removed.
fn remove_test_items(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = skip_attributes(&rest[at + "#[cfg(test)]".len()..]);
        // The item ends at its first `;` outside braces, or with its block.
        let mut depth = 0usize;
        let mut nest = 0usize;
        let mut end = item.len();
        for (i, c) in item.char_indices() {
            match c {
                '(' | '[' => nest += 1,
                ')' | ']' => nest = nest.saturating_sub(1),
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 && nest == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// Every `crate::`/`super::`/`self::` path in the code: `use` trees expanded
/// (`use crate::a::{b, c::D}` → `crate::a::b`, `crate::a::c::D`), and paths
/// written in code; each with the number of inline `mod x { }` blocks it is
/// written in.
fn paths(code: &str) -> Vec<(Vec<String>, usize)> {
    let tokens = tokenize(code);
    let mut out = Vec::new();
    // Brace depth at which each enclosing inline `mod x {` opened.
    let mut inline: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i].as_str() {
            "{" => {
                if i >= 2 && tokens[i - 2] == "mod" && is_ident(&tokens[i - 1]) {
                    inline.push(depth);
                }
                depth += 1;
            }
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last() == Some(&depth) {
                    inline.pop();
                }
            }
            _ => {}
        }
        if tokens[i] == "use" {
            let mut j = i + 1;
            let mut tree = Vec::new();
            while j < tokens.len() && tokens[j] != ";" {
                tree.push(tokens[j].clone());
                j += 1;
            }
            let mut expanded = Vec::new();
            expand(&tree, &mut Vec::new(), &mut expanded);
            out.extend(expanded.into_iter().map(|p| (p, inline.len())));
            i = j + 1;
            continue;
        }
        if matches!(tokens[i].as_str(), "crate" | "super" | "self")
            && tokens.get(i + 1).is_some_and(|t| t == "::")
            && !(i > 0 && tokens[i - 1] == "::")
        {
            let mut path = vec![tokens[i].clone()];
            let mut j = i + 1;
            while tokens.get(j).is_some_and(|t| t == "::")
                && tokens.get(j + 1).is_some_and(|t| is_ident(t))
            {
                path.push(tokens[j + 1].clone());
                j += 2;
            }
            out.push((path, inline.len()));
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Expand a `use` tree (tokens between `use` and `;`) below `prefix`.
fn expand(tree: &[String], prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut i = 0;
    let base = prefix.len();
    while i < tree.len() {
        let t = &tree[i];
        if t == "{" {
            // Split the group at top-level commas.
            let mut depth = 0;
            let mut start = i + 1;
            let mut j = i;
            while j < tree.len() {
                match tree[j].as_str() {
                    "{" => depth += 1,
                    "}" => {
                        depth -= 1;
                        if depth == 0 {
                            expand(&tree[start..j], prefix, out);
                            break;
                        }
                    }
                    "," if depth == 1 => {
                        expand(&tree[start..j], prefix, out);
                        start = j + 1;
                    }
                    _ => {}
                }
                j += 1;
            }
            prefix.truncate(base);
            return;
        } else if t == "as" {
            break;
        } else if is_ident(t) && t != "self" || (t == "self" && prefix.is_empty()) {
            prefix.push(t.clone());
        }
        // `::`, `*` and a trailing `self` add nothing.
        i += 1;
    }
    if prefix.len() > base || !prefix.is_empty() {
        out.push(prefix.clone());
    }
    prefix.truncate(base);
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && t.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn tokenize(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(b[start..i].iter().collect());
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Tarjan's strongly connected components.

/// Every strongly connected component of more than one module, each sorted,
/// the list sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.graph.contains_key(w) {
                    continue;
                }
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.out.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out.sort();
    t.out
}
