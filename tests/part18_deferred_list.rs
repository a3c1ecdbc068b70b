//! Part 18: the DeferredList demos, run as programs, and client 8.0
//! against the real transform server and quick poetry servers.
//!
//! The demos print exactly the series' lines in Rust's form: a list's
//! results as `{:?}` of a `Vec<Result<_, Failure>>`. Only deferred-list-6
//! writes to stderr, the unhandled failure its list left on d2's chain.
//!
//! Client 8 prints each poem as its task finishes and stops when the list
//! of them fires: lowered by the transform server, or the original after
//! `Cummingsify failed!` and why when that server is down (status 0); a poetry
//! server that is down is a failed download, said on stderr, and status 1.

mod common;

use std::io::Write;
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
use common::{dead_port, Background, SlowServer, LIMIT};

/// Runs a demo with no backtrace asked for, expects status 0, and gives
/// back its stdout and stderr.
fn run_demo(mut program: assert_cmd::Command, args: &[&str]) -> (String, String) {
    let output = program
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8");
    (text(output.stdout), text(output.stderr))
}

/// Runs a demo that must print `expected` on stdout and nothing on stderr.
fn assert_prints(program: assert_cmd::Command, args: &[&str], expected: &str) {
    let (stdout, stderr) = run_demo(program, args);
    assert_eq!(stdout, expected);
    assert_eq!(stderr, "", "nothing is left unhandled");
}

#[test]
fn an_empty_list_fires_at_once_with_no_results() {
    assert_prints(
        cargo_bin_cmd!("deferred-list-1"),
        &[],
        "Empty List.\nAdding Callback.\nWe got: []\n",
    );
}

#[test]
fn a_list_of_one_fires_when_its_component_does() {
    assert_prints(
        cargo_bin_cmd!("deferred-list-2"),
        &[],
        "One Deferred.\nAdding Callback.\nFiring d1.\nWe got: [Ok(\"d1 result\")]\n",
    );
}

#[test]
fn a_list_of_two_waits_for_both() {
    assert_prints(
        cargo_bin_cmd!("deferred-list-3"),
        &[],
        "Two Deferreds.\nAdding Callback.\nFiring d1.\nFiring d2.\n\
         We got: [Ok(\"d1 result\"), Ok(\"d2 result\")]\n",
    );
}

#[test]
fn results_are_in_the_order_of_the_list_not_of_the_firing() {
    assert_prints(
        cargo_bin_cmd!("deferred-list-4"),
        &[],
        "Two Deferreds.\nAdding Callback.\nFiring d2.\nFiring d1.\n\
         We got: [Ok(\"d1 result\"), Ok(\"d2 result\")]\n",
    );
}

const WITH_A_FAILURE: &str = "Firing d1.\nFiring d2 with errback.\n\
     We got: [Ok(\"d1 result\"), Err(Failure(DEMO::DemoError: d2 failure))]\n";

#[test]
fn a_consumed_failure_is_recorded_and_not_reported() {
    assert_prints(
        cargo_bin_cmd!("deferred-list-5"),
        &[],
        &WITH_A_FAILURE.replace("DEMO", "deferred_list_5"),
    );
}

#[test]
fn a_failure_not_consumed_is_recorded_and_reported_as_unhandled() {
    let (stdout, stderr) = run_demo(cargo_bin_cmd!("deferred-list-6"), &[]);
    assert_eq!(stdout, WITH_A_FAILURE.replace("DEMO", "deferred_list_6"));
    assert_eq!(
        stderr,
        "Unhandled error in Deferred:\n\n\
         Failure: deferred_list_6::DemoError: d2 failure\n  \
         (no backtrace was captured)\n"
    );
}

#[test]
fn an_errback_given_before_the_list_runs_first_and_the_list_records_its_value() {
    assert_prints(
        cargo_bin_cmd!("deferred-list-7"),
        &[],
        "Firing d1.\nFiring d2 with errback.\nd2's errback handles: d2 failure\n\
         We got: [Ok(\"d1 result\"), Ok(\"d2 recovered\")]\n",
    );
}

fn options_demo() -> assert_cmd::Command {
    cargo_bin_cmd!("deferred-list-options")
}

#[test]
fn first_success_fires_with_the_first_value_and_its_index() {
    assert_prints(
        options_demo(),
        &["first-success"],
        "first_success, three Deferreds:\nFiring d1 with errback.\nFiring d3.\n\
         We got: (\"d3 result\", 2)\nFiring d2.\n",
    );
}

#[test]
fn first_success_with_every_component_failed_fails_with_every_failure() {
    assert_prints(
        options_demo(),
        &["none-succeeded"],
        "first_success, two Deferreds that both fail:\n\
         Firing d1 with errback.\nFiring d2 with errback.\n\
         Failed with NoneSucceeded: failures \
         [Failure(deferred_list_options::DemoError: d1 failure), \
         Failure(deferred_list_options::DemoError: d2 failure)]\n",
    );
}

#[test]
fn first_failure_fails_with_the_index_and_the_failure() {
    assert_prints(
        options_demo(),
        &["first-failure"],
        "first_failure, three Deferreds:\nFiring d1.\nFiring d3 with errback.\n\
         Failed with FirstError: index 2, \
         failure Failure(deferred_list_options::DemoError: d3 failure)\n\
         Firing d2.\n",
    );
}

#[test]
fn first_failure_with_no_failure_gives_every_value_in_order() {
    assert_prints(
        options_demo(),
        &["no-failure"],
        "first_failure, two Deferreds that both succeed:\nFiring d2.\nFiring d1.\n\
         We got: [\"d1 result\", \"d2 result\"]\n",
    );
}

