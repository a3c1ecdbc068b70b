//! Part 12: the transform server over real sockets, request by request,
//! and `transform-test`, the netcat stand-in that talks to it.
//!
//! Every row of the series' table of edge cases is a request sent in one
//! write to one running server: what comes back (the exact bytes), or a
//! close with nothing, or, for a request that is not complete yet, a
//! connection that stays open. After each row, the same server must still
//! answer a good request.

mod common;

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use common::{dead_port, port_of, Background, LIMIT};
use predicates::prelude::*;

/// The series' request and its reply.
const REQUEST: &[u8] = b"27:cummingsify.HERE IS MY POEM,";
const REPLY: &[u8] = b"15:here is my poem,";

/// How long a connection that should stay open is watched. Short: nothing
/// is expected to happen in it, and the test does not rely on its length.
const QUIET: Duration = Duration::from_millis(300);

fn start() -> (Background, u16, String) {
    let mut server = Background::start(cargo_bin!("transformedpoetry"), &["--port", "0"]);
    let first = server.next_line();
    let port = port_of(&first);
    (server, port, first)
}

/// The netstring of `payload`, written out here rather than with the
/// framework's `encode`, so that the test does not check the server
/// against its own code.
fn netstring(payload: &[u8]) -> Vec<u8> {
    let mut frame = format!("{}:", payload.len()).into_bytes();
    frame.extend_from_slice(payload);
    frame.push(b',');
    frame
}

/// What a client heard after sending its request.
#[derive(Debug, PartialEq)]
enum Heard {
    /// These bytes, then a clean end of file.
    Closed(Vec<u8>),
    /// These bytes, and the connection still open after [`QUIET`].
    Open(Vec<u8>),
}

/// Sends `request` in one write, then reads until the server closes (at
/// most [`LIMIT`]) or, if `patient` is false, until the connection has
/// been quiet for [`QUIET`]. A reset fails the test: a server that closes
/// must close cleanly, or the reply may be lost.
fn send(port: u16, request: &[u8], patient: bool) -> (TcpStream, Heard) {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket.write_all(request).expect("send the request");
    let wait = if patient { LIMIT } else { QUIET };
    socket.set_read_timeout(Some(wait)).expect("set a timeout");
    let mut got = Vec::new();
    let mut buffer = [0; 16 * 1024];
    loop {
        match socket.read(&mut buffer) {
            Ok(0) => return (socket, Heard::Closed(got)),
            Ok(n) => got.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert!(!patient, "no close within {LIMIT:?}; got {got:?}");
                return (socket, Heard::Open(got));
            }
            Err(error) => panic!("the connection failed after {} bytes: {error}", got.len()),
        }
    }
}

/// What the server does with `request`, waiting for it to close.
fn ask(port: u16, request: &[u8]) -> Heard {
    send(port, request, true).1
}

/// What one row of the table expects.
enum Expect {
    /// This reply, then the close.
    Reply(Vec<u8>),
    /// The close, and not a byte.
    Nothing,
    /// The connection still open, and not a byte.
    Waits,
}

/// The series' table of requests, and what the server does with each.
fn table() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use Expect::*;
    let poem = std::fs::read_to_string("poetry/alla_sera.txt").unwrap();
    // Its non-ASCII letters in upper case, to be lowered by Unicode's rules.
    let shouted = poem.to_uppercase();
    assert!(shouted.contains('À'), "the poem has no accented letter");
    // The longest payload the server accepts: the name, a dot, and filler.
    let filler: String = "HERE IS A LONG POEM. ".repeat(5000)[..99_999 - 12].to_string();
    vec![
        (
            "the series' request",
            REQUEST.to_vec(),
            Reply(REPLY.to_vec()),
        ),
        ("no dot", b"11:HERE IS POE,".to_vec(), Nothing),
        (
            "an unknown name",
            b"20:unknown.HERE IS POEM,".to_vec(),
            Nothing,
        ),
        ("an empty name", b"1:.,".to_vec(), Nothing),
        (
            "a name that is not on the list",
            b"13:__init__.poem,".to_vec(),
            Nothing,
        ),
        (
            "a name in the wrong case",
            b"27:CUMMINGSIFY.HERE IS MY POEM,".to_vec(),
            Nothing,
        ),
        (
            "an empty poem",
            b"12:cummingsify.,".to_vec(),
            Reply(b"0:,".to_vec()),
        ),
        (
            "many dots",
            b"17:cummingsify.a.b.C,".to_vec(),
            Reply(b"5:a.b.c,".to_vec()),
        ),
        ("not a netstring", b"abc".to_vec(), Nothing),
        (
            "leading zeros",
            b"00027:cummingsify.HERE IS MY POEM,".to_vec(),
            Nothing,
        ),
        (
            "no comma",
            b"27:cummingsify.HERE IS MY POEM!".to_vec(),
            Nothing,
        ),
        (
            "a length too short",
            b"26:cummingsify.HERE IS MY POEM,".to_vec(),
            Nothing,
        ),
        // Only the length is sent: the server refuses it from its digits,
        // without waiting for 100,000 bytes that will never come.
        ("a length over the limit", b"100000:".to_vec(), Nothing),
        (
            "the longest payload there is",
            netstring(format!("cummingsify.{filler}").as_bytes()),
            Reply(netstring(filler.to_lowercase().as_bytes())),
        ),
        (
            "bytes that are not UTF-8",
            b"13:cummingsify.\xff,".to_vec(),
            Nothing,
        ),
        (
            "a poem beyond ASCII",
            netstring(format!("cummingsify.{shouted}").as_bytes()),
            Reply(netstring(poem.to_lowercase().as_bytes())),
        ),
        (
            "two requests in one write",
            [REQUEST, b"17:cummingsify.a.b.C,"].concat(),
            Reply([REPLY, b"5:a.b.c,"].concat()),
        ),
        ("an incomplete netstring", b"5:hello".to_vec(), Waits),
    ]
}

