//! The book cannot drift from the code: mdBook alone renders a missing
//! anchor as an empty block and only logs a missing file, both with exit
//! code 0. These checks fail instead.
//!
//! - every `{{#include}}` names a file that exists, and every anchor
//!   resolves to non-empty text; Rust is included by anchor (a tests/ui
//!   compile-fail case whole), never by line;
//! - a Rust fence holds includes only: no pasted copies of code;
//! - every link and image points at a file that exists;
//! - every `cargo run --bin X` in the book and the README names a real
//!   program and passes it only flags its `--help` lists;
//! - every program is in the book and in the README's map.
//!
//! Standard library only, so that it says nothing a dependency could hide.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The program names, read from the `[[bin]]` tables of Cargo.toml.
fn programs() -> Vec<String> {
    let names = targets("[[bin]]");
    assert!(names.len() >= 4, "found only {names:?} in Cargo.toml");
    names
}

/// The names of the targets of one kind (`[[bin]]`, `[[bench]]`).
fn targets(kind: &str) -> Vec<String> {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let mut names = Vec::new();
    let mut in_kind = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_kind = line == kind;
        } else if let (true, Some(value)) = (in_kind, line.strip_prefix("name")) {
            let name = value
                .trim()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            names.push(name.to_string());
        }
    }
    names
}

/// Every Markdown file of the book, with its text.
fn chapters() -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut folders = vec![root().join("book/src")];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).expect("book/src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                let text = fs::read_to_string(&path).expect("a chapter is UTF-8");
                found.push((path, text));
            }
        }
    }
    found.sort();
    assert!(found.len() >= 3, "the book has only {} files", found.len());
    found
}

/// The chapters and the README: everything a reader follows.
fn documents() -> Vec<(PathBuf, String)> {
    let mut documents = chapters();
    let readme = root().join("README.md");
    let text = fs::read_to_string(&readme).expect("README.md");
    documents.push((readme, text));
    documents
}

fn show(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The `{{#include ...}}` directives of a text: (path, optional selector).
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{#include ") {
        let after = &rest[start + "{{#include ".len()..];
        let Some(end) = after.find("}}") else { break };
        let target = after[..end].trim();
        let (file, selector) = match target.split_once(':') {
            Some((file, selector)) => (file, Some(selector.to_string())),
            None => (target, None),
        };
        found.push((file.to_string(), selector));
        rest = &after[end..];
    }
    found
}

/// The lines between `ANCHOR: name` and `ANCHOR_END: name`, anchor lines
/// of other (nested) anchors left out, as mdBook does.
fn anchored(source: &str, anchor: &str) -> Option<String> {
    let start = format!("ANCHOR: {anchor}");
    let end = format!("ANCHOR_END: {anchor}");
    let mut inside = false;
    let mut body = String::new();
    for line in source.lines() {
        if inside && line.trim_end().ends_with(&end) {
            return Some(body);
        }
        if inside && !line.contains("ANCHOR") {
            body.push_str(line);
            body.push('\n');
        }
        if line.trim_end().ends_with(&start) {
            inside = true;
        }
    }
    None
}

