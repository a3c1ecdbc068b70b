//! The book cannot drift from the code: mdBook alone renders a missing
//! anchor as an empty block and only logs a missing file, both with exit
//! code 0. These checks fail instead.
//!
//! - every `{{#include}}` names a file that exists, and every anchor
//!   resolves to non-empty text; Rust is included by anchor (a tests/ui
//!   compile-fail case whole, and the one file a page of "The source"
//!   appendix shows, whole), never by line;
//! - a Rust fence holds includes only: no pasted copies of code;
//! - every link and image points at a file that exists, every `#fragment`
//!   at a heading of its page, and no link from the book leaves book/src
//!   (`mdbook serve` serves nothing else: source files are linked through
//!   their pages in book/src/source/, each listed in SUMMARY.md);
//! - every `cargo run --bin X` in the book and the README names a real
//!   program and passes it only flags its `--help` lists (after a
//!   subcommand, `X SUB --help`: poetryd's services), and a picture it
//!   writes (`--timeline FILE`) goes under target/, not into the checkout;
//! - every program is in the book and in the README's map;
//! - prose never restates a transcript wrongly: a `file.rs:LINE` it names
//!   is in a transcript of its chapter, and a stack frame it names around a
//!   printed stack is in that stack (see `frame_problems`); a picture of a
//!   printed stack draws exactly its frames (see `picture_problems`);
//! - book/regenerate.sh runs every program with `RUST_BACKTRACE` unset, and
//!   every part the book or the README tells it to run alone (`part04`) is
//!   one of its functions.
//!
//! Standard library only, so that it says nothing a dependency could hide.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// Standard library only, like this file, and shared with tests/common.
#[path = "common/manifest.rs"]
mod manifest;

use manifest::{programs, targets};

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
            // A page of "The source" shows its one file whole, on purpose.
            let is_rust =
                file.ends_with(".rs") && !file.contains("tests/ui/") && !is_source_page(&chapter);
            let body = match &selector {
                None if is_rust => {
                    problems.push(format!(
                        "{}: {file} is Rust; include it by anchor (only a page \
                         under book/src/source/ shows a whole file)",
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

/// The folder of the book's pages: everything `mdbook serve` serves.
fn book_src() -> PathBuf {
    root().join("book/src")
}

/// Whether `page` is a page of the appendix "The source", which shows one
/// source file whole so that the chapters can link to it.
fn is_source_page(page: &Path) -> bool {
    page.parent() == Some(book_src().join("source").as_path())
        && page.file_name().is_some_and(|name| name != "index.md")
}

/// The ids mdBook gives the headings of a page: the heading's text without
/// its Markdown, lower-cased, spaces as `-`, other punctuation dropped; a
/// repeated id gets `-1`, `-2`, ...
fn heading_ids(text: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut in_fence = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_fence = !in_fence;
        }
        if in_fence || !is_heading(trimmed) {
            continue;
        }
        let id: String = trimmed
            .trim_start_matches('#')
            .trim()
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c.to_ascii_lowercase()),
                c if c.is_whitespace() => Some('-'),
                _ => None,
            })
            .collect();
        let mut unique = id.clone();
        let mut n = 1;
        while ids.contains(&unique) {
            unique = format!("{id}-{n}");
            n += 1;
        }
        ids.insert(unique);
    }
    ids
}

fn is_heading(line: &str) -> bool {
    line.starts_with('#') && line.trim_start_matches('#').starts_with(' ')
}

