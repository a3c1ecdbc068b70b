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

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::{env, fs, thread};

use clap::Parser;
use mini_twisted::poetry::Elapsed;

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

// ANCHOR: servers
/// The three servers of Part 2: poem file and bytes per send.
const SERVERS: [(&str, u32); 3] = [
    ("ecstasy.txt", 30),
    ("fascination.txt", 10),
    ("science.txt", 10),
];
// ANCHOR_END: servers

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
    let bin_dir = programs(options.no_build)?;
    fs::create_dir_all(&options.out_dir)
        .map_err(|error| format!("cannot create {}: {error}", options.out_dir.display()))?;
    let delay = if options.quick { "0.01" } else { "0.1" };

    println!("Starting three slow poetry servers (a pause of {delay} s after each send):");
    let mut ports = Vec::new();
    for (poem, num_bytes) in SERVERS {
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
        let port = children.start_server(server)?;
        println!(
            "  {} at {num_bytes} bytes a send, on port {port}",
            file.display()
        );
        ports.push(port.to_string());
    }

    let blocking_svg = options.out_dir.join("blocking.svg");
    let select_svg = options.out_dir.join("select.svg");
    println!("\nThe blocking client, one server after another:");
    let blocking = children.run_client(
        &bin_dir.join("get-poetry-blocking"),
        &ports,
        &blocking_svg,
        None,
    )?;
    println!("\nThe select client, every server at once:");
    // Draw the select run on the blocking run's scale, so that the two
    // pictures compare at a glance.
    let scale = blocking.total.map(|total| total.0);
    let select = children.run_client(
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

/// Every child process we started, so that any exit path can stop them.
#[derive(Clone, Default)]
struct Children(Arc<Mutex<Vec<Child>>>);

impl Children {
    fn kill_all(&self) {
        // A poisoned lock still holds the children: kill them all the same.
        let mut children = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for mut child in children.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a server and waits (bounded) for the port on its first line.
    fn start_server(&self, mut command: Command) -> Result<u16, String> {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start slowpoetry: {error}"))?;
        let lines = line_reader(child.stdout.take());
        self.0
            .lock()
            .map_err(|_| "lost track of the servers".to_string())?
            .push(child);
        // After the first line the reader thread keeps draining the
        // server's output, so that it never blocks on a full pipe.
        let first = lines
            .recv_timeout(STARTUP_LIMIT)
            .map_err(|_| "a server did not say which port it serves on".to_string())?;
        first
            .trim_end_matches('.')
            .rsplit(' ')
            .next()
            .and_then(|port| port.parse().ok())
            .ok_or_else(|| format!("cannot find a port in the server's line {first:?}"))
    }

    /// Runs a client to completion, echoing its lines indented.
    fn run_client(
        &self,
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
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", program.display()))?;
        let lines = line_reader(child.stdout.take());
        let pid = child.id();
        self.0
            .lock()
            .map_err(|_| "lost track of the clients".to_string())?
            .push(child);

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
        run.succeeded = self.wait_for(pid)?;
        Ok(run)
    }

    /// Waits for the child `pid` to exit and forgets it; true on success.
    fn wait_for(&self, pid: u32) -> Result<bool, String> {
        let mut children = self
            .0
            .lock()
            .map_err(|_| "lost track of the clients".to_string())?;
        let Some(index) = children.iter().position(|child| child.id() == pid) else {
            return Ok(false);
        };
        let mut child = children.remove(index);
        let status = child.wait().map_err(|error| error.to_string())?;
        Ok(status.success())
    }
}

/// Reads a child's output on a thread, one line per message, so that the
/// caller can wait for a line with a time limit.
fn line_reader(output: Option<impl std::io::Read + Send + 'static>) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    if let Some(output) = output {
        thread::spawn(move || {
            for line in BufReader::new(output).lines() {
                let Ok(line) = line else { break };
                // Once nobody listens any more, keep draining but drop the lines.
                let _ = sender.send(line);
            }
        });
    }
    receiver
}

/// Finds the folder holding the other programs. Under `cargo run` only the
/// showcase itself is guaranteed to be built, so ask the same cargo to build
/// the programs it runs (quick when they are up to date).
fn programs(no_build: bool) -> Result<PathBuf, String> {
    let exe = env::current_exe().map_err(|error| format!("cannot find myself: {error}"))?;
    let dir = exe
        .parent()
        .ok_or("cannot find the folder of the programs")?
        .to_path_buf();
    let cargo = env::var_os("CARGO");
    if let (false, Some(cargo)) = (no_build, cargo) {
        let mut build = Command::new(cargo);
        build
            .arg("build")
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        if dir.ends_with("release") {
            build.arg("--release");
        }
        for program in PROGRAMS {
            build.args(["--bin", program]);
        }
        let status = build
            .status()
            .map_err(|error| format!("cannot run cargo build: {error}"))?;
        if !status.success() {
            return Err("cargo build failed".to_string());
        }
    }
    for program in PROGRAMS {
        if !dir.join(program).is_file() {
            return Err(format!(
                "{program} is not built in {}: run `cargo build` first",
                dir.display()
            ));
        }
    }
    Ok(dir)
}
