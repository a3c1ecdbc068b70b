//! Part 19: cancelling Deferreds. The twelve demos and the one with
//! `async` tasks, client 4.0's `--timeout` (a timeout is a cancel), and
//! proxy 3.0, which cancels the upstream download of a client that leaves.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::thread;

use assert_cmd::cargo::cargo_bin_cmd;
use assert_cmd::Command;
use common::{dead_port, fetch, poem_size, port_of, program, Background, SlowServer, LIMIT};
use predicates::prelude::*;

/// Runs a demo; its stdout, once it has checked that it succeeded and
/// wrote nothing on stderr.
fn stdout_of(mut program: Command) -> String {
    let output = program.timeout(LIMIT).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

const CANCELLED: &str = "the Deferred was cancelled";

#[test]
fn a_cancelled_deferred_nobody_handles_is_reported_at_the_end() {
    let output = cargo_bin_cmd!("defer-cancel-1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "a report, not a crash");
    // The callback never ran.
    assert_eq!(String::from_utf8_lossy(&output.stdout), "done\n");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "Unhandled error in Deferred:\n\n\
             Failure: mini_twisted::defer::CancelledError: {CANCELLED}\n  \
             (no backtrace was captured)\n"
        )
    );
}

#[test]
fn a_cancel_before_the_fire_runs_the_errback_and_the_late_fire_is_ignored() {
    let expected = format!("errback got: {CANCELLED}\ndone\n");
    assert_eq!(stdout_of(cargo_bin_cmd!("defer-cancel-2")), expected);
    assert_eq!(stdout_of(cargo_bin_cmd!("defer-cancel-4")), expected);
}

#[test]
fn a_cancel_after_the_fire_does_nothing_and_calls_no_canceller() {
    let expected = "callback got: result\ndone\n";
    assert_eq!(stdout_of(cargo_bin_cmd!("defer-cancel-3")), expected);
    assert_eq!(stdout_of(cargo_bin_cmd!("defer-cancel-8")), expected);
}

#[test]
fn the_canceller_runs_first_and_may_choose_the_outcome() {
    let asked = "I need to cancel this deferred: \
                 Trigger of Deferred { fired: false, holds: \"nothing\", stages: 1 }\n";
    assert_eq!(
        stdout_of(cargo_bin_cmd!("defer-cancel-5")),
        format!("{asked}errback got: {CANCELLED}\ndone\n")
    );
    assert_eq!(
        stdout_of(cargo_bin_cmd!("defer-cancel-6")),
        format!("{asked}Firing the deferred with a result\ncallback got: result\ndone\n")
    );
    assert_eq!(
        stdout_of(cargo_bin_cmd!("defer-cancel-7")),
        format!("{asked}Firing the deferred with an error\nerrback got: error!\ndone\n")
    );
}

#[test]
fn cancelling_a_waiting_chain_cancels_the_inner_deferred_not_the_outer() {
    assert_eq!(
        stdout_of(cargo_bin_cmd!("defer-cancel-12")),
        format!(
            "first outer callback, returning inner deferred\n\
             canceling outer deferred.\n\
             inner cancel callback.\n\
             outer errback got: {CANCELLED}\n\
             done\n"
        )
    );
}

/// A reactor demo at a hundredth of the series' times: the order of the
/// lines is the same at any scale.
fn scaled(mut demo: Command) -> String {
    demo.args(["--scale", "0.01"]);
    stdout_of(demo)
}

#[test]
fn the_timer_demos_print_in_the_series_order() {
    assert_eq!(
        scaled(cargo_bin_cmd!("defer-cancel-9")),
        "Sending poem\nI got a poem: A poem takes its time\n"
    );
    // No canceller: the errback at 2, and the timer still sends at 5.
    assert_eq!(
        scaled(cargo_bin_cmd!("defer-cancel-10")),
        format!("get_poem failed: {CANCELLED}\nSending poem\n")
    );
    // A canceller that cancels the timer: nothing is sent.
    assert_eq!(
        scaled(cargo_bin_cmd!("defer-cancel-11")),
        format!("get_poem failed: {CANCELLED}\n")
    );
}

