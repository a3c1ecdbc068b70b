//! Part 17: generators, tasks on the reactor, and client 7.0.
//!
//! - The generator demos print the series' lines, exactly: the iterator's
//!   lines and its consumer's interleaved (gen-1, gen-2), two iterators in
//!   turn (gen-3), a state machine resumed with values and an error
//!   (gen-4).
//! - The inline-callbacks demos, with their delays shrunk: the lines of
//!   each, exactly and in order; a value already there does not wait for
//!   a timer; two tasks interleave by time, and their Deferreds fire with
//!   the value and the failure they returned; a task's stack shows the
//!   reactor under it, and where it stands changes after its first wait.
//! - Client 7.0 against real servers, as client 6.0 in Part 13: lowered
//!   poems; the originals when the transform server is down or does not
//!   answer; a poetry server that is down, reported with the failure's
//!   message, the others still printed, status 1; each poem printed as
//!   soon as it is ready.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;
use std::sync::mpsc;
use std::thread;

use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use common::transform::{
    assert_lowers_both_poems, assert_poems, assert_prints_help_with_too_few_addresses,
    assert_says_why_each_transform_failed, originals, poetry_servers, run_client, text,
    transform_server, TWO_POEMS,
};
use common::{dead_port, lines, Background, SlowServer, LIMIT};
use mini_twisted::netstring::Decoder;

fn run(name: &str, args: &[&str]) -> Output {
    assert_cmd::Command::new(common::program(name))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .timeout(LIMIT)
        .output()
        .unwrap()
}

/// Runs a demo that must succeed quietly; its stdout lines.
fn demo_lines(name: &str, args: &[&str]) -> Vec<String> {
    let output = run(name, args);
    assert_eq!(output.status.code(), Some(0), "{name}: {output:?}");
    assert_eq!(text(&output.stderr), "", "{name}");
    lines(&output.stdout)
}

// ---------------------------------------------------------------------------
// The generators.
// ---------------------------------------------------------------------------

const GEN_1: [&str; 7] = [
    "starting up",
    "1",
    "workin'",
    "2",
    "still workin'",
    "3",
    "done",
];

#[test]
fn gen_1_interleaves_the_generator_and_its_loop() {
    assert_eq!(demo_lines("gen-1", &[]), GEN_1);
}

#[test]
fn gen_2_prints_the_same_lines_with_explicit_calls_to_next() {
    assert_eq!(demo_lines("gen-2", &[]), GEN_1);
}

#[test]
fn gen_3_runs_two_generators_in_turn() {
    assert_eq!(
        demo_lines("gen-3", &[]),
        ["1", "10", "2", "20", "3", "30", "40"]
    );
}

#[test]
fn gen_4_is_resumed_with_values_and_catches_the_error() {
    assert_eq!(
        demo_lines("gen-4", &[]),
        [
            "starting up",
            "1",
            "got: 10",
            "2",
            "got: 20",
            "3",
            "malfunction!",
            "4",
            "done"
        ]
    );
}

// ---------------------------------------------------------------------------
// Tasks on the reactor.
// ---------------------------------------------------------------------------

#[test]
fn inline_callbacks_1_gets_a_value_at_once_a_value_later_and_a_failure() {
    assert_eq!(
        demo_lines("inline-callbacks-1", &["--delay", "0.01"]),
        [
            "first callback",
            "second callback got 1",
            "third callback got 2",
            "fourth callback got Failure(inline_callbacks_1::Malfunction: 3)",
        ]
    );
}

#[test]
fn a_deferred_that_has_fired_does_not_wait_for_the_timers() {
    // Timers as long as a test may wait: the first two lines come anyway,
    // and the third does not.
    let limit = LIMIT.as_secs().to_string();
    let mut demo = Background::start(cargo_bin!("inline-callbacks-1"), &["--delay", &limit]);
    assert_eq!(demo.next_line(), "first callback");
    assert_eq!(demo.next_line(), "second callback got 1");
    assert!(demo.is_running(), "the task waits for its timer");
}

