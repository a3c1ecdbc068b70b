//! The servers' benchmark (Parts 11 and 12): our servers against the same
//! servers on tokio, and on Twisted itself when Python has it.
//!
//! It has three sections, each one selected with `--only`:
//!
//! - `fast` (Part 11): `fastpoetry`, `fastpoetry-tokio` and
//!   `benches/fastpoetry_twisted.py` serving `poetry/ecstasy.txt`, loaded
//!   by `poetry-load` with 1, 10, 100 and 1,000 connections in flight.
//! - `transform` (Part 12): `transformedpoetry`, `transformedpoetry-tokio`
//!   and `benches/transformedpoetry_twisted.py`, loaded by
//!   `poetry-load --netstring` with 10 and 100 connections in flight: each
//!   sends the poem to be cummingsified and checks the reply.
//! - `hold` (Part 12): each transform server holding 10,000 idle
//!   connections (`poetry-load --hold`): its memory before the first one
//!   and while it holds them, and its open descriptors.
//!
//! Each server is started fresh on a free port for every run, and every
//! reply is checked byte for byte. The figure that compares the servers
//! under load is **connections per server CPU-second**: the server's own
//! user and system time, read from `/proc/PID/stat`, over the connections
//! it served. On a small machine the load generator runs out of CPU before
//! a fast server does, so raw connections per second mostly measure the
//! load generator; work per CPU second measures the server. Latency
//! percentiles, errors and peak memory are reported beside it.
//!
//! Run it with (benchmarks build with the release profile):
//!
//! ```text
//! cargo bench --bench servers
//! cargo bench --bench servers -- --only transform,hold
//! cargo bench --bench servers -- --only fast --seconds 3 --concurrency 1,10 --rounds 5
//! ```
//!
//! Each level of concurrency runs `--rounds` times (3 unless told), the
//! servers' order reversed each round; the tables give the medians and the
//! ratio's range from round to round. On a small virtual machine two runs of
//! the same server can differ by 10%, so a ratio inside that range is a tie.
//!
//! Where `taskset` exists and the machine has two CPUs or more, the server
//! runs on CPU 0 and the load generator on CPU 1, so that they do not take
//! turns on one CPU; the report says whether that happened.
//!
//! Environment:
//!
//! - `SERVERS_BENCH_ONLY=tokio` (or a list such as `mini-twisted,tokio`)
//!   measures only the servers named.
//! - `SERVERS_BENCH_FASTPOETRY=PATH` measures another build of fastpoetry
//!   (an older commit's, say) in the mini-twisted column of `fast`.
//!
//! The Twisted columns need `python3` with Twisted (`pip install twisted`);
//! without it they are skipped, with a note. The `hold` section raises its
//! own limit on open files to what 10,000 connections need, and is skipped,
//! with a note, when the hard limit is lower.
//!
//! It prints a table for each level of concurrency, then one last line
//! starting `RESULT ` with `key=value` pairs for scripts. It exits with a
//! failure if any run had an error or could not be measured. It reads
//! `/proc`, so it runs on Linux only.

mod common;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use common::{
    cpu_ticks, decimal, describe_machine, errors, number, peak_rss_kb, python_has_twisted, taken,
    Placement,
};
use mini_twisted::poetry::{clock_ticks_per_second, parse_run_seconds, raise_open_files_limit};

/// The poem every server serves, relative to the repository root.
const POEM: &str = "poetry/ecstasy.txt";
/// How long `poetry-load` may run beyond `--seconds`: its own limits (5 s
/// for the last connections, 30 s to open the held ones) are below this,
/// so it only trips if it hangs.
const LOAD_GRACE: Duration = Duration::from_secs(60);
/// The goal for fastpoetry over fastpoetry-tokio, in connections per server
/// CPU-second (Part 11).
const FAST_GOAL: f64 = 1.0;
/// The goal for transformedpoetry over transformedpoetry-tokio (Part 12).
const TRANSFORM_GOAL: f64 = 1.2;
/// The goals for a server holding idle connections (Part 12): bytes of
/// resident memory per connection, and resident memory before the first.
const HOLD_BYTES_GOAL: f64 = 1000.0;
const BASE_RSS_GOAL_KB: u64 = 3 * 1024;
/// Descriptors the hold needs besides the connections, in each process.
const SPARE_DESCRIPTORS: u64 = 64;

