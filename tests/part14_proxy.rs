//! Part 14: the two poetry proxies, against real servers.
//!
//! Each test runs for both proxies: they differ in how `get_poem` answers
//! (a plain value or a Deferred; always a Deferred), not in what a client
//! sees. Proxy 3.0 (Part 19) is proxy 2.0 with cancellation, and must
//! pass the same tests, except the one where a client leaves (cancelling
//! is tests/part19_cancel.rs's). A client sees a poetry server: the poem, byte for byte, then a
//! clean close, the first time fetched from upstream and after that from
//! the cache; an empty reply, and still a clean close, when the upstream
//! refused or reset the connection, and then nothing is cached.
//!
//! What the proxies cannot see is an upstream that dies mid-poem and
//! closes cleanly: the raw poetry protocol has no end marker, so what
//! arrived is kept as the poem (Part 12's netstrings are the way out).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use assert_cmd::Command;
use common::{dead_port, fetch, port_of, program, Background, ResetServer, LIMIT};
use predicates::prelude::*;

const POEM: &str = "poetry/fascination.txt";
const PROXIES: [&str; 3] = ["poetry-proxy-1", "poetry-proxy-2", "poetry-proxy-3"];

const FETCHING: &str = "Fetching poem from server.";
const CACHED: &str = "Using cached poem.";

/// `fastpoetry` serving `poem` on `port` (0 for any), and the port it got.
fn upstream(port: u16, poem: &str) -> (Background, u16) {
    let port = port.to_string();
    let mut server = Background::start(&program("fastpoetry"), &["--port", &port, poem]);
    let port = port_of(&server.next_line());
    (server, port)
}

/// The proxy `name` in front of `upstream`, after checking its first line;
/// and the port it listens on.
fn proxy(name: &str, upstream: u16) -> (Background, u16) {
    let mut proxy = Background::start(&program(name), &["--port", "0", &upstream.to_string()]);
    let first = proxy.next_line();
    let port = port_of(&first);
    assert_eq!(
        first,
        format!("Proxying 127.0.0.1:{upstream} on 127.0.0.1:{port}."),
        "{name}"
    );
    (proxy, port)
}

/// Stops `proxy` and gives back what it wrote on stderr.
fn stop(mut proxy: Background) -> String {
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &proxy.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    proxy.wait_exit();
    proxy.stderr()
}

fn fetches_then_serves_from_the_cache(name: &str) {
    let poem = std::fs::read(POEM).unwrap();
    let (server, up) = upstream(0, POEM);
    let (mut proxy, port) = proxy(name, up);

    assert!(fetch(port) == poem, "{name}: the first poem differs");
    assert_eq!(proxy.next_line(), FETCHING, "{name}");

    // With the upstream gone, the cache still has it, for everyone.
    drop(server);
    assert!(fetch(port) == poem, "{name}: the cached poem differs");
    assert_eq!(proxy.next_line(), CACHED, "{name}");
    let clients: Vec<_> = (0..10)
        .map(|_| thread::spawn(move || fetch(port)))
        .collect();
    for client in clients {
        assert!(
            client.join().unwrap() == poem,
            "{name}: a cached poem differs"
        );
    }
    for _ in 0..10 {
        assert_eq!(proxy.next_line(), CACHED, "{name}");
    }
    let stderr = stop(proxy);
    assert!(!stderr.contains("WARN"), "{name}: {stderr}");
}

#[test]
fn proxy_1_fetches_once_then_serves_from_the_cache() {
    fetches_then_serves_from_the_cache("poetry-proxy-1");
}

#[test]
fn proxy_2_fetches_once_then_serves_from_the_cache() {
    fetches_then_serves_from_the_cache("poetry-proxy-2");
}

#[test]
fn proxy_3_fetches_once_then_serves_from_the_cache() {
    fetches_then_serves_from_the_cache("poetry-proxy-3");
}

