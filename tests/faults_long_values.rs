//! An error message quotes a bad value, but only a short piece of it: a
//! value of 100,000 characters gets a message of a line or two, not a
//! message of 100,000 characters.

mod common;

use assert_cmd::cargo::cargo_bin_cmd;
use common::LIMIT;

/// Far more than any message needs, far less than the value.
const SHORT: usize = 1000;

fn long_value() -> String {
    "x".repeat(100_000)
}

/// Checks an output's stderr: refused with `code`, saying `says`, short.
fn assert_short_refusal(output: std::process::Output, code: i32, says: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let start = &stderr[..stderr.len().min(SHORT)];
    assert_eq!(output.status.code(), Some(code), "{start}");
    assert!(
        stderr.len() < SHORT,
        "a message of {} bytes: {start}…",
        stderr.len()
    );
    assert!(stderr.contains(says), "no {says:?} in {stderr}");
    assert!(
        stderr.contains("xxx…"),
        "the value is not quoted at all: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_long_address_is_quoted_short() {
    let output = cargo_bin_cmd!("get-poetry-2")
        .arg(long_value())
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_short_refusal(output, 2, "Ports must be integers");
}

#[test]
fn a_long_address_is_quoted_short_by_the_actors_client() {
    let output = cargo_bin_cmd!("get-poetry-actors")
        .arg(format!("{}:10000", long_value()))
        .arg(long_value())
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_short_refusal(output, 2, "Ports must be integers");
}

#[test]
fn a_long_delay_is_quoted_short() {
    let output = cargo_bin_cmd!("slowpoetry")
        .args(["--delay", &long_value(), "poetry/science.txt"])
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_short_refusal(output, 2, "is not a number of seconds");
}

#[test]
fn a_long_poem_path_is_quoted_short() {
    let output = cargo_bin_cmd!("slowpoetry")
        .arg(long_value())
        .timeout(LIMIT)
        .output()
        .unwrap();
    // Too long for a file name: the system refuses to look it up.
    assert_short_refusal(output, 2, "cannot read ");
}

#[test]
fn a_long_bad_command_in_the_simulator_is_quoted_short() {
    let output = cargo_bin_cmd!("deferred-simulator")
        .write_stdin(format!("{} p\nr a p\n\n", long_value()))
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let error = stdout
        .lines()
        .find(|line| line.starts_with("ERROR: "))
        .expect("an error line");
    assert!(error.len() < 100, "{}…", &error[..100]);
    assert!(error.starts_with("ERROR: bad command: xxx"), "{error}");
    assert!(error.contains('…'), "{error}");
    // The next line was still read: the chain was drawn.
    assert!(stdout.contains("return a"), "{stdout}");
}

#[test]
fn a_long_port_is_quoted_short_by_every_server() {
    for server in [
        "slowpoetry",
        "fastpoetry",
        "fastpoetry-tokio",
        "slowpoetry-reactor",
        "slowpoetry-tokio",
        "transformedpoetry",
        "transformedpoetry-tokio",
    ] {
        let mut command = std::process::Command::new(common::program(server));
        command.args(["--port", &long_value()]);
        // The transform servers take no poem: a file would be refused too.
        if !server.starts_with("transformedpoetry") {
            command.arg("poetry/science.txt");
        }
        let output = command.output().unwrap();
        assert_short_refusal(output, 2, "is not a whole number");
    }
}

#[test]
fn a_long_port_or_upstream_is_quoted_short_by_every_proxy() {
    for proxy in ["poetry-proxy-1", "poetry-proxy-2", "poetry-proxy-3"] {
        let output = std::process::Command::new(common::program(proxy))
            .args(["--port", &long_value(), "10001"])
            .output()
            .unwrap();
        assert_short_refusal(output, 2, "is not a whole number");
        let output = std::process::Command::new(common::program(proxy))
            .arg(long_value())
            .output()
            .unwrap();
        assert_short_refusal(output, 2, "Ports must be integers");
    }
}
