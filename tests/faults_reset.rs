//! A server that resets the connection in mid-poem, against every poetry
//! client.
//!
//! A poem's end is the server closing the connection, so the only way a
//! client can tell half a poem from a whole one is *how* the connection
//! ended: an end of file, or a reset. What each client does with a reset:
//!
//! - Parts 2 and 4 (blocking, select, 1.0, 1.0 broken) read the socket
//!   themselves: the read error fails that task, on stderr, and the exit
//!   status is 1.
//! - Clients 2.0, 2.1 and 3.0 have no errback to call: they report what
//!   arrived, as the series does, say on stderr that the poem from that
//!   server may be incomplete, and exit 1.
//! - From client 3.1 on, a connection lost for any reason but a clean close
//!   is a failed download: the errback runs and the half poem is never
//!   printed as a poem.
//! - Part 20's Erlang client: the worker that saw the reset crashes, its
//!   report names the reset, the half poem is not printed, and the exit
//!   status stays 0, as the Erlang original's (its `--help` says so).
//!
//! And the exit status that goes with it, for every other client: 1 when
//! any poem could not be fetched (a server down, a reset), 0 when all
//! arrived, as each client's `--help` says.

mod common;

use std::process::Output;

use common::{
    dead_port, lines, poem_size, port_of, program, Background, ResetServer, SlowServer, LIMIT,
};

/// The poem the resetting server cuts in half.
const CUT: &str = "poetry/ecstasy.txt";
/// The poem a well-behaved server sends whole, beside it.
const WHOLE: &str = "poetry/science.txt";

/// What a client should make of a reset.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The task fails with the read error on stderr; the others go on.
    TaskFails,
    /// What arrived is reported, with a warning that it may be incomplete.
    Warns,
    /// The errback runs: this line (prefix) on stderr, and no half poem.
    Errback(&'static str),
}

const CLIENTS: [(&str, Expect); 12] = [
    ("get-poetry-blocking", Expect::TaskFails),
    ("get-poetry-select", Expect::TaskFails),
    ("get-poetry-1", Expect::TaskFails),
    ("get-poetry-1-broken", Expect::TaskFails),
    ("get-poetry-2", Expect::Warns),
    ("get-poetry-2-simple", Expect::Warns),
    ("get-poetry-3", Expect::Warns),
    ("get-poetry-3-1", Expect::Errback("Poem failed: ")),
    ("get-poetry-4", Expect::Errback("Poem failed: ")),
    ("get-poetry-5", Expect::Errback("The poem download failed.")),
    (
        "get-poetry-5-1",
        Expect::Errback("The poem download failed."),
    ),
    ("get-poetry-6", Expect::Errback("The poem download failed.")),
];

/// A seed whose first choice is the lower-case poem (see part10_clients).
const LOWER_CASE: &str = "2";

/// The words the operating system uses for a reset, in every message.
const RESET: &str = "Connection reset by peer";

fn run(name: &str, args: &[String]) -> Output {
    let mut command = assert_cmd::Command::new(program(name));
    if name.starts_with("get-poetry-5") {
        command.args(["--seed", LOWER_CASE]);
    }
    // Client 6's first address is a transform server: a real one, for
    // this run only.
    let _transform = (name == "get-poetry-6").then(|| {
        let mut transform = Background::start(&program("transformedpoetry"), &["--port", "0"]);
        command.arg(port_of(&transform.next_line()).to_string());
        transform
    });
    command.args(args).timeout(LIMIT).output().unwrap()
}

