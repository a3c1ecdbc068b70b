//! The clients' benchmark (Part 22): clients 7 and 8 on mini-twisted
//! against their twins on tokio and the same clients on Twisted itself,
//! by what a whole run costs.
//!
//! One fast poetry server (`fastpoetry`) and one transform server
//! (`transformedpoetry`) are started once, on free ports of 127.0.0.1, and
//! serve every run of every client, so that only the client differs. Each
//! run gives the client the transform server's address and then the fast
//! server's, `--addresses` times (100 unless told): a hundred poems
//! fetched and cummingsified at once. Every run's stdout is checked byte
//! for byte (the poem, lowered, once per address) and its exit status
//! must be 0.
//!
//! For each client it reports, over all its runs: the CPU a run costs
//! (user plus system seconds, from `getrusage` of the finished child, so
//! start-up and exit are included), its wall time, its peak resident
//! memory (`ru_maxrss`), and the size of its binary; then each mini-twisted
//! client over its tokio twin and over its Twisted twin. Each client's runs are made by a small
//! runner process (this program again, with a hidden option) that starts
//! only that client, so that the peak memory it reads from the kernel is
//! that client's and no other's.
//!
//! The Twisted twins are our own scripts, `benches/get_poetry_7_twisted.py`
//! (an `inlineCallbacks` generator per poem) and
//! `benches/get_poetry_8_twisted.py` (the same, waited for with a
//! `DeferredList`), run by `python3` with the same command line and
//! checked against the same output; their binary is the interpreter, so
//! they have no binary size, and their runs include Python starting and
//! importing Twisted, which is part of what a Twisted client costs. They
//! need `python3` with Twisted (`pip install twisted`); without it (when
//! `python3 -c "import twisted"` fails) they are skipped, with a note.
//!
//! Run it with (benchmarks build with the release profile):
//!
//! ```text
//! cargo bench --bench clients
//! cargo bench --bench clients -- --addresses 10 --runs 5 --rounds 2
//! cargo bench --bench clients -- --markdown book/src/benchmarks/clients.txt
//! ```
//!
//! The book includes the last file: Markdown, named `.txt` because every
//! `.md` under book/src must be a page of SUMMARY.md, and this is a piece
//! of one.
//!
//! Each round runs every client `--runs` times, the clients' order
//! reversed each round; the table gives the medians over all the runs.
//! Where `taskset` exists and the machine has two CPUs or more, the
//! servers run on CPU 0 and the clients on CPU 1; the report says whether
//! that happened. It prints a table, then one last line starting `RESULT `
//! with `key=value` pairs for scripts, and exits with a failure if any run
//! failed its check. It runs on Linux (and any Unix with `getrusage`).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use mini_twisted::poetry::line_reader;
use nix::sys::resource::{getrusage, Usage, UsageWho};

// The children's guard and their placement on the CPUs, shared with the
// other benchmarks that run programs.
mod common;
use common::{decimal, python_has_twisted, Guard, Placement};

/// How long a server may take to print its port.
const START_LIMIT: Duration = Duration::from_secs(20);
/// How long one run of a client may take before it is killed and the
/// benchmark fails: a hundred poems on loopback take a fraction of this.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// One client of the report.
struct Client {
    name: &'static str,
    /// Its name on the RESULT line, after `c`.
    key: &'static str,
    /// A binary's path, or a Python script's, from the repository's root.
    program: &'static str,
    python: bool,
}

/// A client compiled by Cargo.
const fn binary(name: &'static str, key: &'static str, program: &'static str) -> Client {
    Client {
        name,
        key,
        program,
        python: false,
    }
}

/// A client that `python3` runs.
const fn script(name: &'static str, key: &'static str, program: &'static str) -> Client {
    Client {
        name,
        key,
        program,
        python: true,
    }
}

/// How many clients each comparison has: ours, tokio's, Twisted's.
const TWINS: usize = 3;

/// The six clients, in the report's order: each mini-twisted client
/// followed by its tokio twin and its Twisted twin.
const CLIENTS: [Client; 6] = [
    binary("get-poetry-7", "7", env!("CARGO_BIN_EXE_get-poetry-7")),
    binary(
        "get-poetry-7-tokio",
        "7_tokio",
        env!("CARGO_BIN_EXE_get-poetry-7-tokio"),
    ),
    script(
        "get_poetry_7_twisted.py",
        "7_twisted",
        "benches/get_poetry_7_twisted.py",
    ),
    binary("get-poetry-8", "8", env!("CARGO_BIN_EXE_get-poetry-8")),
    binary(
        "get-poetry-8-tokio",
        "8_tokio",
        env!("CARGO_BIN_EXE_get-poetry-8-tokio"),
    ),
    script(
        "get_poetry_8_twisted.py",
        "8_twisted",
        "benches/get_poetry_8_twisted.py",
    ),
];

