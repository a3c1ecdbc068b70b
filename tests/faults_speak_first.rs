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
fn slowpoetry_reactor_sends_every_byte_to_a_client_that_speaks_first() {
    let program = assert_cmd::cargo::cargo_bin!("slowpoetry-reactor");
    let options = ["--delay", "0", "--num-bytes", "1000000"];
    check("slowpoetry-reactor", program, &options);
}

#[test]
fn slowpoetry_tokio_sends_every_byte_to_a_client_that_speaks_first() {
    let program = assert_cmd::cargo::cargo_bin!("slowpoetry-tokio");
    let options = ["--delay", "0", "--num-bytes", "1000000"];
    check("slowpoetry-tokio", program, &options);
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

#[test]
fn proxy_3_sends_every_byte_to_a_client_that_speaks_first() {
    check_proxy("poetry-proxy-3");
}

/// The transform server reads what its client says: that is its protocol.
/// A client that says more than its request (a second request, or junk)
/// still gets the whole reply, and a clean end of file. For a reply too
/// big for the kernel's buffers, see tests/part12_transform.rs, which also
/// shows that without a lingering close the same client gets a reset.
#[test]
fn transformedpoetry_sends_the_whole_reply_to_a_client_that_says_more() {
    says_more(assert_cmd::cargo::cargo_bin!("transformedpoetry"));
}

/// Its tokio peer, which the benchmark measures beside it, does the same.
#[test]
fn transformedpoetry_tokio_sends_the_whole_reply_to_a_client_that_says_more() {
    says_more(assert_cmd::cargo::cargo_bin!("transformedpoetry-tokio"));
}

fn says_more(program: &std::path::Path) {
    let mut process = Background::start(program, &["--port", "0"]);
    let port = port_of(&process.next_line());
    let request = b"27:cummingsify.HERE IS MY POEM,";
    for more in [&b"27:cummingsify.HERE IS MY POEM,"[..], &[b'x'; 40_000][..]] {
        let said = [&request[..], more].concat();
        let got = fetch_after_sending(("127.0.0.1", port), &said)
            .unwrap_or_else(|error| panic!("{} bytes after the request: {error}", more.len()));
        let whole: &[u8] = if more == request {
            b"15:here is my poem,15:here is my poem,"
        } else {
            b"15:here is my poem,"
        };
        assert_eq!(got, whole, "{} bytes after the request", more.len());
    }
}
