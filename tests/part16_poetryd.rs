//! Part 16: `poetryd`, the runner, as a real program: in the foreground,
//! and as a daemon found again by its pid file. Every daemon a test starts
//! is killed when the test ends, by the pid in its pid file.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use common::{fetch, scratch, Background, LIMIT};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use predicates::prelude::*;

/// The poem, by an absolute path: the daemon tests run in their own folder.
fn poem() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("poetry/ecstasy.txt")
        .to_string_lossy()
        .into_owned()
}

/// The port in a `PoetryFactory starting on PORT` line.
fn port_in(line: &str) -> u16 {
    line.rsplit(' ')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

/// A line of the log without its time.
fn entry(line: &str) -> &str {
    line.get(25..).unwrap_or(line)
}

/// Waits, within [`LIMIT`], until `ready` says yes.
fn eventually(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !ready() {
        assert!(Instant::now() < deadline, "{what}: not within {LIMIT:?}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// The pid a pid file names, if it names one.
fn pid_in(pidfile: &Path) -> Option<i32> {
    fs::read_to_string(pidfile).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

/// A daemon's folder: whatever the pid file in it names is killed on drop.
struct Daemon {
    dir: PathBuf,
}

impl Daemon {
    fn new(name: &str) -> Daemon {
        Daemon { dir: scratch(name) }
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.join("poetryd.pid")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("poetryd.log")).unwrap_or_default()
    }

    /// `poetryd ARGS` run in the folder, to its end (the parent returns
    /// once the daemon is up).
    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new(cargo_bin!("poetryd"));
        command.current_dir(&self.dir).args(args);
        common::run_bounded(&mut command, LIMIT)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(pid) = pid_in(&self.pidfile()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

#[test]
fn in_the_foreground_it_logs_each_client_and_stops_on_sigterm_in_order() {
    let dir = scratch("poetryd-nodaemon");
    let pidfile = dir.join("fg.pid");
    let pidfile_arg = pidfile.to_string_lossy().into_owned();
    let mut server = Background::start(
        cargo_bin!("poetryd"),
        &[
            "--nodaemon",
            "--pidfile",
            &pidfile_arg,
            "fastpoetry",
            "--port",
            "0",
            "--poem",
            &poem(),
        ],
    );
    let starting = server.wait_for(|line| line.contains("PoetryFactory starting on"));
    let port = port_in(&starting);
    server.wait_for(|line| line.contains("loaded a poem from:"));
    eventually("the pid file", || {
        pid_in(&pidfile) == Some(server.pid() as i32)
    });

    let poem_bytes = fs::read(poem()).unwrap();
    for _ in 0..2 {
        assert_eq!(fetch(port), poem_bytes);
        let sent = server.wait_for(|line| line.contains("sending"));
        assert_eq!(
            entry(&sent).split(" to ").next(),
            Some(
                format!(
                    "[PoetryFactory] sending {} bytes of poetry",
                    poem_bytes.len()
                )
                .as_str()
            ),
            "{sent}"
        );
    }

    kill(Pid::from_raw(server.pid() as i32), Signal::SIGTERM).unwrap();
    let mut shutdown = Vec::new();
    while shutdown.last().map(String::as_str) != Some("[-] Server Shut Down.") {
        shutdown.push(entry(&server.next_line()).to_string());
    }
    assert_eq!(
        shutdown,
        [
            "[-] Received SIGTERM, shutting down.".to_string(),
            format!("[-] (TCP Port {port} Closed)"),
            "[-] Stopping factory PoetryFactory".to_string(),
            "[-] Main loop terminated.".to_string(),
            "[-] Server Shut Down.".to_string(),
        ]
    );
    assert_eq!(server.wait_exit(), Some(0));
    assert!(!pidfile.exists(), "the pid file is removed on shutdown");
    // The start: the runner, then the port (privileged start) before the poem.
    let started: Vec<&str> = server.seen.iter().map(|line| entry(line)).collect();
    let at = |text: &str| started.iter().position(|line| line.contains(text)).unwrap();
    assert_eq!(started[0], "[-] Log opened.");
    assert!(at("starting up.") < at("PoetryFactory starting on"));
    assert!(at("Starting factory PoetryFactory") < at("loaded a poem from:"));
}

#[test]
fn as_a_daemon_it_returns_at_once_and_is_found_and_stopped_by_its_pid_file() {
    let daemon = Daemon::new("poetryd-daemon");
    let started = daemon.run(&["fastpoetry", "--port", "0", "--poem", &poem()]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&started.stdout), "");

    let pid = pid_in(&daemon.pidfile()).expect("the pid file names the daemon");
    assert!(alive(pid), "the daemon runs on after its parent returned");
    assert_ne!(pid as u32, std::process::id());
    // The log fills: its lines come from the daemon, and a client's shows.
    let log = daemon.log();
    let starting = log
        .lines()
        .find(|line| line.contains("PoetryFactory starting on"))
        .expect(&log);
    assert_eq!(fetch(port_in(starting)), fs::read(poem()).unwrap());
    eventually("the client's line in the log", || {
        daemon.log().contains("[PoetryFactory] sending")
    });

    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    eventually("the pid file's removal", || !daemon.pidfile().exists());
    eventually("the daemon's end", || !alive(pid) || is_zombie(pid));
    assert!(
        daemon.log().trim_end().ends_with("[-] Server Shut Down."),
        "{}",
        daemon.log()
    );
}

/// A process that has ended but that its parent (gone) has not reaped yet
/// counts as ended; init reaps it soon.
fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

#[test]
fn a_second_start_is_refused_while_the_first_runs_and_a_stale_pid_file_is_replaced() {
    let daemon = Daemon::new("poetryd-twice");
    // A pid file left by a server that died without cleaning up.
    fs::write(daemon.pidfile(), "999999999\n").unwrap();
    let first = daemon.run(&["transform", "--port", "0"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let pid = pid_in(&daemon.pidfile()).unwrap();
    assert_ne!(pid, 999_999_999);
    assert!(
        daemon.log().contains("Removing stale pid file"),
        "{}",
        daemon.log()
    );

    let second = daemon.run(&["transform", "--port", "0"]);
    assert_eq!(second.status.code(), Some(1));
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains(&format!("already running as PID {pid}")),
        "{said}"
    );
    assert_eq!(
        pid_in(&daemon.pidfile()),
        Some(pid),
        "the first's pid file stays"
    );
    assert!(alive(pid));
}

#[test]
fn a_daemon_that_cannot_start_says_why_and_leaves_no_pid_file() {
    let daemon = Daemon::new("poetryd-taken");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = daemon.run(&["transform", "--iface", "127.0.0.1", "--port", &port]);
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("did not start"), "{said}");
    assert!(said.contains("Address already in use"), "{said}");
    assert!(!daemon.pidfile().exists());
}

#[test]
fn help_lists_the_services_and_each_service_has_its_own() {
    cargo_bin_cmd!("poetryd")
        .arg("--help")
        .timeout(LIMIT)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("fastpoetry  A fast poetry service.")
                .and(predicate::str::contains("transform "))
                .and(predicate::str::contains("--nodaemon"))
                .and(predicate::str::contains("--pidfile")),
        );
    cargo_bin_cmd!("poetryd")
        .args(["fastpoetry", "--help"])
        .timeout(LIMIT)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("-p, --port <PORT>")
                .and(predicate::str::contains("[default: 10000]"))
                .and(predicate::str::contains("--poem <FILE>"))
                .and(predicate::str::contains("[default: localhost]")),
        );
}

#[test]
fn a_missing_or_wrong_poem_is_a_usage_error_before_anything_starts() {
    let dir = scratch("poetryd-usage");
    for (args, says) in [
        (&["fastpoetry"][..], "--poem <FILE>"),
        (
            &["fastpoetry", "--poem", "no-such-poem.txt"][..],
            "No such file: no-such-poem.txt",
        ),
        (&["no-such-service"][..], "no-such-service"),
        (&[][..], "SERVICE"),
    ] {
        cargo_bin_cmd!("poetryd")
            .current_dir(&dir)
            .args(args)
            .timeout(LIMIT)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says).and(predicate::str::contains("panicked").not()));
    }
    assert!(!dir.join("poetryd.pid").exists());
    assert!(!dir.join("poetryd.log").exists());
}

/// Makes a named pipe at `path`, which nobody reads or writes.
fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo failed");
}

