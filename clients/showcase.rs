//! The showcase: Part 2's experiment, end to end, in one command.
//!
//! Starts three `slowpoetry` servers on free ports with the series' settings
//! (the long poem at 30 bytes a send, the two short ones at 10, a pause of
//! 0.1 s), fetches the three poems with the blocking client and then with
//! the select client, and compares their times: the blocking client takes
//! about the sum of the servers' times, the select client about the slowest
//! one's. It writes both runs as timelines (SVG) and stops its servers
//! however it ends, Ctrl-C included.
//!
//! Run it (from the repository root):
//!
//! ```text
//! cargo run --bin showcase
//! cargo run --bin showcase -- --quick
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use clap::Parser;
use mini_twisted::poetry::{sibling_programs, Children, Elapsed, PART2_SERVERS};

/// Runs Part 2's experiment: three slow servers, the blocking client, then
/// the select client, and compares their times.
#[derive(Parser)]
#[command(name = "showcase")]
struct Options {
    /// Pause 0.01 s between sends instead of 0.1 s: the whole run takes a
    /// few seconds instead of about half a minute
    #[arg(long)]
    quick: bool,

    /// The folder that holds the poems
    #[arg(long, value_name = "DIR", default_value = "poetry")]
    poetry_dir: PathBuf,

    /// Where to write the two timelines, blocking.svg and select.svg
    #[arg(long, value_name = "DIR", default_value = "target/showcase")]
    out_dir: PathBuf,

    /// Use the programs already built beside this one instead of asking
    /// cargo to bring them up to date first
    #[arg(long)]
    no_build: bool,
}

const PROGRAMS: [&str; 3] = ["slowpoetry", "get-poetry-blocking", "get-poetry-select"];

/// How long a server may take to print its port before we give up on it.
const STARTUP_LIMIT: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();
    let children = Children::default();
    // Ctrl-C, or a kill from another program: stop what we started first.
    let on_signal = children.clone();
    if let Err(error) = ctrlc::set_handler(move || {
        on_signal.kill_all();
        std::process::exit(130);
    }) {
        eprintln!("showcase: cannot watch for Ctrl-C: {error}");
    }

    let result = run(&options, &children);
    children.kill_all();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("showcase: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The whole experiment; `Ok(false)` when a client reported a failure.
fn run(options: &Options, children: &Children) -> Result<bool, String> {
    let bin_dir = sibling_programs(&PROGRAMS, options.no_build)?;
    fs::create_dir_all(&options.out_dir)
        .map_err(|error| format!("cannot create {}: {error}", options.out_dir.display()))?;
    let delay = if options.quick { "0.01" } else { "0.1" };

    println!("Starting three slow poetry servers (a pause of {delay} s after each send):");
    let mut ports = Vec::new();
    for (poem, num_bytes) in PART2_SERVERS {
        let file = options.poetry_dir.join(poem);
        if !file.is_file() {
            return Err(format!(
                "{} not found: run the showcase from the repository root, or pass --poetry-dir",
                file.display()
            ));
        }
        let mut server = Command::new(bin_dir.join("slowpoetry"));
        server
            .args(["--port", "0", "--delay", delay])
            .args(["--num-bytes", &num_bytes.to_string()])
            .arg(&file);
        let port = children.start_server(&mut server, STARTUP_LIMIT)?.port;
        println!(
            "  {} at {num_bytes} bytes a send, on port {port}",
            file.display()
        );
        ports.push(port.to_string());
    }

    let blocking_svg = options.out_dir.join("blocking.svg");
    let select_svg = options.out_dir.join("select.svg");
    println!("\nThe blocking client, one server after another:");
    let blocking = run_client(
        children,
        &bin_dir.join("get-poetry-blocking"),
        &ports,
        &blocking_svg,
        None,
    )?;
    println!("\nThe select client, every server at once:");
    // Draw the select run on the blocking run's scale, so that the two
    // pictures compare at a glance.
    let scale = blocking.total.map(|total| total.0);
    let select = run_client(
        children,
        &bin_dir.join("get-poetry-select"),
        &ports,
        &select_svg,
        scale,
    )?;

    // ANCHOR: report
    let (Some(blocking_total), Some(select_total)) = (blocking.total, select.total) else {
        return Err("a client did not report its total time".to_string());
    };
    let slowest = blocking
        .task_times
        .iter()
        .max()
        .copied()
        .unwrap_or_default();
    let ratio = blocking_total.0.as_secs_f64() / select_total.0.as_secs_f64().max(1e-9);
    println!();
    println!("Blocking client: {blocking_total}  (about the sum of the servers' times)");
    println!("Select client:   {select_total}  (about the slowest server's time: {slowest})");
    println!("The select client was {ratio:.2} times as fast.");
    println!(
        "Timelines: {} and {}",
        blocking_svg.display(),
        select_svg.display()
    );
    // ANCHOR_END: report
    Ok(blocking.succeeded && select.succeeded)
}

/// What the showcase reads from a client's output.
struct ClientRun {
    /// The `Got N poems in T` time.
    total: Option<Elapsed>,
    /// The blocking client's per-task times (`... in T`).
    task_times: Vec<Elapsed>,
    succeeded: bool,
}

/// Runs a client to completion, echoing its lines indented.
fn run_client(
    children: &Children,
    program: &Path,
    ports: &[String],
    svg: &Path,
    scale: Option<Duration>,
) -> Result<ClientRun, String> {
    let mut command = Command::new(program);
    command.args(ports).arg("--timeline").arg(svg);
    if let Some(scale) = scale {
        let seconds = scale.as_secs_f64().to_string();
        command.args(["--timeline-seconds", &seconds]);
    }
    let (pid, lines) = children.spawn(&mut command)?;

    let mut run = ClientRun {
        total: None,
        task_times: Vec::new(),
        succeeded: false,
    };
    // The channel closes when the client closes its stdout, at exit.
    for line in lines {
        println!("  {line}");
        if let Some((_, time)) = line.split_once(" in ") {
            if let Ok(elapsed) = time.parse::<Elapsed>() {
                if line.starts_with("Got ") {
                    run.total = Some(elapsed);
                } else {
                    run.task_times.push(elapsed);
                }
            }
        }
    }
    run.succeeded = children.wait_for(pid)?;
    Ok(run)
}
