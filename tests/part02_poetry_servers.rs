//! `poetry-servers`: the three slow servers of the chapters in one command,
//! all stopped with it.

mod common;

use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use common::{fetch, Background, LIMIT, POEMS};

/// Starts `poetry-servers` with `args` (plus quick settings) and reads the
/// three `Port N: poetry/x.txt, ...` lines; the ports in poem order.
fn start(args: &[&str]) -> (Background, Vec<u16>) {
    let mut all = vec!["--no-build", "--delay", "0.01"];
    all.extend_from_slice(args);
    let mut servers = Background::start(cargo_bin!("poetry-servers"), &all);
    let mut ports = Vec::new();
    for poem in POEMS {
        let line = servers.next_line();
        let (port, rest) = line
            .strip_prefix("Port ")
            .and_then(|line| line.split_once(": "))
            .unwrap_or_else(|| panic!("not a server line: {line:?}"));
        assert!(rest.starts_with(&format!("{poem}, ")), "{line}");
        ports.push(port.parse().unwrap());
    }
    assert_eq!(servers.next_line(), "Ctrl-C stops all three.");
    (servers, ports)
}

/// Three ports in a row that are free now (the base of the three).
/// Three free ports in a row, held: the caller lets go of those it wants
/// the program to take, and keeps any it wants to stay taken, so that no
/// other test can take it in between.
fn free_base_port() -> (u16, Vec<TcpListener>) {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = first.local_addr().unwrap().port();
        if base > 65533 {
            continue;
        }
        let others: Vec<_> = (1..3)
            .map(|i| TcpListener::bind(("127.0.0.1", base + i)))
            .collect();
        if others.iter().all(Result::is_ok) {
            let mut held = vec![first];
            held.extend(others.into_iter().flatten());
            return (base, held);
        }
    }
    panic!("found no three free ports in a row");
}

/// Waits (bounded) until nothing listens on `port` any more.
fn wait_until_refused(port: u16) {
    let deadline = Instant::now() + LIMIT;
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "a server still listens on {port}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

fn kill(signal: &str, pid: u32) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn three_servers_serve_their_poems_and_sigterm_stops_them_all() {
    let (base, held) = free_base_port();
    drop(held);
    let (mut servers, ports) = start(&["--base-port", &base.to_string()]);
    assert_eq!(ports, [base, base + 1, base + 2]);
    for (poem, port) in POEMS.iter().zip(&ports) {
        assert_eq!(fetch(*port), std::fs::read(poem).unwrap(), "{poem}");
    }
    // The servers' own lines come through, marked with their ports.
    servers.wait_for(|line| line.starts_with(&format!("[{base}] Somebody at ")));

    kill("-TERM", servers.pid());
    assert_eq!(servers.wait_exit(), Some(0));
    for port in ports {
        wait_until_refused(port);
    }
}

#[test]
fn port_zero_gives_three_free_ports_and_ctrl_c_stops_them() {
    let (mut servers, ports) = start(&["--base-port", "0", "--quiet"]);
    assert!(ports.iter().all(|&port| port != 0), "{ports:?}");
    assert_eq!(fetch(ports[2]), std::fs::read(POEMS[2]).unwrap());
    kill("-INT", servers.pid());
    assert_eq!(servers.wait_exit(), Some(0));
    for port in ports {
        wait_until_refused(port);
    }
}

#[test]
fn a_port_taken_is_an_error_and_the_started_servers_stop() {
    let (base, mut held) = free_base_port();
    // The third server's port is taken: the first two start, then stop.
    let taken = held.pop().unwrap();
    drop(held);
    let output = cargo_bin_cmd!("poetry-servers")
        .args([
            "--no-build",
            "--delay",
            "0.01",
            "--base-port",
            &base.to_string(),
        ])
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert!(
        stderr.contains("stopping the servers that did start"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for port in [base, base + 1] {
        wait_until_refused(port);
    }
    drop(taken);
}

#[test]
fn a_missing_poetry_folder_is_explained() {
    cargo_bin_cmd!("poetry-servers")
        .args([
            "--no-build",
            "--base-port",
            "0",
            "--poetry-dir",
            "no-such-dir",
        ])
        .timeout(LIMIT)
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "No such file: no-such-dir/ecstasy.txt",
        ));
}

#[test]
fn the_help_says_what_it_starts() {
    let help = cargo_bin_cmd!("poetry-servers")
        .arg("--help")
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for expected in ["--delay", "--base-port", "poetry/ecstasy.txt", "Ctrl-C"] {
        assert!(text.contains(expected), "no {expected:?} in {text}");
    }
}
