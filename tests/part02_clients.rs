//! Part 2: the blocking client and the select client against real slow
//! servers.

mod common;

use assert_cmd::cargo::cargo_bin_cmd;
use assert_cmd::Command;
use common::{dead_port, lines, poem_size, scratch, SlowServer, LIMIT};
use predicates::prelude::*;

const POEMS: [&str; 3] = [
    "poetry/ecstasy.txt",
    "poetry/fascination.txt",
    "poetry/science.txt",
];

/// Three quick servers; the long poem goes three times faster, as in Part 2.
fn three_servers() -> Vec<SlowServer> {
    vec![
        SlowServer::quick(POEMS[0], 90),
        SlowServer::quick(POEMS[1], 30),
        SlowServer::quick(POEMS[2], 30),
    ]
}

fn ports(servers: &[SlowServer]) -> Vec<String> {
    servers
        .iter()
        .map(|server| server.port.to_string())
        .collect()
}

/// Runs a client against `servers`, expects success, returns its lines.
fn run_against(mut client: Command, servers: &[SlowServer]) -> Vec<String> {
    let output = client.args(ports(servers)).timeout(LIMIT).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    lines(&output.stdout)
}

#[test]
fn blocking_client_gets_every_byte_one_poem_after_another() {
    let servers = three_servers();
    let lines = run_against(cargo_bin_cmd!("get-poetry-blocking"), &servers);
    assert_eq!(lines.len(), 7, "{lines:#?}");
    for (i, poem) in POEMS.iter().enumerate() {
        let task = i + 1;
        let address = format!("127.0.0.1:{}", servers[i].port);
        // Strictly in turn: ask, then receive, then the next task.
        assert_eq!(
            lines[2 * i],
            format!("Task {task}: get poetry from: {address}")
        );
        let got = format!(
            "Task {task}: got {} bytes of poetry from {address} in 0:00:",
            poem_size(poem)
        );
        assert!(
            lines[2 * i + 1].starts_with(&got),
            "{} / {got}",
            lines[2 * i + 1]
        );
    }
    assert!(lines[6].starts_with("Got 3 poems in 0:00:"), "{}", lines[6]);
}

#[test]
fn select_client_interleaves_the_tasks_and_gets_every_byte() {
    let servers = three_servers();
    let lines = run_against(cargo_bin_cmd!("get-poetry-select"), &servers);

    // The summary: one line per task in command-line order, then the total.
    let n = lines.len();
    for (i, poem) in POEMS.iter().enumerate() {
        assert_eq!(
            lines[n - 4 + i],
            format!("Task {}: {} bytes of poetry", i + 1, poem_size(poem))
        );
    }
    assert!(
        lines[n - 1].starts_with("Got 3 poems in 0:00:"),
        "{}",
        lines[n - 1]
    );

    // The chunk lines add up to each poem, and every task finishes once.
    for (i, poem) in POEMS.iter().enumerate() {
        let prefix = format!("Task {}: got ", i + 1);
        let suffix = format!(" bytes of poetry from 127.0.0.1:{}", servers[i].port);
        let bytes: usize = lines
            .iter()
            .filter_map(|line| {
                line.strip_prefix(&prefix)?
                    .strip_suffix(&suffix)?
                    .parse::<usize>()
                    .ok()
            })
            .sum();
        assert_eq!(bytes, poem_size(poem), "task {}", i + 1);
        let finished = format!("Task {} finished", i + 1);
        assert_eq!(lines.iter().filter(|line| **line == finished).count(), 1);
    }

    // Interleaving: task 2 is heard from before task 1's last chunk.
    let last_of_task_1 = lines
        .iter()
        .rposition(|line| line.starts_with("Task 1: got"))
        .unwrap();
    let first_of_task_2 = lines
        .iter()
        .position(|line| line.starts_with("Task 2: got"))
        .unwrap();
    assert!(first_of_task_2 < last_of_task_1, "{lines:#?}");
}

#[test]
fn a_refused_connection_fails_its_task_only() {
    let servers = three_servers();
    let dead = dead_port().to_string();
    for client in ["get-poetry-blocking", "get-poetry-select"] {
        let mut command = match client {
            "get-poetry-blocking" => cargo_bin_cmd!("get-poetry-blocking"),
            _ => cargo_bin_cmd!("get-poetry-select"),
        };
        let output = command
            .args([&ports(&servers)[0], &dead, &ports(&servers)[2]])
            .timeout(LIMIT)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{client}: {output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("Task 2: failed to "), "{client}: {stderr}");
        assert!(
            stderr.contains("127.0.0.1:") && stderr.contains("refused"),
            "{client}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{client}: {stderr}");
        assert!(
            stdout.contains(&format!("{} bytes of poetry", poem_size(POEMS[0]))),
            "{client}"
        );
        assert!(
            stdout.contains(&format!("{} bytes of poetry", poem_size(POEMS[2]))),
            "{client}"
        );
        assert!(stdout.contains("Got 2 poems in"), "{client}: {stdout}");
    }
}

#[test]
fn no_address_prints_the_help() {
    for mut command in [
        cargo_bin_cmd!("get-poetry-blocking"),
        cargo_bin_cmd!("get-poetry-select"),
    ] {
        command
            .timeout(LIMIT)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage:"))
            .stdout(predicate::str::contains("[HOST:]PORT"));
    }
}

#[test]
fn a_port_that_is_not_a_number_is_a_usage_error() {
    for mut command in [
        cargo_bin_cmd!("get-poetry-blocking"),
        cargo_bin_cmd!("get-poetry-select"),
    ] {
        command
            .args(["10000", "localhost:poem"])
            .timeout(LIMIT)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("Ports must be integers"));
    }
}

#[test]
fn timelines_draw_one_lane_per_task() {
    let servers = three_servers();
    let dir = scratch("part02-timelines");
    for (client, mut command) in [
        ("blocking", cargo_bin_cmd!("get-poetry-blocking")),
        ("select", cargo_bin_cmd!("get-poetry-select")),
    ] {
        let svg = dir.join(format!("{client}.svg"));
        command
            .args(ports(&servers))
            .arg("--timeline")
            .arg(&svg)
            .timeout(LIMIT)
            .assert()
            .success();
        let drawing = std::fs::read_to_string(&svg).unwrap();
        assert!(drawing.starts_with("<svg"), "{client}");
        for (i, server) in servers.iter().enumerate() {
            assert!(
                drawing.contains(&format!("Task {}: 127.0.0.1:{}", i + 1, server.port)),
                "{client}"
            );
        }
    }
}

#[test]
fn an_unwritable_timeline_is_reported() {
    let servers = three_servers();
    cargo_bin_cmd!("get-poetry-select")
        .args(ports(&servers))
        .args(["--timeline", "no-such-folder/x.svg"])
        .timeout(LIMIT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cannot write the timeline to no-such-folder/x.svg",
        ));
}