/// Stops the daemon its pid file names, and waits until it has cleaned up.
fn stop(daemon: &Daemon) {
    let pid = pid_in(&daemon.pidfile()).expect("a pid file");
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    eventually("the pid file's removal", || !daemon.pidfile().exists());
}

#[test]
fn a_named_pipe_as_the_pid_file_or_the_log_is_refused_at_once() {
    let daemon = Daemon::new("poetryd-pipes");
    // Not the Daemon's own pid file, which its drop reads.
    mkfifo(&daemon.dir.join("pipe.pid"));
    mkfifo(&daemon.dir.join("pipe.log"));
    // Opening a pipe waits until someone opens its other end: run waits
    // only so long, and fails the test if poetryd waited.
    let args = [
        "--pidfile",
        "pipe.pid",
        "--nodaemon",
        "transform",
        "--port",
        "0",
    ];
    let output = daemon.run(&args);
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("pipe.pid: it is not a regular file"),
        "{said}"
    );
    for runner in [
        &["--logfile", "pipe.log"][..],
        &["--nodaemon", "--logfile", "pipe.log"],
    ] {
        let output = daemon.run(&[runner, &["transform", "--port", "0"]].concat());
        assert_eq!(output.status.code(), Some(1), "{runner:?}");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains("pipe.log: it is a named pipe"), "{said}");
    }
    assert!(!daemon.pidfile().exists());
}

