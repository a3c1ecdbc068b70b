//! The C10K benchmark (Part 22): ten thousand slow readers at once.
//!
//! Part 2's slow server, paced at 10 bytes every 0.1 s, takes about six
//! seconds to recite `poetry/science.txt`. Served on the reactor, ten
//! thousand clients at once should take about as long as one. This
//! benchmark measures that, for:
//!
//! - `reactor`: `slowpoetry-reactor`, on mini-twisted;
//! - `tokio`: `slowpoetry-tokio`, a task per connection on tokio's
//!   current-thread runtime;
//! - `twisted`: `benches/slowpoetry_twisted.py`, when `python3` has Twisted
//!   (`pip install twisted`); otherwise skipped, with a line that says so;
//! - `blocking`: Part 2's `slowpoetry`, one client at a time. It is given
//!   20 clients, not ten thousand (they would take 17 hours); its time for
//!   ten thousand is the measured time multiplied by 500.
//!
//! Each server starts fresh on CPU 0 and `poetry-load --clients` on CPU 1
//! (with `taskset`, when the machine has two CPUs). Every poem is checked
//! byte for byte. For each server the report gives the wall time from the
//! first connect to the end of the last poem, beside one poem's time; the
//! server's CPU seconds (`/proc/PID/stat`) and peak resident memory
//! (`VmHWM`); each client's time; and the errors. The servers print a line
//! per send, 100,000 lines a second at this pace: the benchmark reads and
//! drops them as they come, so that a full pipe never stalls a server,
//! from CPU 1, so that its reading takes nothing from the server's CPU.
//!
//! Run it with (benchmarks build with the release profile):
//!
//! ```text
//! cargo bench --bench c10k
//! cargo bench --bench c10k -- --only reactor,tokio --clients 2000
//! cargo bench --bench c10k -- --markdown book/src/benchmarks/c10k.txt
//! ```
//!
//! It raises its own limit on open files to what the clients need (the
//! children inherit it). It ends with a line starting `RESULT ` of
//! `key=value` pairs, and exits with a failure if any run had an error or
//! could not be measured. It reads `/proc`, so it runs on Linux only.

mod common;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use common::{
    cpu_ticks, decimal, describe_machine, errors, number, peak_rss_kb, python_has_twisted, root,
    taken, Placement,
};
use mini_twisted::poetry::{
    clock_ticks_per_second, parse_seconds, parse_whole, raise_open_files_limit,
};

/// Descriptors each process needs besides the connections.
const SPARE_DESCRIPTORS: u64 = 64;
/// How much longer than its expected time a run may take before it is
/// given up: room for a slow server, never a hang.
const SLACK: Duration = Duration::from_secs(60);
/// poetry-load's own bound on a run (`--time-limit`): it takes no more.
const LONGEST_RUN: Duration = Duration::from_secs(600);

/// Ten thousand slow readers at once: slowpoetry-reactor against tokio (and
/// Twisted, when Python has it), and the blocking slowpoetry extrapolated
/// from a few clients.
#[derive(Parser)]
#[command(name = "c10k")]
struct Options {
    /// The servers to measure, separated by commas
    #[arg(long, value_delimiter = ',',
          default_values_t = [Kind::Reactor, Kind::Tokio, Kind::Twisted, Kind::Blocking])]
    only: Vec<Kind>,

    /// How many clients at once for the servers that serve them all at once
    #[arg(long, default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=20_000))]
    clients: u32,

    /// How many clients the blocking server serves, one after another;
    /// its time for --clients is extrapolated from theirs
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=80))]
    blocking_clients: u32,

    /// The poem, from the repository's root
    #[arg(long, default_value = "poetry/science.txt")]
    poem: PathBuf,

    /// Seconds between two sends, as the servers' --delay
    #[arg(long, default_value = "0.1", value_parser = parse_seconds)]
    delay: Duration,

    /// Bytes a send, as the servers' --num-bytes
    #[arg(long, default_value_t = 10,
          value_parser = |text: &str| parse_whole(text, 1, 1 << 20))]
    num_bytes: u64,

    /// Also write the report's table as Markdown to FILE (for the book,
    /// which includes book/src/benchmarks/c10k.txt)
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,

    /// Passed by `cargo bench`; ignored
    #[arg(long, hide = true)]
    bench: bool,
}