#[test]
fn every_ending_of_an_empty_list_fires_at_once() {
    assert_prints(
        options_demo(),
        &["empty"],
        "Three empty lists:\nall:\nWe got: []\n\
         first_success:\nFailed with NoneSucceeded: failures []\n\
         first_failure:\nWe got: []\n",
    );
}

#[test]
fn cancelling_a_list_cancels_the_pending_component() {
    assert_prints(
        options_demo(),
        &["cancel"],
        "all, two Deferreds, cancelled before d2 fires:\nFiring d1.\n\
         Cancelling the list.\nd2's canceller runs.\n\
         We got: [Ok(\"d1 result\"), \
         Err(Failure(mini_twisted::defer::CancelledError: the Deferred was cancelled))]\n",
    );
}

#[test]
fn the_options_demo_plays_every_scene_by_default_and_the_named_ones_in_order() {
    let (all, _) = run_demo(options_demo(), &[]);
    let scenes = all.split("\n\n").count();
    assert_eq!(scenes, 6, "{all}");
    assert!(
        all.starts_with("first_success, three Deferreds:\n"),
        "{all}"
    );
    let (two, _) = run_demo(options_demo(), &["empty", "first-success"]);
    assert!(
        two.starts_with("Three empty lists:\n") && two.contains("\n\nfirst_success, three"),
        "{two}"
    );
}

#[test]
fn an_unknown_scene_is_a_usage_error() {
    let output = options_demo()
        .arg("last-success")
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid value 'last-success'"), "{stderr}");
    assert!(output.stdout.is_empty());
}

// ---------------------------------------------------------------------------
// Client 8.0 against real servers.
// ---------------------------------------------------------------------------

fn client_8(ports: &[u16]) -> Output {
    run_client("get-poetry-8", ports)
}

#[test]
fn client_8_prints_both_poems_lowered_and_stops_when_the_list_fires() {
    // Bounded by the run's time limit: a client that did not stop fails.
    assert_lowers_both_poems("get-poetry-8");
}

#[test]
fn client_8_with_the_transform_server_down_prints_the_original_poems() {
    // Each task says why its transform failed, as client 7's does.
    assert_says_why_each_transform_failed("get-poetry-8");
}

#[test]
fn client_8_with_a_poetry_server_down_prints_the_others_and_exits_1() {
    let (_transform, xform) = transform_server();
    let servers = poetry_servers();
    let dead = dead_port();
    let output = client_8(&[xform, servers[0].port, dead, servers[1].port]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let lowered: Vec<String> = originals().iter().map(|p| p.to_lowercase()).collect();
    assert_poems(&text(&output.stdout), &lowered);
    let stderr = text(&output.stderr);
    let failure = stderr
        .strip_prefix("The poem download failed: ")
        .unwrap_or_else(|| panic!("not the download's failure: {stderr:?}"));
    assert!(
        failure.starts_with(&format!("cannot connect to 127.0.0.1:{dead}: ")),
        "{failure:?}"
    );
    assert!(failure.contains("refused") && failure.ends_with('\n'));
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
}

#[test]
fn client_8_with_every_poetry_server_down_exits_1_having_printed_nothing() {
    let (_transform, xform) = transform_server();
    let output = client_8(&[xform, dead_port(), dead_port()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    assert_eq!(
        stderr.matches("The poem download failed: ").count(),
        2,
        "{stderr:?}"
    );
}

#[test]
fn client_8_with_fewer_than_two_addresses_prints_the_help() {
    assert_prints_help_with_too_few_addresses("get-poetry-8");
}

#[test]
fn client_8_refuses_a_port_that_is_not_a_number() {
    let output = cargo_bin_cmd!("get-poetry-8")
        .args(["10001", "poems"])
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("poems"), "{stderr}");
}

/// A poetry server of the test's own that sends `poem` to its one client
/// and holds the connection open until the sender it returns is used (or
/// dropped).
fn held_poetry_server(poem: &'static str) -> (u16, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    let (release, released) = mpsc::channel::<()>();
    thread::spawn(move || {
        let (mut socket, _) = listener.accept().expect("the client connects");
        socket.write_all(poem.as_bytes()).expect("send the poem");
        let _ = released.recv_timeout(LIMIT);
        // Dropping the socket closes it cleanly: the end of the poem.
    });
    (port, release)
}

#[test]
fn client_8_prints_each_poem_as_it_arrives_and_stops_only_after_the_last() {
    let (_transform, xform) = transform_server();
    let fast = SlowServer::quick(TWO_POEMS[1], 200);
    let (held, release) = held_poetry_server("A POEM THAT TAKES ITS TIME\n");
    let ports = [xform, held, fast.port].map(|port| port.to_string());
    let ports: Vec<&str> = ports.iter().map(String::as_str).collect();
    let mut client = Background::start(cargo_bin!("get-poetry-8"), &ports);

    // The fast poem is printed while the held one is still coming.
    let science = originals()[1].to_lowercase();
    let last_line = science.lines().last().expect("a poem has lines");
    client.wait_for(|line| line == last_line);
    thread::sleep(std::time::Duration::from_millis(200));
    assert!(client.is_running(), "it stopped before the list fired");

    release.send(()).expect("the held server is waiting");
    client.wait_for(|line| line == "a poem that takes its time");
    assert_eq!(client.wait_exit(), Some(0));
    assert_eq!(client.stderr(), "");
}