#[test]
fn a_pid_file_of_garbage_or_of_a_process_that_has_ended_is_stale() {
    let daemon = Daemon::new("poetryd-stale-kinds");
    // A child of this test that has ended, and that nobody has reaped:
    // it still takes signals, as a killed daemon does until init reaps it.
    let mut ended = Command::new("true").spawn().unwrap();
    let zombie = ended.id() as i32;
    eventually("the child's end", || is_zombie(zombie));
    let garbage = [&[0xff, 0xfe][..], &[b'9'; 100_000]].concat();
    for (content, why) in [
        (
            format!("{zombie}\n").into_bytes(),
            format!("process {zombie} has ended"),
        ),
        (garbage, "it holds no pid".to_string()),
    ] {
        fs::write(daemon.pidfile(), content).unwrap();
        let started = daemon.run(&["transform", "--iface", "127.0.0.1", "--port", "0"]);
        let said = String::from_utf8_lossy(&started.stderr);
        assert!(started.status.success(), "{why}: {said}");
        let log = daemon.log();
        let line = log
            .lines()
            .rfind(|line| line.contains("Removing stale pid file"))
            .unwrap_or_else(|| panic!("{log}"));
        assert!(line.contains(&why), "{line}");
        assert!(line.len() < 200, "a long file is quoted short: {line}");
        stop(&daemon);
    }
    let _ = ended.wait();
}

