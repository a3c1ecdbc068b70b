//! What the benchmarks that run programs share (`servers`, Parts 11 and
//! 12; `clients` and `c10k`, Part 22): starting a server and the load generator on CPUs
//! of their own, killing every child by its guard, and reading what the
//! kernel says about a process (its CPU time, its peak memory) and about
//! the machine.
//!
//! Each benchmark compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mini_twisted::poetry::line_reader;

/// How long a server may take to print its port. Python importing Twisted
/// on a cold cache is the slow case.
pub const START_LIMIT: Duration = Duration::from_secs(20);
/// Lines of a server's stderr kept to show what went wrong.
const STDERR_KEPT: usize = 5;

/// The repository's root, where the programs run from.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn python_has_twisted() -> bool {
    let child = Command::new("python3")
        .args(["-c", "import twisted"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(child) => matches!(Guard(child).wait_for(START_LIMIT), Some(0)),
        Err(_) => false,
    }
}

/// How the programs are placed on the CPUs.
pub struct Placement {
    pub cpus: usize,
    pub pinned: bool,
}

impl Placement {
    pub fn find() -> Placement {
        let cpus = thread::available_parallelism().map_or(1, |n| n.get());
        let taskset_works = Command::new("taskset")
            .args(["-c", "0", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        Placement {
            cpus,
            pinned: cpus >= 2 && taskset_works,
        }
    }

    /// `program args...`, behind `taskset -c CPU` when pinning.
    pub fn command(&self, cpu: u32, program_and_args: &[OsString]) -> Command {
        let mut command = if self.pinned {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string());
            command.args(program_and_args);
            command
        } else {
            let mut command = Command::new(&program_and_args[0]);
            command.args(&program_and_args[1..]);
            command
        };
        command.stdin(Stdio::null());
        command
    }

    /// Starts `program_and_args` on `cpu`, from the repository's root: the
    /// guard that kills it, its stdout's lines, and the first lines of its
    /// stderr as they come.
    pub fn spawn(&self, cpu: u32, program_and_args: &[OsString]) -> Result<Spawned, String> {
        let mut command = self.command(cpu, program_and_args);
        command
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", show(program_and_args)))?;
        let mut guard = Guard(child);
        let lines = line_reader(guard.0.stdout.take());
        let complaints = keep_stderr(guard.0.stderr.take());
        Ok((guard, lines, complaints))
    }

    /// Starts `server` on a free port: the guard that kills it, its pid,
    /// its port, and its stderr as it comes.
    pub fn start(&self, server: &[OsString]) -> Result<Started, String> {
        let mut args = server.to_vec();
        args.extend(["--port".into(), "0".into()]);
        let (mut guard, lines, complaints) = self.spawn(0, &args)?;
        let pid = guard.0.id();

        let first = match lines.recv_timeout(START_LIMIT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "no port printed within {} s",
                    START_LIMIT.as_secs()
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = guard.wait_for(Duration::from_secs(1));
                return Err(format!(
                    "it exited (code {status:?}) without printing its port; it said {:?}",
                    taken(&complaints)
                ));
            }
        };
        let port = port_of(&first).ok_or_else(|| format!("no port in its first line {first:?}"))?;
        Ok(Started {
            guard,
            pid,
            port,
            complaints,
        })
    }

    /// Runs `poetry-load` on the other CPU against `port` with `args`, for
    /// at most `limit`, and returns its RESULT line's pairs.
    pub fn run_load(
        &self,
        port: u16,
        args: &[OsString],
        limit: Duration,
    ) -> Result<HashMap<String, String>, String> {
        let mut all: Vec<OsString> = vec![
            env!("CARGO_BIN_EXE_poetry-load").into(),
            format!("127.0.0.1:{port}").into(),
        ];
        all.extend_from_slice(args);
        let (mut load, lines, complaints) = self.spawn(1, &all)?;

        let deadline = Instant::now() + limit;
        let mut result = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(pairs) = line.strip_prefix("RESULT ") {
                        result = Some(pairs.to_string());
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "poetry-load still running after {} s; killed",
                        limit.as_secs()
                    ))
                }
            }
        }
        // Its exit code says only whether there were errors, which the
        // RESULT line counts by kind; the wait is to leave no zombie.
        load.wait_for(Duration::from_secs(5));
        let Some(pairs) = result else {
            return Err(format!(
                "poetry-load printed no RESULT line; it said {:?}",
                taken(&complaints)
            ));
        };
        Ok(pairs
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect())
    }
}

/// A number from a RESULT line.
pub fn number(pairs: &HashMap<String, String>, key: &str) -> Option<f64> {
    pairs.get(key).and_then(|value| value.parse().ok())
}

/// The errors a RESULT line counts; one if it does not say.
pub fn errors(pairs: &HashMap<String, String>) -> u64 {
    pairs
        .get("errors")
        .and_then(|value| value.parse().ok())
        .unwrap_or(1)
}

