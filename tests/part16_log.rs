//! Part 16: the log, through `log-demo` run as a real program.

mod common;

use assert_cmd::cargo::cargo_bin_cmd;
use common::{lines, LIMIT};

/// `line` without its time: what follows `YYYY-MM-DDTHH:MM:SS+0000`.
fn after_time(line: &str) -> &str {
    let (time, rest) = line.split_at_checked(24).unwrap_or(("", line));
    let digits = |range: std::ops::Range<usize>| time[range].bytes().all(|b| b.is_ascii_digit());
    assert!(
        digits(0..4) && &time[4..5] == "-" && digits(5..7) && &time[10..11] == "T",
        "no time at the start of {line:?}"
    );
    assert!(time.ends_with("+0000"), "not UTC: {line:?}");
    rest
}

#[test]
fn log_demo_logs_from_the_start_of_the_log_with_times_and_systems() {
    let output = cargo_bin_cmd!("log-demo")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LOG")
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    let lines = lines(&output.stdout);
    let (starts, goes_on): (Vec<&String>, Vec<&String>) =
        lines.iter().partition(|line| !line.starts_with('\t'));
    let messages: Vec<&str> = starts.iter().map(|line| after_time(line)).collect();
    assert_eq!(
        messages,
        [
            " [-] Log opened.",
            " [-] This will be logged.",
            " [-] This will be logged as an error.",
            " [-] The next call will log a panic as an error.",
            " [-] Unhandled Error",
            " [-] The next call will log the failure as an error.",
            " [-] Unhandled Error",
            " [-] End of example.",
        ]
    );
    // The two errors go on over lines that start with a tab.
    let text = lines.join("\n");
    assert!(
        text.contains("Unhandled Error\n\tFailure: mini_twisted::defer::Panicked: bad_callback was called without its poem"),
        "{text}"
    );
    assert!(
        text.contains("\tFailure: log_demo::NoSuchPoem: there is no poem called \"xxx\"\n\t  caused by: poetry/xxx"),
        "{text}"
    );
    assert!(!text.contains("will not be logged"), "{text}");
    assert!(goes_on.len() >= 5, "{text}");
}
