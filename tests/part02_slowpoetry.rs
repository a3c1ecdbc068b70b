//! Part 2: the slow poetry server, run as a real program.

mod common;

use std::io::Read;
use std::net::TcpStream;

use assert_cmd::cargo::cargo_bin_cmd;
use common::{fetch, poem_size, SlowServer, LIMIT};
use predicates::prelude::*;

#[test]
fn first_line_names_the_poem_and_the_real_port() {
    let server = SlowServer::quick("poetry/science.txt", 100);
    assert_ne!(server.port, 0);
    assert_eq!(
        server.process.seen[0],
        format!("Serving poetry/science.txt on port {}.", server.port)
    );
}

#[test]
fn serves_the_whole_poem_in_chunks_of_num_bytes() {
    let mut server = SlowServer::quick("poetry/alla_sera.txt", 100);
    let poem = fetch(server.port);
    assert_eq!(poem, std::fs::read("poetry/alla_sera.txt").unwrap());

    let somebody = server.process.next_line();
    assert!(somebody.starts_with("Somebody at 127.0.0.1:"), "{somebody}");
    assert!(somebody.ends_with(" wants poetry!"), "{somebody}");
    // 589 bytes at 100 a send: five full sends and one of 89 bytes.
    let size = poem_size("poetry/alla_sera.txt");
    let mut sent = 0;
    while sent < size {
        let line = server.process.next_line();
        let n: usize = line
            .strip_prefix("Sending ")
            .and_then(|rest| rest.strip_suffix(" bytes"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        assert!(
            n == 100 || sent + n == size,
            "a send of {n} bytes after {sent}"
        );
        sent += n;
    }
    assert_eq!(sent, size);
}

#[test]
fn serves_one_client_at_a_time() {
    let mut server = SlowServer::quick("poetry/fascination.txt", 100);
    let first = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    server
        .process
        .wait_for(|line| line.starts_with("Somebody at"));
    let second = TcpStream::connect(("127.0.0.1", server.port)).unwrap();

    // Every send to the first client comes before the server even greets
    // the second one, although both connected almost at once.
    let sends = poem_size("poetry/fascination.txt").div_ceil(100);
    for _ in 0..sends {
        let line = server.process.next_line();
        assert!(line.starts_with("Sending "), "{line}");
    }
    let greeting = server.process.next_line();
    assert!(greeting.starts_with("Somebody at"), "{greeting}");
    drop((first, second));
}

#[test]
fn a_client_that_hangs_up_early_does_not_stop_the_server() {
    let mut server = SlowServer::quick("poetry/ecstasy.txt", 10);
    {
        let mut quitter = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        quitter.set_read_timeout(Some(LIMIT)).unwrap();
        let mut first_bytes = [0; 10];
        quitter.read_exact(&mut first_bytes).unwrap();
        // Dropping the socket closes it; the server's next sends meet a
        // reset, and its write fails.
    }
    server
        .process
        .wait_for(|line| line.starts_with("Somebody at"));
    // The next client is served in full...
    let poem = fetch(server.port);
    assert_eq!(poem.len(), poem_size("poetry/ecstasy.txt"));
    assert!(server.process.is_running());
    // ...and the server gave up on the first one long before the end of
    // its poem (297 sends of 10 bytes), instead of talking to nobody.
    server
        .process
        .wait_for(|line| line.starts_with("Somebody at"));
    let sends_to_quitter = server
        .process
        .seen
        .iter()
        .filter(|l| l.starts_with("Sending"))
        .count();
    assert!(
        sends_to_quitter < 100,
        "{sends_to_quitter} sends to a closed connection"
    );
}

#[test]
fn no_poem_file_is_a_usage_error() {
    cargo_bin_cmd!("slowpoetry")
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Provide exactly one poetry file."))
        .stderr(predicate::str::contains("panicked").not());
}

#[test]
fn two_poem_files_is_a_usage_error() {
    cargo_bin_cmd!("slowpoetry")
        .args(["poetry/science.txt", "poetry/ecstasy.txt"])
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Provide exactly one poetry file."));
}

#[test]
fn a_missing_poem_file_is_named() {
    cargo_bin_cmd!("slowpoetry")
        .arg("poetry/no-such-poem.txt")
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "No such file: poetry/no-such-poem.txt",
        ));
}

#[test]
fn bad_numbers_are_usage_errors() {
    for bad in [
        &["--port", "ten"][..],
        &["--port", "70000"],
        &["--delay", "-1"],
        &["--delay", "soon"],
        &["--num-bytes", "0"],
        &["--num-bytes", "x"],
    ] {
        cargo_bin_cmd!("slowpoetry")
            .args(bad)
            .arg("poetry/science.txt")
            .timeout(LIMIT)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("error:"))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn a_port_already_taken_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    cargo_bin_cmd!("slowpoetry")
        .args(["--port", &port, "poetry/science.txt"])
        .timeout(LIMIT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot listen on localhost:"));
}

#[test]
fn each_bad_delay_says_what_is_wrong_with_it() {
    for (delay, says) in [
        ("1e300", "is too large"),
        ("inf", "is too large"),
        ("-1", "is negative"),
        ("NaN", "is not a number"),
        ("soon", "is not a number of seconds"),
    ] {
        // `--delay=-1`: a separate `-1` would read as an option.
        let output = cargo_bin_cmd!("slowpoetry")
            .arg(format!("--delay={delay}"))
            .arg("poetry/science.txt")
            .timeout(LIMIT)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{delay}: {stderr}");
        assert!(stderr.contains(says), "{delay}: no {says:?} in {stderr}");
        assert!(!stderr.contains("not a delay"), "{delay}: {stderr}");
    }
}