#[test]
fn every_include_resolves_to_something() {
    let mut problems = Vec::new();
    for (chapter, text) in chapters() {
        let folder = chapter.parent().expect("a chapter has a folder");
        for (file, selector) in includes(&text) {
            let path = folder.join(&file);
            let Ok(source) = fs::read_to_string(&path) else {
                problems.push(format!("{}: no file {file}", show(&chapter)));
                continue;
            };
            // A compile-fail case (tests/ui) is shown whole: anchors in it
            // would move the line numbers its checked compiler message pins.
            let is_rust = file.ends_with(".rs") && !file.contains("tests/ui/");
            let body = match &selector {
                None if is_rust => {
                    problems.push(format!(
                        "{}: {file} is Rust; include it by anchor",
                        show(&chapter)
                    ));
                    continue;
                }
                None => source,
                Some(s) if s.starts_with(|c: char| c.is_ascii_digit()) => {
                    problems.push(format!(
                        "{}: {file}:{s} uses line numbers; use an anchor",
                        show(&chapter)
                    ));
                    continue;
                }
                Some(anchor) => match anchored(&source, anchor) {
                    Some(body) => body,
                    None => {
                        problems.push(format!("{}: no anchor {anchor} in {file}", show(&chapter)));
                        continue;
                    }
                },
            };
            if body.trim().is_empty() {
                problems.push(format!("{}: {file}:{selector:?} is empty", show(&chapter)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn rust_in_the_book_is_included_never_pasted() {
    let mut problems = Vec::new();
    for (chapter, text) in chapters() {
        let mut fence: Option<String> = None;
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if let Some(info) = trimmed.strip_prefix("```") {
                fence = match fence {
                    None => Some(info.trim().to_string()),
                    Some(_) => None,
                };
                continue;
            }
            let in_rust = fence
                .as_deref()
                .is_some_and(|info| info.starts_with("rust"));
            if in_rust && !trimmed.is_empty() && !trimmed.starts_with("{{#include ") {
                problems.push(format!(
                    "{}:{}: pasted Rust: {line}",
                    show(&chapter),
                    number + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The targets of `[text](target)` and `![alt](target)` outside code.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            found.push(after[..end].trim().to_string());
            rest = &after[end..];
        }
    }
    found
}

#[test]
fn every_link_and_image_resolves() {
    let documents = documents();
    let mut problems = Vec::new();
    for (document, text) in documents {
        for target in links(&text) {
            let local = target.split('#').next().unwrap_or_default();
            let external = ["http://", "https://", "mailto:"]
                .iter()
                .any(|s| target.starts_with(s));
            // An empty target in SUMMARY.md is a draft chapter.
            if external || local.is_empty() {
                continue;
            }
            let path = document.parent().expect("a folder").join(local);
            if !path.exists() {
                problems.push(format!("{}: broken link {target}", show(&document)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every `cargo run ... --bin NAME [-- ARGS]` in a text: (NAME, ARGS).
fn cargo_runs(text: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(start) = rest.find("cargo run") {
            let command = &rest[start..];
            // The command ends at a closing backtick, a comment, or a pipe.
            let end = command
                .find(['`', '#', '|', '>', '&', ')'])
                .unwrap_or(command.len());
            let words: Vec<&str> = command[..end].split_whitespace().collect();
            rest = &command["cargo run".len()..];
            let Some(bin) = words.iter().position(|w| *w == "--bin") else {
                continue;
            };
            let Some(name) = words.get(bin + 1) else {
                continue;
            };
            let args = match words.iter().position(|w| *w == "--") {
                Some(dash) => words[dash + 1..].iter().map(|w| w.to_string()).collect(),
                None => Vec::new(),
            };
            found.push((name.to_string(), args));
        }
    }
    found
}

/// `--help` of a program, run from the folder where cargo built it.
fn help(program: &str) -> String {
    let folder = Path::new(env!("CARGO_BIN_EXE_showcase"))
        .parent()
        .expect("a folder");
    // Bounded: a program that ignored --help and ran for ever must fail
    // this test, not hang it.
    let mut child = Command::new(folder.join(program))
        .arg("--help")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {program} --help: {error}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} --help did not exit within 10 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let output = child.wait_with_output().expect("the help text");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_command_names_a_real_program_and_real_flags() {
    let programs: BTreeSet<String> = programs().into_iter().collect();
    let documents = documents();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (document, text) in documents {
        for (name, args) in cargo_runs(&text) {
            checked += 1;
            if !programs.contains(&name) {
                problems.push(format!("{}: no program {name}", show(&document)));
                continue;
            }
            let help = help(&name);
            for flag in args.iter().filter(|arg| arg.starts_with('-')) {
                let flag = flag.split('=').next().unwrap_or_default();
                let listed = help
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .any(|word| word == flag);
                if !listed {
                    problems.push(format!("{}: {name} has no flag {flag}", show(&document)));
                }
            }
        }
    }
    assert!(checked > 0, "no cargo run command found at all");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_benchmark_command_names_a_real_benchmark() {
    let benches = targets("[[bench]]");
    let mut problems = Vec::new();
    for (document, text) in documents() {
        let mut rest = text.as_str();
        while let Some(at) = rest.find("cargo bench --bench ") {
            rest = &rest[at + "cargo bench --bench ".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if !benches.contains(&name) {
                problems.push(format!("{}: no benchmark {name}", show(&document)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Whether `text` mentions `name` as a program: `name` in backticks or
/// after `--bin `, not as part of a longer name.
fn mentions(text: &str, name: &str) -> bool {
    let quoted = format!("`{name}`");
    let after_bin = format!("--bin {name}");
    text.contains(&quoted)
        || text.match_indices(&after_bin).any(|(at, found)| {
            let next = text[at + found.len()..].chars().next();
            !next.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
}

#[test]
fn every_program_is_in_the_book_and_the_readme_map() {
    let book: String = chapters().into_iter().map(|(_, text)| text).collect();
    let readme = fs::read_to_string(root().join("README.md")).expect("README.md");
    let map: String = readme
        .lines()
        .filter(|line| line.trim_start().starts_with('|'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut problems = Vec::new();
    for name in programs() {
        if !mentions(&book, &name) {
            problems.push(format!("the book never mentions {name}"));
        }
        if !mentions(&map, &name) {
            problems.push(format!("the README's map has no row for {name}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checks_themselves_catch_what_they_should() {
    // An anchor pair gives its body without nested anchor lines.
    let source =
        "a\n// ANCHOR: outer\nb\n// ANCHOR: inner\nc\n// ANCHOR_END: inner\n// ANCHOR_END: outer\n";
    assert_eq!(anchored(source, "outer").as_deref(), Some("b\nc\n"));
    assert_eq!(anchored(source, "missing"), None);
    // Commands are cut at backticks and read up to their arguments.
    let runs = cargo_runs("Try `cargo run --bin slowpoetry -- --port 10000 poem.txt` now.");
    assert_eq!(
        runs,
        vec![(
            "slowpoetry".to_string(),
            vec!["--port".into(), "10000".into(), "poem.txt".into()]
        )]
    );
    assert!(mentions("run `get-poetry-1`", "get-poetry-1"));
    assert!(!mentions("run --bin get-poetry-1-broken", "get-poetry-1"));
    assert_eq!(
        links("see [a](b.md) and ![c](images/d.svg)"),
        vec!["b.md", "images/d.svg"]
    );
}
