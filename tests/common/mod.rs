//! Support shared by the stage tests: real servers on free ports, found by
//! the port they print, killed when the test lets go of them.
//!
//! Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

mod manifest;
pub mod transform;
#[allow(unused_imports)] // not every test file runs over every program
pub use manifest::programs;

/// The longest any single wait in a test may last before the test fails
/// with what it was waiting for. Generous, because CI machines are slow;
/// it only matters when something is broken.
pub const LIMIT: Duration = Duration::from_secs(30);

/// A program running in the background, killed on drop. Its stdout lines
/// arrive on a channel so that tests can wait for them with a time limit.
pub struct Background {
    child: Child,
    lines: Receiver<String>,
    /// Everything it wrote to stderr, sent once stderr is closed.
    stderr: Receiver<String>,
    pub seen: Vec<String>,
}

impl Background {
    pub fn start(program: &Path, args: &[&str]) -> Background {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));
        // Always drained, so that a chatty stderr never blocks the program.
        let mut errors = child.stderr.take().expect("stderr is piped");
        let (sender, stderr) = mpsc::channel();
        thread::spawn(move || {
            let mut text = String::new();
            let _ = errors.read_to_string(&mut text);
            let _ = sender.send(text);
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Background {
            child,
            lines,
            stderr,
            seen: Vec::new(),
        }
    }

    /// Waits for the next line of output, failing the test after [`LIMIT`].
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(LIMIT) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("no output within {LIMIT:?}; saw {:?}", self.seen)
            }
            Err(RecvTimeoutError::Disconnected) => panic!("output ended; saw {:?}", self.seen),
        }
    }

    /// Waits until a line satisfies `wanted` and returns it.
    pub fn wait_for(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + LIMIT;
        while Instant::now() < deadline {
            let line = self.next_line();
            if wanted(&line) {
                return line;
            }
        }
        panic!("the line we waited for never came; saw {:?}", self.seen)
    }

    /// What it wrote to stderr, once it has exited (bounded by [`LIMIT`]).
    pub fn stderr(&mut self) -> String {
        self.stderr
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("stderr still open after {LIMIT:?}"))
    }

    /// The process id, to send it signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded by [`LIMIT`]) for the process to exit; its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + LIMIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("still running after {LIMIT:?}; saw {:?}", self.seen)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `slowpoetry` server on a free port.
pub struct SlowServer {
    pub process: Background,
    pub port: u16,
}

impl SlowServer {
    /// Starts `slowpoetry` with `args` (which should not include `--port`)
    /// and reads its port from `Serving FILE on port N.`
    pub fn start(args: &[&str]) -> SlowServer {
        let mut all = vec!["--port", "0"];
        all.extend_from_slice(args);
        let mut process = Background::start(assert_cmd::cargo::cargo_bin!("slowpoetry"), &all);
        let first = process.next_line();
        let port = port_of(&first);
        SlowServer { process, port }
    }

    /// A quick server for `poem`: `num_bytes` a send, 0.01 s apart.
    pub fn quick(poem: &str, num_bytes: u32) -> SlowServer {
        let num_bytes = num_bytes.to_string();
        SlowServer::start(&["--delay", "0.01", "--num-bytes", &num_bytes, poem])
    }
}

/// The port at the end of a line such as `Serving poetry/x.txt on port
/// 10000.` or `Serving poetry/x.txt on 127.0.0.1:10000.`
pub fn port_of(line: &str) -> u16 {
    try_port_of(line).unwrap_or_else(|| panic!("no port in {line:?}"))
}

/// [`port_of`], for a caller that reports a missing port its own way.
pub fn try_port_of(line: &str) -> Option<u16> {
    line.trim_end()
        .trim_end_matches('.')
        .rsplit([' ', ':'])
        .next()
        .and_then(|port| port.parse().ok())
}

