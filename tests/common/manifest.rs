//! The manifest is the only list of programs: the tests that cover every
//! program read it from here. Standard library only, because tests/book.rs
//! includes it too.
#![allow(dead_code)]

use std::fs;
use std::path::Path;

/// The program names, read from the `[[bin]]` tables of Cargo.toml.
pub fn programs() -> Vec<String> {
    let names = targets("[[bin]]");
    assert!(names.len() >= 4, "found only {names:?} in Cargo.toml");
    names
}

/// The names of the targets of one kind (`[[bin]]`, `[[bench]]`).
pub fn targets(kind: &str) -> Vec<String> {
    let manifest = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .expect("Cargo.toml");
    let mut names = Vec::new();
    let mut in_kind = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_kind = line == kind;
        } else if let (true, Some(name)) = (in_kind, name_of(line)) {
            names.push(name);
        }
    }
    names
}

/// The value of a manifest line `name = "..."`, if it is one.
pub fn name_of(line: &str) -> Option<String> {
    let value = line.trim().strip_prefix("name")?;
    let value = value.trim().strip_prefix('=')?;
    Some(value.trim().trim_matches('"').to_string())
}