#[test]
fn every_link_and_image_resolves() {
    let documents = documents();
    let book = book_src().canonicalize().expect("book/src");
    let mut problems = Vec::new();
    for (document, text) in documents {
        for target in links(&text) {
            let (local, fragment) = match target.split_once('#') {
                Some((local, fragment)) => (local, Some(fragment)),
                None => (target.as_str(), None),
            };
            let external = ["http://", "https://", "mailto:"]
                .iter()
                .any(|s| target.starts_with(s));
            // An empty target in SUMMARY.md is a draft chapter.
            if external || target.is_empty() {
                continue;
            }
            let path = match local {
                "" => document.clone(),
                _ => document.parent().expect("a folder").join(local),
            };
            let Ok(resolved) = path.canonicalize() else {
                problems.push(format!("{}: broken link {target}", show(&document)));
                continue;
            };
            // `mdbook serve` serves book/src's output and nothing else: a
            // link from a page to a file outside it is a 404 there.
            if document.starts_with(book_src()) && !resolved.starts_with(&book) {
                problems.push(format!(
                    "{}: {target} leaves book/src, which mdbook serve does not serve; \
                     link to its page under book/src/source/ instead",
                    show(&document)
                ));
            }
            if let (Some(fragment), true) = (fragment, local.is_empty() || local.ends_with(".md")) {
                let page = fs::read_to_string(&resolved).unwrap_or_default();
                if !heading_ids(&page).contains(fragment) {
                    problems.push(format!(
                        "{}: {target}: no heading with the id {fragment}",
                        show(&document)
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_source_page_shows_one_whole_file_and_every_page_is_in_the_summary() {
    let summary = fs::read_to_string(book_src().join("SUMMARY.md")).expect("SUMMARY.md");
    let listed: BTreeSet<String> = links(&summary).into_iter().collect();
    let mut problems = Vec::new();
    let mut source_pages = 0;
    for (page, text) in chapters() {
        let relative = page
            .strip_prefix(book_src())
            .expect("under book/src")
            .display()
            .to_string();
        // mdBook renders only the pages SUMMARY.md lists; a link to any
        // other page is a 404. 404.md is that 404 page, which mdBook
        // renders by its name.
        if relative != "SUMMARY.md" && relative != "404.md" && !listed.contains(&relative) {
            problems.push(format!("{relative} is not listed in SUMMARY.md"));
        }
        if !is_source_page(&page) {
            continue;
        }
        source_pages += 1;
        let included = includes(&text);
        let [(file, None)] = included.as_slice() else {
            problems.push(format!(
                "{relative}: a source page includes exactly one whole file, not {included:?}"
            ));
            continue;
        };
        let shown = page
            .parent()
            .expect("a folder")
            .join(file)
            .canonicalize()
            .ok()
            .and_then(|path| {
                let root = root().canonicalize().ok()?;
                Some(path.strip_prefix(root).ok()?.display().to_string())
            })
            .unwrap_or_else(|| file.clone());
        let title = text
            .lines()
            .find(|line| is_heading(line))
            .unwrap_or_default();
        if !title.contains(&shown) {
            problems.push(format!(
                "{relative}: its title {title:?} does not name the file it shows, {shown}"
            ));
        }
    }
    assert!(source_pages > 0, "no page under book/src/source/");
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

/// `--help` of a program (or of its subcommand `sub`), run from the folder
/// where cargo built it.
fn help(program: &str, sub: Option<&str>) -> String {
    let folder = Path::new(env!("CARGO_BIN_EXE_showcase"))
        .parent()
        .expect("a folder");
    // Bounded: a program that ignored --help and ran for ever must fail
    // this test, not hang it.
    let mut child = Command::new(folder.join(program))
        .args(sub)
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

/// The subcommands a clap help lists: the first word of each entry (a
/// line indented by two spaces) under a heading other than `Options:` and
/// `Arguments:` (clap's `Commands:`, or poetryd's `Services:`).
fn subcommands(help: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut listing = false;
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            listing = !matches!(line, "Options:" | "Arguments:");
        } else if listing {
            let entry = line
                .strip_prefix("  ")
                .filter(|rest| !rest.starts_with(' '));
            if let Some(name) = entry.and_then(|rest| rest.split_whitespace().next()) {
                found.insert(name.to_string());
            }
        }
    }
    found
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
            // Flags before a subcommand are the program's, flags after it
            // the subcommand's (poetryd's runner options, then a service's).
            let mut help = help(&name, None);
            let mut command = name.clone();
            let mut in_sub = false;
            for arg in &args {
                if !arg.starts_with('-') {
                    if !in_sub && subcommands(&help).contains(arg) {
                        help = self::help(&name, Some(arg));
                        command = format!("{name} {arg}");
                        in_sub = true;
                    }
                    continue;
                }
                let flag = arg.split('=').next().unwrap_or_default();
                let listed = help
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .any(|word| word == flag);
                if !listed {
                    problems.push(format!("{}: {command} has no flag {flag}", show(&document)));
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
        for name in script_arguments(&text, "bash book/benchmarks.sh") {
            if !benches.contains(&name) {
                problems.push(format!(
                    "{}: `bash book/benchmarks.sh {name}`: no benchmark {name}",
                    show(&document)
                ));
            }
        }
    }
    // The script that runs them all knows every one, and only those.
    let script = fs::read_to_string(root().join("book/benchmarks.sh")).expect("benchmarks.sh");
    let listed: BTreeSet<String> = script
        .lines()
        .find_map(|line| line.strip_prefix("all=("))
        .and_then(|rest| rest.strip_suffix(')'))
        .expect("book/benchmarks.sh has a line all=(...)")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let benches: BTreeSet<String> = benches.into_iter().collect();
    if listed != benches {
        problems.push(format!(
            "book/benchmarks.sh runs {listed:?}, but Cargo.toml declares {benches:?}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The `--timeline FILE` arguments of the commands in a text that would
/// write a picture outside target/, into the reader's checkout.
fn timelines_outside_target(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (_, args) in cargo_runs(text) {
        for (at, arg) in args.iter().enumerate() {
            let file = match arg.strip_prefix("--timeline=") {
                Some(file) => Some(file),
                None if arg == "--timeline" => args.get(at + 1).map(String::as_str),
                None => None,
            };
            if let Some(file) = file.filter(|file| !file.starts_with("target/")) {
                found.push(file.to_string());
            }
        }
    }
    found
}

#[test]
fn every_picture_a_command_writes_goes_under_target() {
    let mut problems = Vec::new();
    for (document, text) in documents() {
        for file in timelines_outside_target(&text) {
            problems.push(format!(
                "{}: --timeline {file} writes into the checkout; use target/{file}",
                show(&document)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------
// Prose against transcripts.
// ---------------------------------------------------------------------------

/// A chapter cut at its boundaries: headings, and fenced blocks that
/// include files (listings and transcripts). Prose and boundaries
/// alternate, starting and ending with prose (which may be empty). Fenced
/// blocks without an include (commands to type) are neither.
#[derive(Debug)]
enum Piece {
    Prose(String),
    /// The files a fenced block includes; none for a heading.
    Boundary(Vec<String>),
}

fn pieces(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut prose = String::new();
    let mut fence: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            match fence.take() {
                None => fence = Some(String::new()),
                Some(body) => {
                    let files: Vec<String> = includes(&body).into_iter().map(|(f, _)| f).collect();
                    if !files.is_empty() {
                        pieces.push(Piece::Prose(std::mem::take(&mut prose)));
                        pieces.push(Piece::Boundary(files));
                    }
                }
            }
        } else if let Some(body) = &mut fence {
            body.push_str(line);
            body.push('\n');
        } else if is_heading(trimmed) {
            pieces.push(Piece::Prose(std::mem::take(&mut prose)));
            pieces.push(Piece::Boundary(Vec::new()));
        } else {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    pieces.push(Piece::Prose(prose));
    pieces
}

/// The prose of a text: every line outside fenced blocks, headings
/// included. (Includes live in fenced blocks.)
fn prose(text: &str) -> String {
    pieces(text)
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Prose(prose) => Some(prose),
            Piece::Boundary(_) => None,
        })
        .collect()
}

/// The source locations (`file.rs:LINE` or `file.rs:LINE:COL`) a text names.
fn locations(text: &str) -> Vec<String> {
    let is_path = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    let mut found = Vec::new();
    for (at, _) in text.match_indices(".rs:") {
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| is_path(c))
            .last()
            .map_or(at, |(i, _)| i);
        let after = &text[at + ".rs:".len()..];
        let line: String = after.chars().take_while(char::is_ascii_digit).collect();
        if start == at || line.is_empty() {
            continue;
        }
        let mut end = at + ".rs:".len() + line.len();
        let column: String = text[end..]
            .strip_prefix(':')
            .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect())
            .unwrap_or_default();
        if !column.is_empty() {
            end += 1 + column.len();
        }
        found.push(text[start..end].to_string());
    }
    found
}

/// Whether `transcript` shows `location`: the same file (a path may be
/// cut at a `/`), line and, if given, column.
fn shows_location(transcript: &str, location: &str) -> bool {
    transcript.match_indices(location).any(|(at, _)| {
        let before = transcript[..at].chars().next_back();
        let after = transcript[at + location.len()..].chars().next();
        before.is_none_or(|c| c == '/' || !(c.is_alphanumeric() || "_.-".contains(c)))
            && after.is_none_or(|c| !c.is_ascii_digit())
    })
}

/// The frames of a printed stack, innermost first: each line followed by an
/// `at FILE.rs:LINE:COL` line.
fn printed_frames(transcript: &str) -> Vec<String> {
    let lines: Vec<&str> = transcript.lines().collect();
    lines
        .windows(2)
        .filter(|pair| {
            let at = pair[1].trim_start();
            at.starts_with("at ") && at.contains(".rs:")
        })
        .map(|pair| pair[0].trim().to_string())
        .collect()
}

/// A path with its generic arguments (`Deferred<T>`) taken out.
fn without_generics(path: &str) -> String {
    let mut depth = 0;
    path.chars()
        .filter(|&c| {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => return depth == 0,
            }
            false
        })
        .collect()
}

/// The ways to read a frame as a path of names: `<A as B>::m` is both
/// `A::m` and `B::m`; generics and call arguments are dropped.
fn readings(frame: &str) -> Vec<Vec<String>> {
    let frame = frame.split('(').next().unwrap_or_default().trim();
    if let Some(inner) = frame.strip_prefix('<') {
        let mut depth = 1;
        let end = inner.char_indices().find_map(|(i, c)| {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(i)
        });
        if let Some(end) = end {
            let rest = inner[end + 1..].trim_start_matches("::");
            if let Some((ty, tr)) = inner[..end].split_once(" as ") {
                return [ty, tr]
                    .iter()
                    .flat_map(|path| readings(&format!("{path}::{rest}")))
                    .collect();
            }
        }
    }
    vec![without_generics(frame)
        .split("::")
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()]
}

/// Whether the frame a text names is the printed frame `printed`: one
/// reading of it is a run of names in one reading of `printed`, so that
/// `Reactor::catching` is `mini_twisted::reactor::Reactor::catching` and
/// `ReadDescriptor::do_read` is
/// `<mini_twisted::tcp::Connection as mini_twisted::reactor::ReadDescriptor>::do_read`.
fn is_frame(named: &str, printed: &str) -> bool {
    let printed = readings(printed);
    readings(named).iter().any(|named| {
        !named.is_empty()
            && printed.iter().any(|printed| {
                printed
                    .windows(named.len())
                    .any(|run| run == named.as_slice())
            })
    })
}

/// Whether a backticked name reads as a frame on its own: a path with
/// `::` whose last name is a function or a closure (`Reactor::catching`,
/// `defer::run`), not a type (`std::backtrace::Backtrace`).
fn looks_like_a_frame(name: &str) -> bool {
    let path = name.split('(').next().unwrap_or_default();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_:<>{} ".contains(c);
    let spaced = path.contains(' ') && !(path.starts_with('<') && path.contains(" as "));
    if !path.contains("::") || !path.chars().all(allowed) || spaced {
        return false;
    }
    readings(path)
        .first()
        .and_then(|names| names.last().cloned())
        .is_some_and(|last| {
            last == "{{closure}}" || last.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        })
}

/// A text cut into sentences, each ending at `.`, `?` or `!` before a
/// space or a line end, or at a blank line; never inside backticks.
fn sentences(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current = String::new();
    let mut in_code = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        let next = chars.peek().copied();
        let paragraph_ends = c == '\n' && next == Some('\n');
        if c == '`' {
            in_code = !in_code;
        }
        let sentence_ends = !in_code && "?!.".contains(c) && next.is_none_or(char::is_whitespace);
        if paragraph_ends || sentence_ends {
            in_code = false;
            found.push(std::mem::take(&mut current));
        }
    }
    found.push(current);
    found.retain(|sentence| !sentence.trim().is_empty());
    found
}

/// The frames a sentence names, as chains: `a` → `b` (or `a → b` in one
/// pair of backticks) says that `a` calls `b`, and every name in it is a
/// frame; a lone backticked name is a chain of one if it looks like a
/// frame.
fn named_chains(sentence: &str) -> Vec<Vec<String>> {
    let mut spans = Vec::new();
    let mut rest = sentence;
    let mut offset = 0;
    while let Some(open) = rest.find('`') {
        let Some(close) = rest[open + 1..].find('`') else {
            break;
        };
        let start = offset + open;
        let end = start + close + 2;
        spans.push((start, end, &sentence[start + 1..end - 1]));
        offset = end;
        rest = &sentence[end..];
    }
    let mut chains: Vec<Vec<String>> = Vec::new();
    let mut previous_end = None;
    for (start, end, code) in spans {
        let names: Vec<String> = code.split('→').map(|n| n.trim().to_string()).collect();
        let joined = previous_end.is_some_and(|e: usize| sentence[e..start].trim() == "→");
        match chains.last_mut() {
            Some(chain) if joined => chain.extend(names),
            _ => chains.push(names),
        }
        previous_end = Some(end);
    }
    chains.retain(|chain| chain.len() > 1 || looks_like_a_frame(&chain[0]));
    chains
}

/// The words that excuse a sentence for naming a frame its stack does not
/// show: it says so.
const NOT_SHOWN: [&str; 2] = ["not shown", "not on the stack"];

/// What the prose of a chapter gets wrong about the stacks it shows.
///
/// A transcript that prints a stack (`printed_frames` finds frames in it)
/// is *described* by the prose around its include: from the previous
/// heading or include to the next one, before and after it (pictures and
/// commands to type do not end the prose). In that prose, every frame a
/// sentence names must be a frame of the stack, and in a chain `a` → `b`,
/// `b` must sit above `a` (the stack prints the innermost call first).
/// A frame is a chain of backticked names joined by `→`, or a lone
/// backticked path with `::` ending in a function (see
/// `looks_like_a_frame`); `is_frame` says when a name is a printed frame.
/// The escape: a sentence that says a frame is "not shown" or "not on the
/// stack" may name it (Part 5 says so of `mio::Poll::poll`); the reader
/// sees the escape, so it cannot hide a drift. Prose further away is not
/// checked, so a path named in a section with no stack is just a name.
///
/// `read` gives the text of an included file, by its include path.
fn frame_problems(text: &str, read: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let pieces = pieces(text);
    let mut problems = Vec::new();
    for (at, piece) in pieces.iter().enumerate() {
        let Piece::Boundary(files) = piece else {
            continue;
        };
        for file in files {
            let frames = read(file).map(|t| printed_frames(&t)).unwrap_or_default();
            if frames.is_empty() {
                continue;
            }
            let around = [at.checked_sub(1), Some(at + 1)];
            for prose in around
                .into_iter()
                .flatten()
                .filter_map(|i| match pieces.get(i) {
                    Some(Piece::Prose(prose)) => Some(prose),
                    _ => None,
                })
            {
                for sentence in sentences(prose) {
                    let lower = sentence.to_lowercase();
                    if NOT_SHOWN.iter().any(|words| lower.contains(words)) {
                        continue;
                    }
                    for chain in named_chains(&sentence) {
                        let found: Vec<Vec<usize>> = chain
                            .iter()
                            .map(|name| {
                                (0..frames.len())
                                    .filter(|&i| is_frame(name, &frames[i]))
                                    .collect()
                            })
                            .collect();
                        for (name, places) in chain.iter().zip(&found) {
                            if places.is_empty() {
                                problems.push(format!(
                                    "names the frame `{name}`, which {file} does not show \
                                     (say \"not shown\" in the sentence if that is the point)"
                                ));
                            }
                        }
                        for (pair, places) in chain.windows(2).zip(found.windows(2)) {
                            let (caller, callee) = (&places[0], &places[1]);
                            let in_order = callee.iter().any(|b| caller.iter().any(|a| b < a));
                            if !caller.is_empty() && !callee.is_empty() && !in_order {
                                problems.push(format!(
                                    "says `{}` → `{}`, but in {file} `{}` is not above `{}`",
                                    pair[0], pair[1], pair[1], pair[0]
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    problems
}

/// The source locations the prose of a chapter names (outside fenced
/// blocks, so not in listings or transcripts) that none of the chapter's
/// transcripts (the files it includes that are not Rust) show. A line
/// number in a sentence goes stale when the code moves; this makes the
/// regenerated transcript say so.
fn location_problems(text: &str, read: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let transcripts: Vec<String> = includes(text)
        .into_iter()
        .filter(|(file, _)| !file.ends_with(".rs"))
        .filter_map(|(file, _)| read(&file))
        .collect();
    locations(&prose(text))
        .into_iter()
        .filter(|location| !transcripts.iter().any(|t| shows_location(t, location)))
        .map(|location| format!("names {location}, which no transcript of this chapter shows"))
        .collect()
}

#[test]
fn prose_names_only_locations_and_frames_its_transcripts_show() {
    let mut problems = Vec::new();
    for (chapter, text) in chapters() {
        let folder = chapter.parent().expect("a folder").to_path_buf();
        let read = |file: &str| fs::read_to_string(folder.join(file)).ok();
        for problem in location_problems(&text, &read)
            .into_iter()
            .chain(frame_problems(&text, &read))
        {
            problems.push(format!("{}: {problem}", show(&chapter)));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The text of each `<text>` element of an SVG with the given attribute,
/// with its `y`, markup inside it removed and entities decoded.
fn svg_texts(svg: &str, attribute: &str) -> Vec<(f64, String)> {
    let mut found = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text") {
        let after = &rest[start..];
        let (Some(open_end), Some(close)) = (after.find('>'), after.find("</text>")) else {
            break;
        };
        let attributes = &after[..open_end];
        if attributes.contains(attribute) {
            let y = attributes
                .split(" y=\"")
                .nth(1)
                .and_then(|v| v.split('"').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            let mut text = String::new();
            let mut in_tag = false;
            for c in after[open_end + 1..close].chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            let decoded = text
                .replace("&#123;", "{")
                .replace("&#125;", "}")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&amp;", "&");
            found.push((y, decoded));
        }
        rest = &after[close..];
    }
    found
}

/// What a picture of a printed stack gets wrong. A picture that says
/// `<!-- stack: TRANSCRIPT -->` (a path under book/src) draws that stack:
/// its monospace texts, from top to bottom, must be the transcript's
/// frames, innermost first, none left out and none added.
fn picture_problems(svg: &str, read: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let Some(declared) = svg.split("<!-- stack: ").nth(1) else {
        return Vec::new();
    };
    let transcript = declared.split_whitespace().next().unwrap_or_default();
    let Some(text) = read(transcript) else {
        return vec![format!("no transcript {transcript}")];
    };
    let mut drawn = svg_texts(svg, "font-family=\"monospace\"");
    drawn.sort_by(|a, b| a.0.total_cmp(&b.0));
    let drawn: Vec<String> = drawn.into_iter().map(|(_, text)| text).collect();
    let printed = printed_frames(&text);
    if drawn == printed {
        Vec::new()
    } else {
        vec![format!(
            "draws the frames {drawn:?}, but {transcript} prints {printed:?}"
        )]
    }
}

#[test]
fn every_picture_of_a_stack_draws_the_printed_stack() {
    let mut problems = Vec::new();
    let mut pictures = 0;
    let mut folders = vec![book_src().join("images")];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).expect("images are readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "svg") {
                continue;
            }
            let svg = fs::read_to_string(&path).expect("an SVG is UTF-8");
            pictures += usize::from(svg.contains("<!-- stack: "));
            let read = |file: &str| fs::read_to_string(book_src().join(file)).ok();
            for problem in picture_problems(&svg, &read) {
                problems.push(format!("{}: {problem}", show(&path)));
            }
        }
    }
    assert!(pictures > 0, "no picture declares the stack it draws");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn regenerating_the_transcripts_does_not_depend_on_rust_backtrace() {
    // With RUST_BACKTRACE set, panic reports and failures print
    // backtraces, and the transcripts would depend on who ran the script.
    let script = fs::read_to_string(root().join("book/regenerate.sh")).expect("regenerate.sh");
    let unset = script
        .lines()
        .position(|line| line.trim() == "unset RUST_BACKTRACE RUST_LIB_BACKTRACE");
    let first_run = script.lines().position(|line| line.contains("\"$bin/"));
    assert!(
        unset.is_some() && unset < first_run,
        "book/regenerate.sh must unset RUST_BACKTRACE RUST_LIB_BACKTRACE before it runs a program"
    );
}

/// The parts book/regenerate.sh can run alone: its functions `partNN() {`.
fn regenerate_parts(script: &str) -> BTreeSet<String> {
    script
        .lines()
        .filter_map(|line| line.strip_suffix("() {"))
        .filter(|name| {
            name.strip_prefix("part")
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_string)
        .collect()
}

/// The arguments of each `bash book/regenerate.sh ...` in `text`: the
/// words after it, up to the end of its code span, line or clause.
fn regenerate_arguments(text: &str) -> Vec<String> {
    script_arguments(text, "bash book/regenerate.sh")
}

/// The arguments of each `command ...` in `text`, read as
/// [`regenerate_arguments`] reads them.
fn script_arguments(text: &str, command: &str) -> Vec<String> {
    text.match_indices(command)
        .flat_map(|(at, _)| {
            let rest = &text[at + command.len()..];
            let end = rest.find(['`', ':', ')', ',', '\n']).unwrap_or(rest.len());
            rest[..end]
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_part_named_for_regenerate_sh_is_one_it_runs() {
    let script = fs::read_to_string(root().join("book/regenerate.sh")).expect("regenerate.sh");
    let parts = regenerate_parts(&script);
    assert!(
        parts.len() > 10,
        "book/regenerate.sh has no partNN functions"
    );
    let readme = fs::read_to_string(root().join("README.md")).expect("README.md");
    let mut problems = Vec::new();
    for (file, text) in chapters()
        .into_iter()
        .chain([(root().join("README.md"), readme)])
    {
        for argument in regenerate_arguments(&text) {
            if !parts.contains(&argument) {
                problems.push(format!(
                    "{}: `bash book/regenerate.sh {argument}`: the script has no such part",
                    show(&file)
                ));
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
    // A help's subcommands are its entries outside Options and Arguments.
    let help = "About it.\n\nUsage: p [OPTIONS] <SERVICE>\n\nServices:\n  fast  A service.\n  \
                slow  Another,\n        wrapped.\n\nArguments:\n  <PORT>  A port\n\n\
                Options:\n  -n, --nodaemon  Stay\n";
    assert_eq!(
        subcommands(help).into_iter().collect::<Vec<_>>(),
        ["fast", "slow"]
    );
    assert!(mentions("run `get-poetry-1`", "get-poetry-1"));
    assert!(!mentions("run --bin get-poetry-1-broken", "get-poetry-1"));
    assert_eq!(
        links("see [a](b.md) and ![c](images/d.svg)"),
        vec!["b.md", "images/d.svg"]
    );
    assert!(heading_ids("## Who calls whom: `stack`\n").contains("who-calls-whom-stack"));
    assert!(is_source_page(&book_src().join("source/slowpoetry.md")));
    assert!(!is_source_page(&book_src().join("source/index.md")));
    assert!(!is_source_page(&book_src().join("part02-slow-poetry.md")));

    // A picture a command writes goes under target/.
    assert_eq!(
        timelines_outside_target("`cargo run --bin get-poetry-1 -- --timeline a.svg 10000`"),
        vec!["a.svg"]
    );
    assert!(timelines_outside_target(
        "cargo run --bin get-poetry-1 -- --timeline target/a.svg --timeline-seconds 11 10000"
    )
    .is_empty());

    // Prose against a transcript: a chapter that shows this stack, then
    // says something about it.
    let stack = "\
The Rust stack:
  a::tcp::Connection::finish
      at ./src/tcp.rs:353:21
  <a::tcp::Connection as a::reactor::FileDescriptor>::connection_lost
      at ./src/tcp.rs:571:14
  a::reactor::Reactor::dispatch
      at ./src/reactor.rs:630:26
panicked at chapters/part03/exception.rs:22:5
";
    let read = |file: &str| (file == "t.txt").then(|| stack.to_string());
    let chapter = |prose: &str| {
        "## One\n\n```text\n{{#include t.txt}}\n```\n\n".to_string()
            + prose
            + "\n\n## Two\n\nElsewhere `Poll::poll` and `main → handler` are not about it.\n"
    };
    let frames = |prose: &str| frame_problems(&chapter(prose), &read);
    // The drifts this check was written for: a call that is not on the
    // printed stack, and a frame left out of it.
    assert_eq!(frames("Then `dispatch` calls `do_read → finish`.").len(), 1);
    assert_eq!(frames("It went through `Reactor::catching`.").len(), 1);
    assert_eq!(
        frames("`Connection::finish` → `Reactor::dispatch`.").len(),
        1,
        "order"
    );
    // What it does not flag: frames that are there, in the right order,
    // a type, a frame said to be missing, and other sections.
    assert!(frames(
        "`Reactor::dispatch` → `FileDescriptor::connection_lost` → `Connection::finish`."
    )
    .is_empty());
    assert!(frames("`dispatch → connection_lost`, and `std::backtrace::Backtrace`.").is_empty());
    assert!(frames(
        "`Reactor::catching` is not shown. Nor is `mio::Poll::poll`: it is not on the stack."
    )
    .is_empty());
    // Source locations must be in a transcript of the chapter.
    let places = |prose: &str| location_problems(&chapter(prose), &read);
    assert_eq!(
        places("It panics at `chapters/part03/exception.rs:16:5`.").len(),
        1
    );
    assert_eq!(
        places("It panics at `exception.rs:2`, or `ception.rs:22`.").len(),
        2
    );
    assert!(places("At `exception.rs:22:5`, that is `exception.rs:22`.").is_empty());

    // A picture of the stack draws exactly its frames, top to bottom.
    let picture = |frames: &[&str]| {
        let texts: String = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                format!(
                    "<text y=\"{}\" font-family=\"monospace\">{f}</text>\n",
                    10 * i
                )
            })
            .collect();
        format!("<svg>\n<!-- stack: t.txt -->\n{texts}<text y=\"5\">a note</text>\n</svg>")
    };
    let drawn = [
        "a::tcp::Connection::finish",
        "&lt;a::tcp::Connection as a::reactor::FileDescriptor&gt;::connection_lost",
        "a::reactor::Reactor::dispatch",
    ];
    assert!(picture_problems(&picture(&drawn), &read).is_empty());
    assert_eq!(picture_problems(&picture(&drawn[1..]), &read).len(), 1);
    assert!(picture_problems("<svg><text>no stack here</text></svg>", &read).is_empty());
}

/// Each program of Cargo.toml with the group that declares it: the number
/// of its `# Part N:` comment, or `1–2` (the showcase), `yardsticks`
/// (the tokio peers) or `tools`.
fn program_groups(manifest: &str) -> Vec<(String, String)> {
    let mut group = String::new();
    let mut in_bin = false;
    let mut found = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("# Part ") {
            group = rest.chars().take_while(char::is_ascii_digit).collect();
        } else if line.starts_with("# The showcase") {
            group = "1–2".to_string();
        } else if line.starts_with("# The benchmarks' yardsticks") {
            group = "yardsticks".to_string();
        } else if line.starts_with("# Tools") {
            group = "tools".to_string();
        } else if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let (true, Some(name)) = (in_bin, manifest::name_of(line)) {
            found.push((name, group.clone()));
        }
    }
    found
}

/// The rows of the map in a chapter's section `heading`: the first
/// column's text (a link's text, when it is a link) and every name in
/// backticks in the second.
fn map_rows(text: &str, heading: &str) -> Vec<(String, Vec<String>)> {
    let text = format!("\n{text}");
    let section = text
        .split("\n## ")
        .find(|section| section.starts_with(heading))
        .unwrap_or_default();
    section
        .lines()
        .filter(|line| line.starts_with('|') && !line.starts_with("|---"))
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let part = cells[0].trim_start_matches('[');
            let part = part.split(']').next().unwrap_or_default().to_string();
            let names = cells
                .get(1)
                .unwrap_or(&"")
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            (part, names)
        })
        .collect()
}

/// What is wrong with a map: a program listed twice, under the wrong
/// part, or not declared at all; a declared program missing.
fn map_problems(rows: &[(String, Vec<String>)], declared: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for (part, names) in rows {
        for name in names {
            if !listed.insert(name.clone()) {
                problems.push(format!("{name} is listed twice"));
            }
            match declared.iter().find(|(declared, _)| declared == name) {
                None => problems.push(format!("{name} is no [[bin]] of Cargo.toml")),
                Some((_, group)) if group != part => problems.push(format!(
                    "{name} is listed under {part}, but Cargo.toml declares it under {group}"
                )),
                Some(_) => {}
            }
        }
    }
    for (name, _) in declared {
        if !listed.contains(name) {
            problems.push(format!("{name} is missing"));
        }
    }
    problems
}

#[test]
fn the_last_chapter_maps_every_program_to_its_part() {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let declared = program_groups(&manifest);
    assert_eq!(declared.len(), programs().len(), "a [[bin]] with no name?");
    let chapter = fs::read_to_string(book_src().join("part22-the-end.md")).expect("chapter 22");
    let rows = map_rows(&chapter, "Every program, by part");
    assert!(rows.len() > 20, "the map has only {} rows", rows.len());
    let problems = map_problems(&rows, &declared);
    assert!(
        problems.is_empty(),
        "book/src/part22-the-end.md, \"Every program, by part\":\n{}",
        problems.join("\n")
    );

    // The check itself catches each kind of mistake.
    let declared = [
        ("a".to_string(), "2".to_string()),
        ("b".to_string(), "3".to_string()),
    ];
    let map = "## Every program, by part\n\n| part | programs |\n|---|---|\n\
               | [2](x.md) | `a`, `c` |\n| 4 | `b`, `a` |\n";
    let rows = map_rows(map, "Every program, by part");
    assert_eq!(
        map_problems(&rows, &declared),
        [
            "c is no [[bin]] of Cargo.toml",
            "b is listed under 4, but Cargo.toml declares it under 3",
            "a is listed twice",
            "a is listed under 4, but Cargo.toml declares it under 2",
        ]
    );
}