/// Measures our servers against their tokio peers (and the Twisted
/// originals, when Python has Twisted): connections per server CPU-second
/// under load, and memory per idle connection.
#[derive(Parser)]
#[command(name = "servers")]
struct Options {
    /// The sections to run, separated by commas
    #[arg(long, value_delimiter = ',', default_values_t = [Section::Fast, Section::Transform, Section::Hold])]
    only: Vec<Section>,

    /// Seconds of load for each server at each concurrency
    #[arg(long, default_value = "5", value_parser = parse_run_seconds)]
    seconds: Duration,

    /// The levels of concurrency of the `fast` section, separated by commas
    #[arg(long, value_delimiter = ',', default_values_t = [1, 10, 100, 1000],
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    concurrency: Vec<u32>,

    /// The levels of concurrency of the `transform` section
    #[arg(long, value_delimiter = ',', default_values_t = [10, 100],
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    transform_concurrency: Vec<u32>,

    /// How many idle connections each server holds in the `hold` section
    #[arg(long, default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=50_000))]
    hold: u32,

    /// Seconds the `hold` section holds them, once all are open
    #[arg(long, default_value = "2", value_parser = parse_run_seconds)]
    hold_seconds: Duration,

    /// How many times to measure each server at each concurrency; the
    /// report gives the medians, and the ratio's range from round to round
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    rounds: u32,

    /// Passed by `cargo bench`; ignored
    #[arg(long, hide = true)]
    bench: bool,
}

/// A section of the benchmark.
#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Section {
    /// fastpoetry under load (Part 11)
    Fast,
    /// transformedpoetry under load (Part 12)
    Transform,
    /// the transform servers holding idle connections (Part 12)
    Hold,
}

impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let name = match self {
            Section::Fast => "fast",
            Section::Transform => "transform",
            Section::Hold => "hold",
        };
        f.write_str(name)
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    match run_benchmark(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("servers benchmark: {error}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------
// The servers.
// ---------------------------------------------------------------------------

/// One column of the report.
struct Server {
    /// The name in the report and in `SERVERS_BENCH_ONLY`.
    name: &'static str,
    /// The prefix of its keys on the RESULT line.
    key: &'static str,
    /// The program and its arguments but `--port 0`; `Err` when it cannot
    /// run here, and then why.
    command: Result<Vec<OsString>, String>,
}

/// What one section compares: a server of the series, its tokio peer and
/// its Twisted original, and how poetry-load talks to them.
struct Comparison {
    title: &'static str,
    /// The prefix of the section's keys on the RESULT line.
    key: &'static str,
    servers: Vec<Server>,
    /// What poetry-load is told besides the port, the concurrency and the
    /// seconds.
    load_args: Vec<OsString>,
    goal: f64,
}

/// The three servers, `mini-twisted`, `tokio` and `twisted`, as given,
/// less those `SERVERS_BENCH_ONLY` leaves out and a Twisted that Python
/// does not have.
fn servers(
    mini: OsString,
    tokio: OsString,
    twisted_script: &str,
    args: &[&str],
    twisted_here: bool,
) -> Result<Vec<Server>, String> {
    let with_args = |mut command: Vec<OsString>| {
        command.extend(args.iter().map(OsString::from));
        command
    };
    let twisted = if twisted_here {
        Ok(with_args(vec![
            "python3".into(),
            common::root().join(twisted_script).into(),
        ]))
    } else {
        Err("`python3 -c \"import twisted\"` failed; `pip install twisted` enables it".to_string())
    };
    let all = vec![
        Server {
            name: "mini-twisted",
            key: "mini",
            command: Ok(with_args(vec![mini])),
        },
        Server {
            name: "tokio",
            key: "tokio",
            command: Ok(with_args(vec![tokio])),
        },
        Server {
            name: "twisted",
            key: "twisted",
            command: twisted,
        },
    ];

    let Ok(only) = std::env::var("SERVERS_BENCH_ONLY") else {
        return Ok(all);
    };
    let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
    if let Some(unknown) = wanted
        .iter()
        .find(|name| !all.iter().any(|server| server.name == **name))
    {
        return Err(format!(
            "SERVERS_BENCH_ONLY names {unknown:?}; the servers are mini-twisted, tokio and twisted"
        ));
    }
    Ok(all
        .into_iter()
        .map(|mut server| {
            if !wanted.contains(&server.name) {
                server.command = Err("left out by SERVERS_BENCH_ONLY".to_string());
            }
            server
        })
        .collect())
}

/// Part 11's servers, serving the poem.
fn fast_servers(twisted_here: bool) -> Result<Vec<Server>, String> {
    let fastpoetry = std::env::var_os("SERVERS_BENCH_FASTPOETRY")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_fastpoetry").into());
    servers(
        fastpoetry,
        env!("CARGO_BIN_EXE_fastpoetry-tokio").into(),
        "benches/fastpoetry_twisted.py",
        &[POEM],
        twisted_here,
    )
}

/// Part 12's servers, which take no poem: the client sends it.
fn transform_servers(twisted_here: bool) -> Result<Vec<Server>, String> {
    servers(
        env!("CARGO_BIN_EXE_transformedpoetry").into(),
        env!("CARGO_BIN_EXE_transformedpoetry-tokio").into(),
        "benches/transformedpoetry_twisted.py",
        &[],
        twisted_here,
    )
}

// ---------------------------------------------------------------------------
// The benchmark.
// ---------------------------------------------------------------------------

/// What one server did at one level of concurrency.
struct Measurement {
    /// `poetry-load`'s RESULT line, as key and value.
    load: HashMap<String, String>,
    cpu_seconds: f64,
    peak_rss_mb: Option<f64>,
    /// Connections whose server side skipped TIME_WAIT because the kernel's
    /// table was full: a count for the whole machine, read around the run,
    /// shown because it changes what a close costs the server.
    time_wait_skipped: Option<u64>,
    /// What the server said on stderr during the run, if anything.
    complaints: Vec<String>,
}

impl Measurement {
    fn number(&self, key: &str) -> Option<f64> {
        number(&self.load, key)
    }

    fn errors(&self) -> u64 {
        errors(&self.load)
    }

    fn per_cpu_second(&self) -> Option<f64> {
        let connections = self.number("connections")?;
        (self.cpu_seconds > 0.0).then(|| connections / self.cpu_seconds)
    }
}

/// What every section needs to know about the run.
struct Bench<'a> {
    options: &'a Options,
    placement: Placement,
    ticks: u64,
    /// The RESULT line's pairs, section after section.
    result: Vec<String>,
    total_errors: u64,
    verified: bool,
}

fn run_benchmark(options: &Options) -> Result<bool, String> {
    let twisted_here = python_has_twisted();
    let placement = Placement::find();
    let ticks = clock_ticks_per_second();
    let seconds = options.seconds.as_secs_f64();

    println!("Poetry servers benchmark (Parts 11 and 12)");
    println!("==========================================");
    describe_machine(&placement, ticks);
    let sections: Vec<String> = options.only.iter().map(Section::to_string).collect();
    println!(
        "sections: {}; each run a fresh server, every reply checked",
        sections.join(", ")
    );

    let mut bench = Bench {
        options,
        ticks,
        result: vec![
            format!("seconds={seconds}"),
            format!("rounds={}", options.rounds),
            format!("cpus={}", placement.cpus),
            format!("pinned={}", placement.pinned),
            format!("clk_tck={ticks}"),
        ],
        placement,
        total_errors: 0,
        verified: true,
    };
    if options.only.contains(&Section::Fast) {
        let comparison = Comparison {
            title: "fastpoetry (Part 11): the whole poem to every client",
            key: "",
            servers: fast_servers(twisted_here)?,
            load_args: vec!["--poem".into(), POEM.into()],
            goal: FAST_GOAL,
        };
        bench.compare_servers(&comparison, &options.concurrency);
    }
    if options.only.contains(&Section::Transform) {
        let comparison = Comparison {
            title: "transformedpoetry (Part 12): cummingsify the poem a client sends",
            key: "transform_",
            servers: transform_servers(twisted_here)?,
            load_args: vec!["--netstring".into(), "--poem".into(), POEM.into()],
            goal: TRANSFORM_GOAL,
        };
        bench.compare_servers(&comparison, &options.transform_concurrency);
    }
    if options.only.contains(&Section::Hold) {
        bench.hold(&transform_servers(twisted_here)?);
    }

    println!();
    println!(
        "srv CPU: the server's user + system seconds during the load; srv %: of one CPU;\n\
         conn/CPU-s: connections per server CPU-second, the figure the ratio compares;\n\
         RSS MB: the server's peak resident memory (the largest of the rounds);\n\
         load %: poetry-load's own CPU. A load % near 100 means the load generator\n\
         set the pace, not the server. TIME_WAIT skipped: connections the kernel\n\
         closed without TIME_WAIT because its table (tcp_max_tw_buckets) was full;\n\
         the table fills and empties in waves of about a minute. Two runs of one\n\
         server differ by several per cent: read a ratio within the rounds' spread\n\
         as a tie."
    );
    if !bench.verified {
        eprintln!("servers benchmark: some runs had errors or could not be measured; see above");
    }
    bench.result.push(format!("errors={}", bench.total_errors));
    bench.result.push(format!("verified={}", bench.verified));
    println!("RESULT {}", bench.result.join(" "));
    Ok(bench.verified)
}

impl Bench<'_> {
    /// One section under load: every server at every level of concurrency,
    /// in rounds, then the table and the ratios.
    fn compare_servers(&mut self, comparison: &Comparison, concurrencies: &[u32]) {
        let servers = &comparison.servers;
        let goal = comparison.goal;
        println!();
        println!("{}", comparison.title);
        println!("{}", "-".repeat(comparison.title.chars().count()));
        let seconds = self.options.seconds.as_secs_f64();
        println!("each run: a fresh server, poetry-load for {seconds} s");
        for server in servers {
            match &server.command {
                Ok(_) => println!("server {:<13} measured", server.name),
                Err(why) => println!("server {:<13} skipped: {why}", server.name),
            }
        }
        for &concurrency in concurrencies {
            println!();
            println!(
                "Concurrency {concurrency}: {} round(s), the servers' order reversed each round; medians",
                self.options.rounds
            );
            // Each round runs the servers in the opposite order to the last, so
            // that whatever drifts during a benchmark (the TIME_WAIT table
            // filling and emptying, a busy neighbour, the CPU's clock) falls on
            // each server alike.
            let mut runs: Vec<Vec<Measurement>> = servers.iter().map(|_| Vec::new()).collect();
            for round in 0..self.options.rounds {
                let mut order: Vec<usize> = (0..servers.len()).collect();
                if round % 2 == 1 {
                    order.reverse();
                }
                for i in order {
                    let server = &servers[i];
                    let Ok(command) = &server.command else {
                        continue;
                    };
                    match self.measure(command, &comparison.load_args, concurrency) {
                        Ok(measurement) => {
                            self.total_errors += measurement.errors();
                            self.verified &= measurement.errors() == 0;
                            for line in &measurement.complaints {
                                println!("  {} said: {line}", server.name);
                            }
                            runs[i].push(measurement);
                        }
                        Err(error) => {
                            println!("  {} FAILED in round {}: {error}", server.name, round + 1);
                            self.verified = false;
                        }
                    }
                }
            }

            println!(
                "  {:<13} {:>8} {:>7} {:>8} {:>6} {:>10} {:>7} {:>8} {:>8} {:>6}",
                "server",
                "conn/s",
                "errors",
                "srv CPU",
                "srv %",
                "conn/CPU-s",
                "RSS MB",
                "p50 ms",
                "p99 ms",
                "load %"
            );
            for (server, runs) in servers.iter().zip(&runs) {
                match (&server.command, runs.is_empty()) {
                    (Err(_), _) => println!("  {:<13} skipped", server.name),
                    (Ok(_), true) => println!("  {:<13} no run could be measured", server.name),
                    (Ok(_), false) => print_row(server.name, runs),
                }
            }
            for (server, runs) in servers.iter().zip(&runs) {
                if runs.len() > 1 {
                    let each: Vec<String> = runs
                        .iter()
                        .map(|run| decimal(run.per_cpu_second(), 0))
                        .collect();
                    let skipped: Vec<String> = runs
                        .iter()
                        .map(|run| {
                            let share = run
                                .time_wait_skipped
                                .zip(run.number("connections"))
                                .map(|(skipped, all)| skipped as f64 / all.max(1.0) * 100.0);
                            format!("{}%", decimal(share, 0))
                        })
                        .collect();
                    println!(
                        "  {} conn/CPU-s by round: {} (TIME_WAIT skipped: {})",
                        server.name,
                        each.join(" "),
                        skipped.join(" ")
                    );
                }
            }
            for (server, runs) in servers.iter().zip(&runs) {
                if runs.is_empty() {
                    continue;
                }
                self.result.push(format!(
                    "{}{}_c{concurrency}_per_s={}",
                    comparison.key,
                    server.key,
                    decimal(median(runs.iter().map(|run| run.number("per_second"))), 0)
                ));
                self.result.push(format!(
                    "{}{}_c{concurrency}_per_cpu_s={}",
                    comparison.key,
                    server.key,
                    decimal(median(runs.iter().map(Measurement::per_cpu_second)), 0)
                ));
            }

            let by_name = |name: &str| -> &[Measurement] {
                servers
                    .iter()
                    .position(|server| server.name == name)
                    .map_or(&[], |i| runs[i].as_slice())
            };
            let mini = by_name("mini-twisted");
            let tokio = compare(mini, by_name("tokio"));
            let twisted = compare(mini, by_name("twisted"));
            match tokio {
                Some((ratio, low, high)) => println!(
                    "  mini-twisted / tokio, connections per server CPU-second: {ratio:.2} \
                     (by round {low:.2}–{high:.2})   goal ≥ {goal:.1}: {}{}",
                    if ratio >= goal { "met" } else { "NOT met" },
                    if low < goal && high >= goal {
                        ", but the rounds disagree"
                    } else {
                        ""
                    }
                ),
                None => println!("  mini-twisted / tokio: not measured"),
            }
            if let Some((ratio, low, high)) = twisted {
                println!(
                    "  mini-twisted / twisted, connections per server CPU-second: {ratio:.2} \
                     (by round {low:.2}–{high:.2})"
                );
            }
            self.result.push(format!(
                "{}ratio_c{concurrency}={}",
                comparison.key,
                decimal(tokio.map(|(ratio, _, _)| ratio), 3)
            ));
            self.result.push(format!(
                "{}ratio_twisted_c{concurrency}={}",
                comparison.key,
                decimal(twisted.map(|(ratio, _, _)| ratio), 3)
            ));
        }
    }

    /// One server at one level of concurrency, from start to kill.
    fn measure(
        &self,
        server: &[OsString],
        load_args: &[OsString],
        concurrency: u32,
    ) -> Result<Measurement, String> {
        let mut started = self.placement.start(server)?;
        let pid = started.pid;
        let mut args = load_args.to_vec();
        args.extend([
            "--concurrency".into(),
            concurrency.to_string().into(),
            "--seconds".into(),
            self.options.seconds.as_secs_f64().to_string().into(),
        ]);

        // Measured from here, so that start-up (Python importing Twisted,
        // say) is not charged to the connections.
        let before = cpu_ticks(pid)?;
        let overflows_before = time_wait_overflows();
        let load =
            self.placement
                .run_load(started.port, &args, self.options.seconds + LOAD_GRACE)?;
        let after = cpu_ticks(pid)?;
        let time_wait_skipped = time_wait_overflows()
            .zip(overflows_before)
            .map(|(after, before)| after.saturating_sub(before));
        let peak_rss_mb = peak_rss_kb(pid).map(|kb| kb as f64 / 1024.0);
        if let Ok(Some(status)) = started.guard.0.try_wait() {
            return Err(format!("the server died during the run ({status})"));
        }
        drop(started.guard);

        Ok(Measurement {
            load,
            cpu_seconds: after.saturating_sub(before) as f64 / self.ticks as f64,
            peak_rss_mb,
            time_wait_skipped,
            complaints: taken(&started.complaints),
        })
    }

    // ANCHOR: hold
    /// The `hold` section: each server, fresh, holding `--hold` idle
    /// connections; what it weighed before them and while it held them.
    fn hold(&mut self, servers: &[Server]) {
        let count = self.options.hold;
        let title = "Idle connections (Part 12): what a transform server holds for each";
        println!();
        println!("{title}");
        println!("{}", "-".repeat(title.chars().count()));
        if let Err(why) = raise_open_files_limit(u64::from(count) + SPARE_DESCRIPTORS) {
            println!("skipped: {why}; ask for fewer with --hold");
            return;
        }
        let seconds = self.options.hold_seconds;
        println!(
            "each run: a fresh server; poetry-load opens {count} connections, sends nothing, \
             and holds them {} s",
            seconds.as_secs_f64()
        );
        println!(
            "  {:<13} {:>6} {:>7} {:>12} {:>13} {:>12} {:>10} {:>10} {:>8}",
            "server",
            "held",
            "errors",
            "base RSS kB",
            "base anon kB",
            "held RSS kB",
            "bytes/conn",
            "anon/conn",
            "fds held"
        );
        for server in servers {
            let Ok(command) = &server.command else {
                println!("  {:<13} skipped", server.name);
                continue;
            };
            let held = self.placement.start(command).and_then(|started| {
                let args: Vec<OsString> = vec![
                    "--hold".into(),
                    count.to_string().into(),
                    "--server-pid".into(),
                    started.pid.to_string().into(),
                    "--seconds".into(),
                    seconds.as_secs_f64().to_string().into(),
                ];
                let pairs = self
                    .placement
                    .run_load(started.port, &args, seconds + LOAD_GRACE)?;
                Ok((pairs, taken(&started.complaints)))
            });
            let (pairs, complaints) = match held {
                Ok(held) => held,
                Err(error) => {
                    println!("  {:<13} FAILED: {error}", server.name);
                    self.verified = false;
                    continue;
                }
            };
            let at = |key: &str| number(&pairs, key);
            let errors = errors(&pairs);
            self.total_errors += errors;
            self.verified &= errors == 0;
            println!(
                "  {:<13} {:>6} {:>7} {:>12} {:>13} {:>12} {:>10} {:>10} {:>8}",
                server.name,
                decimal(at("held"), 0),
                errors,
                decimal(at("rss_before_kb"), 0),
                decimal(at("anon_before_kb"), 0),
                decimal(at("rss_held_kb"), 0),
                decimal(at("bytes_per_connection"), 0),
                decimal(at("anon_bytes_per_connection"), 0),
                decimal(at("fds_held"), 0),
            );
            for line in complaints {
                println!("  {} said: {line}", server.name);
            }
            for key in [
                "held",
                "rss_before_kb",
                "anon_before_kb",
                "bytes_per_connection",
                "anon_bytes_per_connection",
                "fds_held",
            ] {
                self.result
                    .push(format!("hold_{}_{key}={}", server.key, decimal(at(key), 0)));
            }
            if server.key == "mini" {
                let verdict = |met: bool| if met { "met" } else { "NOT met" };
                let bytes = at("bytes_per_connection");
                let base = at("rss_before_kb");
                println!(
                    "  mini-twisted: {} bytes per held connection, goal ≤ {HOLD_BYTES_GOAL:.0}: {}; \
                     base RSS {} kB, goal ≤ {BASE_RSS_GOAL_KB}: {}",
                    decimal(bytes, 0),
                    verdict(bytes.is_some_and(|bytes| bytes <= HOLD_BYTES_GOAL)),
                    decimal(base, 0),
                    verdict(base.is_some_and(|kb| kb <= BASE_RSS_GOAL_KB as f64)),
                );
            }
        }
        println!(
            "base RSS: the server's resident memory before the first connection, pages of\n\
             shared libraries and of the program file included; base anon: the anonymous\n\
             part of it (heap and stacks), the server's own; bytes/conn: what the resident\n\
             memory grew by, over the connections held; anon/conn: the same for anonymous\n\
             memory."
        );
    }
    // ANCHOR_END: hold
}