/// A server of the benchmark.
#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Kind {
    /// slowpoetry-reactor, on mini-twisted
    Reactor,
    /// slowpoetry-tokio
    Tokio,
    /// benches/slowpoetry_twisted.py, when python3 has Twisted
    Twisted,
    /// slowpoetry, Part 2's blocking server
    Blocking,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Reactor => "slowpoetry-reactor",
            Kind::Tokio => "slowpoetry-tokio",
            Kind::Twisted => "twisted",
            Kind::Blocking => "slowpoetry",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Kind::Reactor => "reactor",
            Kind::Tokio => "tokio",
            Kind::Twisted => "twisted",
            Kind::Blocking => "blocking",
        }
    }

    /// The command but `--port 0`.
    fn command(self) -> Vec<OsString> {
        match self {
            Kind::Reactor => vec![env!("CARGO_BIN_EXE_slowpoetry-reactor").into()],
            Kind::Tokio => vec![env!("CARGO_BIN_EXE_slowpoetry-tokio").into()],
            Kind::Twisted => vec![
                "python3".into(),
                root().join("benches/slowpoetry_twisted.py").into(),
            ],
            Kind::Blocking => vec![env!("CARGO_BIN_EXE_slowpoetry").into()],
        }
    }
}

/// What one server did.
struct Measurement {
    kind: Kind,
    clients: u32,
    /// poetry-load's RESULT line.
    load: HashMap<String, String>,
    cpu_seconds: f64,
    peak_rss_mb: Option<f64>,
    complaints: Vec<String>,
}