#[test]
fn inline_callbacks_2_interleaves_two_tasks_and_fires_their_deferreds() {
    assert_eq!(
        demo_lines("inline-callbacks-2", &["--scale", "0.01"]),
        [
            "my_callbacks_1 first callback",
            "my_callbacks_err first callback",
            "my_callbacks_1 second callback",
            "my_callbacks_err second callback",
            "my_callbacks_1 third callback",
            "got result: 1",
            "my_callbacks_err third callback",
            "got error: Failure(inline_callbacks_2::UhOh: uh oh)",
            "all done",
        ]
    );
}

/// The frames of each stack `inline-callbacks-tb` printed, trimmed, under
/// the line that introduces it.
fn stacks() -> (Vec<String>, Vec<String>) {
    let printed = demo_lines("inline-callbacks-tb", &[]);
    let mut parts = printed.split(|line| line.is_empty());
    let mut frames = |heading: &str| -> Vec<String> {
        let part = parts
            .next()
            .unwrap_or_else(|| panic!("no stack: {printed:#?}"));
        assert_eq!(part[0], heading, "{printed:#?}");
        part[1..]
            .iter()
            .map(|line| line.trim().to_string())
            .collect()
    };
    let before = frames("The Rust stack, before the task has waited:");
    let after = frames("The Rust stack, after a wait:");
    (before, after)
}

/// Where the frame `name` is in `frames` (innermost first).
fn at(frames: &[String], name: &str) -> usize {
    frames
        .iter()
        .position(|frame| frame == name)
        .unwrap_or_else(|| panic!("no frame {name} in {frames:#?}"))
}

const TASK: &str = "inline_callbacks_tb::my_callbacks::{{closure}}";
const POLL_ONCE: &str =
    "<mini_twisted::inline::TaskCell<F> as mini_twisted::inline::Task>::poll_once";
const POLL: &str = "mini_twisted::inline::poll";
const SPAWN: &str = "mini_twisted::inline::<impl mini_twisted::reactor::Reactor>::spawn";
const RUN_READY: &str = "mini_twisted::inline::Tasks::run_ready";
const TURN: &str = "mini_twisted::reactor::Reactor::turn";
const RUN: &str = "mini_twisted::reactor::Reactor::run";
const MAIN: &str = "inline_callbacks_tb::main";

/// Each name in `chain` sits below (is called before) the one before it.
fn assert_called_in_order(frames: &[String], chain: &[&str]) {
    for pair in chain.windows(2) {
        assert!(
            at(frames, pair[0]) < at(frames, pair[1]),
            "{} is not called by {} in {frames:#?}",
            pair[0],
            pair[1]
        );
    }
}

#[test]
fn before_its_first_wait_a_task_runs_inside_spawn() {
    let (before, _) = stacks();
    let spawned_from = "inline_callbacks_tb::main::{{closure}}";
    assert_called_in_order(
        &before,
        &[TASK, POLL_ONCE, POLL, SPAWN, spawned_from, RUN, MAIN],
    );
    assert!(
        !before.iter().any(|frame| frame == RUN_READY),
        "{before:#?}"
    );
}

#[test]
fn after_a_wait_the_loops_task_step_runs_it() {
    let (_, after) = stacks();
    assert_called_in_order(&after, &[TASK, POLL_ONCE, POLL, RUN_READY, TURN, RUN, MAIN]);
    // Not inside spawn, nor inside the timer that fired its Deferred.
    assert!(!after.iter().any(|frame| frame == SPAWN), "{after:#?}");
    assert!(
        !after.iter().any(|frame| frame.contains("run_due_timers")),
        "{after:#?}"
    );
}

#[test]
fn delays_that_are_not_seconds_are_refused() {
    for (demo, option) in [
        ("inline-callbacks-1", "--delay"),
        ("inline-callbacks-2", "--scale"),
    ] {
        for bad in ["-1", "soon", "NaN"] {
            let output = run(demo, &[&format!("{option}={bad}")]);
            assert_eq!(output.status.code(), Some(2), "{demo} {bad}: {output:?}");
            let stderr = text(&output.stderr);
            assert!(stderr.contains("invalid value"), "{demo} {bad}: {stderr}");
            assert!(!stderr.contains("panicked"), "{demo} {bad}: {stderr}");
        }
    }
}

