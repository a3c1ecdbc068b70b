//! Part 21: the lazy clients against real slow servers.
//!
//! - `get-poetry-lazy`: a `Task N: got LEN bytes of poetry from HOST:PORT`
//!   line for every line of each poem, in order, LEN the line's bytes plus
//!   one (computed here from the poem file); each poem printed whole, after
//!   its last line and while a slower poem is still coming; its lines are
//!   printed while the poem streams; a server that refuses stops the run
//!   before any poem is read; a reset fails that task only.
//! - `get-poetry-lazy-ordered`: the poems exactly, in argument order, even
//!   when a later server is faster; the first poem streams line by line; a
//!   server that refuses or resets is reported on stderr and the next poem
//!   follows, status 1.
//! - Both: a poem that is not UTF-8 and has no last newline; bad arguments.

mod common;

use std::process::Output;

use assert_cmd::cargo::cargo_bin;
use common::{dead_port, lines, scratch, Background, ResetServer, SlowServer, LIMIT};

const ECSTASY: &str = "poetry/ecstasy.txt";
const FASCINATION: &str = "poetry/fascination.txt";
const SCIENCE: &str = "poetry/science.txt";

fn run(name: &str, args: &[String]) -> Output {
    assert_cmd::Command::new(common::program(name))
        .args(args)
        .timeout(LIMIT)
        .output()
        .unwrap()
}

fn ports(servers: &[&SlowServer]) -> Vec<String> {
    servers
        .iter()
        .map(|server| server.port.to_string())
        .collect()
}

fn read(poem: &str) -> Vec<u8> {
    std::fs::read(poem).expect("the poem exists")
}

/// The lines a `BufRead::split(b'\n')` gives for `poem`: no empty line
/// after a last newline.
fn poem_lines(poem: &[u8]) -> Vec<&[u8]> {
    let mut pieces: Vec<&[u8]> = poem.split(|&byte| byte == b'\n').collect();
    if pieces.last().is_some_and(|last| last.is_empty()) {
        pieces.pop();
    }
    pieces
}

/// What the clients print for a poem: every line with a newline, then the
/// blank line that ends it.
fn printed(poem: &[u8]) -> String {
    let mut text = String::new();
    for line in poem_lines(poem) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push('\n');
    text
}

/// The counts `get-poetry-lazy` printed for task `task` from `port`.
fn counts(out: &[String], task: usize, port: u16) -> Vec<usize> {
    let prefix = format!("Task {task}: got ");
    let suffix = format!(" bytes of poetry from 127.0.0.1:{port}");
    out.iter()
        .filter_map(|line| line.strip_prefix(&prefix)?.strip_suffix(&suffix))
        .map(|count| count.parse().expect("a count"))
        .collect()
}

fn expected_counts(poem: &[u8]) -> Vec<usize> {
    poem_lines(poem).iter().map(|line| line.len() + 1).collect()
}

// ---------------------------------------------------------------------------
// get-poetry-lazy
// ---------------------------------------------------------------------------

#[test]
fn lazy_reports_every_line_and_prints_each_poem_when_it_is_complete() {
    // The long poem slowly (a hundred sends), the short ones quickly.
    let slow = SlowServer::quick(ECSTASY, 30);
    let fascination = SlowServer::quick(FASCINATION, 100);
    let science = SlowServer::quick(SCIENCE, 100);
    let servers = [&slow, &fascination, &science];
    let output = run("get-poetry-lazy", &ports(&servers));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let out = lines(&output.stdout);

    for (i, (server, poem)) in servers
        .iter()
        .zip([ECSTASY, FASCINATION, SCIENCE])
        .enumerate()
    {
        let task = i + 1;
        let poem = read(poem);
        // A line per line of the poem, in order, each its bytes plus one.
        assert_eq!(
            counts(&out, task, server.port),
            expected_counts(&poem),
            "task {task}"
        );
        // The poem, whole, once, after its task's last line.
        let text = printed(&poem);
        assert_eq!(stdout.matches(&text).count(), 1, "task {task}: {stdout}");
        let poem_at = stdout.find(&text).unwrap();
        let last_line_at = stdout.rfind(&format!("Task {task}: got ")).expect("a line");
        assert!(last_line_at < poem_at, "task {task}: {stdout}");
    }

    // The short poems are printed while the long one is still coming:
    // each thread prints its poem when that poem is complete.
    let slow_last_line = stdout.rfind("Task 1: got ").unwrap();
    for poem in [FASCINATION, SCIENCE] {
        let at = stdout.find(&printed(&read(poem))).unwrap();
        assert!(at < slow_last_line, "{poem} waited for the long poem");
    }
}

