//! Part 9 (and the Deferred parts of 13 and 14): an unhandled failure, a
//! chain that waits on another Deferred, and a paused one.

mod common;

use assert_cmd::cargo::cargo_bin_cmd;
use common::LIMIT;

#[test]
fn an_unhandled_failure_is_reported_after_finished_when_the_chain_goes() {
    let output = cargo_bin_cmd!("defer-unhandled")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "a report, not a crash");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Finished\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .starts_with("Unhandled error in Deferred:\n\nFailure: std::io::error::Error: oops\n"),
        "{stderr}"
    );
}

#[test]
fn the_outer_chain_waits_for_the_inner_deferred() {
    let output = cargo_bin_cmd!("defer-10").timeout(LIMIT).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let calls: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("callback_"))
        .collect();
    assert_eq!(
        calls,
        [
            "callback_1 got 0",
            "callback_2 got 1",
            "callback_3 got 2",
            "callback_1 got 0",
            "callback_2 got 1",
            "callback_3 got 2",
        ]
    );
    // The last callback runs only after the inner Deferred is fired.
    let fired = stdout.find("Firing the inner Deferred").unwrap();
    assert!(
        stdout.rfind("callback_3 got 2").unwrap() > fired,
        "{stdout}"
    );
    assert!(
        stdout[..fired].matches("callback_3").count() == 1,
        "{stdout}"
    );
}

#[test]
fn a_fired_deferred_runs_new_callbacks_at_once_and_a_paused_one_waits() {
    let output = cargo_bin_cmd!("defer-11").timeout(LIMIT).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let expected_first = "Firing empty deferred.\nAdding first callback.\ncallback_1 got 0\n\
                          Adding second callback.\ncallback_2 got 1\n\
                          Adding third callback.\ncallback_3 got 2\n";
    assert!(stdout.contains(expected_first), "{stdout}");
    let expected_paused = "Pausing, then firing deferred.\nAdding callbacks.\n\
                           Unpausing the deferred.\ncallback_1 got 0\ncallback_2 got 1\n\
                           callback_3 got 2\n";
    assert!(stdout.ends_with(expected_paused), "{stdout}");
}

#[test]
fn an_unhandled_failure_reported_to_a_closed_stderr_is_not_a_crash() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("defer-unhandled"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Nobody will ever read stderr: the report meets a broken pipe, in a
    // `Drop`, where a panic would be the end of the program.
    drop(child.stderr.take());
    let deadline = std::time::Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert_eq!(status.code(), Some(0), "the report failed quietly");
    assert_eq!(stdout, "Finished\n");
}
