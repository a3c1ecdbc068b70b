//! Part 22: Part 2's slow server rebuilt on the reactor, run as a real
//! program: the same lines as `slowpoetry`, but every client served at
//! once; a client that leaves early costs the others nothing; and
//! `poetry-load --clients`, the benchmark's load, against it and against
//! the blocking server. The tokio yardstick prints the same lines.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::thread;

use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use common::{fetch, fetch_after_sending, poem_size, poetry_load, port_of, Background, LIMIT};
use predicates::prelude::*;

const POEM: &str = "poetry/science.txt";

/// `program` serving `poem` at `num_bytes` a send, `delay` apart, and its
/// port, read from its first line.
fn serve(program: &Path, poem: &str, delay: &str, num_bytes: &str) -> (Background, u16) {
    let args = [
        "--port",
        "0",
        "--delay",
        delay,
        "--num-bytes",
        num_bytes,
        poem,
    ];
    let mut server = Background::start(program, &args);
    let first = server.next_line();
    let port = port_of(&first);
    assert_eq!(first, format!("Serving {poem} on port {port}."));
    (server, port)
}

fn reactor_server(delay: &str, num_bytes: &str) -> (Background, u16) {
    serve(cargo_bin!("slowpoetry-reactor"), POEM, delay, num_bytes)
}

/// Connects and reads the first `n` bytes: this client is being served.
fn first_bytes(port: u16, n: usize) -> TcpStream {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    let mut start = vec![0; n];
    socket.read_exact(&mut start).unwrap();
    socket
}

/// The rest of a poem whose first `n` bytes were read, whole.
fn finish(mut socket: TcpStream, n: usize) -> Vec<u8> {
    let mut rest = Vec::new();
    socket.read_to_end(&mut rest).unwrap();
    let mut poem = std::fs::read(POEM).unwrap()[..n].to_vec();
    poem.extend(rest);
    poem
}

#[test]
fn every_client_is_served_at_once() {
    // 7 sends a poem; 0.2 s apart, so that a poem lasts well over a second.
    let (mut server, port) = reactor_server("0.2", "100");
    let sends = poem_size(POEM).div_ceil(100);
    // Each client is being served before the next one connects.
    let clients: Vec<TcpStream> = (0..3).map(|_| first_bytes(port, 100)).collect();
    let expected = std::fs::read(POEM).unwrap();
    for client in clients {
        assert!(finish(client, 100) == expected, "a poem differs");
    }

    // The server's side: three greetings and every send, 24 lines. The
    // third client was greeted before the first one's poem was over: the
    // sends of the three interleave. (The blocking server greets nobody
    // until the poem before is done: tests/part02_slowpoetry.rs.)
    let log: Vec<String> = (0..3 * (sends + 1)).map(|_| server.next_line()).collect();
    let greetings: Vec<usize> = (0..log.len())
        .filter(|&i| log[i].starts_with("Somebody at 127.0.0.1:"))
        .collect();
    assert_eq!(greetings.len(), 3, "{log:#?}");
    assert!(log.iter().all(|line| line.ends_with(" wants poetry!")
        || line == "Sending 100 bytes"
        || line == "Sending 14 bytes"));
    let sends_before_third = log[..greetings[2]]
        .iter()
        .filter(|line| line.starts_with("Sending"))
        .count();
    assert!(sends_before_third < sends, "{log:#?}");
}

#[test]
fn a_client_that_resets_mid_poem_disturbs_nobody() {
    // 62 sends of 10 bytes, 0.02 s apart: a poem of about 1.2 s.
    let (mut server, port) = reactor_server("0.02", "10");
    let leaver = first_bytes(port, 10);
    let leaver_port = leaver.local_addr().unwrap().port();
    let stayers: Vec<_> = (0..3).map(|_| thread::spawn(move || fetch(port))).collect();
    // A zero linger: dropping the socket sends a reset, not an end of file.
    socket2::SockRef::from(&leaver)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(leaver);
    let expected = std::fs::read(POEM).unwrap();
    for stayer in stayers {
        assert!(stayer.join().unwrap() == expected, "a poem differs");
    }
    assert!(server.is_running());

    // The server said why it stopped sending to the leaver, once, and
    // nothing else went wrong.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.pid() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    server.wait_exit();
    let stderr = server.stderr();
    let said: Vec<&str> = stderr.lines().collect();
    assert_eq!(said.len(), 1, "{stderr}");
    let expected = format!("slowpoetry-reactor: stopped sending to 127.0.0.1:{leaver_port}: ");
    assert!(said[0].starts_with(&expected), "{stderr}");
}