/// A port on which nothing listens: bound, read, and released again.
pub fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// The size of a poem file in bytes.
pub fn poem_size(poem: &str) -> usize {
    std::fs::metadata(poem).expect("poem exists").len() as usize
}

/// Downloads a whole poem the simplest way, with a bounded read.
pub fn fetch(port: u16) -> Vec<u8> {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket.set_read_timeout(Some(LIMIT)).expect("set timeout");
    let mut poem = Vec::new();
    socket.read_to_end(&mut poem).expect("read the poem");
    poem
}

/// A scratch folder for this test's files, under cargo's target directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// The lines of a captured output.
pub fn lines(output: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(output)
        .lines()
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------
// Poetry clients against three servers, as in Part 2's experiment.
// ---------------------------------------------------------------------------

pub const POEMS: [&str; 3] = [
    "poetry/ecstasy.txt",
    "poetry/fascination.txt",
    "poetry/science.txt",
];

/// Three quick servers; the long poem goes three times faster, as in Part 2.
pub fn three_servers() -> Vec<SlowServer> {
    vec![
        SlowServer::quick(POEMS[0], 90),
        SlowServer::quick(POEMS[1], 30),
        SlowServer::quick(POEMS[2], 30),
    ]
}

pub fn ports(servers: &[SlowServer]) -> Vec<String> {
    servers
        .iter()
        .map(|server| server.port.to_string())
        .collect()
}

/// Runs a client (a `cargo_bin_cmd!`) against `servers`, expects success, returns its lines.
pub fn run_against(mut client: assert_cmd::Command, servers: &[SlowServer]) -> Vec<String> {
    let output = client.args(ports(servers)).timeout(LIMIT).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    lines(&output.stdout)
}

/// Checks the output of an asynchronous client (the select client, client
/// 1 and its successors): chunk lines that add up to each poem, one
/// `finished` line per task, the summary, and the tasks interleaved.
pub fn check_async_output(lines: &[String], servers: &[SlowServer]) {
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

/// Runs `client` with the middle server replaced by a dead port: that task
/// fails with a message on stderr, the other two get their poems, and the
/// exit code is 1.
pub fn check_refused_middle_task(mut client: assert_cmd::Command, servers: &[SlowServer]) {
    let dead = dead_port();
    let ports = ports(servers);
    let output = client
        .args([&ports[0], &dead.to_string(), &ports[2]])
        .timeout(LIMIT)
        .output()
        .unwrap();
    let name = client.get_program().to_string_lossy().into_owned();
    assert_eq!(output.status.code(), Some(1), "{name}: {output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("Task 2: failed to connect to 127.0.0.1:{dead}: "))
            || stderr.contains(&format!(
                "Task 2: failed to get poetry from 127.0.0.1:{dead}: "
            )),
        "{name}: {stderr}"
    );
    assert!(stderr.contains("refused"), "{name}: {stderr}");
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    for poem in [POEMS[0], POEMS[2]] {
        let size = format!("{} bytes of poetry", poem_size(poem));
        assert!(stdout.contains(&size), "{name}: {stdout}");
    }
    assert!(stdout.contains("Got 2 poems in"), "{name}: {stdout}");
}

// ---------------------------------------------------------------------------
// Programs that must end by themselves, and clients that talk first.
// ---------------------------------------------------------------------------

/// Runs `command` to its end and returns its output, failing the test if it
/// is still running after `limit` (a hang is a failure, not a slow pass).
/// Its output is read on threads, so a chatty program never blocks on a
/// full pipe while we wait.
pub fn run_bounded(command: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {:?}: {error}", command.get_program()));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} was still running after {limit:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Connects to `address`, sends `first` before reading anything (as a
/// client that speaks first would), then reads to the end of the stream.
/// A reset is an error here: the point is to see whether every byte came.
pub fn fetch_after_sending(
    address: impl std::net::ToSocketAddrs,
    first: &[u8],
) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut socket = TcpStream::connect(address)?;
    socket.set_read_timeout(Some(LIMIT))?;
    socket.write_all(first)?;
    let mut poem = Vec::new();
    socket.read_to_end(&mut poem)?;
    Ok(poem)
}

/// Whether this test runs as root, which reads files whatever their mode
/// says. Learned from the owner of a file we create, which is our own user
/// (in the system's temporary folder, which every user may write to).
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = std::env::temp_dir().join(format!("mini-twisted-whoami-{}", std::process::id()));
    std::fs::write(&probe, b"").expect("create a probe file");
    let uid = std::fs::metadata(&probe).expect("stat the probe").uid();
    let _ = std::fs::remove_file(&probe);
    uid == 0
}

// ---------------------------------------------------------------------------
// A server that breaks the connection in mid-poem.
// ---------------------------------------------------------------------------

/// A poetry server, a thread of the test process, that sends the first half
/// of a poem to each client and then resets the connection: what a crashed
/// server or a broken network looks like to a client.
pub struct ResetServer {
    pub port: u16,
    /// How many bytes each client gets before the reset.
    pub half: usize,
}

impl ResetServer {
    /// Serves `poem` on a free port until the test process ends. Each
    /// client is served on its own thread, so one slow client holds up
    /// nobody.
    pub fn start(poem: &str) -> ResetServer {
        let text = std::fs::read(poem).expect("the poem exists");
        let half = text.len() / 2;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();
        let first_half = text[..half].to_vec();
        thread::spawn(move || {
            for socket in listener.incoming() {
                let Ok(socket) = socket else { continue };
                let first_half = first_half.clone();
                thread::spawn(move || reset_after(socket, &first_half));
            }
        });
        ResetServer { port, half }
    }
}

/// Sends `data`, then resets: with `SO_LINGER` set to zero, closing a
/// socket sends an RST instead of the end of file a finished poem gets.
///
/// Linux lets the client read what had arrived before the reset, then
/// reports the reset, so the client really sees half a poem and then the
/// break. What must not happen is the reset overtaking our own send queue
/// (it throws away what is not sent yet): on loopback the bytes leave
/// inside `write_all`, and the short pause only makes sure of it. Nothing
/// is timed: the client sees the same thing however long it takes.
fn reset_after(mut socket: TcpStream, data: &[u8]) {
    use std::io::Write;
    if socket.write_all(data).is_err() {
        return;
    }
    thread::sleep(Duration::from_millis(50));
    let _ = socket2::SockRef::from(&socket).set_linger(Some(Duration::ZERO));
    drop(socket);
}

/// The path of program `name`, for tests that pick programs at run time
/// (`cargo_bin!` wants a literal). Every program is built beside the
/// showcase.
pub fn program(name: &str) -> PathBuf {
    let showcase = Path::new(env!("CARGO_BIN_EXE_showcase"));
    showcase.parent().expect("a folder").join(name)
}

/// What a run of `poetry-load` ended with.
pub struct Run {
    pub code: Option<i32>,
    /// The pairs of its RESULT line.
    pub result: std::collections::HashMap<String, String>,
    pub stderr: String,
}

impl Run {
    pub fn count(&self, key: &str) -> u64 {
        self.result
            .get(key)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no count {key} in {:?}", self.result))
    }
}

/// Runs `poetry-load` with `args` (bounded by [`LIMIT`]) and reads its
/// RESULT line, which must be its last.
pub fn poetry_load(args: &[&str]) -> Run {
    let output = assert_cmd::cargo::cargo_bin_cmd!("poetry-load")
        .args(args)
        .timeout(LIMIT)
        .output()
        .unwrap();
    let stdout = lines(&output.stdout);
    let last = stdout.last().cloned().unwrap_or_default();
    let pairs = last
        .strip_prefix("RESULT ")
        .unwrap_or_else(|| panic!("the last line is not a RESULT line: {stdout:#?}"));
    Run {
        code: output.status.code(),
        result: pairs
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
