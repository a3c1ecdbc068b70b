//! Part 4: client 1.0 and its broken twin against real slow servers.

mod common;

use assert_cmd::cargo::cargo_bin_cmd;
use common::{
    check_async_output, check_refused_middle_task, dead_port, poem_size, ports, run_against,
    scratch, three_servers, LIMIT, POEMS,
};
use predicates::prelude::*;

#[test]
fn client_1_interleaves_the_tasks_and_gets_every_byte() {
    let servers = three_servers();
    let lines = run_against(cargo_bin_cmd!("get-poetry-1"), &servers);
    check_async_output(&lines, &servers);
}

#[test]
fn the_broken_client_gets_each_poem_in_one_gulp() {
    let servers = three_servers();
    let lines = run_against(cargo_bin_cmd!("get-poetry-1-broken"), &servers);
    for (i, poem) in POEMS.iter().enumerate() {
        let task = i + 1;
        let got: Vec<&String> = lines
            .iter()
            .filter(|line| line.starts_with(&format!("Task {task}: got ")))
            .collect();
        let whole = format!(
            "Task {task}: got {} bytes of poetry from 127.0.0.1:{}",
            poem_size(poem),
            servers[i].port
        );
        assert_eq!(got, [&whole], "{lines:#?}");
    }
    assert!(!lines.iter().any(|line| line.contains("finished")));
    assert!(lines.last().unwrap().starts_with("Got 3 poems in 0:00:"));
}

#[test]
fn a_refused_connection_fails_its_task_only() {
    let servers = three_servers();
    check_refused_middle_task(cargo_bin_cmd!("get-poetry-1"), &servers);
    check_refused_middle_task(cargo_bin_cmd!("get-poetry-1-broken"), &servers);
}

#[test]
fn with_every_server_down_the_clients_still_finish() {
    let dead = dead_port().to_string();
    for mut client in [
        cargo_bin_cmd!("get-poetry-1"),
        cargo_bin_cmd!("get-poetry-1-broken"),
    ] {
        client
            .arg(&dead)
            .timeout(LIMIT)
            .assert()
            .code(1)
            .stdout(predicate::str::starts_with("Got 0 poems in"))
            .stderr(predicate::str::contains("Task 1: failed to connect to"));
    }
}

#[test]
fn client_1_draws_its_timeline() {
    let servers = three_servers();
    let svg = scratch("part04-timeline").join("client-1.svg");
    cargo_bin_cmd!("get-poetry-1")
        .args(ports(&servers))
        .arg("--timeline")
        .arg(&svg)
        .timeout(LIMIT)
        .assert()
        .success();
    let drawing = std::fs::read_to_string(&svg).unwrap();
    assert!(drawing.contains("Client 1.0: 3 poems in"), "{drawing}");
    assert!(drawing.contains(&format!("Task 3: 127.0.0.1:{}", servers[2].port)));
}

#[test]
fn no_address_prints_the_help() {
    for mut client in [
        cargo_bin_cmd!("get-poetry-1"),
        cargo_bin_cmd!("get-poetry-1-broken"),
    ] {
        client
            .timeout(LIMIT)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage:"));
    }
}
