//! The library's top-level modules depend on each other one way: the `crate::` paths in each
//! module's non-test code form no cycle. docs/architecture.md draws the graph; when this test
//! fails, it prints the cycle to break.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module (a file `src/x.rs`, a directory `src/x/`, or both) and the other
/// top-level modules its non-test code names with `crate::`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: BTreeMap<String, Vec<std::path::PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "main" || name == "lib" {
            continue;
        }
        let list = files.entry(name).or_default();
        if path.is_dir() {
            let mut stack = vec![path];
            while let Some(dir) = stack.pop() {
                for e in std::fs::read_dir(dir).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|x| x == "rs") {
                        list.push(p);
                    }
                }
            }
        } else if path.extension().is_some_and(|x| x == "rs") {
            list.push(path);
        }
    }
    files
        .into_iter()
        .map(|(module, paths)| {
            let mut deps = BTreeSet::new();
            for p in paths {
                deps.extend(crate_paths(&std::fs::read_to_string(&p).unwrap()));
            }
            deps.remove(&module);
            (module, deps)
        })
        .collect()
}

/// The modules named by `crate::name` in code (not comments), up to the first test module.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let l = line.trim_start();
        if l == "#[cfg(test)]" && lines.peek().is_some_and(|n| n.trim_start().starts_with("mod ")) {
            break;
        }
        let code = match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        };
        for (i, _) in code.match_indices("crate::") {
            let before = code[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue; // `$crate::` or part of a longer name
            }
            let rest = &code[i + "crate::".len()..];
            if let Some(list) = rest.strip_prefix('{') {
                // `crate::{a, b::c}`: the first name of each item at the top level of the list.
                let (mut depth, mut item_start) = (0, true);
                for (j, c) in list.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && (c.is_alphanumeric() || c == '_') => {
                            out.insert(ident(&list[j..]));
                            item_start = false;
                        }
                        _ => {}
                    }
                }
            } else {
                out.insert(ident(rest));
            }
        }
    }
    out.remove("");
    out
}

fn ident(s: &str) -> String {
    s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// A cycle in the graph, if there is one (as the path around it).
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // 0: not visited, 1: on the current path, 2: done.
    fn visit<'a>(
        g: &'a BTreeMap<String, BTreeSet<String>>,
        m: &'a str,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(m, 1);
        path.push(m);
        for d in g.get(m).into_iter().flatten().filter(|d| g.contains_key(*d)) {
            match state.get(d.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|p| p == d).unwrap();
                    let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(g, d, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(m, 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in g.keys() {
        if state.get(m.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(g, m, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn top_level_modules_depend_one_way() {
    let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(g.len() >= 20, "the modules were not found: {g:?}");
    // The hot path's bottom does not reach up to the commands or the config file.
    for low in ["message", "features", "bayes", "verdict", "rules", "scoring", "store"] {
        let deps = &g[low];
        assert!(!deps.contains("commands") && !deps.contains("config"), "{low} uses {deps:?}");
    }
    if let Some(cycle) = find_cycle(&g) {
        let edges: Vec<String> = g.iter().map(|(m, d)| format!("  {m} -> {d:?}")).collect();
        panic!("the modules depend on each other in a cycle: {}\n{}", cycle.join(" -> "), edges.join("\n"));
    }
}

#[test]
fn the_checker_sees_paths_and_cycles() {
    let deps = crate_paths(
        "use crate::a::B;\nuse crate::{c, d::{e, f}};\n// crate::comment\nlet x = crate::g::h();\n\
         macro_rules! m { () => { $crate::i } }\n#[cfg(test)]\nmod tests {\n    use crate::j;\n}\n",
    );
    assert_eq!(deps, ["a", "c", "d", "g"].iter().map(|s| s.to_string()).collect());
    let g = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    assert_eq!(find_cycle(&g(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
    let cycle = find_cycle(&g(&[("config", "rules"), ("rules", "verdict"), ("verdict", "config")])).unwrap();
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4, "{cycle:?}");
}