fn a_dead_upstream_is_tried_again_until_it_answers(name: &str) {
    let dead = dead_port();
    let (mut proxy, port) = proxy(name, dead);

    // An empty reply, ended by a clean close (a reset would fail `fetch`).
    assert_eq!(fetch(port), b"", "{name}");
    assert_eq!(proxy.next_line(), FETCHING, "{name}");

    // Nothing was cached: once the upstream is up, the proxy asks again.
    let (_server, _) = upstream(dead, POEM);
    let poem = std::fs::read(POEM).unwrap();
    assert!(fetch(port) == poem, "{name}: the poem differs");
    assert_eq!(proxy.next_line(), FETCHING, "{name}");
    assert!(fetch(port) == poem, "{name}: the cached poem differs");
    assert_eq!(proxy.next_line(), CACHED, "{name}");

    let stderr = stop(proxy);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{name}: {stderr}");
    assert!(
        warnings[0].contains(&format!("upstream=127.0.0.1:{dead}"))
            && warnings[0].contains("Connection refused"),
        "{name}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
}

#[test]
fn proxy_1_tries_a_dead_upstream_again_until_it_answers() {
    a_dead_upstream_is_tried_again_until_it_answers("poetry-proxy-1");
}

#[test]
fn proxy_2_tries_a_dead_upstream_again_until_it_answers() {
    a_dead_upstream_is_tried_again_until_it_answers("poetry-proxy-2");
}

#[test]
fn proxy_3_tries_a_dead_upstream_again_until_it_answers() {
    a_dead_upstream_is_tried_again_until_it_answers("poetry-proxy-3");
}

/// An upstream that resets in mid-poem: the half poem it sent is served to
/// nobody and not cached. (A clean close in mid-poem would be kept.)
fn a_reset_is_never_cached(name: &str) {
    let reset = ResetServer::start("poetry/ecstasy.txt");
    let (mut proxy, port) = proxy(name, reset.port);
    for _ in 0..2 {
        assert_eq!(fetch(port), b"", "{name}: half a poem was served");
        assert_eq!(proxy.next_line(), FETCHING, "{name}: it was cached");
    }
    let stderr = stop(proxy);
    let resets = stderr
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("Connection reset by peer"));
    assert_eq!(resets.count(), 2, "{name}: {stderr}");
}

#[test]
fn proxy_1_never_caches_a_poem_cut_by_a_reset() {
    a_reset_is_never_cached("poetry-proxy-1");
}

#[test]
fn proxy_2_never_caches_a_poem_cut_by_a_reset() {
    a_reset_is_never_cached("poetry-proxy-2");
}

#[test]
fn proxy_3_never_caches_a_poem_cut_by_a_reset() {
    a_reset_is_never_cached("poetry-proxy-3");
}

/// A poem that is not UTF-8: Latin-1 accents, bytes that never start a
/// character, and a character cut short at the very end.
const NOT_UTF_8: &[u8] = b"Caf\xe9 cr\xe8me\n\xff\xfe \x80 stray\n\xe2\x82";

/// An upstream that answers one connection with `poem`, closes cleanly,
/// and stops listening, so that a second fetch cannot reach it.
fn answer_once(poem: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((mut socket, _)) = listener.accept() {
            let _ = socket.write_all(poem);
        }
    });
    port
}

fn passes_any_bytes_through(name: &str) {
    let up = answer_once(NOT_UTF_8);
    let (mut proxy, port) = proxy(name, up);

    assert_eq!(fetch(port), NOT_UTF_8, "{name}: from upstream");
    assert_eq!(proxy.next_line(), FETCHING, "{name}");
    assert_eq!(fetch(port), NOT_UTF_8, "{name}: from the cache");
    assert_eq!(proxy.next_line(), CACHED, "{name}");
    let stderr = stop(proxy);
    assert!(!stderr.contains("WARN"), "{name}: {stderr}");
}

#[test]
fn proxy_1_passes_a_poem_that_is_not_utf_8_byte_for_byte() {
    passes_any_bytes_through("poetry-proxy-1");
}

#[test]
fn proxy_2_passes_a_poem_that_is_not_utf_8_byte_for_byte() {
    passes_any_bytes_through("poetry-proxy-2");
}

#[test]
fn proxy_3_passes_a_poem_that_is_not_utf_8_byte_for_byte() {
    passes_any_bytes_through("poetry-proxy-3");
}