#[test]
fn a_pid_file_naming_the_server_itself_is_stale() {
    // A server killed without cleaning up, started again where pids
    // repeat (a container restarted): its pid file names the new server
    // itself. The shell writes its own pid, then becomes poetryd.
    let dir = scratch("poetryd-itself");
    let pidfile = dir.join("self.pid");
    let script = "echo $$ > \"$1\"; \
                  exec \"$0\" --nodaemon --pidfile \"$1\" transform --iface 127.0.0.1 --port 0";
    let program = cargo_bin!("poetryd").to_string_lossy().into_owned();
    let pidfile_arg = pidfile.to_string_lossy().into_owned();
    let mut server = Background::start(
        Path::new("/bin/sh"),
        &["-c", script, &program, &pidfile_arg],
    );
    let stale = server.wait_for(|line| line.contains("Removing stale pid file"));
    assert!(
        stale.contains(&format!("({} is this process)", server.pid())),
        "{stale}"
    );
    let starting = server.wait_for(|line| line.contains("TransformFactory starting on"));
    // The stale file already names this pid, so it cannot say when the
    // server is up: a reply can. Only then are signals watched, and the
    // SIGTERM below handled rather than fatal.
    let request = b"27:cummingsify.HERE IS MY POEM,";
    let reply = common::fetch_after_sending(("127.0.0.1", port_in(&starting)), request).unwrap();
    assert_eq!(reply, b"15:here is my poem,");
    eventually("the pid file", || {
        pid_in(&pidfile) == Some(server.pid() as i32)
    });
    kill(Pid::from_raw(server.pid() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(server.wait_exit(), Some(0));
    assert!(!pidfile.exists());
}

#[test]
fn a_daemon_whose_log_cannot_be_written_serves_on() {
    // The detached server's stderr is its log too: a full disk takes both.
    let daemon = Daemon::new("poetryd-full");
    let started = daemon.run(&[
        "--logfile",
        "/dev/full",
        "transform",
        "--iface",
        "127.0.0.1",
        "--port",
        "0",
    ]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let pid = pid_in(&daemon.pidfile()).expect("the pid file names the daemon");
    assert!(alive(pid) && !is_zombie(pid), "the daemon serves on");
    stop(&daemon);
}

#[test]
fn of_two_daemons_started_at_once_with_one_pid_file_exactly_one_runs() {
    let daemon = Daemon::new("poetryd-race");
    for _ in 0..8 {
        let starts: Vec<_> = (0..2)
            .map(|_| {
                let mut command = Command::new(cargo_bin!("poetryd"));
                command.current_dir(&daemon.dir).args([
                    "transform",
                    "--iface",
                    "127.0.0.1",
                    "--port",
                    "0",
                ]);
                thread::spawn(move || common::run_bounded(&mut command, LIMIT))
            })
            .collect();
        let outputs: Vec<_> = starts
            .into_iter()
            .map(|start| start.join().expect("a start"))
            .collect();
        let winner = pid_in(&daemon.pidfile()).expect("one of them runs");
        assert!(alive(winner));
        let (won, lost): (Vec<_>, Vec<_>) =
            outputs.iter().partition(|output| output.status.success());
        let said: Vec<_> = outputs
            .iter()
            .map(|output| String::from_utf8_lossy(&output.stderr))
            .collect();
        assert_eq!((won.len(), lost.len()), (1, 1), "{said:?}");
        assert_eq!(lost[0].status.code(), Some(1));
        let why = String::from_utf8_lossy(&lost[0].stderr);
        assert!(
            why.contains(&format!("already running as PID {winner}"))
                || why.contains(&format!("another server (PID {winner}) started meanwhile")),
            "{why}"
        );
        stop(&daemon);
    }
}

#[test]
fn a_daemon_that_cannot_start_with_a_device_as_its_log_still_returns() {
    // The parent shows the end of the log when the server failed; a
    // device has no end (`/dev/zero` reads on for ever), so none is shown.
    let daemon = Daemon::new("poetryd-zero");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = daemon.run(&[
        "--logfile",
        "/dev/zero",
        "transform",
        "--iface",
        "127.0.0.1",
        "--port",
        &port,
    ]);
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("did not start"), "{said}");
    assert!(!daemon.pidfile().exists());
}