impl Measurement {
    fn number(&self, key: &str) -> Option<f64> {
        number(&self.load, key)
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("c10k benchmark: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Moves this process, and so every thread it starts later, to CPU 1, the
/// load generator's. The thread that drains a server's stdout wakes for
/// every line, a hundred thousand times a second: left free to run on CPU 0
/// it would take its time from the server it measures.
fn keep_off_the_servers_cpu() -> Result<(), String> {
    use nix::sched::{sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    let mut cpus = CpuSet::new();
    cpus.set(1)
        .and_then(|()| sched_setaffinity(Pid::from_raw(0), &cpus))
        .map_err(|error| format!("cannot move the benchmark to CPU 1: {error}"))
}

fn run(options: &Options) -> Result<bool, String> {
    let poem_path = root().join(&options.poem);
    let poem = std::fs::read(&poem_path)
        .map_err(|error| format!("cannot read {}: {error}", options.poem.display()))?;
    if poem.is_empty() {
        return Err(format!("{} is empty", options.poem.display()));
    }
    // The blocking server's loop: a send and a pause, for every chunk.
    let sends = poem.len().div_ceil(options.num_bytes as usize) as u32;
    let one_poem = options.delay * sends;
    let blocking_time = one_poem * options.blocking_clients;
    if blocking_time + SLACK > LONGEST_RUN {
        return Err(format!(
            "{} blocking clients would take {:.0} s; ask for fewer with --blocking-clients",
            options.blocking_clients,
            blocking_time.as_secs_f64()
        ));
    }
    raise_open_files_limit(u64::from(options.clients) + SPARE_DESCRIPTORS)?;
    let placement = Placement::find();
    if placement.pinned {
        keep_off_the_servers_cpu()?;
    }
    let ticks = clock_ticks_per_second();

    println!("C10K benchmark (Part 22): slow readers, all at once");
    println!("===================================================");
    describe_machine(&placement, ticks);
    println!(
        "poem: {} ({} bytes), {} bytes every {} s: one poem takes {:.1} s",
        options.poem.display(),
        poem.len(),
        options.num_bytes,
        options.delay.as_secs_f64(),
        one_poem.as_secs_f64()
    );
    let twisted_here = options.only.contains(&Kind::Twisted) && python_has_twisted();

    let mut runs = Vec::new();
    let mut verified = true;
    for kind in [Kind::Reactor, Kind::Tokio, Kind::Twisted, Kind::Blocking] {
        if !options.only.contains(&kind) {
            continue;
        }
        if kind == Kind::Twisted && !twisted_here {
            println!(
                "{:<19} skipped: `python3 -c \"import twisted\"` failed; `pip install twisted` \
                 adds it",
                kind.name()
            );
            continue;
        }
        let (clients, expected) = match kind {
            Kind::Blocking => (options.blocking_clients, blocking_time),
            _ => (options.clients, one_poem),
        };
        let how = match kind {
            Kind::Blocking => "one after another",
            _ => "at once",
        };
        println!("{:<19} {clients} clients {how} ...", kind.name());
        match measure(&placement, ticks, options, kind, clients, expected) {
            Ok(measurement) => {
                verified &= errors(&measurement.load) == 0;
                for line in &measurement.complaints {
                    println!("  {} said: {line}", kind.name());
                }
                runs.push(measurement);
            }
            Err(error) => {
                println!("  FAILED: {error}");
                verified = false;
            }
        }
    }

    let report = Report {
        runs: &runs,
        one_poem: one_poem.as_secs_f64(),
        clients: options.clients,
    };
    println!();
    print!("{}", report.text());
    if let Some(path) = &options.markdown {
        let markdown = report.markdown(&placement, options, poem.len());
        std::fs::write(path, markdown)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        println!("wrote the table as Markdown to {}", path.display());
    }
    let mut result = report.result();
    result.push(format!("cpus={}", placement.cpus));
    result.push(format!("pinned={}", placement.pinned));
    result.push(format!("verified={verified}"));
    println!("RESULT {}", result.join(" "));
    if !verified {
        eprintln!("c10k benchmark: some runs had errors or could not be measured; see above");
    }
    Ok(verified)
}

/// One server, fresh, against `clients` slow readers at once.
fn measure(
    placement: &Placement,
    ticks: u64,
    options: &Options,
    kind: Kind,
    clients: u32,
    expected: Duration,
) -> Result<Measurement, String> {
    let mut server = kind.command();
    server.extend([
        "--delay".into(),
        options.delay.as_secs_f64().to_string().into(),
        "--num-bytes".into(),
        options.num_bytes.to_string().into(),
        options.poem.clone().into(),
    ]);
    // Its stdout, a line per send, is read and dropped by a thread of ours
    // from here on.
    let mut started = placement.start(&server)?;
    let pid = started.pid;
    let limit = (expected + SLACK).min(LONGEST_RUN);
    let args: Vec<OsString> = vec![
        "--clients".into(),
        clients.to_string().into(),
        "--poem".into(),
        options.poem.clone().into(),
        "--time-limit".into(),
        limit.as_secs().to_string().into(),
    ];
    let before = cpu_ticks(pid)?;
    let load = placement.run_load(started.port, &args, limit + SLACK)?;
    let after = cpu_ticks(pid)?;
    let peak_rss_mb = peak_rss_kb(pid).map(|kb| kb as f64 / 1024.0);
    if let Ok(Some(status)) = started.guard.0.try_wait() {
        return Err(format!("the server died during the run ({status})"));
    }
    drop(started.guard);
    Ok(Measurement {
        kind,
        clients,
        load,
        cpu_seconds: after.saturating_sub(before) as f64 / ticks as f64,
        peak_rss_mb,
        complaints: taken(&started.complaints),
    })
}

/// The figures of every run, as a table for the terminal, as Markdown, and
/// as RESULT pairs.
struct Report<'a> {
    runs: &'a [Measurement],
    /// One poem's time, in seconds.
    one_poem: f64,
    /// The clients the blocking server's time is extrapolated to.
    clients: u32,
}

/// The columns of the table: the heading on the terminal, its width there,
/// and the heading in Markdown.
const COLUMNS: [(&str, usize, &str); 11] = [
    ("server", 36, "server"),
    ("clients", 7, "clients"),
    ("poems", 6, "poems"),
    ("errors", 6, "errors"),
    ("wall s", 8, "wall s"),
    ("÷ poem", 7, "÷ one poem"),
    ("srv CPU", 8, "server CPU s"),
    ("load CPU", 8, "load CPU s"),
    ("RSS MB", 7, "peak RSS MB"),
    ("p50 s", 6, "p50 s"),
    ("max s", 6, "max s"),
];

/// A row of the table, a cell for each of [`COLUMNS`].
type Row = [String; 11];

impl Report<'_> {
    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for run in self.runs {
            let wall = run.number("seconds");
            rows.push([
                run.kind.name().to_string(),
                run.clients.to_string(),
                decimal(run.number("poems"), 0),
                decimal(run.number("errors"), 0),
                decimal(wall, 1),
                decimal(wall.map(|wall| wall / self.one_poem), 1),
                decimal(Some(run.cpu_seconds), 2),
                decimal(run.number("cpu_s"), 2),
                decimal(run.peak_rss_mb, 1),
                decimal(run.number("p50_ms").map(|ms| ms / 1e3), 1),
                decimal(run.number("max_ms").map(|ms| ms / 1e3), 1),
            ]);
            if run.kind == Kind::Blocking && run.clients > 0 {
                let times = f64::from(self.clients) / f64::from(run.clients);
                let wall = wall.map(|wall| wall * times);
                let none = || "-".to_string();
                rows.push([
                    format!("slowpoetry (×{times:.0}, extrapolated)"),
                    self.clients.to_string(),
                    none(),
                    none(),
                    decimal(wall, 0),
                    decimal(wall.map(|wall| wall / self.one_poem), 0),
                    decimal(Some(run.cpu_seconds * times), 1),
                    none(),
                    none(),
                    none(),
                    none(),
                ]);
            }
        }
        rows
    }

    /// "ours / theirs" for wall time, CPU and memory, when both ran.
    fn ratios(&self) -> Vec<String> {
        let find = |kind: Kind| self.runs.iter().find(|run| run.kind == kind);
        let Some(ours) = find(Kind::Reactor) else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        for theirs in [Kind::Tokio, Kind::Twisted] {
            let Some(theirs) = find(theirs) else { continue };
            let ratio = |a: Option<f64>, b: Option<f64>| {
                decimal(a.zip(b).filter(|&(_, b)| b > 0.0).map(|(a, b)| a / b), 2)
            };
            lines.push(format!(
                "slowpoetry-reactor / {}: wall time {}, server CPU {}, peak RSS {}",
                theirs.kind.name(),
                ratio(ours.number("seconds"), theirs.number("seconds")),
                ratio(Some(ours.cpu_seconds), Some(theirs.cpu_seconds)),
                ratio(ours.peak_rss_mb, theirs.peak_rss_mb),
            ));
        }
        lines
    }

    fn text(&self) -> String {
        let mut text = String::new();
        let headings: Vec<String> = COLUMNS.iter().map(|column| column.0.to_string()).collect();
        for row in std::iter::once(headings).chain(self.rows().into_iter().map(Vec::from)) {
            text.push(' ');
            for (i, (cell, &(_, width, _))) in row.iter().zip(&COLUMNS).enumerate() {
                let _ = match i {
                    0 => write!(text, " {cell:<width$}"),
                    _ => write!(text, " {cell:>width$}"),
                };
            }
            text.push('\n');
        }
        for ratio in self.ratios() {
            let _ = writeln!(text, "  {ratio}");
        }
        let _ = writeln!(
            text,
            "wall s: first connect to the end of the last poem; ÷ poem: that over one\n\
             poem's time ({:.1} s); srv CPU: the server's user + system seconds; load\n\
             CPU: poetry-load's (when it nears the wall time, the load generator set the\n\
             pace, not the server); RSS MB: the server's peak resident memory; p50 s,\n\
             max s: one client's time, connect to end of poem. Ratios below 1 favour\n\
             slowpoetry-reactor.",
            self.one_poem
        );
        text
    }

    fn markdown(&self, placement: &Placement, options: &Options, poem_bytes: usize) -> String {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|line| line.strip_prefix("model name"))
                    .map(|name| name.trim_start_matches([' ', '\t', ':']).trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let mut text = String::new();
        let _ = writeln!(
            text,
            "*Written by `cargo bench --bench c10k -- --markdown FILE`: {} clients at once, \
             {} ({poem_bytes} bytes) at {} bytes every {} s, one poem {:.1} s; {} CPUs ({cpu}), {}.*",
            self.clients,
            options.poem.display(),
            options.num_bytes,
            options.delay.as_secs_f64(),
            self.one_poem,
            placement.cpus,
            if placement.pinned {
                "server and load generator pinned to CPUs of their own"
            } else {
                "not pinned"
            },
        );
        text.push('\n');
        let headings: Vec<&str> = COLUMNS.iter().map(|column| column.2).collect();
        let _ = writeln!(text, "| {} |", headings.join(" | "));
        let _ = writeln!(text, "|---|{}", "--:|".repeat(COLUMNS.len() - 1));
        for row in self.rows() {
            let _ = writeln!(text, "| {} |", row.join(" | "));
        }
        let ratios = self.ratios();
        if !ratios.is_empty() {
            text.push('\n');
            for ratio in ratios {
                let _ = writeln!(text, "- {ratio}");
            }
        }
        text
    }

    fn result(&self) -> Vec<String> {
        let mut pairs = vec![format!("one_poem_s={:.2}", self.one_poem)];
        for run in self.runs {
            let key = run.kind.key();
            pairs.push(format!("{key}_clients={}", run.clients));
            pairs.push(format!("{key}_poems={}", decimal(run.number("poems"), 0)));
            pairs.push(format!("{key}_errors={}", errors(&run.load)));
            pairs.push(format!(
                "{key}_wall_s={}",
                decimal(run.number("seconds"), 2)
            ));
            pairs.push(format!("{key}_cpu_s={:.2}", run.cpu_seconds));
            pairs.push(format!("{key}_rss_mb={}", decimal(run.peak_rss_mb, 1)));
            if run.kind == Kind::Blocking {
                let times = f64::from(self.clients) / f64::from(run.clients.max(1));
                let wall = run.number("seconds").map(|wall| wall * times);
                pairs.push(format!("blocking_extrapolated_wall_s={}", decimal(wall, 0)));
            }
        }
        pairs
    }
}
