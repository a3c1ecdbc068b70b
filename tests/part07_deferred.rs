//! Part 7: the Deferred demos, run as programs.

mod common;

use assert_cmd::cargo::cargo_bin_cmd;
use common::LIMIT;

fn stdout_of(mut program: assert_cmd::Command) -> String {
    let output = program.timeout(LIMIT).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_callback_runs_inside_the_fire_before_finished() {
    assert_eq!(
        stdout_of(cargo_bin_cmd!("defer-1")),
        "Your poem is served:\nThis poem is short.\nFinished\n"
    );
}

#[test]
fn a_failure_runs_the_errback() {
    assert_eq!(
        stdout_of(cargo_bin_cmd!("defer-2")),
        "No poetry for you.\nFinished\n"
    );
}

#[test]
fn a_plain_error_reaches_the_errback_as_a_failure() {
    assert_eq!(
        stdout_of(cargo_bin_cmd!("defer-3")),
        "mini_twisted::failure::Failure\n\
         Failure(std::io::error::Error: I have failed.)\n\
         No poetry for you.\n"
    );
}

#[test]
fn the_four_double_fires_each_fire_once_and_say_why_no_second() {
    let cases = [
        (
            cargo_bin_cmd!("defer-4"),
            "First result",
            "callback",
            "callback",
        ),
        (
            cargo_bin_cmd!("defer-5"),
            "First result",
            "errback",
            "callback",
        ),
        (
            cargo_bin_cmd!("defer-6"),
            "Failure(std::io::error::Error: First error)",
            "errback",
            "errback",
        ),
        (
            cargo_bin_cmd!("defer-7"),
            "Failure(std::io::error::Error: First error)",
            "callback",
            "errback",
        ),
    ];
    for (program, first_line, second, first) in cases {
        let expected = format!(
            "{first_line}\n\
             A second trigger.{second}(...) here would not compile:\n\
             the first {first} took the trigger (see tests/ui/fire_twice.rs).\n\
             Finished\n"
        );
        assert_eq!(stdout_of(program), expected);
    }
}

#[test]
fn the_reactor_fires_the_deferred_and_a_stage_stops_it() {
    for program in [cargo_bin_cmd!("defer-8"), cargo_bin_cmd!("defer-9")] {
        assert_eq!(stdout_of(program), "Another short poem.\n");
    }
}
