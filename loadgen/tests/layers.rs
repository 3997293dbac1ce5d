//! No import cycle between any two modules of `loadgen/src`: every
//! `crate::…` (and `super::…`) path outside the unit tests is resolved to
//! the deepest module file it names, and the graph of those imports must
//! have no loop. A module importing its own ancestor or descendant does
//! not count (a parent declares its children). Also checked at the level
//! of the top folders' children (`engine::echo` with all its files as one
//! module), where a loop through two folders would show.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// Every module file under `dir`, by its module path (`engine::echo`).
fn modules(root: &Path, dir: &Path, found: &mut BTreeMap<Module, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            modules(root, &path, found);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap().with_extension("");
        let mut module: Module = rel
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        if module.last().is_some_and(|l| l == "mod") {
            module.pop();
        }
        if module == ["lib"] || module == ["main"] {
            module.clear();
        }
        found.insert(module, std::fs::read_to_string(&path).unwrap());
    }
}

/// The paths `src` names after `crate::` or `super::` (braces expanded,
/// comments and unit tests left out), made absolute for module `me`.
fn paths(me: &Module, src: &str) -> Vec<Module> {
    let code = src.split("#[cfg(test)]").next().unwrap_or("");
    let code: String = code
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", me[..me.len().saturating_sub(1)].to_vec()),
    ] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let head: Vec<String> = rest[..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let mut path = base.clone();
            path.extend(head.iter().cloned());
            if rest[end..].starts_with('{') {
                let close = rest[end..].find('}').map_or(rest.len(), |c| end + c);
                for part in rest[end + 1..close].split(',') {
                    let mut p = path.clone();
                    p.extend(
                        part.trim()
                            .split("::")
                            .filter(|s| !s.is_empty() && *s != "self" && *s != "{")
                            .map(str::to_owned),
                    );
                    out.push(p);
                }
            }
            out.push(path);
        }
    }
    out
}

/// The deepest module of `known` that `path` starts with.
fn resolve(path: &Module, known: &BTreeMap<Module, String>) -> Module {
    let mut best = Vec::new();
    for i in 1..=path.len() {
        if known.contains_key(&path[..i]) {
            best = path[..i].to_vec();
        } else {
            break;
        }
    }
    best
}

fn related(a: &Module, b: &Module) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// The import graph, each module cut to `depth` components.
fn graph(depth: usize) -> BTreeMap<Module, BTreeSet<Module>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut known = BTreeMap::new();
    modules(&root, &root, &mut known);
    let cut = |m: &Module| m[..m.len().min(depth)].to_vec();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (me, src) in &known {
        for path in paths(me, src) {
            let to = resolve(&path, &known);
            let (a, b) = (cut(me), cut(&to));
            if !to.is_empty() && !related(me, &to) && !related(&a, &b) {
                edges.entry(a).or_default().insert(b);
            }
        }
    }
    edges
}

/// A loop in `edges`, if there is one, as the modules around it.
fn find_cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<String>> {
    fn visit(
        v: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<String>> {
        state.insert(v.clone(), 1);
        stack.push(v.clone());
        for w in edges.get(v).into_iter().flatten() {
            match state.get(w) {
                Some(1) => {
                    let from = stack.iter().position(|m| m == w).unwrap_or(0);
                    let mut around: Vec<String> =
                        stack[from..].iter().map(|m| m.join("::")).collect();
                    around.push(w.join("::"));
                    return Some(around);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(w, edges, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(v.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for v in edges.keys() {
        if !state.contains_key(v) {
            if let Some(c) = visit(v, edges, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_import_cycle_between_modules() {
    let files = graph(usize::MAX);
    assert!(
        files.len() > 20,
        "the source was read: {} modules import",
        files.len()
    );
    assert_eq!(
        find_cycle(&files),
        None,
        "an import cycle between module files"
    );
    assert_eq!(
        find_cycle(&graph(2)),
        None,
        "an import cycle between modules of the layers"
    );
}

#[test]
fn a_cycle_is_found() {
    let m = |s: &str| s.split("::").map(str::to_owned).collect::<Module>();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    edges
        .entry(m("front::app"))
        .or_default()
        .insert(m("reports::merge"));
    edges
        .entry(m("reports::merge"))
        .or_default()
        .insert(m("front::app"));
    assert!(find_cycle(&edges).is_some());
    let known: BTreeMap<Module, String> = [m("engine"), m("engine::echo"), m("engine::echo::conn")]
        .into_iter()
        .map(|k| (k, String::new()))
        .collect();
    assert_eq!(
        resolve(&m("engine::echo::conn::Fault"), &known),
        m("engine::echo::conn")
    );
    let found = paths(
        &m("engine::echo::load"),
        "use crate::engine::{net, worker::Ready};\nuse super::Worker;",
    );
    assert!(found.contains(&m("engine::worker::Ready")), "{found:?}");
    assert!(found.contains(&m("engine::net")), "{found:?}");
    assert!(found.contains(&m("engine::echo::Worker")), "{found:?}");
}
