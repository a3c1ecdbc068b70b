//! Part 13: client 6.0 against the real transform server and two quick
//! poetry servers, and against transform servers that fail: down, hanging
//! up without a reply (before or after reading the request), or answering
//! with bytes that are not UTF-8.
//!
//! A transform that fails is not a failed download: the original poem is
//! shown, after `Cummingsify failed!` on stderr, and the exit status is 0.
//! A poetry server that is down is one: `The poem download failed.` on
//! stderr, the failure itself after the poems on stdout, and status 1.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;
use std::thread;

use common::transform::{
    assert_lowers_both_poems, assert_poems, assert_prints_help_with_too_few_addresses, originals,
    poetry_servers, run_client, text, transform_server,
};
use common::{dead_port, LIMIT};
use mini_twisted::netstring::{encode, Decoder};

fn run(ports: &[u16]) -> Output {
    run_client("get-poetry-6", ports)
}

#[test]
fn both_poems_come_back_lowered() {
    assert_lowers_both_poems("get-poetry-6");
}

#[test]
fn a_transform_server_that_is_down_gives_the_original_poems() {
    let servers = poetry_servers();
    let output = run(&[dead_port(), servers[0].port, servers[1].port]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        text(&output.stderr),
        "Cummingsify failed!\nCummingsify failed!\n"
    );
    assert_poems(&text(&output.stdout), &originals());
}

#[test]
fn a_poetry_server_that_is_down_is_a_failed_download() {
    let (_transform, xform) = transform_server();
    let servers = poetry_servers();
    let dead = dead_port();
    let output = run(&[xform, dead, servers[1].port]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(text(&output.stderr), "The poem download failed.\n");
    // The transformed poem, then the failure, in our words.
    let stdout = text(&output.stdout);
    let poem = format!("{}\n", originals()[1].to_lowercase());
    let failure = stdout
        .strip_prefix(&poem)
        .unwrap_or_else(|| panic!("the poem does not come first: {stdout:?}"));
    assert!(
        failure.starts_with(&format!("cannot connect to 127.0.0.1:{dead}: ")),
        "{failure:?}"
    );
    assert!(failure.contains("refused") && failure.ends_with('\n'));
    assert_eq!(failure.lines().count(), 1, "{failure:?}");
}

#[test]
fn fewer_than_two_addresses_print_the_help() {
    assert_prints_help_with_too_few_addresses("get-poetry-6");
}

/// How a fake transform server treats each request.
#[derive(Clone, Copy, Debug)]
enum Fake {
    /// Reads the whole request, then closes cleanly without a word.
    ReadsThenCloses,
    /// Closes as soon as it has accepted, without reading anything.
    ClosesAtOnce,
    /// Reads the request and answers with a netstring that is not UTF-8.
    AnswersBytes,
}

/// A transform server that misbehaves as `fake` says, on a thread of the
/// test, for as long as the test runs.
fn fake_transform_server(fake: Fake) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { continue };
            if !matches!(fake, Fake::ClosesAtOnce) {
                // Read until one whole netstring has arrived.
                let _ = socket.set_read_timeout(Some(LIMIT));
                let mut decoder = Decoder::new();
                let mut buffer = [0; 4096];
                loop {
                    match socket.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if decoder.feed(&buffer[..n]).next().is_some() {
                                break;
                            }
                        }
                    }
                }
            }
            if matches!(fake, Fake::AnswersBytes) {
                let _ = socket.write_all(&encode(&[0xff, 0xfe, 0xfd]));
            }
            drop(socket);
        }
    });
    port
}

#[test]
fn a_transform_server_that_fails_to_answer_gives_the_original_poems() {
    let servers = poetry_servers();
    for fake in [
        Fake::ReadsThenCloses,
        Fake::ClosesAtOnce,
        Fake::AnswersBytes,
    ] {
        let xform = fake_transform_server(fake);
        let output = run(&[xform, servers[0].port, servers[1].port]);
        assert_eq!(output.status.code(), Some(0), "{fake:?}: {output:?}");
        assert_eq!(
            text(&output.stderr),
            "Cummingsify failed!\nCummingsify failed!\n",
            "{fake:?}"
        );
        assert_poems(&text(&output.stdout), &originals());
    }
}