#[test]
fn lazy_reports_lines_while_the_poem_streams() {
    // Ten bytes every 0.2 s: the whole poem would take over ten seconds.
    let server = SlowServer::start(&["--delay", "0.2", "--num-bytes", "10", SCIENCE]);
    let program = cargo_bin!("get-poetry-lazy");
    let mut client = Background::start(program, &[&server.port.to_string()]);
    let first = client.next_line();
    assert_eq!(
        first,
        format!(
            "Task 1: got 11 bytes of poetry from 127.0.0.1:{}",
            server.port
        )
    );
    assert!(client.is_running(), "the poem is not over yet");
}

#[test]
fn lazy_stops_before_any_poem_when_a_server_refuses() {
    let first = SlowServer::quick(SCIENCE, 100);
    let third = SlowServer::quick(FASCINATION, 100);
    let dead = dead_port();
    let args = [
        first.port.to_string(),
        dead.to_string(),
        third.port.to_string(),
    ];
    let output = run("get-poetry-lazy", &args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stderr.starts_with(&format!("Task 2: failed to connect to 127.0.0.1:{dead}: ")),
        "{stderr}"
    );
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(stderr.contains("No poem was read"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.stdout.is_empty(), "{output:?}");
}

#[test]
fn lazy_fails_only_the_task_whose_connection_is_reset() {
    let reset = ResetServer::start(ECSTASY);
    let whole = SlowServer::quick(SCIENCE, 100);
    let args = [reset.port.to_string(), whole.port.to_string()];
    let output = run("get-poetry-lazy", &args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let out = lines(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let failed = format!(
        "Task 1: failed to get poetry from 127.0.0.1:{}: ",
        reset.port
    );
    assert!(stderr.starts_with(&failed), "{stderr}");
    assert!(stderr.contains("Connection reset by peer"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Task 1 reported the whole lines of the half it got, and printed no
    // poem; task 2 got its poem.
    let cut = read(ECSTASY);
    let half = &cut[..reset.half];
    let whole_lines = &half[..=half.iter().rposition(|&b| b == b'\n').unwrap()];
    assert_eq!(
        counts(&out, 1, reset.port),
        expected_counts(whole_lines),
        "{stdout}"
    );
    let first_line = String::from_utf8_lossy(poem_lines(&cut)[0]);
    assert!(!stdout.contains(&*first_line), "{stdout}");
    assert!(stdout.contains(&printed(&read(SCIENCE))), "{stdout}");
}

// ---------------------------------------------------------------------------
// get-poetry-lazy-ordered
// ---------------------------------------------------------------------------

#[test]
fn ordered_prints_the_poems_in_argument_order_even_when_a_later_one_is_faster() {
    // The first poem takes a hundred sends; the other two come at once.
    let slow = SlowServer::quick(ECSTASY, 30);
    let fascination = SlowServer::quick(FASCINATION, 1000);
    let science = SlowServer::quick(SCIENCE, 1000);
    let output = run(
        "get-poetry-lazy-ordered",
        &ports(&[&slow, &science, &fascination]),
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    let expected: String = [ECSTASY, SCIENCE, FASCINATION]
        .iter()
        .map(|poem| printed(&read(poem)))
        .collect();
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}

#[test]
fn ordered_streams_the_first_poem_line_by_line() {
    // Ten bytes every 0.2 s: the whole poem would take over ten seconds.
    let server = SlowServer::start(&["--delay", "0.2", "--num-bytes", "10", SCIENCE]);
    let program = cargo_bin!("get-poetry-lazy-ordered");
    let mut client = Background::start(program, &[&server.port.to_string()]);
    assert_eq!(client.next_line(), "To Science");
    assert!(client.is_running(), "the poem is not over yet");
}

#[test]
fn ordered_reports_a_refused_server_and_prints_the_others() {
    let first = SlowServer::quick(SCIENCE, 100);
    let third = SlowServer::quick(FASCINATION, 100);
    let dead = dead_port();
    for (args, poems) in [
        (
            [
                first.port.to_string(),
                dead.to_string(),
                third.port.to_string(),
            ],
            [SCIENCE, FASCINATION],
        ),
        (
            [
                dead.to_string(),
                first.port.to_string(),
                third.port.to_string(),
            ],
            [SCIENCE, FASCINATION],
        ),
    ] {
        let output = run("get-poetry-lazy-ordered", &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        assert_eq!(
            stderr.lines().collect::<Vec<_>>(),
            [format!(
                "Failed to connect to 127.0.0.1:{dead}: Connection refused (os error 111)"
            )],
        );
        let expected: String = poems.iter().map(|poem| printed(&read(poem))).collect();
        assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
    }
}

#[test]
fn ordered_shows_what_came_before_a_reset_and_goes_on() {
    let reset = ResetServer::start(ECSTASY);
    let whole = SlowServer::quick(SCIENCE, 100);
    let args = [reset.port.to_string(), whole.port.to_string()];
    let output = run("get-poetry-lazy-ordered", &args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let warning = format!("The poem from 127.0.0.1:{} may be incomplete: ", reset.port);
    assert!(stderr.starts_with(&warning), "{stderr}");
    assert!(stderr.contains("Connection reset by peer"), "{stderr}");

    // The whole lines of the half that came, then the next poem.
    let cut = read(ECSTASY);
    let half = &cut[..reset.half];
    let whole_lines = &half[..=half.iter().rposition(|&b| b == b'\n').unwrap()];
    let mut expected = String::from_utf8_lossy(whole_lines).into_owned();
    expected.push_str(&printed(&read(SCIENCE)));
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}

// ---------------------------------------------------------------------------
// Both
// ---------------------------------------------------------------------------

#[test]
fn a_poem_that_is_not_utf8_and_has_no_last_newline() {
    let folder = scratch("part21-not-utf8");
    let poem = folder.join("latin1.txt");
    // "café au lait" in Latin-1 (0xE9 is no UTF-8), and a last line with
    // no newline after it.
    let bytes = b"caf\xe9 au lait\nlast line".to_vec();
    std::fs::write(&poem, &bytes).unwrap();
    let server = SlowServer::quick(&poem.to_string_lossy(), 5);
    let port = server.port;
    let shown = "caf\u{FFFD} au lait\nlast line\n\n";

    let output = run("get-poetry-lazy", &[port.to_string()]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let out = lines(&output.stdout);
    // 12 bytes and a newline; 9 bytes and the newline that never came.
    assert_eq!(counts(&out, 1, port), [13, 10]);
    assert!(String::from_utf8_lossy(&output.stdout).ends_with(shown));

    let output = run("get-poetry-lazy-ordered", &[port.to_string()]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), shown);
}

#[test]
fn bad_arguments_are_usage_errors() {
    for name in ["get-poetry-lazy", "get-poetry-lazy-ordered"] {
        // No address: nothing to do is a mistake, said with the usage.
        let output = run(name, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {output:?}");
        assert!(stderr.contains("Usage:"), "{name}: {stderr}");
        assert!(stderr.contains("[HOST:]PORT"), "{name}: {stderr}");

        let output = run(name, &["ten".to_string()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {output:?}");
        assert!(
            stderr.contains("Ports must be integers"),
            "{name}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{name}");

        let output = run(name, &["--help".to_string()]);
        let help = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{name}");
        assert!(
            help.contains("Exits with status 1 if any poem"),
            "{name}: {help}"
        );
        assert!(help.contains("[HOST:]PORT"), "{name}: {help}");
    }
}
