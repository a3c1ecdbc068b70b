//! Part 22: clients 7 and 8 on tokio, held to their mini-twisted twins.
//!
//! Each tokio client runs beside its twin (`get-poetry-7-tokio` beside
//! `get-poetry-7`, `get-poetry-8-tokio` beside `get-poetry-8`) against the
//! same servers, and the two must agree: the same exit status, the same
//! lines on stdout and on stderr. Where two poems race each other, the
//! order they are printed in is the race's, not the program's, so the
//! lines are compared as sets and each stdout must still be the poems,
//! whole, in one order or the other. The cases:
//!
//! - every server up: the poems, lowered, nothing on stderr, status 0;
//! - a poetry server down: the same report on stderr, the other poem,
//!   status 1; every poetry server down: only the reports;
//! - a poetry server that resets in mid-poem: the same report, status 1;
//! - the transform server down: the same report per poem, the originals,
//!   status 0;
//! - the same help, and the same refusal of an address that is not one.

mod common;

use std::process::Output;

use common::transform::{
    assert_poems, originals, poetry_servers, run_client, text, transform_server, TWO_POEMS,
};
use common::{dead_port, program, ResetServer, SlowServer, LIMIT};

/// The mini-twisted client and its tokio twin.
const TWINS: [(&str, &str); 2] = [
    ("get-poetry-7", "get-poetry-7-tokio"),
    ("get-poetry-8", "get-poetry-8-tokio"),
];

/// One run of each twin with the same arguments.
struct Runs {
    ours: Output,
    tokio: Output,
    names: (&'static str, &'static str),
}

fn run_twins(ports: &[u16]) -> Vec<Runs> {
    TWINS
        .iter()
        .map(|&(ours, tokio)| Runs {
            ours: run_client(ours, ports),
            tokio: run_client(tokio, ports),
            names: (ours, tokio),
        })
        .collect()
}

/// The lines of `bytes`, sorted: the same set whatever order the tasks
/// ended in.
fn sorted_lines(bytes: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = text(bytes).lines().map(str::to_string).collect();
    lines.sort();
    lines
}

impl Runs {
    /// The same status, and the same lines on each stream, in any order.
    fn assert_agree(&self) {
        let (ours, tokio) = self.names;
        let context = format!("{ours}: {:?}\n{tokio}: {:?}", self.ours, self.tokio);
        assert_eq!(
            self.ours.status.code(),
            self.tokio.status.code(),
            "{context}"
        );
        assert_eq!(
            sorted_lines(&self.ours.stdout),
            sorted_lines(&self.tokio.stdout),
            "stdout: {context}"
        );
        assert_eq!(
            sorted_lines(&self.ours.stderr),
            sorted_lines(&self.tokio.stderr),
            "stderr: {context}"
        );
    }

    /// Both stdouts are exactly `poems`, in either order.
    fn assert_poems(&self, poems: &[String]) {
        assert_poems(&text(&self.ours.stdout), poems);
        assert_poems(&text(&self.tokio.stdout), poems);
    }

    /// Both exited with `code`.
    fn assert_status(&self, code: i32) {
        assert_eq!(self.ours.status.code(), Some(code), "{:?}", self.ours);
        assert_eq!(self.tokio.status.code(), Some(code), "{:?}", self.tokio);
    }

    /// Both stdouts and both stderrs, byte for byte the same.
    fn assert_identical(&self) {
        assert_eq!(text(&self.ours.stdout), text(&self.tokio.stdout));
        assert_eq!(text(&self.ours.stderr), text(&self.tokio.stderr));
    }
}

fn lowered() -> Vec<String> {
    originals().iter().map(|poem| poem.to_lowercase()).collect()
}

#[test]
fn with_every_server_up_the_twins_print_the_same_lowered_poems() {
    let (_transform, xform) = transform_server();
    let servers = poetry_servers();
    for runs in run_twins(&[xform, servers[0].port, servers[1].port]) {
        runs.assert_agree();
        runs.assert_status(0);
        runs.assert_poems(&lowered());
        assert_eq!(text(&runs.tokio.stderr), "");
    }
}