/// An upstream poetry server that holds every connection, saying nothing,
/// until the test opens its gate; then it sends the poem and closes. Each
/// accepted connection is reported on `accepted`.
struct GatedServer {
    port: u16,
    gate: Arc<(Mutex<bool>, Condvar)>,
    accepted: Receiver<()>,
}

impl GatedServer {
    fn start(poem: &str) -> GatedServer {
        let poem = std::fs::read(poem).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (sender, accepted) = mpsc::channel();
        let shared = Arc::clone(&gate);
        thread::spawn(move || {
            for socket in listener.incoming() {
                let Ok(mut socket) = socket else { continue };
                let (gate, poem) = (Arc::clone(&shared), poem.clone());
                let _ = sender.send(());
                thread::spawn(move || {
                    let (open, opened) = &*gate;
                    let guard = open.lock().unwrap();
                    let _open = opened.wait_while(guard, |open| !*open).unwrap();
                    let _ = socket.write_all(&poem);
                });
            }
        });
        GatedServer {
            port,
            gate,
            accepted,
        }
    }

    /// Waits (bounded) until the proxy has connected once more.
    fn wait_for_a_connection(&self) {
        self.accepted
            .recv_timeout(LIMIT)
            .expect("the proxy never connected upstream");
    }

    fn open(&self) {
        let (open, opened) = &*self.gate;
        *open.lock().unwrap() = true;
        opened.notify_all();
    }
}

/// Connects and starts reading on a thread; the poem comes back through the handle.
fn start_fetch(port: u16) -> thread::JoinHandle<Vec<u8>> {
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    thread::spawn(move || {
        let mut socket = socket;
        socket.set_read_timeout(Some(LIMIT)).unwrap();
        let mut poem = Vec::new();
        socket.read_to_end(&mut poem).unwrap();
        poem
    })
}

fn first_clients_each_fetch_and_a_leaver_upsets_nothing(name: &str) {
    let gated = GatedServer::start(POEM);
    let poem = std::fs::read(POEM).unwrap();
    let (mut proxy, port) = proxy(name, gated.port);

    // A client that goes away while its poem is on its way: the poem will
    // be written to a connection that is closed, which must do no harm.
    let leaver = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(proxy.next_line(), FETCHING, "{name}");
    gated.wait_for_a_connection();
    let _ = socket2::SockRef::from(&leaver).set_linger(Some(Duration::ZERO));
    drop(leaver);

    // No coalescing: while the first fetch waits, a second client makes
    // a second one, as in the series.
    let waiting = start_fetch(port);
    assert_eq!(proxy.next_line(), FETCHING, "{name}");
    gated.wait_for_a_connection();

    gated.open();
    assert!(waiting.join().unwrap() == poem, "{name}: the poem differs");
    assert!(proxy.is_running(), "{name} stopped");
    assert!(fetch(port) == poem, "{name}: the cached poem differs");
    assert_eq!(proxy.next_line(), CACHED, "{name}");
    let stderr = stop(proxy);
    assert!(!stderr.contains("WARN"), "{name}: {stderr}");
}

#[test]
fn proxy_1_fetches_for_each_first_client_and_survives_one_that_leaves() {
    first_clients_each_fetch_and_a_leaver_upsets_nothing("poetry-proxy-1");
}

#[test]
fn proxy_2_fetches_for_each_first_client_and_survives_one_that_leaves() {
    first_clients_each_fetch_and_a_leaver_upsets_nothing("poetry-proxy-2");
}

#[test]
fn a_proxy_wants_exactly_one_upstream() {
    for name in PROXIES {
        for args in [&[][..], &["10001", "10002"][..]] {
            Command::new(program(name))
                .args(args)
                .timeout(LIMIT)
                .assert()
                .code(2)
                .stderr(predicate::str::contains(
                    "Provide exactly one server address.",
                ));
        }
        Command::new(program(name))
            .arg("ten")
            .timeout(LIMIT)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "Ports must be integers (got 'ten').",
            ));
        Command::new(program(name))
            .args(["--port", "ten", "10001"])
            .timeout(LIMIT)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("'ten' is not a whole number"));
    }
}
