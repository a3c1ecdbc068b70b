//! A closed stdout, against every program in Cargo.toml.
//!
//! `cargo run --bin get-poetry-2 -- 10000 | head -1` closes the program's
//! stdout after one line. Rust ignores `SIGPIPE`, so the next `println!`
//! panics; inside a reactor callback that panic would be caught and the
//! loop would run on with nobody to print to. The panic hook that
//! `mini_twisted::log::init` installs ends the program instead, at once,
//! quietly, with status 141. This test holds every program to that:
//!
//! - it ends within [`PROMPT`] (a server, or a demo that runs for ever, may
//!   go on running instead, as long as it keeps working);
//! - it ends with status 141, or 0 if everything it had to say fitted in
//!   the pipe before the reader went away;
//! - nothing on stderr says "panicked" (Part 3's `exception` demo panics
//!   on purpose and reports it: that one panic is expected);
//! - it leaves no process of its own behind.
//!
//! Each program runs twice: with a stdout that is closed from the start,
//! and with one closed after its first line. The list comes from
//! Cargo.toml, so a new program fails here until it has a recipe below.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{port_of, program, programs, scratch, try_port_of, Background, SlowServer, LIMIT};

/// How long a program may take to end once its stdout is closed.
const PROMPT: Duration = Duration::from_secs(20);

/// How long a program that runs for ever is watched after its stdout is
/// closed, in case it is about to end because of it.
const WATCH: Duration = Duration::from_millis(500);

/// Programs known to leave what they started running when a closed stdout
/// ends them, and not fixed yet. The test still stops them, through the
/// process group. Take a name out once its program is fixed.
const LEAVES_CHILDREN_BEHIND: [&str; 0] = [];

/// The poem the servers serve: a short one, so that a fetch is quick.
const POEM: &str = "poetry/science.txt";

/// What the transform server is asked, and must answer, once its stdout
/// is closed.
const TRANSFORM: (&[u8], &[u8]) = (b"27:cummingsify.HERE IS MY POEM,", b"15:here is my poem,");

#[derive(Clone, Copy, Debug, PartialEq)]
enum Close {
    /// Before the program starts: its first line already has nowhere to go.
    AtOnce,
    /// After its first line.
    AfterFirstLine,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Ends by itself.
    Finite,
    /// Runs until it is stopped (Part 3's `hello` and `stack`).
    Forever,
    /// Runs until it is stopped and never prints (Part 3's `simple`): the
    /// only check is that a closed stdout does not upset it.
    Silent,
    /// Prints its port, then serves until it is stopped.
    Server,
}

/// How to run one program, and what must run beside it.
struct Recipe {
    kind: Kind,
    args: Vec<String>,
    stdin: &'static str,
    /// A panic that is the program's own lesson.
    own_panic: Option<&'static str>,
    /// For a server that waits to be asked: the request, and the reply it
    /// must give. `None` for a poetry server, which must send [`POEM`].
    ask: Option<(&'static [u8], &'static [u8])>,
    /// Servers the program talks to, stopped when the recipe is dropped.
    _servers: Vec<SlowServer>,
    _others: Vec<Background>,
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| arg.to_string()).collect()
}

