//! Part 20: the Erlang client in Rust, `get-poetry-actors`, against real
//! slow servers.
//!
//! - A line per chunk, `Task N: got LEN bytes of poetry from
//!   127.0.0.1:PORT`, whose lengths add up to each poem; the tasks
//!   interleave, each on its own thread.
//! - The poems, whole, after the last chunk line, in reverse completion
//!   order. The servers' speeds make the completion order certain: task 1
//!   ends first, task 3 last, with a third of a second or more between.
//! - A server that is down crashes its worker only: a one-line report on
//!   stderr, the other poems printed, exit status 0, as the original.
//! - A server that resets the connection in mid-poem crashes its worker
//!   too: the half poem is not printed as a poem.
//! - Bad arguments: a usage error (2); no server: the usage and 1.

mod common;

use std::process::Output;

use assert_cmd::cargo::cargo_bin_cmd;
use common::{dead_port, lines, poem_size, ResetServer, SlowServer, LIMIT};

fn run(args: &[String]) -> Output {
    cargo_bin_cmd!("get-poetry-actors")
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .timeout(LIMIT)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Three servers that finish far apart, in this order: the short poem in
/// 7 large sends, then 21 sends of a poem of the same size, then the long
/// poem in 100 sends.
fn servers_by_speed() -> Vec<(SlowServer, &'static str)> {
    let start = |poem: &'static str, delay: &str, bytes: &str| {
        let server = SlowServer::start(&["--delay", delay, "--num-bytes", bytes, poem]);
        (server, poem)
    };
    vec![
        start("poetry/science.txt", "0.01", "100"),
        start("poetry/fascination.txt", "0.02", "30"),
        start("poetry/ecstasy.txt", "0.01", "30"),
    ]
}

/// The chunk lengths reported for `task` from `port`.
fn chunks(lines: &[String], task: usize, port: u16) -> Vec<usize> {
    let prefix = format!("Task {task}: got ");
    let suffix = format!(" bytes of poetry from 127.0.0.1:{port}");
    lines
        .iter()
        .filter_map(|line| {
            line.strip_prefix(&prefix)?
                .strip_suffix(&suffix)?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn chunk_lines_then_the_poems_last_finished_first() {
    let servers = servers_by_speed();
    let args: Vec<String> = servers.iter().map(|(s, _)| s.port.to_string()).collect();
    let output = run(&args);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(text(&output.stderr), "");
    let stdout = text(&output.stdout);
    let lines = lines(&output.stdout);

    // Every chunk is reported, and they add up to each poem.
    for (i, (server, poem)) in servers.iter().enumerate() {
        let sizes = chunks(&lines, i + 1, server.port);
        assert_eq!(
            sizes.iter().sum::<usize>(),
            poem_size(poem),
            "task {}",
            i + 1
        );
    }
    // The chunk lines all come first, and task 3 is heard from before
    // task 1 is done: the workers run at the same time.
    let is_chunk = |line: &String| line.starts_with("Task ");
    let last_chunk = lines.iter().rposition(is_chunk).unwrap();
    assert!(lines[..=last_chunk].iter().all(is_chunk), "{stdout}");
    let first_of_3 = lines.iter().position(|l| l.starts_with("Task 3:")).unwrap();
    let last_of_1 = lines
        .iter()
        .rposition(|l| l.starts_with("Task 1:"))
        .unwrap();
    assert!(first_of_3 < last_of_1, "{stdout}");

    // Then the poems, each followed by the blank line of `println!`, the
    // last one to finish first.
    let poem = |i: usize| std::fs::read_to_string(servers[i].1).unwrap();
    let expected = format!("{}\n{}\n{}\n", poem(2), poem(1), poem(0));
    let after_chunks: usize = lines[..=last_chunk].iter().map(|l| l.len() + 1).sum();
    assert_eq!(&stdout[after_chunks..], expected);
}

#[test]
fn a_server_that_is_down_crashes_only_its_worker() {
    let servers = servers_by_speed();
    let dead = dead_port();
    let args = [
        servers[0].0.port.to_string(),
        dead.to_string(),
        servers[2].0.port.to_string(),
    ];
    let output = run(&args);
    let stderr = text(&output.stderr);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let report = format!("Task 2 crashed: cannot connect to 127.0.0.1:{dead}: ");
    assert!(stderr.starts_with(&report), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(!stdout.contains("Task 2:"), "{stdout}");
    // The two others' poems, the later one first.
    let poem = |i: usize| std::fs::read_to_string(servers[i].1).unwrap();
    assert!(
        stdout.ends_with(&format!("{}\n{}\n", poem(2), poem(0))),
        "{stdout}"
    );
}

#[test]
fn a_reset_in_mid_poem_crashes_its_worker_and_prints_no_half_poem() {
    let reset = ResetServer::start("poetry/ecstasy.txt");
    let whole = SlowServer::quick("poetry/science.txt", 200);
    let output = run(&[reset.port.to_string(), whole.port.to_string()]);
    let stderr = text(&output.stderr);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report = format!(
        "Task 1 crashed: lost 127.0.0.1:{} after {} bytes: Connection reset by peer",
        reset.port, reset.half
    );
    assert!(stderr.starts_with(&report), "{stderr}");
    // What arrived was reported chunk by chunk, but is no poem.
    let half: usize = chunks(&lines(&output.stdout), 1, reset.port).iter().sum();
    assert_eq!(half, reset.half);
    let ecstasy = std::fs::read_to_string("poetry/ecstasy.txt").unwrap();
    assert!(!stdout.contains(&ecstasy[..200]), "{stdout}");
    let science = std::fs::read_to_string("poetry/science.txt").unwrap();
    assert!(stdout.ends_with(&format!("{science}\n")), "{stdout}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let output = run(&["ten".to_string()]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("Ports must be integers (got 'ten')."),
        "{stderr}"
    );

    let output = run(&["host:".to_string()]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");

    // No server at all: the usage, and 1, as the Erlang client.
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty());
    assert!(text(&output.stderr).contains("Usage: get-poetry-actors [[HOST:]PORT]..."));

    let output = run(&["--help".to_string()]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let help = text(&output.stdout);
    assert!(
        help.contains("the exit status is 0 once every worker has ended"),
        "{help}"
    );
}