#[test]
fn it_says_where_it_serves_and_answers_the_series_request() {
    let (_server, port, first) = start();
    assert_eq!(first, format!("Serving transforms on 127.0.0.1:{port}."));
    assert_eq!(ask(port, REQUEST), Heard::Closed(REPLY.to_vec()));
}

#[test]
fn every_row_of_the_table_and_the_server_serves_on() {
    let (mut server, port, _) = start();
    let mut problems = Vec::new();
    for (what, request, expect) in table() {
        let problem = match expect {
            Expect::Reply(reply) => match ask(port, &request) {
                Heard::Closed(got) if got == reply => None,
                heard => Some(format!(
                    "expected {}, heard {}",
                    shown(&reply),
                    said(&heard)
                )),
            },
            Expect::Nothing => match ask(port, &request) {
                Heard::Closed(got) if got.is_empty() => None,
                heard => Some(format!("expected a silent close, heard {}", said(&heard))),
            },
            Expect::Waits => match send(port, &request, false) {
                // The server is waiting for the rest. A comma ends the
                // string, and `hello` has no dot: a silent close.
                (mut socket, Heard::Open(got)) if got.is_empty() => {
                    socket.write_all(b",").expect("send the comma");
                    let mut rest = Vec::new();
                    match socket.read_to_end(&mut rest) {
                        Ok(_) if rest.is_empty() => None,
                        other => Some(format!("once complete: {other:?}, {}", shown(&rest))),
                    }
                }
                (_, heard) => Some(format!("expected it to wait, heard {}", said(&heard))),
            },
        };
        problems.extend(problem.map(|problem| format!("{what}: {problem}")));
        if ask(port, REQUEST) != Heard::Closed(REPLY.to_vec()) {
            problems.push(format!(
                "after {what}: no longer answers the series' request"
            ));
        }
    }
    assert!(server.is_running(), "the server died");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Bytes as a failure message shows them: how many, and how they start.
fn shown(bytes: &[u8]) -> String {
    let start = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).into_owned();
    format!("{} bytes {start:?}", bytes.len())
}

fn said(heard: &Heard) -> String {
    match heard {
        Heard::Closed(got) => format!("{} and a close", shown(got)),
        Heard::Open(got) => format!("{} on a connection still open", shown(got)),
    }
}

// ---------------------------------------------------------------------------
// A client that sends more than its request: the lingering close.
// ---------------------------------------------------------------------------

/// Bytes sent after the request. More than the server reads in one go
/// (16 KiB), so that some are still unread in its socket when it closes,
/// and less than a lingering close throws away before it gives up (64
/// KiB).
const JUNK: usize = 40 * 1024;

