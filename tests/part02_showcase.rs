//! The showcase: Part 2's experiment end to end.

mod common;

use std::net::TcpStream;
use std::process::Command;

use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use common::{lines, port_of, scratch, Background, LIMIT};

#[test]
fn quick_showcase_runs_both_clients_and_compares_them() {
    let dir = scratch("part02-showcase");
    let output = cargo_bin_cmd!("showcase")
        // The test harness has built every program already.
        .args(["--quick", "--no-build", "--out-dir"])
        .arg(&dir)
        .timeout(LIMIT * 2)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let lines = lines(&output.stdout);
    let has = |prefix: &str| lines.iter().any(|line| line.starts_with(prefix));
    assert_eq!(
        lines
            .iter()
            .filter(|line| line.contains("at 30 bytes a send"))
            .count(),
        1
    );
    assert_eq!(
        lines
            .iter()
            .filter(|line| line.contains("at 10 bytes a send"))
            .count(),
        2
    );
    assert!(
        has("  Task 3: get poetry from: 127.0.0.1:"),
        "the blocking client ran"
    );
    assert!(has("  Task 3 finished"), "the select client ran");
    assert!(has("Blocking client: 0:00:"), "{lines:#?}");
    assert!(has("Select client:   0:00:"), "{lines:#?}");
    assert!(has("The select client was "), "{lines:#?}");
    for svg in ["blocking.svg", "select.svg"] {
        let drawing = std::fs::read_to_string(dir.join(svg)).unwrap();
        assert!(drawing.starts_with("<svg"));
    }
}

#[test]
fn a_missing_poetry_folder_is_explained() {
    let output = cargo_bin_cmd!("showcase")
        .args(["--quick", "--no-build", "--poetry-dir", "no-such-dir"])
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no-such-dir/ecstasy.txt not found"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_stops_the_servers_too() {
    let dir = scratch("part02-showcase-interrupted");
    let out_dir = dir.to_string_lossy().into_owned();
    let mut showcase = Background::start(
        cargo_bin!("showcase"),
        &["--quick", "--no-build", "--out-dir", &out_dir],
    );
    showcase.next_line(); // Starting three slow poetry servers...
    let ports: Vec<u16> = (0..3).map(|_| port_of(&showcase.next_line())).collect();
    // Interrupt it while the blocking client is fetching.
    showcase.wait_for(|line| line.contains("Task 1: get poetry from"));
    let interrupted = Command::new("kill")
        .args(["-INT", &showcase.pid().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    assert_eq!(showcase.wait_exit(), Some(130));
    // Every server is gone with it: nothing listens on their ports.
    for port in ports {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "a server still listens on {port}"
        );
    }
}