/// How many times the kernel has skipped TIME_WAIT for want of room:
/// `TCPTimeWaitOverflow` in `/proc/net/netstat`.
fn time_wait_overflows() -> Option<u64> {
    let netstat = fs::read_to_string("/proc/net/netstat").ok()?;
    // Pairs of lines: `TcpExt: name name ...` then `TcpExt: value value ...`.
    let mut lines = netstat.lines().filter(|line| line.starts_with("TcpExt:"));
    let names = lines.next()?.split_whitespace();
    let values = lines.next()?.split_whitespace();
    names
        .zip(values)
        .find(|(name, _)| *name == "TCPTimeWaitOverflow")?
        .1
        .parse()
        .ok()
}

/// The median of the values that exist.
fn median(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let mut values: Vec<f64> = values.flatten().filter(|value| value.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    })
}

/// `ours` over `theirs` in connections per server CPU-second: the ratio of
/// the medians, and the lowest and highest ratio of one round to the same
/// round, which shows how much the figure moves from run to run.
fn compare(ours: &[Measurement], theirs: &[Measurement]) -> Option<(f64, f64, f64)> {
    let ratio = median(ours.iter().map(Measurement::per_cpu_second))?
        / median(theirs.iter().map(Measurement::per_cpu_second))?;
    let rounds: Vec<f64> = ours
        .iter()
        .zip(theirs)
        .filter_map(|(ours, theirs)| Some(ours.per_cpu_second()? / theirs.per_cpu_second()?))
        .collect();
    let low = rounds.iter().copied().fold(f64::INFINITY, f64::min);
    let high = rounds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !ratio.is_finite() {
        return None;
    }
    if rounds.is_empty() {
        return Some((ratio, ratio, ratio));
    }
    Some((ratio, low, high))
}