#[test]
fn a_cancelled_task_hears_it_at_its_await_and_a_dropped_one_runs_on() {
    assert_eq!(
        scaled(cargo_bin_cmd!("defer-cancel-await")),
        format!(
            "task 1: waiting for a poem\n\
             task 2: waiting for a poem\n\
             cancelling task 1\n\
             task 1's Deferred failed: {CANCELLED}\n\
             task 1: the await gave: {CANCELLED}\n\
             Sending poem\n\
             task 2: I got a poem: A poem takes its time\n"
        )
    );
}

#[test]
fn a_bad_scale_is_a_usage_error() {
    let demos = [
        "defer-cancel-9",
        "defer-cancel-10",
        "defer-cancel-11",
        "defer-cancel-await",
    ];
    for demo in demos {
        for scale in ["-1", "soon", "NaN"] {
            Command::new(program(demo))
                .arg(format!("--scale={scale}"))
                .timeout(LIMIT)
                .assert()
                .code(2)
                .stderr(predicate::str::contains("--scale"));
        }
    }
}

// ---------------------------------------------------------------------------
// Client 4.0's --timeout.
// ---------------------------------------------------------------------------

const POEM: &str = "poetry/fascination.txt";

/// `fastpoetry` serving `poem`, and its port.
fn fast_server(poem: &str) -> (Background, u16) {
    let mut server = Background::start(&program("fastpoetry"), &["--port", "0", poem]);
    let port = port_of(&server.next_line());
    (server, port)
}

/// A server that takes ten seconds a line: no test waits for it.
fn very_slow_server() -> SlowServer {
    SlowServer::start(&["--delay", "1", POEM])
}

#[test]
fn a_download_that_takes_too_long_fails_with_a_timeout() {
    let slow = very_slow_server();
    let output = cargo_bin_cmd!("get-poetry-4")
        .args(["--timeout", "0.2", &slow.port.to_string()])
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "Poem failed: timed out after 200ms\n"
    );
}

#[test]
fn a_download_within_the_timeout_is_a_poem() {
    let (_server, port) = fast_server(POEM);
    let output = cargo_bin_cmd!("get-poetry-4")
        .args(["--timeout", "20", &port.to_string()])
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let poem = std::fs::read_to_string(POEM).unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{poem}\n"));
    assert!(output.stderr.is_empty(), "{output:?}");
}

#[test]
fn each_download_has_its_own_timeout_and_other_failures_keep_their_reason() {
    let slow = very_slow_server();
    let (_server, fast) = fast_server(POEM);
    let dead = dead_port();
    let output = cargo_bin_cmd!("get-poetry-4")
        .args(["--timeout", "0.3"])
        .args([slow.port, fast, dead].map(|port| port.to_string()))
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let poem = std::fs::read_to_string(POEM).unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{poem}\n"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut failures: Vec<&str> = stderr.lines().collect();
    failures.sort();
    assert_eq!(
        failures,
        [
            format!(
                "Poem failed: cannot connect to 127.0.0.1:{dead}: Connection refused (os error 111)"
            )
            .as_str(),
            "Poem failed: timed out after 300ms",
        ]
    );
}

#[test]
fn a_bad_timeout_is_a_usage_error() {
    for timeout in ["-1", "never", "inf"] {
        cargo_bin_cmd!("get-poetry-4")
            .args([format!("--timeout={timeout}"), "10000".into()])
            .timeout(LIMIT)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--timeout"));
    }
}

// ---------------------------------------------------------------------------
// Proxy 3.0.
// ---------------------------------------------------------------------------

const FETCHING: &str = "Fetching poem from server.";
const CACHED: &str = "Using cached poem.";
const CANCELING: &str = "Canceling poem download.";

/// Proxy 3.0 in front of `upstream`, after checking its first line; and
/// the port it listens on.
fn proxy(upstream: u16) -> (Background, u16) {
    let mut proxy = Background::start(
        &program("poetry-proxy-3"),
        &["--port", "0", &upstream.to_string()],
    );
    let first = proxy.next_line();
    let port = port_of(&first);
    assert_eq!(
        first,
        format!("Proxying 127.0.0.1:{upstream} on 127.0.0.1:{port}.")
    );
    (proxy, port)
}

