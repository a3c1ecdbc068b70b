//! The servers listen on IPv6 loopback when asked, with the address
//! written bare (`--iface ::1`) or in brackets (`--iface '[::1]'`, the way
//! the clients write it in `[::1]:10000`). So do the proxies of Part 14,
//! and they fetch from an upstream on [::1] given as `[::1]:PORT`.

mod common;

use std::net::{Ipv6Addr, TcpListener};
use std::path::Path;

use assert_cmd::cargo::cargo_bin;
use common::{fetch_after_sending, port_of, program, Background};

const POEM: &str = "poetry/science.txt";

/// Whether this machine has an IPv6 loopback to test on at all.
fn has_ipv6_loopback() -> bool {
    match TcpListener::bind((Ipv6Addr::LOCALHOST, 0)) {
        Ok(_) => true,
        Err(error) => {
            println!("skipped: this machine cannot listen on [::1]: {error}");
            false
        }
    }
}

/// Starts the server `binary` (with `options` before the poem) on each
/// spelling of IPv6 loopback, and fetches the whole poem from [::1].
fn serves_on_ipv6(binary: &Path, options: &[&str]) {
    if !has_ipv6_loopback() {
        return;
    }
    let name = binary.display();
    for iface in ["::1", "[::1]"] {
        let mut args = vec!["--iface", iface, "--port", "0"];
        args.extend_from_slice(options);
        args.push(POEM);
        let mut server = Background::start(binary, &args);
        let first = server.next_line();
        assert!(
            first.starts_with(&format!("Serving {POEM} on ")),
            "{name}: {first}"
        );
        let port = port_of(&first);
        let got = fetch_after_sending((Ipv6Addr::LOCALHOST, port), b"")
            .unwrap_or_else(|error| panic!("{name}, --iface {iface}: {error}"));
        assert_eq!(got, std::fs::read(POEM).unwrap(), "{name}, --iface {iface}");
    }
}

#[test]
fn slowpoetry_listens_on_ipv6_loopback() {
    serves_on_ipv6(
        cargo_bin!("slowpoetry"),
        &["--delay", "0", "--num-bytes", "100"],
    );
}

#[test]
fn fastpoetry_listens_on_ipv6_loopback() {
    serves_on_ipv6(cargo_bin!("fastpoetry"), &[]);
}

#[test]
fn fastpoetry_tokio_listens_on_ipv6_loopback() {
    serves_on_ipv6(cargo_bin!("fastpoetry-tokio"), &[]);
}

/// A proxy on each spelling of IPv6 loopback, in front of `fastpoetry` on
/// [::1]: the poem arrives whole, fetched and then cached.
fn proxies_on_ipv6(proxy: &str) {
    if !has_ipv6_loopback() {
        return;
    }
    let args = ["--iface", "::1", "--port", "0", POEM];
    let mut upstream = Background::start(&program("fastpoetry"), &args);
    let address = format!("[::1]:{}", port_of(&upstream.next_line()));
    let poem = std::fs::read(POEM).unwrap();
    for iface in ["::1", "[::1]"] {
        let args = ["--iface", iface, "--port", "0", address.as_str()];
        let mut process = Background::start(&program(proxy), &args);
        let first = process.next_line();
        let port = port_of(&first);
        assert_eq!(
            first,
            format!("Proxying {address} on [::1]:{port}."),
            "{proxy}"
        );
        for _ in 0..2 {
            let got = fetch_after_sending((Ipv6Addr::LOCALHOST, port), b"")
                .unwrap_or_else(|error| panic!("{proxy}, --iface {iface}: {error}"));
            assert_eq!(got, poem, "{proxy}, --iface {iface}");
        }
    }
}

#[test]
fn proxy_1_listens_on_ipv6_loopback() {
    proxies_on_ipv6("poetry-proxy-1");
}

#[test]
fn proxy_2_listens_on_ipv6_loopback() {
    proxies_on_ipv6("poetry-proxy-2");
}

#[test]
fn proxy_3_listens_on_ipv6_loopback() {
    proxies_on_ipv6("poetry-proxy-3");
}

#[test]
fn transformedpoetry_listens_on_ipv6_loopback() {
    if !has_ipv6_loopback() {
        return;
    }
    for (iface, program) in [
        ("::1", cargo_bin!("transformedpoetry")),
        ("[::1]", cargo_bin!("transformedpoetry")),
        ("::1", cargo_bin!("transformedpoetry-tokio")),
    ] {
        let mut server = Background::start(program, &["--iface", iface, "--port", "0"]);
        let first = server.next_line();
        assert!(first.starts_with("Serving transforms on [::1]:"), "{first}");
        let port = port_of(&first);
        let request = b"27:cummingsify.HERE IS MY POEM,";
        let got = fetch_after_sending((Ipv6Addr::LOCALHOST, port), request)
            .unwrap_or_else(|error| panic!("--iface {iface}: {error}"));
        assert_eq!(got, b"15:here is my poem,", "--iface {iface}");
    }
}