/// The recipe for `name`, or `None` for a program nobody wrote one for.
fn recipe(name: &str) -> Option<Recipe> {
    let mut recipe = Recipe {
        kind: Kind::Finite,
        args: Vec::new(),
        stdin: "",
        own_panic: None,
        ask: None,
        _servers: Vec::new(),
        _others: Vec::new(),
    };
    match name {
        "slowpoetry" | "slowpoetry-reactor" | "slowpoetry-tokio" => {
            recipe.kind = Kind::Server;
            let args = ["--port", "0", "--delay", "0", "--num-bytes", "1000", POEM];
            recipe.args = strings(&args);
        }
        "fastpoetry" | "fastpoetry-tokio" => {
            recipe.kind = Kind::Server;
            recipe.args = strings(&["--port", "0", POEM]);
        }
        "transformedpoetry" | "transformedpoetry-tokio" => {
            recipe.kind = Kind::Server;
            recipe.args = strings(&["--port", "0"]);
            recipe.ask = Some(TRANSFORM);
        }
        "transform-test" => {
            let transforms = program("transformedpoetry");
            let mut server = Background::start(&transforms, &["--port", "0"]);
            recipe.args = vec![port_of(&server.next_line()).to_string()];
            recipe._others.push(server);
        }
        "poetryd" => {
            // In the foreground it logs to stdout; its first line is no
            // port, so it is watched as a program that runs until stopped.
            recipe.kind = Kind::Forever;
            // A folder per run: the two runs (closed at once, closed after
            // the first line) must not find each other's pid file.
            static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let pidfile = scratch(&format!("faults-stdout-poetryd-{run}")).join("poetryd.pid");
            let pidfile = pidfile.to_string_lossy().into_owned();
            recipe.args = strings(&[
                "--nodaemon",
                "--pidfile",
                &pidfile,
                "transform",
                "--port",
                "0",
            ]);
        }
        "simple" => recipe.kind = Kind::Silent,
        "hello" | "stack" => recipe.kind = Kind::Forever,
        "countdown" => recipe.args = strings(&["--interval", "0.01"]),
        "defer-block" => recipe.args = strings(&["--pace", "0.02"]),
        "deferred-simulator" => recipe.stdin = "r good f bad\nf googly p\n\n",
        "exception" => recipe.own_panic = Some("I fall down."),
        "failure-examples" | "defer-1" | "defer-2" | "defer-3" | "defer-4" | "defer-5"
        | "defer-6" | "defer-7" | "defer-8" | "defer-9" | "defer-10" | "defer-11"
        | "defer-unhandled" | "log-demo" => {}
        // Part 17's demos.
        "gen-1" | "gen-2" | "gen-3" | "gen-4" | "inline-callbacks-tb" => {}
        "inline-callbacks-1" => recipe.args = strings(&["--delay", "0.01"]),
        "inline-callbacks-2" => recipe.args = strings(&["--scale", "0.01"]),
        // Part 18's demos: no server, no arguments.
        demo if demo.starts_with("deferred-list-") => {}
        "defer-cancel-1" | "defer-cancel-2" | "defer-cancel-3" | "defer-cancel-4"
        | "defer-cancel-5" | "defer-cancel-6" | "defer-cancel-7" | "defer-cancel-8"
        | "defer-cancel-12" => {}
        "defer-cancel-9" | "defer-cancel-10" | "defer-cancel-11" | "defer-cancel-await" => {
            recipe.args = strings(&["--scale", "0.01"]);
        }
        "showcase" => {
            let out = scratch(&format!("faults-stdout-{name}"));
            recipe.args = strings(&["--quick", "--no-build", "--out-dir"]);
            recipe.args.push(out.display().to_string());
        }
        "poetry-servers" => {
            // It prints a line per server, then relays what they print.
            recipe.kind = Kind::Forever;
            recipe.args = strings(&["--base-port", "0", "--delay", "0.01", "--no-build"]);
        }
        "poetry-proxy-1" | "poetry-proxy-2" | "poetry-proxy-3" => {
            // A server in front of a server: it prints a line per client,
            // so a closed stdout ends it at its first client (or it goes
            // on serving the upstream's poem).
            recipe.kind = Kind::Server;
            let mut upstream = Background::start(&program("fastpoetry"), &["--port", "0", POEM]);
            let port = port_of(&upstream.next_line()).to_string();
            recipe.args = strings(&["--port", "0", &port]);
            recipe._others.push(upstream);
        }
        "poetry-load" => {
            let mut server = Background::start(&program("fastpoetry"), &["--port", "0", POEM]);
            let port = port_of(&server.next_line()).to_string();
            let args = ["--poem", POEM, "--seconds", "1", "--max-connections", "50"];
            recipe.args = strings(&[&port, "--concurrency", "2"]);
            recipe.args.extend(strings(&args));
            recipe._others.push(server);
        }
        client if client.starts_with("get-poetry-") => {
            // The long poem in many chunks: a client that prints as the
            // poem arrives is still printing when its stdout goes away.
            let server = SlowServer::quick("poetry/ecstasy.txt", 90);
            if client.starts_with("get-poetry-5") {
                recipe.args = strings(&["--seed", "2"]);
            }
            // Clients 6, 7 and 8, and the tokio twins of 7 and 8 (Part 22).
            let transform_first = ["get-poetry-6", "get-poetry-7", "get-poetry-8"];
            let tokio_twins = ["get-poetry-7-tokio", "get-poetry-8-tokio"];
            if transform_first.contains(&client) || tokio_twins.contains(&client) {
                // Its first address is the transform server's.
                let mut transform =
                    Background::start(&program("transformedpoetry"), &["--port", "0"]);
                recipe
                    .args
                    .push(port_of(&transform.next_line()).to_string());
                recipe._others.push(transform);
            }
            recipe.args.push(server.port.to_string());
            recipe._servers.push(server);
        }
        _ => return None,
    }
    Some(recipe)
}

/// The program under test, in a process group of its own, so that
/// whatever it starts can be found and stopped with it.
struct Running {
    child: Child,
}