/// Stops `process` and gives back what it wrote on stderr.
fn stop(mut process: Background) -> String {
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &process.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    process.wait_exit();
    process.stderr()
}

/// Connects and reads to the end on a thread; the poem comes back through
/// the handle.
fn start_fetch(port: u16) -> thread::JoinHandle<Vec<u8>> {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    thread::spawn(move || {
        socket.set_read_timeout(Some(LIMIT)).unwrap();
        let mut poem = Vec::new();
        socket.read_to_end(&mut poem).unwrap();
        poem
    })
}

// ANCHOR: proxy_3
#[test]
fn a_client_that_leaves_cancels_the_download_and_frees_the_upstream() {
    // Ten bytes every 0.05 s: about three seconds for the whole poem.
    let mut slow = SlowServer::start(&["--delay", "0.05", POEM]);
    let sends = poem_size(POEM).div_ceil(10);
    let (mut proxy, port) = proxy(slow.port);

    // A client that leaves once a few lines have reached the proxy.
    let leaver = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(proxy.next_line(), FETCHING);
    assert!(slow.process.next_line().starts_with("Somebody at "));
    for _ in 0..3 {
        assert_eq!(slow.process.next_line(), "Sending 10 bytes");
    }
    drop(leaver);
    assert_eq!(proxy.next_line(), CANCELING);

    // The next fetch is the slow server's next client, and it is served
    // long before the first poem could have been sent to the end.
    let stayer = start_fetch(port);
    assert_eq!(proxy.next_line(), FETCHING);
    slow.process
        .wait_for(|line| line.starts_with("Somebody at "));
    let sent_to_the_leaver = slow
        .process
        .seen
        .iter()
        .filter(|l| l.starts_with("Sending"))
        .count();
    assert!(
        sent_to_the_leaver < sends / 2,
        "{sent_to_the_leaver} of {sends} sends"
    );

    // A client that stays gets the whole poem; the one after it, the
    // cached poem. (Leaving after the poem came cancels nothing: no
    // `Canceling` line comes between.)
    let poem = std::fs::read(POEM).unwrap();
    assert!(stayer.join().unwrap() == poem, "the poem differs");
    assert!(fetch(port) == poem, "the cached poem differs");
    assert_eq!(proxy.next_line(), CACHED);

    let stderr = stop(proxy);
    assert!(stderr.is_empty(), "{stderr}");
    let slow_stderr = stop(slow.process);
    assert_eq!(
        slow_stderr.matches("stopped sending to").count(),
        1,
        "{slow_stderr}"
    );
}
// ANCHOR_END: proxy_3

#[test]
fn a_failed_fetch_is_logged_not_cancelled_and_tried_again() {
    let dead = dead_port();
    let (mut proxy, port) = proxy(dead);
    assert_eq!(fetch(port), b"");
    assert_eq!(proxy.next_line(), FETCHING);
    // The failed fetch had fired: the client's leaving cancelled nothing.
    let (_server, _) = fast_server_on(dead);
    let poem = std::fs::read(POEM).unwrap();
    assert!(fetch(port) == poem, "the poem differs");
    assert_eq!(proxy.next_line(), FETCHING);
    let stderr = stop(proxy);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("Connection refused"), "{stderr}");
}

/// `fastpoetry` serving [`POEM`] on `port`.
fn fast_server_on(port: u16) -> (Background, u16) {
    let mut server =
        Background::start(&program("fastpoetry"), &["--port", &port.to_string(), POEM]);
    let port = port_of(&server.next_line());
    (server, port)
}

#[test]
fn proxy_3_wants_exactly_one_upstream() {
    for args in [&[][..], &["10001", "10002"][..]] {
        Command::new(program("poetry-proxy-3"))
            .args(args)
            .timeout(LIMIT)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "Provide exactly one server address.",
            ));
    }
}
