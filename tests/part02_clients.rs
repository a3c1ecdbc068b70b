//! Part 2: the blocking client and the select client against real slow
//! servers.

mod common;

use assert_cmd::cargo::cargo_bin_cmd;
use common::{
    check_async_output, check_refused_middle_task, poem_size, ports, run_against, scratch,
    three_servers, LIMIT, POEMS,
};
use predicates::prelude::*;

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

    check_async_output(&lines, &servers);
}

#[test]
fn a_refused_connection_fails_its_task_only() {
    let servers = three_servers();
    check_refused_middle_task(cargo_bin_cmd!("get-poetry-blocking"), &servers);
    check_refused_middle_task(cargo_bin_cmd!("get-poetry-select"), &servers);
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