impl Running {
    /// Whether any process of the group is still alive.
    fn group_alive(&self) -> bool {
        Command::new("kill")
            .args(["-0", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Waits up to `limit` for the program to end.
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the first line of `stdout` (bounded by [`LIMIT`]), then closes it.
fn first_line(stdout: ChildStdout) -> Result<String, String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        // The reader is dropped here: the pipe's read end is closed.
        let _ = sender.send(line);
    });
    receiver
        .recv_timeout(LIMIT)
        .map_err(|_| format!("no first line within {LIMIT:?}"))
}

/// What `port` sends after `request` until it closes, or `None` if the
/// server would not answer.
fn fetch(port: u16, request: &[u8]) -> Option<Vec<u8>> {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    socket.write_all(request).ok()?;
    let mut poem = Vec::new();
    socket.read_to_end(&mut poem).ok()?;
    Some(poem)
}

/// 141 for a closed pipe, or 0 when everything fitted before it closed.
fn check_status(status: ExitStatus) -> Result<(), String> {
    match status.code() {
        Some(141) | Some(0) => Ok(()),
        _ => Err(format!("ended with {status}")),
    }
}

/// Runs `name` with its stdout closed as `close` says; what went wrong.
fn run(name: &str, close: Close) -> Result<(), String> {
    let recipe = recipe(name).ok_or("no recipe: add one to tests/faults_stdout.rs")?;
    let stdout = match close {
        // A socket whose other end is closed: a write to it fails as a
        // write to a pipe with no reader does, with EPIPE. (A pipe closed
        // after the spawn could be too late: a quick program may have
        // written its lines by then.)
        Close::AtOnce => {
            let (ours, theirs) = UnixStream::pair().map_err(|error| error.to_string())?;
            drop(ours);
            Stdio::from(OwnedFd::from(theirs))
        }
        Close::AfterFirstLine => Stdio::piped(),
    };
    let child = Command::new(program(name))
        .args(&recipe.args)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .process_group(0)
        .spawn()
        .map_err(|error| format!("cannot start: {error}"))?;
    let mut running = Running { child };

    // The input is small: it fits in the pipe whether or not it is read.
    if let Some(mut stdin) = running.child.stdin.take() {
        let _ = stdin.write_all(recipe.stdin.as_bytes());
    }
    let stderr = running.child.stderr.take().expect("stderr is piped");
    let (sender, stderr_text) = mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        let _ = sender.send(text);
    });

    let first = match running.child.stdout.take() {
        Some(stdout) => first_line(stdout)?,
        None => String::new(),
    };

    let verdict = match recipe.kind {
        Kind::Finite => match running.wait(PROMPT) {
            Some(status) => check_status(status),
            None => Err(format!("still running {PROMPT:?} after its stdout closed")),
        },
        Kind::Forever | Kind::Silent => running.wait(WATCH).map_or(Ok(()), check_status),
        Kind::Server => serve_after_close(&mut running, &first, recipe.ask),
    };
    // Whatever it started must have ended with it.
    let exited = matches!(running.child.try_wait(), Ok(Some(_)));
    let leftovers = exited && running.group_alive();
    drop(running);

    let stderr = stderr_text.recv_timeout(LIMIT).unwrap_or_default();
    let panics: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("panicked"))
        .filter(|line| !recipe.own_panic.is_some_and(|own| line.contains(own)))
        .collect();
    let mut wrong: Vec<String> = verdict.err().into_iter().collect();
    if !panics.is_empty() {
        wrong.push(format!("panicked: {panics:?}"));
    }
    if leftovers && !LEAVES_CHILDREN_BEHIND.contains(&name) {
        wrong.push("left processes of its own running after it ended".into());
    }
    match wrong.is_empty() {
        true => Ok(()),
        false => Err(wrong.join("; ")),
    }
}

/// A server whose stdout is closed: clients make it print lines. Then it
/// must have ended with 141 (or 0), or go on serving whole poems (or, for
/// a server that is asked, whole replies to `ask`'s request).
///
/// Several clients, not one: while another thread of this test is starting
/// a program, the new process holds a copy of every descriptor of ours
/// until it has started, the read end of this pipe included, and a write
/// that comes in that moment still finds a reader.
fn serve_after_close(
    running: &mut Running,
    first: &str,
    ask: Option<(&[u8], &[u8])>,
) -> Result<(), String> {
    const CLIENTS: usize = 10;
    let port = try_port_of(first).ok_or_else(|| format!("no port in its first line {first:?}"))?;
    let poem = std::fs::read(POEM).expect("the poem exists");
    let (request, reply) = ask.unwrap_or((b"", &poem));
    let mut served = 0;
    let deadline = Instant::now() + PROMPT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = running.child.try_wait() {
            return check_status(status);
        }
        if served == CLIENTS {
            return Ok(());
        }
        if fetch(port, request).as_deref() == Some(reply) {
            served += 1;
        }
        thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "neither ended nor served {CLIENTS} clients within {PROMPT:?}"
    ))
}

#[test]
fn a_closed_stdout_ends_every_program_quietly() {
    let names = programs();
    let runs: Vec<_> = names
        .iter()
        .map(|name| {
            let name = name.clone();
            thread::spawn(move || {
                let closes = match recipe(&name).map(|recipe| recipe.kind) {
                    // A server's first line is its port: the test needs it.
                    Some(Kind::Server) => vec![Close::AfterFirstLine],
                    Some(Kind::Silent) => vec![Close::AtOnce],
                    _ => vec![Close::AtOnce, Close::AfterFirstLine],
                };
                closes
                    .into_iter()
                    .filter_map(|close| {
                        run(&name, close)
                            .err()
                            .map(|error| format!("{name} (stdout closed {close:?}): {error}"))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let problems: Vec<String> = runs
        .into_iter()
        .flat_map(|run| run.join().expect("a run thread"))
        .collect();
    assert!(
        problems.is_empty(),
        "{} runs of the {} programs misbehave:\n{}",
        problems.len(),
        names.len(),
        problems.join("\n")
    );
}