/// A child process: its guard, its stdout's lines, its stderr's first lines.
pub type Spawned = (Guard, Receiver<String>, Arc<Mutex<Vec<String>>>);

/// A server that has printed its port.
pub struct Started {
    pub guard: Guard,
    pub pid: u32,
    pub port: u16,
    pub complaints: Arc<Mutex<Vec<String>>>,
}

// ---------------------------------------------------------------------------
// Child processes.
// ---------------------------------------------------------------------------

/// A child process, killed when dropped: whichever way a run ends, early
/// return or panic, no server is left running.
pub struct Guard(pub Child);

impl Guard {
    /// Waits up to `limit` for the child to exit by itself; its exit code,
    /// or `None` if it had to be killed (or was killed by a signal).
    pub fn wait_for(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            match self.0.try_wait() {
                Ok(Some(status)) => return status.code(),
                Ok(None) => thread::sleep(Duration::from_millis(10)),
                Err(_) => break,
            }
        }
        None
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Keeps the first lines of a child's stderr, reading (and dropping) the
/// rest so that the child never blocks on it.
pub fn keep_stderr(stderr: Option<impl Read + Send + 'static>) -> Arc<Mutex<Vec<String>>> {
    let kept = Arc::new(Mutex::new(Vec::new()));
    if let Some(stderr) = stderr {
        let keeper = Arc::clone(&kept);
        thread::spawn(move || {
            let mut count = 0;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                count += 1;
                if let Ok(mut kept) = keeper.lock() {
                    if count <= STDERR_KEPT {
                        kept.push(line);
                    } else if count == STDERR_KEPT + 1 {
                        kept.push("(and more)".to_string());
                    }
                }
            }
        });
    }
    kept
}

pub fn taken(kept: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    kept.lock().map(|lines| lines.clone()).unwrap_or_default()
}

/// The port at the end of a server's first line: `Serving FILE on
/// HOST:PORT.` or, as the slow servers say it, `Serving FILE on port PORT.`
pub fn port_of(line: &str) -> Option<u16> {
    line.strip_prefix("Serving ")?
        .trim_end()
        .strip_suffix('.')?
        .rsplit([' ', ':'])
        .next()?
        .parse()
        .ok()
}

pub fn show(args: &[OsString]) -> String {
    args.iter()
        .map(|arg| arg.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// What the kernel says.
// ---------------------------------------------------------------------------

/// User plus system clock ticks of process `pid`: fields 14 and 15 of
/// `/proc/PID/stat`, which cover all its threads.
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).map_err(|error| format!("cannot read {path}: {error}"))?;
    // The name (field 2) may hold spaces: count from the `)` that ends it,
    // after which field 3 comes.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |number: usize| -> Result<u64, String> {
        fields
            .get(number - 3)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| format!("{path} has no field {number}"))
    };
    Ok(field(14)? + field(15)?)
}

/// The peak resident memory of `pid` in kB (`VmHWM` in `/proc/PID/status`).
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The settings that decide whether a burst of connections fits: printed
/// so that a surprising figure can be traced to the machine.
pub fn describe_machine(placement: &Placement, ticks: u64) {
    let read = |path: &str| -> String {
        fs::read_to_string(path).map_or("unknown".to_string(), |text| {
            text.split_whitespace().collect::<Vec<_>>().join("-")
        })
    };
    println!(
        "machine: {} CPUs; {}",
        placement.cpus,
        if placement.pinned {
            "pinned: server on CPU 0, poetry-load on CPU 1 (taskset)"
        } else {
            "NOT pinned (needs taskset and two CPUs): server and load share the CPUs"
        }
    );
    println!(
        "kernel: somaxconn {}, local ports {}, tcp_tw_reuse {}, tcp_max_tw_buckets {}, \
         {ticks} clock ticks a second",
        read("/proc/sys/net/core/somaxconn"),
        read("/proc/sys/net/ipv4/ip_local_port_range"),
        read("/proc/sys/net/ipv4/tcp_tw_reuse"),
        read("/proc/sys/net/ipv4/tcp_max_tw_buckets"),
    );
    // The first three fields: the run queue over 1, 5 and 15 minutes.
    let averages: Vec<String> = fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    println!("load average: {}", averages.join(" "));
    let one_minute = averages.first().and_then(|text| text.parse::<f64>().ok());
    if one_minute.is_some_and(|load| load > 0.5) {
        println!(
            "  (busy in the last minute, maybe with a previous run: work beside the servers skews the figures)"
        );
    }
}

pub fn decimal(value: Option<f64>, places: usize) -> String {
    match value {
        Some(value) if value.is_finite() => format!("{value:.places$}"),
        _ => "na".to_string(),
    }
}