#[test]
fn with_one_poem_the_twins_print_the_same_bytes() {
    let (_transform, xform) = transform_server();
    let server = SlowServer::quick(TWO_POEMS[1], 200);
    for runs in run_twins(&[xform, server.port]) {
        runs.assert_identical();
        runs.assert_status(0);
        assert_eq!(text(&runs.tokio.stdout), format!("{}\n", lowered()[1]));
    }
}

#[test]
fn with_a_poetry_server_down_the_twins_report_it_alike_and_exit_1() {
    let (_transform, xform) = transform_server();
    let servers = poetry_servers();
    let dead = dead_port();
    for runs in run_twins(&[xform, dead, servers[1].port]) {
        runs.assert_identical();
        runs.assert_status(1);
        let stderr = text(&runs.tokio.stderr);
        let failed = format!("The poem download failed: cannot connect to 127.0.0.1:{dead}: ");
        assert!(stderr.starts_with(&failed), "{stderr}");
        assert!(stderr.contains("refused"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert_eq!(text(&runs.tokio.stdout), format!("{}\n", lowered()[1]));
    }
}

#[test]
fn with_every_poetry_server_down_the_twins_print_only_the_reports() {
    let (_transform, xform) = transform_server();
    for runs in run_twins(&[xform, dead_port(), dead_port()]) {
        runs.assert_agree();
        runs.assert_status(1);
        assert_eq!(text(&runs.tokio.stdout), "");
        assert_eq!(text(&runs.tokio.stderr).lines().count(), 2);
    }
}

#[test]
fn a_reset_in_mid_poem_is_the_same_failed_download_for_the_twins() {
    let (_transform, xform) = transform_server();
    let reset = ResetServer::start("poetry/ecstasy.txt");
    for runs in run_twins(&[xform, reset.port]) {
        runs.assert_identical();
        runs.assert_status(1);
        let stderr = text(&runs.tokio.stderr);
        let failed = "The poem download failed: the connection was lost: ";
        assert!(stderr.starts_with(failed), "{stderr}");
        assert!(stderr.contains("Connection reset by peer"), "{stderr}");
        assert_eq!(text(&runs.tokio.stdout), "");
    }
}

#[test]
fn with_the_transform_server_down_the_twins_print_the_originals() {
    let servers = poetry_servers();
    let dead = dead_port();
    for runs in run_twins(&[dead, servers[0].port, servers[1].port]) {
        runs.assert_agree();
        runs.assert_status(0);
        runs.assert_poems(&originals());
        let stderr = text(&runs.tokio.stderr);
        let failed = format!("Cummingsify failed! cannot connect to 127.0.0.1:{dead}: ");
        let reports: Vec<&str> = stderr.lines().collect();
        assert_eq!(reports.len(), 2, "{stderr}");
        assert!(reports.iter().all(|r| r.starts_with(&failed)), "{stderr}");
    }
}

/// Runs `name` with `args`, bounded.
fn run(name: &str, args: &[&str]) -> Output {
    assert_cmd::Command::new(program(name))
        .args(args)
        .timeout(LIMIT)
        .output()
        .unwrap()
}

#[test]
fn the_twins_give_the_same_help_and_refuse_the_same_addresses() {
    let cases: [&[&str]; 4] = [&[], &["10001"], &["10001", "poem"], &["--help"]];
    for (ours, tokio) in TWINS {
        for args in cases {
            let (a, b) = (run(ours, args), run(tokio, args));
            assert_eq!(a.status.code(), b.status.code(), "{args:?}: {a:?} {b:?}");
            // Only the program's name differs, and its one-line summary.
            let named = |output: &[u8]| {
                let output = text(output).replace(tokio, ours);
                let summary = |line: &&str| !line.starts_with("Get Poetry Now!");
                output
                    .lines()
                    .filter(summary)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(named(&a.stdout), named(&b.stdout), "{args:?}");
            assert_eq!(named(&a.stderr), named(&b.stderr), "{args:?}");
        }
    }
}
