//! Part 10: clients 5.0 and 5.1, with seeds that pick each of the
//! cummingsifier's three outcomes, and a server that is down.
//!
//! The exit status follows what is printed: a poem shown (transformed, or
//! the original after "Cummingsify failed!") is a success; no poem (the
//! gibberish, a server down) is a failure, status 1.

mod common;

use assert_cmd::cargo::cargo_bin_cmd;
use common::{dead_port, SlowServer, LIMIT};

const POEM: &str = "poetry/science.txt";

/// Seeds whose first choice is each outcome (rand's StdRng is stable
/// within a major version; if an upgrade moves them, find new ones).
const LOWER_CASE: &str = "2";
const GIBBERISH: &str = "3";
const BROKEN: &str = "0";

/// Runs the client; its stdout and stderr, after checking its exit status.
fn run(client: &str, seed: &str, port: u16, status: i32) -> (String, String) {
    let mut command = match client {
        "5.0" => cargo_bin_cmd!("get-poetry-5"),
        _ => cargo_bin_cmd!("get-poetry-5-1"),
    };
    let output = command
        .args(["--seed", seed, &port.to_string()])
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(status), "{client}: {output:?}");
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn each_outcome_is_routed_as_the_series_says() {
    let server = SlowServer::quick(POEM, 200);
    let poem = std::fs::read_to_string(POEM).unwrap();
    for client in ["5.0", "5.1"] {
        let (stdout, stderr) = run(client, LOWER_CASE, server.port, 0);
        assert_eq!(
            (stdout.as_str(), stderr.as_str()),
            (format!("{}\n", poem.to_lowercase()).as_str(), ""),
            "{client}"
        );

        let (stdout, stderr) = run(client, GIBBERISH, server.port, 1);
        assert_eq!(
            (stdout.as_str(), stderr.as_str()),
            ("", "The poem download failed.\n"),
            "{client}"
        );

        let (stdout, stderr) = run(client, BROKEN, server.port, 0);
        let expected = format!("Cummingsify failed!\n{poem}\n");
        assert_eq!(
            (stdout.as_str(), stderr.as_str()),
            (expected.as_str(), ""),
            "{client}"
        );
    }
}

#[test]
fn a_dead_server_is_a_failed_download() {
    let dead = dead_port();
    for client in ["5.0", "5.1"] {
        let (stdout, stderr) = run(client, LOWER_CASE, dead, 1);
        assert_eq!(
            (stdout.as_str(), stderr.as_str()),
            ("", "The poem download failed.\n")
        );
    }
}
