//! ARCHITECTURE.md's rules that the compiler does not check: dependencies between the
//! top-level modules of `src/` go one way (no cycle), and the protocol, domain, lifecycle
//! and storage layers, and the push dispatcher, know nothing of actix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// The code of a file without its comments (a doc comment may name anything).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level module -> the other top-level modules its code names as `crate::<module>`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let code = code(&file);
        let uses = graph.entry(module.clone()).or_default();
        for (index, _) in code.match_indices("crate::") {
            let name: String = code[index + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                uses.insert(name);
            }
        }
    }
    graph
}

#[test]
fn the_top_level_modules_depend_on_each_other_in_one_direction() {
    let graph = module_graph();
    assert!(graph.len() >= 10, "{graph:?}");
    // Depth-first search for a cycle, reporting the path that closes it.
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(module) {
            return;
        }
        if let Some(start) = path.iter().position(|seen| seen == module) {
            panic!("module cycle: {} -> {module}", path[start..].join(" -> "));
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(module.to_owned());
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        visit(module, &graph, &mut Vec::new(), &mut done);
    }
    // The layers ARCHITECTURE.md draws, from the bottom.
    assert!(
        graph["domain"].is_empty(),
        "domain depends on nothing: {:?}",
        graph["domain"]
    );
    for lower in ["domain", "db", "lifecycle", "oauth", "delivery"] {
        for upper in ["routes", "startup", "cli"] {
            assert!(
                !graph[lower].contains(upper),
                "{lower} must not use {upper}"
            );
        }
    }
}

#[test]
fn the_protocol_domain_lifecycle_and_storage_layers_know_nothing_of_actix() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for layer in ["oauth", "domain", "lifecycle", "db", "delivery"] {
        for file in sources(&src.join(layer)) {
            assert!(
                !code(&file).contains("actix"),
                "{} names actix",
                file.display()
            );
        }
    }
}
