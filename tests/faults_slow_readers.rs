//! The fault suite: slow readers of a large poem. Thirty clients connect
//! to a fast server and read nothing; the server must not keep a copy of
//! the poem for each of them. Its memory, read from /proc, stays under the
//! poem once more plus what it used before anyone connected (the poem
//! itself included). Then every client reads, and each gets the whole poem.
//! The proxies of Part 14 are held to the same when they serve the poem
//! from their cache.

mod common;

use std::io::Read;
use std::net::TcpStream;

use common::{fetch, port_of, program, scratch, Background, LIMIT};

const POEM_BYTES: usize = 20 * 1024 * 1024;
const READERS: usize = 30;

/// The resident memory of a process, in bytes, from /proc/PID/status.
fn rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server runs");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

/// A poem of `POEM_BYTES`, lines of text that differ from each other, so
/// that a misplaced chunk would show.
fn big_poem(name: &str) -> (std::path::PathBuf, Vec<u8>) {
    let mut poem = Vec::with_capacity(POEM_BYTES);
    let mut line = 0;
    while poem.len() < POEM_BYTES {
        poem.extend_from_slice(format!("line {line} of a very long poem\n").as_bytes());
        line += 1;
    }
    poem.truncate(POEM_BYTES);
    let path = scratch(&format!("slow-readers-{name}")).join("long.txt");
    std::fs::write(&path, &poem).expect("write the poem");
    (path, poem)
}

fn check(server: &str) {
    let (path, poem) = big_poem(server);
    let path = path.to_str().expect("a UTF-8 path");
    let program = match server {
        "fastpoetry" => assert_cmd::cargo::cargo_bin!("fastpoetry"),
        _ => assert_cmd::cargo::cargo_bin!("fastpoetry-tokio"),
    };
    let mut process = Background::start(program, &["--port", "0", path]);
    let port = port_of(&process.next_line());
    let before = rss(process.pid());
    slow_readers(server, &process, port, before, &poem);
}

/// Thirty readers of `port` that stop after one byte: the memory of
/// `process` must stay near `before`; then each gets the rest of `poem`.
fn slow_readers(server: &str, process: &Background, port: u16, before: usize, poem: &[u8]) {
    // Each reader takes one byte, which proves the server has written the
    // poem to it (it writes the whole poem at once), then reads no more.
    let mut readers: Vec<TcpStream> = (0..READERS)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            stream.set_read_timeout(Some(LIMIT)).unwrap();
            let mut first = [0; 1];
            stream.read_exact(&mut first).expect("a first byte");
            stream
        })
        .collect();
    let during = rss(process.pid());
    assert!(
        during < before + POEM_BYTES / 2,
        "{server}: {READERS} slow readers of a {} MB poem took the server from {} MB to {} MB",
        POEM_BYTES >> 20,
        before >> 20,
        during >> 20
    );

    for (i, reader) in readers.iter_mut().enumerate() {
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).expect("read the rest");
        assert!(
            rest == poem[1..],
            "{server}: reader {i} got the wrong bytes"
        );
    }
}

#[test]
fn fastpoetry_keeps_one_copy_of_the_poem_for_any_number_of_slow_readers() {
    check("fastpoetry");
}

#[test]
fn the_tokio_server_does_too() {
    check("fastpoetry-tokio");
}

/// A proxy in front of `fastpoetry`, its cache filled by a first client
/// before the memory is read: the slow readers all get the cached poem.
fn check_proxy(proxy: &str) {
    let (path, poem) = big_poem(proxy);
    let path = path.to_str().expect("a UTF-8 path");
    let mut upstream = Background::start(&program("fastpoetry"), &["--port", "0", path]);
    let up = port_of(&upstream.next_line()).to_string();
    let mut process = Background::start(&program(proxy), &["--port", "0", &up]);
    let port = port_of(&process.next_line());
    assert!(fetch(port) == poem, "{proxy}: the first poem differs");
    assert_eq!(process.next_line(), "Fetching poem from server.");
    let before = rss(process.pid());
    slow_readers(proxy, &process, port, before, &poem);
}

#[test]
fn proxy_1_serves_its_cached_poem_to_slow_readers_without_copies() {
    check_proxy("poetry-proxy-1");
}

#[test]
fn proxy_2_serves_its_cached_poem_to_slow_readers_without_copies() {
    check_proxy("poetry-proxy-2");
}

#[test]
fn proxy_3_serves_its_cached_poem_to_slow_readers_without_copies() {
    check_proxy("poetry-proxy-3");
}
