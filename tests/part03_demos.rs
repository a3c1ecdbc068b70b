//! Part 3: the reactor demos, run as real programs.

mod common;

use std::thread;
use std::time::Duration;

use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use common::{lines, Background, LIMIT};
use predicates::prelude::*;

#[test]
fn countdown_prints_its_lines_in_order_and_stops() {
    let output = cargo_bin_cmd!("countdown")
        .args(["--interval", "0.01"])
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        lines(&output.stdout),
        ["Start!", "5 ...", "4 ...", "3 ...", "2 ...", "1 ...", "Stop!"]
    );
}

#[test]
fn countdown_refuses_a_bad_interval() {
    cargo_bin_cmd!("countdown")
        .args(["--interval", "soon"])
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("soon"));
}

#[test]
fn the_exception_demo_survives_its_panic_and_exits_cleanly() {
    let output = cargo_bin_cmd!("exception")
        .env_remove("RUST_LOG")
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        lines(&output.stdout),
        ["Starting the reactor.", "But I get up again."]
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Reported by the reactor, with the message and the place...
    assert!(stderr.contains("ERROR"), "{stderr}");
    assert!(stderr.contains("I fall down."), "{stderr}");
    assert!(stderr.contains("chapters/part03/exception.rs:"), "{stderr}");
    // ...and not by Rust's default panic message.
    assert!(!stderr.contains("thread 'main' panicked"), "{stderr}");
}

#[test]
fn hello_calls_back_from_inside_the_loop_and_keeps_running() {
    let mut hello = Background::start(cargo_bin!("hello"), &[]);
    assert_eq!(hello.next_line(), "Starting the reactor.");
    assert_eq!(hello.next_line(), "Hello from the reactor loop!");
    assert_eq!(hello.next_line(), "Lately I feel like I'm stuck in a rut.");
    assert!(hello.is_running(), "the reactor goes on waiting");
}

#[test]
fn simple_runs_until_it_is_stopped() {
    let mut simple = Background::start(cargo_bin!("simple"), &[]);
    thread::sleep(Duration::from_millis(300));
    assert!(simple.is_running(), "the reactor waits for ever");
}

#[test]
fn the_stack_shows_run_beneath_our_callback() {
    let mut stack = Background::start(cargo_bin!("stack"), &[]);
    assert_eq!(stack.next_line(), "The Rust stack:");
    stack.wait_for(|line| line.trim() == "stack::main");
    let frames: Vec<&str> = stack.seen.iter().map(|line| line.trim()).collect();
    let at = |name: &str| {
        frames
            .iter()
            .position(|frame| *frame == name)
            .unwrap_or_else(|| panic!("no frame {name} in {frames:#?}"))
    };
    // Innermost first: our function, then the reactor, then main.
    assert!(at("stack::stack") < at("mini_twisted::reactor::Reactor::run"));
    assert!(at("mini_twisted::reactor::Reactor::run") < at("stack::main"));
    assert!(stack.is_running(), "the reactor goes on waiting");
}