/// A client that sends `request` and then junk in one write, with a
/// receive buffer so small that most of a long reply is still in the
/// server's kernel when the server closes, then waits before it reads
/// slowly to the end. What it read, or the error that stopped it.
fn send_junk_then_read_slowly(server: SocketAddr, request: &[u8]) -> io::Result<Vec<u8>> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_recv_buffer_size(4096)?;
    socket.connect(&server.into())?;
    let mut socket: TcpStream = socket.into();
    socket.set_read_timeout(Some(LIMIT))?;
    let mut bytes = request.to_vec();
    bytes.resize(request.len() + JUNK, b'x');
    socket.write_all(&bytes)?;
    // Long enough for the server to have answered and closed.
    thread::sleep(QUIET);
    let mut got = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match socket.read(&mut buffer)? {
            0 => return Ok(got),
            n => got.extend_from_slice(&buffer[..n]),
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Two requests: the series' (its short reply leaves the server at once),
/// and one with a long poem (its reply waits in the server's kernel).
fn junk_cases() -> Vec<(Vec<u8>, Vec<u8>)> {
    let poem = "A LONG POEM, SENT TO BE LOWERED. ".repeat(3000);
    vec![
        (REQUEST.to_vec(), REPLY.to_vec()),
        (
            netstring(format!("cummingsify.{poem}").as_bytes()),
            netstring(poem.to_lowercase().as_bytes()),
        ),
    ]
}

#[test]
fn a_client_that_sends_junk_after_its_request_still_gets_its_whole_reply() {
    let (_server, port, _) = start();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    for (request, reply) in junk_cases() {
        let got = send_junk_then_read_slowly(address, &request)
            .unwrap_or_else(|error| panic!("{} bytes of request: {error}", request.len()));
        assert_eq!(got.len(), reply.len());
        assert!(got == reply, "the reply's bytes differ");
    }
}

/// The check on the check: against a server that reads the request and
/// closes outright, with the junk unread, the same client loses its reply
/// to a reset. So the test above would fail without a lingering close.
#[test]
fn without_a_lingering_close_the_same_client_loses_its_reply() {
    for (request, reply) in junk_cases() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (length, reply_sent) = (request.len(), reply.clone());
        let abrupt = thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = vec![0; length];
            socket.read_exact(&mut request).unwrap();
            socket.write_all(&reply_sent).unwrap();
            // Dropped with the junk unread: Linux sends a reset.
        });
        let got = send_junk_then_read_slowly(address, &request);
        abrupt.join().unwrap();
        match got {
            Err(error) => assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}"),
            Ok(got) => assert!(got.len() < reply.len(), "the whole reply came"),
        }
    }
}

// ---------------------------------------------------------------------------
// The command line.
// ---------------------------------------------------------------------------

#[test]
fn help_lists_the_options() {
    cargo_bin_cmd!("transformedpoetry")
        .arg("--help")
        .timeout(LIMIT)
        .assert()
        .success()
        .stdout(predicate::str::contains("--port"))
        .stdout(predicate::str::contains("--iface"))
        .stdout(predicate::str::contains("cummingsify"));
}

#[test]
fn a_positional_argument_is_refused() {
    cargo_bin_cmd!("transformedpoetry")
        .args(["--port", "0", "poetry/science.txt"])
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "unexpected argument 'poetry/science.txt'",
        ));
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let (_server, port, _) = start();
    cargo_bin_cmd!("transformedpoetry")
        .args(["--port", &port.to_string()])
        .timeout(LIMIT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "transformedpoetry: cannot listen on localhost:{port}: "
        )));
}

// ---------------------------------------------------------------------------
// transform-test.
// ---------------------------------------------------------------------------

#[test]
fn transform_test_prints_the_raw_reply() {
    let (_server, port, _) = start();
    cargo_bin_cmd!("transform-test")
        .arg(port.to_string())
        .timeout(LIMIT)
        .assert()
        .success()
        .stdout("15:here is my poem,\n")
        .stderr("");
    // Rows of the table without netcat: the many dots.
    cargo_bin_cmd!("transform-test")
        .args([
            "--send",
            "17:cummingsify.a.b.C,",
            &format!("localhost:{port}"),
        ])
        .timeout(LIMIT)
        .assert()
        .success()
        .stdout("5:a.b.c,\n");
}

#[test]
fn transform_test_says_when_the_server_closes_without_replying() {
    let (_server, port, _) = start();
    cargo_bin_cmd!("transform-test")
        .args(["--send", "20:unknown.HERE IS POEM,", &port.to_string()])
        .timeout(LIMIT)
        .assert()
        .code(1)
        .stdout("\n")
        .stderr(format!(
            "transform-test: 127.0.0.1:{port} closed the connection without replying.\n"
        ));
}

#[test]
fn transform_test_says_when_nobody_listens() {
    let dead = dead_port();
    cargo_bin_cmd!("transform-test")
        .arg(dead.to_string())
        .timeout(LIMIT)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(format!(
            "transform-test: cannot connect to 127.0.0.1:{dead}: "
        )))
        .stderr(predicate::str::contains("refused"));
}

#[test]
fn transform_test_gives_up_on_a_request_left_incomplete() {
    let (_server, port, _) = start();
    cargo_bin_cmd!("transform-test")
        .args(["--send", "5:hello", "--timeout", "0.3", &port.to_string()])
        .timeout(LIMIT)
        .assert()
        .code(1)
        .stdout("\n")
        .stderr(format!(
            "transform-test: no reply from 127.0.0.1:{port} within 0.3 seconds; \
             the connection is still open.\n"
        ));
}

#[test]
fn transform_test_without_a_server_prints_its_help() {
    cargo_bin_cmd!("transform-test")
        .timeout(LIMIT)
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: transform-test"))
        .stdout(predicate::str::contains("--send"))
        .stdout(predicate::str::contains("--timeout"));
    cargo_bin_cmd!("transform-test")
        .args(["--timeout", "0", "10001"])
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no time at all"));
}