/// Measures clients 7 and 8 on mini-twisted against the same clients on
/// tokio: CPU, wall time and peak memory of a run that fetches and
/// transforms many poems, and the size of each binary.
#[derive(Parser)]
#[command(name = "clients")]
struct Options {
    /// How many poetry addresses each run is given (the one fast server's,
    /// repeated): the poems a run fetches and transforms at once
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    addresses: u32,

    /// How many times each client runs in each round
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,

    /// How many rounds; the clients' order is reversed each round
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    rounds: u32,

    /// The poem the fast server serves
    #[arg(long, default_value = "poetry/science.txt")]
    poem: PathBuf,

    /// Also write the table, as Markdown, to FILE (the book includes one)
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,

    /// The runner's job (internal): run this client `--runs` times against
    /// the ports of `--ports` and report on one line
    #[arg(long, hide = true, requires = "ports")]
    runner: Option<PathBuf>,

    /// The runner's client is a script for `python3` (internal)
    #[arg(long, hide = true, requires = "runner")]
    python: bool,

    /// The runner's ports (internal): the transform server's, the fast
    /// server's
    #[arg(long, hide = true, num_args = 2, value_names = ["XFORM", "POETRY"])]
    ports: Vec<u16>,

    /// Passed by `cargo bench`; ignored
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> ExitCode {
    let options = Options::parse();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let outcome = match &options.runner {
        Some(client) => runner(&options, client, root),
        None => run_benchmark(&options, root),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("clients benchmark: {error}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------
// The runner: one client, many runs, in a process of its own.
// ---------------------------------------------------------------------------

/// What one runner measured: the CPU and wall time of each run, and the
/// peak memory of the largest of them.
#[derive(Default)]
struct Runs {
    cpu_seconds: Vec<f64>,
    wall_seconds: Vec<f64>,
    peak_rss_kb: u64,
}

/// User plus system seconds in `usage`.
fn cpu_seconds(usage: &Usage) -> f64 {
    let seconds =
        |time: nix::sys::time::TimeVal| time.tv_sec() as f64 + time.tv_usec() as f64 / 1e6;
    seconds(usage.user_time()) + seconds(usage.system_time())
}

fn children_usage() -> Result<Usage, String> {
    getrusage(UsageWho::RUSAGE_CHILDREN).map_err(|error| format!("getrusage: {error}"))
}

/// Runs `client` `--runs` times, checks each run's output, and prints one
/// line for the benchmark: `RUNS cpu=... wall=... peak_rss_kb=...`.
fn runner(options: &Options, client: &Path, root: &Path) -> Result<bool, String> {
    let [xform, poetry] = options.ports[..] else {
        return Err("--ports takes two ports".to_string());
    };
    let poem = fs::read_to_string(root.join(&options.poem))
        .map_err(|error| format!("cannot read {}: {error}", options.poem.display()))?;
    let expected = format!("{}\n", poem.to_lowercase()).repeat(options.addresses as usize);
    let mut args = vec![xform.to_string()];
    args.extend((0..options.addresses).map(|_| poetry.to_string()));

    let mut runs = Runs::default();
    for _ in 0..options.runs {
        let before = children_usage()?;
        let started = Instant::now();
        let mut command = if options.python {
            let mut command = Command::new("python3");
            command.arg(client);
            command
        } else {
            Command::new(client)
        };
        let mut child = command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", client.display()))?;
        // Read stdout and stderr to their ends on threads of their own: the
        // client closes them when it exits, which is when the run ends.
        let (ended, end) = mpsc::channel();
        let mut out = child.stdout.take();
        let mut err = child.stderr.take();
        let end_err = ended.clone();
        thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(stdout) = out.as_mut() {
                let _ = stdout.read_to_end(&mut text);
            }
            let _ = ended.send(Ok(text));
        });
        thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(stderr) = err.as_mut() {
                let _ = stderr.read_to_end(&mut text);
            }
            let _ = end_err.send(Err(text));
        });
        let mut guard = Guard(child);
        let (mut stdout, mut stderr) = (None, None);
        while stdout.is_none() || stderr.is_none() {
            let left = RUN_LIMIT.saturating_sub(started.elapsed());
            match end.recv_timeout(left) {
                Ok(Ok(text)) => stdout = Some(text),
                Ok(Err(text)) => stderr = Some(text),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "{} did not end within {} s",
                        client.display(),
                        RUN_LIMIT.as_secs()
                    ));
                }
            }
        }
        let status = guard.0.wait().map_err(|error| format!("wait: {error}"))?;
        let wall = started.elapsed().as_secs_f64();
        let after = children_usage()?;

        let (stdout, stderr) = (stdout.unwrap_or_default(), stderr.unwrap_or_default());
        if status.code() != Some(0) || stdout != expected.as_bytes() || !stderr.is_empty() {
            eprintln!(
                "clients benchmark: {} ended with {status}, {} bytes on stdout (expected {}), \
                 and said {:?}",
                client.display(),
                stdout.len(),
                expected.len(),
                String::from_utf8_lossy(&stderr[..stderr.len().min(300)]),
            );
            return Ok(false);
        }
        runs.cpu_seconds
            .push(cpu_seconds(&after) - cpu_seconds(&before));
        runs.wall_seconds.push(wall);
        // The largest of this runner's children so far: its one client.
        runs.peak_rss_kb = after.max_rss().max(0) as u64;
    }
    let list = |values: &[f64]| {
        values
            .iter()
            .map(|v| format!("{v:.6}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    println!(
        "RUNS cpu={} wall={} peak_rss_kb={}",
        list(&runs.cpu_seconds),
        list(&runs.wall_seconds),
        runs.peak_rss_kb
    );
    Ok(true)
}

/// Reads the runner's line back.
fn parse_runs(line: &str) -> Option<Runs> {
    let mut runs = Runs::default();
    let numbers = |text: &str| -> Option<Vec<f64>> {
        text.split(',').map(|value| value.parse().ok()).collect()
    };
    for pair in line.strip_prefix("RUNS ")?.split_whitespace() {
        match pair.split_once('=')? {
            ("cpu", values) => runs.cpu_seconds = numbers(values)?,
            ("wall", values) => runs.wall_seconds = numbers(values)?,
            ("peak_rss_kb", value) => runs.peak_rss_kb = value.parse().ok()?,
            _ => return None,
        }
    }
    Some(runs)
}

// ---------------------------------------------------------------------------
// The benchmark: the servers, the rounds, the report.
// ---------------------------------------------------------------------------

fn median(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.is_empty() {
        f64::NAN
    } else if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// One client's figures over all its runs.
struct Figures {
    name: &'static str,
    key: &'static str,
    runs: usize,
    cpu_ms: f64,
    wall_ms: f64,
    peak_rss_mb: f64,
    /// None for a script, whose binary is the interpreter.
    binary_mb: Option<f64>,
}

impl Figures {
    fn of(client: &Client, all: &[Runs]) -> Figures {
        let cpu: Vec<f64> = all
            .iter()
            .flat_map(|runs| runs.cpu_seconds.clone())
            .collect();
        let wall: Vec<f64> = all
            .iter()
            .flat_map(|runs| runs.wall_seconds.clone())
            .collect();
        let peak = all.iter().map(|runs| runs.peak_rss_kb).max().unwrap_or(0);
        let size = fs::metadata(client.program).map_or(0, |metadata| metadata.len());
        Figures {
            name: client.name,
            key: client.key,
            runs: cpu.len(),
            cpu_ms: median(&cpu) * 1000.0,
            wall_ms: median(&wall) * 1000.0,
            peak_rss_mb: peak as f64 / 1024.0,
            binary_mb: (!client.python).then(|| size as f64 / (1024.0 * 1024.0)),
        }
    }
}

fn run_benchmark(options: &Options, root: &Path) -> Result<bool, String> {
    let placement = Placement::find();
    let poem = options.poem.to_string_lossy().into_owned();
    let fast = placement.start(&[env!("CARGO_BIN_EXE_fastpoetry").into(), poem.clone().into()])?;
    let xform = placement.start(&[env!("CARGO_BIN_EXE_transformedpoetry").into()])?;
    let me = std::env::current_exe().map_err(|error| format!("cannot find myself: {error}"))?;
    let twisted_here = python_has_twisted();

    println!(
        "clients benchmark: each run fetches {} poems ({}) from one fastpoetry and has \
         transformedpoetry cummingsify them; {} rounds of {} runs of each client",
        options.addresses, poem, options.rounds, options.runs
    );
    println!(
        "machine: {} CPUs; {}",
        placement.cpus,
        if placement.pinned {
            "pinned: servers on CPU 0, clients on CPU 1 (taskset)"
        } else {
            "NOT pinned (needs taskset and two CPUs): servers and clients share the CPUs"
        }
    );
    if !twisted_here {
        println!(
            "Twisted clients skipped: `python3 -c \"import twisted\"` failed; \
             `pip install twisted` enables them"
        );
    }

    let mut measured: Vec<Vec<Runs>> = CLIENTS.iter().map(|_| Vec::new()).collect();
    for round in 0..options.rounds {
        let mut order: Vec<usize> = (0..CLIENTS.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            let client = &CLIENTS[index];
            if client.python && !twisted_here {
                continue;
            }
            let name = client.name;
            let program = common::root().join(client.program);
            let mut command: Vec<OsString> = vec![me.clone().into()];
            if client.python {
                command.push("--python".into());
            }
            command.extend(["--runner".into(), program.into_os_string()]);
            for arg in [
                "--runs",
                &options.runs.to_string(),
                "--addresses",
                &options.addresses.to_string(),
                "--poem",
                &poem,
                "--ports",
                &xform.port.to_string(),
                &fast.port.to_string(),
            ] {
                command.push(arg.into());
            }
            let child = placement
                .command(1, &command)
                .current_dir(root)
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|error| format!("cannot start the runner for {name}: {error}"))?;
            let mut guard = Guard(child);
            let lines = line_reader(guard.0.stdout.take());
            let limit = RUN_LIMIT * options.runs + START_LIMIT;
            let line = lines.recv_timeout(limit).ok();
            let status = guard.wait_for(START_LIMIT);
            match line.as_deref().and_then(parse_runs) {
                Some(runs) if status == Some(0) => measured[index].push(runs),
                _ => {
                    eprintln!("clients benchmark: the runs of {name} failed (see above)");
                    return Ok(false);
                }
            }
        }
    }

    // A client that did not run (Twisted missing) has no figures.
    let figures: Vec<Option<Figures>> = CLIENTS
        .iter()
        .zip(&measured)
        .map(|(client, all)| (!all.is_empty()).then(|| Figures::of(client, all)))
        .collect();
    let report = Report {
        options,
        placement: &placement,
        figures: &figures,
    };
    print!("{}", report.text());
    println!("{}", report.result_line());
    if let Some(path) = &options.markdown {
        let mut file = fs::File::create(path)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        file.write_all(report.markdown().as_bytes())
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        println!("(the table, as Markdown, is in {})", path.display());
    }
    Ok(true)
}

/// The table, for the terminal and for the book.
struct Report<'a> {
    options: &'a Options,
    placement: &'a Placement,
    /// As `CLIENTS`; `None` for a client that did not run.
    figures: &'a [Option<Figures>],
}