/// One row of the table: the medians of a server's rounds.
fn print_row(name: &str, runs: &[Measurement]) {
    // Both over the load's own elapsed time, which includes the last
    // connections finishing after `--seconds`.
    let percent = |run: &Measurement, cpu: Option<f64>| -> Option<f64> {
        let elapsed = run.number("seconds").filter(|&seconds| seconds > 0.0)?;
        Some(cpu? / elapsed * 100.0)
    };
    let of = |value: fn(&Measurement) -> Option<f64>| median(runs.iter().map(value));
    let errors: u64 = runs.iter().map(Measurement::errors).sum();
    let peak = runs
        .iter()
        .filter_map(|run| run.peak_rss_mb)
        .fold(None, |most: Option<f64>, mb| {
            Some(most.map_or(mb, |most| most.max(mb)))
        });
    println!(
        "  {:<13} {:>8} {:>7} {:>8} {:>6} {:>10} {:>7} {:>8} {:>8} {:>6}",
        name,
        decimal(of(|run| run.number("per_second")), 0),
        errors,
        decimal(of(|run| Some(run.cpu_seconds)), 2),
        decimal(
            median(runs.iter().map(|run| percent(run, Some(run.cpu_seconds)))),
            0
        ),
        decimal(of(Measurement::per_cpu_second), 0),
        decimal(peak, 1),
        decimal(of(|run| run.number("p50_ms")), 3),
        decimal(of(|run| run.number("p99_ms")), 3),
        decimal(
            median(runs.iter().map(|run| percent(run, run.number("cpu_s")))),
            0
        ),
    );
}
