//! The fault suite: a client that speaks first. The poetry protocol has
//! the client say nothing, but a client may send a line anyway (a
//! greeting, a request it thinks the server wants) and then read. Those
//! bytes sit unread in the server's socket; a server that then closes the
//! socket outright makes Linux answer with a reset, and the reset throws
//! away the part of the poem the client had not read yet. Every server
//! closes lingering instead: each client below gets every byte, ending in
//! a clean end of file, for a small poem and for one that outgrows the
//! kernel's buffers. The proxies of Part 14 too, both when the poem comes
//! from upstream and when it comes from their cache.

mod common;

use common::{fetch_after_sending, port_of, program, scratch, Background};

/// A poem of about a megabyte: more than a socket's buffers hold, so that
/// much of it is still on its way when the server closes.
fn big_poem(name: &str) -> String {
    let path = scratch(&format!("speak-first-{name}")).join("big.txt");
    let line = "A line of a long poem, repeated until it weighs a megabyte.\n";
    std::fs::write(&path, line.repeat(1_000_000 / line.len() + 1)).unwrap();
    path.to_string_lossy().into_owned()
}

fn check(server: &str, program: &std::path::Path, options: &[&str]) {
    let big = big_poem(server);
    for poem in ["poetry/ecstasy.txt", big.as_str()] {
        let expected = std::fs::read(poem).unwrap();
        let mut args = vec!["--port", "0"];
        args.extend_from_slice(options);
        args.push(poem);
        let mut process = Background::start(program, &args);
        let port = port_of(&process.next_line());
        for greeting in [&b"hello\n"[..], &[b'x'; 2000][..]] {
            let got = fetch_after_sending(("127.0.0.1", port), greeting)
                .unwrap_or_else(|error| panic!("{server}, {poem}: {error}"));
            assert_eq!(got.len(), expected.len(), "{server}, {poem}");
            assert!(got == expected, "{server}, {poem}: the bytes differ");
        }
    }
}

#[test]
fn slowpoetry_sends_every_byte_to_a_client_that_speaks_first() {
    // No pause and big sends leave the most in flight at the close.
    let program = assert_cmd::cargo::cargo_bin!("slowpoetry");
    check(
        "slowpoetry",
        program,
        &["--delay", "0", "--num-bytes", "1000000"],
    );
}

#[test]
fn fastpoetry_sends_every_byte_to_a_client_that_speaks_first() {
    check(
        "fastpoetry",
        assert_cmd::cargo::cargo_bin!("fastpoetry"),
        &[],
    );
}

#[test]
fn the_tokio_server_sends_every_byte_to_a_client_that_speaks_first() {
    let program = assert_cmd::cargo::cargo_bin!("fastpoetry-tokio");
    check("fastpoetry-tokio", program, &[]);
}

/// A proxy in front of `fastpoetry`: the first greeting's poem is fetched
/// from upstream, the second's comes from the cache.
fn check_proxy(proxy: &str) {
    let big = big_poem(proxy);
    for poem in ["poetry/ecstasy.txt", big.as_str()] {
        let expected = std::fs::read(poem).unwrap();
        let mut upstream = Background::start(&program("fastpoetry"), &["--port", "0", poem]);
        let up = port_of(&upstream.next_line()).to_string();
        let mut process = Background::start(&program(proxy), &["--port", "0", &up]);
        let port = port_of(&process.next_line());
        for (greeting, source) in [(&b"hello\n"[..], "upstream"), (&[b'x'; 2000][..], "cache")] {
            let got = fetch_after_sending(("127.0.0.1", port), greeting)
                .unwrap_or_else(|error| panic!("{proxy}, {poem}, from {source}: {error}"));
            assert_eq!(got.len(), expected.len(), "{proxy}, {poem}, from {source}");
            assert!(
                got == expected,
                "{proxy}, {poem}, from {source}: the bytes differ"
            );
        }
    }
}

#[test]
fn proxy_1_sends_every_byte_to_a_client_that_speaks_first() {
    check_proxy("poetry-proxy-1");
}

#[test]
fn proxy_2_sends_every_byte_to_a_client_that_speaks_first() {
    check_proxy("poetry-proxy-2");
}