#[test]
fn a_reset_in_mid_poem_is_never_a_whole_poem() {
    let reset = ResetServer::start(CUT);
    let whole = SlowServer::quick(WHOLE, 200);
    let cut_text = std::fs::read_to_string(CUT).unwrap();
    let half_text = &cut_text[..reset.half];
    let whole_text = std::fs::read_to_string(WHOLE).unwrap();
    let args = [reset.port.to_string(), whole.port.to_string()];
    let reset_address = format!("127.0.0.1:{}", reset.port);

    let mut problems = Vec::new();
    for (name, expect) in CLIENTS {
        let output = run(name, &args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let out = lines(&output.stdout);
        let mut wrong = Vec::new();
        let mut check = |ok: bool, what: &str| {
            if !ok {
                wrong.push(what.to_string());
            }
        };
        check(output.status.code() == Some(1), "the exit status is not 1");
        check(!stderr.contains("panicked"), "it panicked");
        // Client 5's line is the series' "The poem download failed.",
        // the same for every failure; client 6 says the same, and names
        // the failure on stdout after the poems, as the series does; every
        // other client names the reset on stderr.
        match name {
            "get-poetry-5" | "get-poetry-5-1" => {}
            "get-poetry-6" => check(stdout.contains(RESET), "stdout does not name the reset"),
            _ => check(stderr.contains(RESET), "stderr does not name the reset"),
        }
        match expect {
            Expect::TaskFails => {
                check(stderr.contains("Task 1: "), "stderr does not name task 1");
                check(
                    stderr.contains(&reset_address),
                    "stderr does not name the server",
                );
                // Task 1's poem is not counted: no summary line, no total of two.
                let summary = |line: &&String| {
                    line.starts_with("Task 1: ")
                        && (line.ends_with(" bytes of poetry") || line.contains(" in 0:"))
                };
                check(!out.iter().any(|line| summary(&line)), "task 1 has a poem");
                let got = format!("{} bytes of poetry", poem_size(WHOLE));
                check(stdout.contains(&got), "the whole poem is missing");
                check(stdout.contains("Got 1 poems in "), "no total of one poem");
            }
            Expect::Warns => {
                let warning = format!("The poem from {reset_address} may be incomplete: ");
                check(stderr.contains(&warning), "no warning naming the server");
                if name == "get-poetry-2" {
                    // Like the series, it reports what arrived and counts
                    // every address in its total.
                    let half = format!(": {} bytes of poetry", reset.half);
                    check(out.iter().any(|l| l.ends_with(&half)), "no half poem");
                    check(stdout.contains("Got 2 poems in "), "the series' total");
                } else {
                    check(stdout.contains(half_text), "what arrived is not shown");
                    check(stdout.contains(&whole_text), "the whole poem is missing");
                }
            }
            Expect::Errback(line) => {
                check(stderr.contains(line), "the errback's line is missing");
                let half = &half_text[..200];
                check(
                    !stdout.contains(half) && !stdout.contains(&half.to_lowercase()),
                    "the half poem is printed as a poem",
                );
                let poem = match name {
                    "get-poetry-5" | "get-poetry-5-1" | "get-poetry-6" => whole_text.to_lowercase(),
                    _ => whole_text.clone(),
                };
                check(stdout.contains(&poem), "the whole poem is missing");
            }
        }
        if !wrong.is_empty() {
            let start: String = stdout.chars().take(300).collect();
            problems.push(format!(
                "{name} ({expect:?}): {}\n  status: {:?}\n  stderr: {stderr}\n  stdout starts: {start:?}",
                wrong.join("; "),
                output.status.code()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_stack_clients_end_as_their_demos_say() {
    let reset = ResetServer::start(CUT);
    let port = [reset.port.to_string()];

    // Client 2.0's stack demo ends at the first data: it never sees the reset.
    let output = run("get-poetry-2-stack", &port);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("The Rust stack:"));

    // Client 4.0's waits for the whole poem, which never comes: its errback
    // says why, and the stack is never printed.
    let output = run("get-poetry-4-stack", &port);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("Poem failed: ") && stderr.contains(RESET),
        "{stderr}"
    );
}

/// Every poetry client: the ones above and the two stack demos.
const EVERY_CLIENT: [&str; 14] = [
    "get-poetry-blocking",
    "get-poetry-select",
    "get-poetry-1",
    "get-poetry-1-broken",
    "get-poetry-2",
    "get-poetry-2-simple",
    "get-poetry-2-stack",
    "get-poetry-3",
    "get-poetry-3-1",
    "get-poetry-4",
    "get-poetry-4-stack",
    "get-poetry-5",
    "get-poetry-5-1",
    "get-poetry-6",
];

#[test]
fn every_client_exits_1_when_a_poem_is_missing_and_0_when_all_arrive() {
    let server = SlowServer::quick(WHOLE, 200);
    let up = [server.port.to_string()];
    let one_down = [server.port.to_string(), dead_port().to_string()];
    let mut problems = Vec::new();
    for name in EVERY_CLIENT {
        let help = run(name, &["--help".to_string()]);
        if !String::from_utf8_lossy(&help.stdout)
            .contains("Exits with status 1 if any poem could not be fetched.")
        {
            problems.push(format!("{name}: --help does not give the exit status"));
        }

        let output = run(name, &up);
        if output.status.code() != Some(0) {
            problems.push(format!("{name}, every server up: {output:?}"));
        }

        // Client 3.0 waits for ever on a dead server, by design; that it
        // exits 1 when Ctrl-C stops it is tests/part06_clients.rs's job.
        // The stack demos end at the first poem, so they get only the
        // dead port.
        let args: &[String] = match name {
            "get-poetry-3" => continue,
            "get-poetry-2-stack" | "get-poetry-4-stack" => &one_down[1..],
            _ => &one_down,
        };
        let output = run(name, args);
        if output.status.code() != Some(1)
            || String::from_utf8_lossy(&output.stderr).contains("panicked")
        {
            problems.push(format!("{name}, a server down: {output:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `transform-test` reads its reply until the server closes, as the
/// clients read a poem: a reset is not a reply, however much came first.
/// It shows what arrived (it is netcat's stand-in), names the reset, and
/// exits 1.
#[test]
fn transform_test_does_not_take_a_reset_for_a_reply() {
    let reset = ResetServer::start(CUT);
    let output = run("transform-test", &[reset.port.to_string()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(output.stdout.len(), reset.half + 1, "{stderr}");
    let expected = format!(
        "transform-test: the connection to 127.0.0.1:{} failed after {} bytes: {RESET}",
        reset.port, reset.half
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
}

/// Part 20's Erlang client has no errback and no exit status of 1: a
/// reset crashes the worker that reads from that server, as a failed
/// `gen_tcp:recv` would crash an Erlang process. Its report names the
/// reset on stderr, the half poem is never printed as a poem, the other
/// worker finishes, and the exit status is 0, as the original's.
#[test]
fn the_actors_client_crashes_only_the_worker_that_saw_the_reset() {
    let reset = ResetServer::start(CUT);
    let whole = SlowServer::quick(WHOLE, 200);
    let output = run(
        "get-poetry-actors",
        &[reset.port.to_string(), whole.port.to_string()],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stderr.starts_with("Task 1 crashed: ") && stderr.contains(RESET),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let cut_text = std::fs::read_to_string(CUT).unwrap();
    assert!(
        !stdout.contains(&cut_text[..200]),
        "the half poem is printed"
    );
    let whole_text = std::fs::read_to_string(WHOLE).unwrap();
    assert!(stdout.contains(&whole_text), "the whole poem is missing");
}

/// Part 21's lazy clients, which read their sockets themselves, through an
/// iterator of lines. `get-poetry-lazy` fails the task whose connection
/// was reset (its half poem is never printed as a poem);
/// `get-poetry-lazy-ordered` has printed the lines that came as they came,
/// and says on stderr that the poem may be incomplete. Both exit 1 when a
/// poem is missing and 0 when all arrive, as their `--help` says.
#[test]
fn the_lazy_clients_fail_a_reset_poem_and_exit_as_their_help_says() {
    let reset = ResetServer::start(CUT);
    let whole = SlowServer::quick(WHOLE, 200);
    let cut_text = std::fs::read_to_string(CUT).unwrap();
    let whole_text = std::fs::read_to_string(WHOLE).unwrap();
    let reset_address = format!("127.0.0.1:{}", reset.port);
    let mut problems = Vec::new();
    for (name, says) in [
        ("get-poetry-lazy", "Task 1: failed to get poetry from "),
        ("get-poetry-lazy-ordered", "The poem from "),
    ] {
        let output = run(name, &[reset.port.to_string(), whole.port.to_string()]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut check = |ok: bool, what: &str| {
            if !ok {
                problems.push(format!("{name}, a reset: {what}: {output:?}"));
            }
        };
        check(output.status.code() == Some(1), "the exit status is not 1");
        check(!stderr.contains("panicked"), "it panicked");
        check(stderr.starts_with(says), "the failure's line is missing");
        check(
            stderr.contains(&reset_address),
            "stderr does not name the server",
        );
        check(stderr.contains(RESET), "stderr does not name the reset");
        check(stdout.contains(&whole_text), "the whole poem is missing");
        // What came before the reset is half the poem, never all of it.
        check(!stdout.contains(&cut_text), "the cut poem is printed whole");

        let help = run(name, &["--help".to_string()]);
        let help = String::from_utf8_lossy(&help.stdout);
        if !help.contains("Exits with status 1 if any poem could not be fetched.") {
            problems.push(format!("{name}: --help does not give the exit status"));
        }
        let output = run(name, &[whole.port.to_string()]);
        if output.status.code() != Some(0) {
            problems.push(format!("{name}, every server up: {output:?}"));
        }
        let output = run(name, &[whole.port.to_string(), dead_port().to_string()]);
        if output.status.code() != Some(1)
            || String::from_utf8_lossy(&output.stderr).contains("panicked")
        {
            problems.push(format!("{name}, a server down: {output:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