#[test]
fn a_client_that_speaks_first_still_gets_every_byte() {
    let (_server, port) = reactor_server("0.001", "100");
    for greeting in [&b"hello\n"[..], &[b'x'; 2000][..]] {
        let poem = fetch_after_sending(("127.0.0.1", port), greeting).unwrap();
        assert!(poem == std::fs::read(POEM).unwrap(), "the poem differs");
    }
}

#[test]
fn the_tokio_yardstick_serves_the_same_lines_to_every_client_at_once() {
    let program = cargo_bin!("slowpoetry-tokio");
    let (mut server, port) = serve(program, POEM, "0.2", "100");
    let clients: Vec<TcpStream> = (0..2).map(|_| first_bytes(port, 100)).collect();
    let expected = std::fs::read(POEM).unwrap();
    for client in clients {
        assert!(finish(client, 100) == expected, "a poem differs");
    }
    let log: Vec<String> = (0..16).map(|_| server.next_line()).collect();
    let greetings = log
        .iter()
        .filter(|line| line.starts_with("Somebody at 127.0.0.1:"));
    assert_eq!(greetings.count(), 2, "{log:#?}");
    assert_eq!(log[1], "Sending 100 bytes");
}

#[test]
fn bad_command_lines_are_usage_errors_for_both() {
    for program in ["slowpoetry-reactor", "slowpoetry-tokio"] {
        for (args, says) in [
            (&[][..], "Provide exactly one poetry file."),
            (
                &[POEM, "poetry/ecstasy.txt"],
                "Provide exactly one poetry file.",
            ),
            (
                &["poetry/no-such-poem.txt"],
                "No such file: poetry/no-such-poem.txt",
            ),
            (&["--port", "ten", POEM], "error:"),
            (&["--delay=-1", POEM], "is negative"),
            (&["--num-bytes", "0", POEM], "error:"),
        ] {
            let output = assert_cmd::Command::new(common::program(program))
                .args(args)
                .timeout(LIMIT)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{program} {args:?}: {stderr}"
            );
            assert!(stderr.contains(says), "{program} {args:?}: {stderr}");
            assert!(!stderr.contains("panicked"), "{program} {args:?}: {stderr}");
        }
    }
}

#[test]
fn a_port_already_taken_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    cargo_bin_cmd!("slowpoetry-reactor")
        .args(["--iface", "127.0.0.1", "--port", &port, POEM])
        .timeout(LIMIT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot listen on 127.0.0.1:"));
}

#[test]
fn poetry_load_reads_a_few_hundred_poems_at_once_all_checked() {
    let (_server, port) = reactor_server("0.01", "100");
    let port = port.to_string();
    let run = poetry_load(&[&port, "--clients", "300", "--ramp", "64", "--poem", POEM]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.count("clients"), 300);
    assert_eq!(run.count("poems"), 300);
    assert_eq!(run.count("errors"), 0);
}

#[test]
fn poetry_load_waits_for_the_blocking_servers_silent_queue() {
    // The second client hears nothing until the first poem is over (about
    // 0.7 s): no idle limit in this mode, unless one is asked for.
    let (_server, port) = serve(cargo_bin!("slowpoetry"), POEM, "0.1", "100");
    let port = port.to_string();
    let run = poetry_load(&[&port, "--clients", "2", "--poem", POEM]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.count("poems"), 2);

    let run = poetry_load(&[
        &port,
        "--clients",
        "2",
        "--poem",
        POEM,
        "--idle-limit",
        "0.2",
    ]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.count("poems"), 1);
    assert_eq!(run.count("timeouts"), 1);
}

#[test]
fn poetry_load_clients_is_not_mixed_with_the_other_modes() {
    for other in [
        &["--concurrency", "5"][..],
        &["--netstring"],
        &["--seconds", "2"],
    ] {
        cargo_bin_cmd!("poetry-load")
            .args(["10000", "--clients", "5", "--poem", POEM])
            .args(other)
            .timeout(LIMIT)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("cannot be used with"));
    }
    cargo_bin_cmd!("poetry-load")
        .args(["10000", "--ramp", "5", "--poem", POEM])
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--clients"));
}
