//! The runtime's floors hold: each file of `src/runtime/` imports only
//! files on floors below its own, as the diagram in `src/runtime/mod.rs`
//! draws them, and every file has a place in the diagram. (That the
//! facades use only what `runtime/mod.rs` exports, the compiler checks:
//! the files are private modules.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The floor of each file, read from the diagram in `runtime/mod.rs`'s
/// docs: lines `//! floor N  name (notes) · name (notes) ...`, continued on
/// the indented lines below.
fn floors(doc: &str) -> BTreeMap<String, u32> {
    let mut floors = BTreeMap::new();
    let mut current = None;
    let mut depth = 0usize; // parentheses open across lines
    for line in doc.lines() {
        let Some(text) = line.strip_prefix("//!") else {
            continue;
        };
        let text = text.trim();
        let rest = if let Some(after) = text.strip_prefix("floor ") {
            let (n, rest) = after.split_once(' ').expect("floor N names");
            current = Some(n.parse::<u32>().expect("a floor number"));
            depth = 0;
            rest
        } else if text.starts_with("```") || text.starts_with("this module") {
            current = None;
            continue;
        } else {
            text
        };
        let Some(floor) = current else { continue };
        // The names are the words outside parentheses, between the dots.
        let mut outside = String::new();
        for c in rest.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 => outside.push(c),
                _ => {}
            }
        }
        for item in outside.split('·') {
            if let Some(name) = item.split_whitespace().next() {
                floors.insert(name.to_string(), floor);
            }
        }
    }
    floors
}

/// What `source` names through `super::`, tests left out: runtime files,
/// or items of `runtime/mod.rs` itself.
fn imports(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or(source);
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("super::") {
        let after = &code[i + "super::".len()..];
        if let Some(list) = after.strip_prefix('{') {
            let list = &list[..list.find('}').expect("a closed import list")];
            for item in list.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn each_runtime_file_imports_only_floors_below_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime");
    let doc = std::fs::read_to_string(dir.join("mod.rs")).unwrap();
    let floors = floors(&doc);
    assert!(floors.len() > 10, "the diagram was not found: {floors:?}");
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "mod" || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let Some(&floor) = floors.get(&name) else {
            wrong.push(format!(
                "{name}.rs has no floor in runtime/mod.rs's diagram"
            ));
            continue;
        };
        let source = std::fs::read_to_string(&path).unwrap();
        for dep in imports(&source) {
            match floors.get(&dep) {
                Some(&below) if below < floor => {}
                Some(&other) => wrong.push(format!(
                    "{name}.rs (floor {floor}) imports {dep} (floor {other})"
                )),
                None => wrong.push(format!(
                    "{name}.rs uses `{dep}` from runtime/mod.rs, above every floor \
                     (import it from its file)"
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the floors do not hold:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_diagram_parser_reads_names_outside_parentheses() {
    let doc = "//! ```text\n//! floor 2  hub (the run loop: a · b)\n//! floor 1  reactor (fds) · \
               timer\n//!          · context (the running\n//!          task)\n//! ```\n";
    let floors = floors(doc);
    let expected: BTreeMap<String, u32> =
        [("hub", 2), ("reactor", 1), ("timer", 1), ("context", 1)]
            .into_iter()
            .map(|(n, f)| (n.to_string(), f))
            .collect();
    assert_eq!(floors, expected);
    let source = "use super::{coroutine, overflow};\nuse super::hub::Hub;\nsuper::io::x();\n\
                  use super::Thing;\n#[cfg(test)]\nuse super::wait;";
    let found: Vec<_> = imports(source).into_iter().collect();
    assert_eq!(found, ["Thing", "coroutine", "hub", "io", "overflow"]);
}
