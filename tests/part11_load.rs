//! Parts 11 and 12: the load generator in its three modes, and the tokio
//! servers ours are measured against, run as real programs. Counts and
//! verdicts only: how fast is `cargo bench --bench servers`'s business.

mod common;

use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use common::{dead_port, poetry_load, port_of, Background, Run, LIMIT};
use predicates::prelude::*;

const POEM: &str = "poetry/ecstasy.txt";

/// `program` started with `args`, killed when dropped, and the port of its
/// first line, which must be `first` followed by `127.0.0.1:PORT.`
fn server(program: &std::path::Path, args: &[&str], first: &str) -> (Background, u16) {
    let mut server = Background::start(program, args);
    let line = server.next_line();
    let port = port_of(&line);
    assert_eq!(line, format!("{first} 127.0.0.1:{port}."));
    (server, port)
}

/// `fastpoetry-tokio` serving `poem` on a free port.
fn tokio_server(poem: &str) -> (Background, u16) {
    let program = assert_cmd::cargo::cargo_bin!("fastpoetry-tokio");
    server(
        program,
        &["--port", "0", poem],
        &format!("Serving {poem} on"),
    )
}

#[test]
fn every_connection_gets_the_whole_poem_from_the_tokio_server() {
    let (_server, port) = tokio_server(POEM);
    let run = poetry_load(&[
        &port.to_string(),
        "--concurrency",
        "10",
        "--seconds",
        "1",
        "--max-connections",
        "2000",
        "--poem",
        POEM,
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.count("errors"), 0, "{}", run.stderr);
    assert!(run.count("connections") > 0);
    // Every connection started was finished and checked: none was lost.
    assert_eq!(run.count("connections"), run.count("started"));
    assert!(run.count("started") <= 2000);
}

#[test]
fn a_dead_port_counts_refused_connections() {
    let port = dead_port();
    let run = poetry_load(&[
        &port.to_string(),
        "--concurrency",
        "2",
        "--max-connections",
        "10",
        "--poem",
        POEM,
    ]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.count("connections"), 0);
    assert_eq!(run.count("refused"), 10);
    assert_eq!(run.count("errors"), 10);
    assert!(run.stderr.contains("refused"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn a_different_poem_counts_mismatches() {
    let (_server, port) = tokio_server(POEM);
    let run = poetry_load(&[
        &port.to_string(),
        "--max-connections",
        "20",
        "--poem",
        "poetry/science.txt",
    ]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.count("connections"), 0);
    assert_eq!(run.count("mismatched"), 20);
    assert_eq!(run.count("errors"), 20);
}

#[test]
fn fastpoetry_tokio_says_which_file_it_cannot_find() {
    // The same check as every server's: a usage error that names the file.
    cargo_bin_cmd!("fastpoetry-tokio")
        .args(["--port", "0", "poetry/no-such-poem.txt"])
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "No such file: poetry/no-such-poem.txt",
        ));
}

#[test]
fn poetry_load_refuses_a_bad_command_line_before_sending_anything() {
    let not_utf8 = common::scratch("poetry-load-not-utf8").join("poem.txt");
    std::fs::write(&not_utf8, b"caf\xe9\n").unwrap();
    let not_utf8 = not_utf8.to_str().unwrap();
    let cases: [&[&str]; 11] = [
        &["ten", "--poem", POEM],
        &["10000"],
        &["10000", "--netstring"],
        &["10000", "--netstring", "--poem", not_utf8],
        &["10000", "--hold", "10"],
        &["10000", "--hold", "10", "--server-pid", "1", "--netstring"],
        &["10000", "--server-pid", "1", "--poem", POEM],
        &["10000", "--poem", "poetry/no-such-poem.txt"],
        &["10000", "--poem", POEM, "--concurrency", "0"],
        &["10000", "--poem", POEM, "--seconds", "-1"],
        // Not this machine: a documentation address, never contacted.
        &["192.0.2.1:10000", "--poem", POEM],
    ];
    for args in cases {
        cargo_bin_cmd!("poetry-load")
            .args(args)
            .timeout(LIMIT)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("panicked").not());
    }
    cargo_bin_cmd!("poetry-load")
        .args(["10000", "--netstring", "--poem", not_utf8])
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs a poem in UTF-8"));
}

/// poetry-load raises its own soft limit on open files to what its
/// connections need; when the hard limit is too low for that, it refuses
/// before it connects, and says why. Port 9 (discard) is never contacted.
#[test]
fn poetry_load_refuses_more_connections_than_the_hard_limit_allows() {
    let program = cargo_bin!("poetry-load").to_str().unwrap().to_string();
    let script = "ulimit -n 64 && exec \"$0\" 9 --clients 1000 --poem \"$1\"";
    let output = std::process::Command::new("sh")
        .args(["-c", script, &program, POEM])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--clients 1000: "), "{stderr}");
    assert!(stderr.contains("the hard limit is 64"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A transform server (Part 12) on a free port.
fn transform_server(name: &str) -> (Background, u16) {
    let program = match name {
        "transformedpoetry" => assert_cmd::cargo::cargo_bin!("transformedpoetry"),
        _ => assert_cmd::cargo::cargo_bin!("transformedpoetry-tokio"),
    };
    server(program, &["--port", "0"], "Serving transforms on")
}

#[test]
fn netstring_mode_checks_every_reply_of_both_transform_servers() {
    for name in ["transformedpoetry", "transformedpoetry-tokio"] {
        let (_server, port) = transform_server(name);
        let run = poetry_load(&[
            &port.to_string(),
            "--netstring",
            "--concurrency",
            "10",
            "--max-connections",
            "300",
            "--poem",
            POEM,
        ]);
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        assert_eq!(run.count("connections"), 300, "{name}");
        assert_eq!(run.count("errors"), 0, "{name}");
    }
}

#[test]
fn netstring_mode_refuses_a_reply_that_is_not_the_lowered_poem() {
    // fastpoetry-tokio answers anything with the raw poem, not a netstring.
    let (_server, port) = tokio_server(POEM);
    let run = poetry_load(&[
        &port.to_string(),
        "--netstring",
        "--max-connections",
        "10",
        "--poem",
        POEM,
    ]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.count("connections"), 0);
    assert_eq!(run.count("mismatched"), 10, "{}", run.stderr);
}

/// poetry-load holding `count` idle connections to the server `pid` on `port`.
fn hold(port: u16, pid: u32, count: &str) -> Run {
    poetry_load(&[
        &port.to_string(),
        "--hold",
        count,
        "--server-pid",
        &pid.to_string(),
        "--seconds",
        "0.2",
    ])
}

#[test]
fn hold_mode_holds_idle_connections_and_reads_the_server() {
    for name in ["transformedpoetry", "transformedpoetry-tokio"] {
        let (server, port) = transform_server(name);
        let run = hold(port, server.pid(), "50");
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        assert_eq!(run.count("held"), 50, "{name}");
        assert_eq!(run.count("errors"), 0, "{name}");
        // Each held connection is a descriptor in the server.
        assert!(
            run.count("fds_held") >= run.count("fds_before") + 50,
            "{name}: {:?}",
            run.result
        );
        assert!(run.count("rss_held_kb") > 0, "{name}");
    }
}

#[test]
fn hold_mode_counts_a_server_that_speaks_to_an_idle_connection() {
    // fastpoetry-tokio sends the poem to every client and closes.
    let (server, port) = tokio_server(POEM);
    let run = hold(port, server.pid(), "5");
    assert_eq!(run.code, Some(1));
    assert_eq!(run.count("held"), 0);
    assert_eq!(run.count("errors"), 5, "{}", run.stderr);
}

#[test]
fn a_server_that_resets_counts_resets() {
    // A server that accepts and hangs up with a reset, not a close: a
    // linger of zero makes the kernel send RST instead of FIN.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for _ in 0..5 {
            let Ok((socket, _)) = listener.accept() else {
                return;
            };
            let _ = socket2::SockRef::from(&socket).set_linger(Some(std::time::Duration::ZERO));
        }
    });
    let run = poetry_load(&[
        &port.to_string(),
        "--concurrency",
        "1",
        "--max-connections",
        "5",
        "--poem",
        POEM,
    ]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.count("reset"), 5, "{}", run.stderr);
    assert_eq!(run.count("errors"), 5);
}