/// `ours / theirs`, or `na` when either is missing: two decimals, three
/// below 0.1 (ours over a Python client's), so that two digits remain.
fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    let value = ours.zip(theirs).map(|(ours, theirs)| ours / theirs);
    decimal(value, if value.is_some_and(|v| v < 0.1) { 3 } else { 2 })
}

/// One line of ratios, `ours` over `theirs`: CPU, wall, peak RSS, binary.
fn ratios(ours: &Figures, theirs: &Figures) -> [String; 4] {
    [
        ratio(Some(ours.cpu_ms), Some(theirs.cpu_ms)),
        ratio(Some(ours.wall_ms), Some(theirs.wall_ms)),
        ratio(Some(ours.peak_rss_mb), Some(theirs.peak_rss_mb)),
        ratio(ours.binary_mb, theirs.binary_mb),
    ]
}

impl Report<'_> {
    /// Each mini-twisted client with the twins it is compared to, tokio's
    /// then Twisted's (those that ran): `(ours, theirs)`.
    fn pairs(&self) -> Vec<(&Figures, &Figures)> {
        let mut pairs = Vec::new();
        for twins in self.figures.chunks(TWINS) {
            let Some(ours) = &twins[0] else { continue };
            pairs.extend(twins[1..].iter().flatten().map(|theirs| (ours, theirs)));
        }
        pairs
    }

    /// The clients that did not run, for a note under the table.
    fn skipped(&self) -> Vec<&'static str> {
        CLIENTS
            .iter()
            .zip(self.figures)
            .filter(|(_, figures)| figures.is_none())
            .map(|(client, _)| client.name)
            .collect()
    }

    fn text(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "  {:<24} {:>5} {:>11} {:>12} {:>12} {:>10}",
            "client", "runs", "CPU ms/run", "wall ms/run", "peak RSS MB", "binary MB"
        );
        for f in self.figures.iter().flatten() {
            let _ = writeln!(
                text,
                "  {:<24} {:>5} {:>11.2} {:>12.2} {:>12.2} {:>10}",
                f.name,
                f.runs,
                f.cpu_ms,
                f.wall_ms,
                f.peak_rss_mb,
                decimal(f.binary_mb, 2)
            );
        }
        let skipped = self.skipped();
        if !skipped.is_empty() {
            let _ = writeln!(
                text,
                "  (not run: {}; `pip install twisted` enables them)",
                skipped.join(", ")
            );
        }
        let _ = writeln!(
            text,
            "mini-twisted over its twin (below 1: mini-twisted costs less; a script has no binary):"
        );
        for (ours, theirs) in self.pairs() {
            let [cpu, wall, rss, size] = ratios(ours, theirs);
            let _ = writeln!(
                text,
                "  {:<14} / {:<24} CPU {cpu}, wall {wall}, peak RSS {rss}, binary {size}",
                ours.name, theirs.name,
            );
        }
        text
    }

    fn result_line(&self) -> String {
        let mut pairs = Vec::new();
        for f in self.figures.iter().flatten() {
            let key = f.key;
            pairs.push(format!("c{key}_cpu_ms={:.3}", f.cpu_ms));
            pairs.push(format!("c{key}_wall_ms={:.3}", f.wall_ms));
            pairs.push(format!("c{key}_peak_rss_mb={:.2}", f.peak_rss_mb));
            pairs.push(format!("c{key}_binary_mb={}", decimal(f.binary_mb, 2)));
        }
        format!("RESULT {}", pairs.join(" "))
    }

    fn markdown(&self) -> String {
        let options = self.options;
        let mut text = String::new();
        let _ = writeln!(
            text,
            "| client | runs | CPU ms per run | wall ms per run | peak RSS MB | binary MB |"
        );
        let _ = writeln!(text, "|---|---:|---:|---:|---:|---:|");
        for f in self.figures.iter().flatten() {
            let _ = writeln!(
                text,
                "| `{}` | {} | {:.2} | {:.2} | {:.2} | {} |",
                f.name,
                f.runs,
                f.cpu_ms,
                f.wall_ms,
                f.peak_rss_mb,
                f.binary_mb
                    .map_or("–".to_string(), |size| format!("{size:.2}"))
            );
        }
        for (ours, theirs) in self.pairs() {
            let [cpu, wall, rss, size] = ratios(ours, theirs);
            let size = if size == "na" {
                "–".to_string()
            } else {
                size
            };
            let _ = writeln!(
                text,
                "| *`{}` over `{}`* | | {cpu} | {wall} | {rss} | {size} |",
                ours.name, theirs.name,
            );
        }
        let skipped = self.skipped();
        let skipped = if skipped.is_empty() {
            String::new()
        } else {
            format!(
                " Not run, for want of Twisted (`pip install twisted`): {}.",
                skipped
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let _ = writeln!(
            text,
            "\n*Medians over every run; each run fetched {} poems (`{}`) from one \
             `fastpoetry` and had `transformedpoetry` cummingsify them. The Twisted \
             clients are our scripts in `benches/`, run by `python3`: their runs include \
             Python starting and importing Twisted, and they have no binary of their own.{} \
             {} CPUs, {}. Written by `cargo bench --bench clients -- --addresses {} --runs {} \
             --rounds {} --markdown FILE`.*",
            options.addresses,
            options.poem.display(),
            skipped,
            self.placement.cpus,
            if self.placement.pinned {
                "servers pinned to CPU 0 and clients to CPU 1"
            } else {
                "nothing pinned"
            },
            options.addresses,
            options.runs,
            options.rounds,
        );
        text
    }
}