// ---------------------------------------------------------------------------
// Client 7.0.
// ---------------------------------------------------------------------------

fn client_7(ports: &[u16]) -> Output {
    run_client("get-poetry-7", ports)
}

#[test]
fn client_7_prints_both_poems_lowered() {
    assert_lowers_both_poems("get-poetry-7");
}

#[test]
fn client_7_prints_the_originals_when_the_transform_server_is_down() {
    assert_says_why_each_transform_failed("get-poetry-7");
}

/// A transform server that reads one request, then hangs up without a
/// word, for as long as the test runs.
fn silent_transform_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { continue };
            let _ = socket.set_read_timeout(Some(LIMIT));
            let mut decoder = Decoder::new();
            let mut buffer = [0; 4096];
            while let Ok(n @ 1..) = socket.read(&mut buffer) {
                if decoder.feed(&buffer[..n]).next().is_some() {
                    break;
                }
            }
        }
    });
    port
}

#[test]
fn client_7_says_why_a_transform_failed() {
    let servers = poetry_servers();
    let output = client_7(&[silent_transform_server(), servers[0].port, servers[1].port]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        text(&output.stderr),
        "Cummingsify failed! the transform server closed the connection without a reply\n"
            .repeat(2)
    );
    assert_poems(&text(&output.stdout), &originals());
}

#[test]
fn client_7_reports_a_failed_download_and_prints_the_other_poem() {
    let (_transform, xform) = transform_server();
    let servers = poetry_servers();
    let dead = dead_port();
    let output = client_7(&[xform, dead, servers[1].port]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = text(&output.stderr);
    let failed = format!("The poem download failed: cannot connect to 127.0.0.1:{dead}: ");
    assert!(stderr.starts_with(&failed), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // Only the poem: no list of failures at the end, unlike client 6.
    let lowered = format!("{}\n", originals()[1].to_lowercase());
    assert_eq!(text(&output.stdout), lowered);
}

#[test]
fn client_7_ends_when_every_download_has_failed() {
    let (_transform, xform) = transform_server();
    let output = client_7(&[xform, dead_port(), dead_port()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(text(&output.stdout), "");
    assert_eq!(text(&output.stderr).lines().count(), 2, "{output:?}");
}

/// A poetry server that accepts one client and sends it `poem` only when
/// the test says so (or when the test is over).
fn held_server(poem: String) -> (u16, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    let (release, released) = mpsc::channel();
    thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        let _ = released.recv_timeout(LIMIT);
        let _ = socket.write_all(poem.as_bytes());
    });
    (port, release)
}

#[test]
fn client_7_prints_each_poem_as_soon_as_it_is_ready() {
    let (_transform, xform) = transform_server();
    let quick = SlowServer::quick(TWO_POEMS[0], 200);
    let (held, release) = held_server(originals()[1].clone());
    let ports = [xform, quick.port, held].map(|port| port.to_string());
    let args: Vec<&str> = ports.iter().map(String::as_str).collect();
    let mut client = Background::start(cargo_bin!("get-poetry-7"), &args);
    let first = originals()[0].to_lowercase();
    let first_line = first.lines().next().unwrap();
    assert_eq!(client.next_line(), first_line);
    assert!(client.is_running(), "the held poem is still to come");
    release.send(()).unwrap();
    let second = originals()[1].to_lowercase();
    let second_line = second.lines().next().unwrap();
    client.wait_for(|line| line == second_line);
    assert_eq!(client.wait_exit(), Some(0), "saw {:?}", client.seen);
    assert_eq!(client.stderr(), "");
}

#[test]
fn client_7_with_fewer_than_two_addresses_prints_the_help() {
    assert_prints_help_with_too_few_addresses("get-poetry-7");
}

#[test]
fn client_7_refuses_an_address_that_is_not_one() {
    let output = cargo_bin_cmd!("get-poetry-7")
        .args(["10001", "poem"])
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("Ports must be integers"), "{stderr}");
}
