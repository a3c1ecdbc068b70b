//! Part 11: the fast poetry server on the framework.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::Duration;

use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use common::{fetch, port_of, scratch, Background, LIMIT};
use predicates::prelude::*;

fn start(args: &[&str]) -> (Background, u16, String) {
    let mut server = Background::start(cargo_bin!("fastpoetry"), args);
    let first = server.next_line();
    let port = port_of(&first);
    (server, port, first)
}

#[test]
fn it_says_where_it_serves_and_serves_the_whole_poem() {
    let (_server, port, first) = start(&["--port", "0", "poetry/ecstasy.txt"]);
    assert_eq!(
        first,
        format!("Serving poetry/ecstasy.txt on 127.0.0.1:{port}.")
    );
    let poem = std::fs::read("poetry/ecstasy.txt").unwrap();
    assert_eq!(fetch(port), poem);
    assert_eq!(fetch(port), poem, "a second client gets it too");
}

#[test]
fn many_clients_at_once_each_get_the_exact_bytes() {
    let (_server, port, _) = start(&["poetry/alla_sera.txt"]);
    let poem = std::fs::read("poetry/alla_sera.txt").unwrap();
    let clients: Vec<_> = (0..50)
        .map(|_| thread::spawn(move || fetch(port)))
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), poem);
    }
}

#[test]
fn bad_command_lines_are_usage_errors() {
    cargo_bin_cmd!("fastpoetry")
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Provide exactly one poetry file."));
    cargo_bin_cmd!("fastpoetry")
        .arg("poetry/no-such-poem.txt")
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "No such file: poetry/no-such-poem.txt",
        ));
    cargo_bin_cmd!("fastpoetry")
        .args(["--port", "ten", "poetry/ecstasy.txt"])
        .timeout(LIMIT)
        .assert()
        .code(2);
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let (_server, port, _) = start(&["poetry/science.txt"]);
    cargo_bin_cmd!("fastpoetry")
        .args(["--port", &port.to_string(), "poetry/science.txt"])
        .timeout(LIMIT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "fastpoetry: cannot listen on localhost:{port}: "
        )));
}

/// With only a handful of file descriptors, the server cannot accept every
/// client at once. It must not die: once the first clients are served and
/// their descriptors freed, the ones waiting in the backlog are served too.
#[test]
fn it_survives_running_out_of_file_descriptors() {
    const CLIENTS: usize = 24;
    let dir = scratch("part11-descriptors");
    let big = dir.join("big.txt");
    // Big enough that a client who does not read keeps its connection open.
    let poem: Vec<u8> = (0..4 * 1024 * 1024)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    std::fs::write(&big, &poem).unwrap();

    let errors = dir.join("stderr.txt");
    let script = "ulimit -n 16 && exec \"$0\" \"$1\" 2>\"$2\"";
    let program = cargo_bin!("fastpoetry").to_str().unwrap();
    let (big_name, errors_name) = (big.to_str().unwrap(), errors.to_str().unwrap());
    let args = ["-c", script, program, big_name, errors_name];
    let mut server = Background::start(Path::new("sh"), &args);
    let port = port_of(&server.next_line());

    // Everyone connects first and reads nothing yet: the server runs out.
    let sockets: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(300));
    assert!(server.is_running(), "the server died");

    // Now everyone reads: every one of them gets the whole poem.
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            thread::spawn(move || {
                socket.set_read_timeout(Some(LIMIT)).unwrap();
                let mut got = Vec::new();
                socket.read_to_end(&mut got).map(|_| got.len())
            })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.join().unwrap().unwrap(), poem.len());
    }
    assert!(server.is_running());
    // It did run out, and said so.
    let said = std::fs::read_to_string(&errors).unwrap();
    assert!(said.contains("Too many open files"), "{said}");
}
