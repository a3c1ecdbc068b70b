//! Part 6: client 3.0 (which waits forever on a dead server, on purpose),
//! client 3.1 (which does not), and what a Failure holds.

mod common;

use std::process::Command;
use std::thread;
use std::time::Duration;

use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use common::{dead_port, ports, three_servers, Background, SlowServer, LIMIT, POEMS};
use predicates::prelude::*;

#[test]
fn client_3_prints_every_poem() {
    let servers = three_servers();
    let output = cargo_bin_cmd!("get-poetry-3")
        .args(ports(&servers))
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for poem in POEMS {
        assert!(stdout.contains(&std::fs::read_to_string(poem).unwrap()));
    }
}

#[test]
fn client_3_waits_forever_on_a_dead_server_until_stopped() {
    let servers = three_servers();
    let dead = dead_port().to_string();
    let port = servers[1].port.to_string();
    let mut client = Background::start(cargo_bin!("get-poetry-3"), &[&port, &dead]);
    // Long after the live server's poem (0.2 s) is in, it is still waiting.
    thread::sleep(Duration::from_millis(1500));
    assert!(client.is_running(), "client 3.0 gave up on its own");
    // Asked to stop, it prints the poem it did get, and exits with status
    // 1 because the other is missing.
    let killed = Command::new("kill")
        .args(["-TERM", &client.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(client.wait_exit(), Some(1));
    let title = std::fs::read_to_string(POEMS[1]).unwrap();
    let first_line = title.lines().next().unwrap().to_string();
    client.wait_for(|line| line == first_line);
}

#[test]
fn client_3_stopped_in_mid_poem_says_the_poem_may_be_incomplete() {
    // A long poem, slowly: the download is still going when we stop it.
    let mut server = SlowServer::start(&["--delay", "0.05", "--num-bytes", "10", POEMS[0]]);
    let port = server.port.to_string();
    let mut client = Background::start(cargo_bin!("get-poetry-3"), &[&port]);
    // Once the server is sending, the client is inside the reactor's loop,
    // where Ctrl-C (here SIGTERM) stops the loop instead of the program.
    // "Sending" is printed before each send: after the third, two chunks
    // have been sent, a pause apart, so the client has had one of them.
    for _ in 0..3 {
        server.process.wait_for(|line| line.starts_with("Sending"));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &client.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // What arrived is printed, with a warning on stderr, and status 1.
    assert_eq!(client.wait_exit(), Some(1));
    let poem = std::fs::read_to_string(POEMS[0]).unwrap();
    let line = client.next_line();
    assert!(!line.is_empty() && poem.starts_with(&line), "{line:?}");
    let warning = format!("The poem from 127.0.0.1:{port} may be incomplete: ");
    let stderr = client.stderr();
    assert!(stderr.contains(&warning), "{stderr}");
    assert!(stderr.contains("the reactor stopped"), "{stderr}");
}

#[test]
fn client_3_1_reports_the_failure_and_terminates() {
    let dead = dead_port();
    cargo_bin_cmd!("get-poetry-3-1")
        .arg(dead.to_string())
        .timeout(LIMIT)
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "Poem failed: cannot connect to 127.0.0.1:{dead}: Connection refused (os error 111)\n"
        ));
}

#[test]
fn client_3_1_gets_the_poems_it_can() {
    let servers = three_servers();
    let dead = dead_port().to_string();
    let port = servers[2].port.to_string();
    let output = cargo_bin_cmd!("get-poetry-3-1")
        .args([&dead, &port])
        .timeout(LIMIT)
        .output()
        .unwrap();
    // It gets what it can, and its exit status says something was missing.
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&std::fs::read_to_string(POEMS[2]).unwrap()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("Poem failed: cannot connect to"),
        "{stderr}"
    );
}

#[test]
fn a_failure_keeps_its_type_and_where_it_was_made() {
    let output = cargo_bin_cmd!("failure-examples")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (first, second) = stdout.split_once("Catching a failure:").expect("two parts");
    let kind = "Failure: failure_examples::RhymeSchemeViolation: the rhyme scheme is broken";
    assert!(first.starts_with("Just making a failure:\n\n"), "{stdout}");
    assert!(first.contains(kind) && first.contains("(no backtrace was captured)"));
    assert!(second.contains(kind), "{second}");
    let analyze = second
        .find("failure_examples::analyze_poem")
        .expect("analyze_poem");
    let main = second.find("failure_examples::main").expect("main");
    assert!(analyze < main, "{second}");
    cargo_bin_cmd!("failure-examples")
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: failure-examples"));
}
