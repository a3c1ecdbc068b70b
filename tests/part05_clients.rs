//! Part 5: client 2.0, its simple and stack variants, against real servers.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use assert_cmd::cargo::cargo_bin_cmd;
use common::{dead_port, lines, poem_size, ports, run_against, three_servers, LIMIT, POEMS};
use predicates::prelude::*;

/// Task N's chunk lines: the peer they came from and the bytes they add up to.
fn chunks_by_task(lines: &[String]) -> BTreeMap<usize, (String, usize)> {
    let mut tasks = BTreeMap::new();
    for line in lines {
        let Some(rest) = line.strip_prefix("Task ") else {
            continue;
        };
        let Some((task, rest)) = rest.split_once(": got ") else {
            continue;
        };
        let (bytes, peer) = rest.split_once(" bytes of poetry from ").unwrap();
        let entry = tasks
            .entry(task.parse().unwrap())
            .or_insert((peer.to_string(), 0));
        assert_eq!(entry.0, peer, "a task's chunks all come from one server");
        entry.1 += bytes.parse::<usize>().unwrap();
    }
    tasks
}

#[test]
fn client_2_numbers_tasks_and_reports_each_poem() {
    let servers = three_servers();
    let lines = run_against(cargo_bin_cmd!("get-poetry-2"), &servers);
    let tasks = chunks_by_task(&lines);
    assert_eq!(tasks.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);

    // Each server's poem arrives whole, under whichever number it got.
    let expected: BTreeSet<(String, usize)> = servers
        .iter()
        .zip(POEMS)
        .map(|(server, poem)| (format!("127.0.0.1:{}", server.port), poem_size(poem)))
        .collect();
    let got: BTreeSet<(String, usize)> = tasks.values().cloned().collect();
    assert_eq!(got, expected);

    // The report: one line per task, with the size its chunks add up to.
    for (task, (_, bytes)) in &tasks {
        let line = format!("Task {task}: {bytes} bytes of poetry");
        assert!(lines.contains(&line), "{line} missing from {lines:#?}");
    }
    assert!(lines.last().unwrap().starts_with("Got 3 poems in 0:00:"));
}

#[test]
fn client_2_reports_a_dead_server_and_counts_it_in_the_total() {
    let servers = three_servers();
    let dead = dead_port();
    let mut args = ports(&servers);
    args.push(dead.to_string());
    let output = cargo_bin_cmd!("get-poetry-2")
        .args(&args)
        .timeout(LIMIT)
        .output()
        .unwrap();
    // A poem is missing, so the exit status is 1 (the series' exits 0).
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let lines = lines(&output.stdout);
    assert!(lines.contains(&format!("Failed to connect to: 127.0.0.1:{dead}")));
    // Three poems arrived; the series' total counts the failed one too.
    assert_eq!(chunks_by_task(&lines).len(), 3);
    assert!(
        lines.last().unwrap().starts_with("Got 4 poems in"),
        "{lines:#?}"
    );
}

#[test]
fn the_simple_client_prints_the_poems_and_nothing_else() {
    let servers = three_servers();
    let dead = dead_port();
    let mut args = ports(&servers);
    args.push(dead.to_string());
    let output = cargo_bin_cmd!("get-poetry-2-simple")
        .args(&args)
        .timeout(LIMIT)
        .output()
        .unwrap();
    // A poem is missing, so the exit status is 1 (the series' exits 0).
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for poem in POEMS {
        let text = std::fs::read_to_string(poem).unwrap();
        assert!(stdout.contains(&text), "{poem} is missing");
    }
    assert!(stdout.contains(&format!("Failed to connect to: 127.0.0.1:{dead}")));
    assert!(!stdout.contains("Task"), "{stdout}");
}

#[test]
fn the_stack_shows_data_received_called_by_the_transport_and_the_reactor() {
    let servers = three_servers();
    let output = cargo_bin_cmd!("get-poetry-2-stack")
        .arg(servers[0].port.to_string())
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("The Rust stack:\n"), "{stdout}");
    // Innermost first: ours, then the transport, then the reactor, then main.
    let order = [
        "StackProtocol as mini_twisted::protocol::Protocol>::data_received",
        "mini_twisted::tcp::Connection as mini_twisted::reactor::ReadDescriptor>::do_read",
        "mini_twisted::reactor::Reactor::dispatch",
        "mini_twisted::reactor::Reactor::run",
        "get_poetry_2_stack::main",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|frame| {
            stdout
                .find(frame)
                .unwrap_or_else(|| panic!("{frame} missing: {stdout}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "{stdout}"
    );
}

#[test]
fn the_stack_client_says_so_when_no_data_ever_comes() {
    cargo_bin_cmd!("get-poetry-2-stack")
        .arg(dead_port().to_string())
        .timeout(LIMIT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Failed to connect to: 127.0.0.1:"));
}
