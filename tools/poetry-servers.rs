//! A tool for the chapters: the three slow poetry servers of Part 2, in one
//! command instead of three terminals.
//!
//! Parts 2 to 10 fetch poems from the same three `slowpoetry` servers: the
//! long poem on port 10000 at 30 bytes a send (so that it finishes at about
//! the same time as the others), and the two short ones on ports 10001 and
//! 10002 at 10 bytes a send, each pausing 0.1 s after every send. This
//! starts all three as children of this program (the real `slowpoetry`,
//! built beside it), says where each one serves, prints what they print
//! with each line marked by its server's port, and stops all three on
//! Ctrl-C.
//!
//! Run it (from the repository root), and run the clients in another
//! terminal:
//!
//! ```text
//! cargo run --bin poetry-servers
//! cargo run --bin poetry-servers -- --delay 0.01 --base-port 20000
//! ```

use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::Duration;

use clap::Parser;
use mini_twisted::log::BROKEN_PIPE_EXIT;
use mini_twisted::poetry::{
    check_poem_file, parse_seconds, sibling_programs, Checked, Children, PART2_SERVERS,
};

/// Starts the three slow poetry servers the chapters use, and stops them
/// on Ctrl-C.
#[derive(Parser)]
#[command(
    name = "poetry-servers",
    after_help = "The servers are slowpoetry processes: poetry/ecstasy.txt on PORT at 30 bytes \
                  a send, poetry/fascination.txt on PORT+1 and poetry/science.txt on PORT+2 at \
                  10 bytes a send. Their own lines follow, each marked with its server's port. \
                  Ctrl-C (or SIGTERM) stops all three. If a port is taken, the servers that \
                  did start are stopped again and the exit status is 1."
)]
struct Options {
    /// Seconds each server pauses after each send
    #[arg(long, value_name = "SECONDS", default_value = "0.1", value_parser = Checked(parse_seconds))]
    delay: Duration,

    /// The first server's port; the others take the next two. With 0, the
    /// system chooses three free ports, and the lines below say which
    #[arg(long, value_name = "PORT", default_value_t = 10000,
          value_parser = clap::value_parser!(u16).range(0..=65533))]
    base_port: u16,

    /// The folder that holds the poems
    #[arg(long, value_name = "DIR", default_value = "poetry")]
    poetry_dir: PathBuf,

    /// Print only where the servers serve, not what they print afterwards
    #[arg(long)]
    quiet: bool,

    /// Use the slowpoetry already built beside this program instead of
    /// asking cargo to bring it up to date first
    #[arg(long)]
    no_build: bool,
}

/// How long a server may take to say which port it serves on.
const STARTUP_LIMIT: Duration = Duration::from_secs(20);

/// How often the servers are checked for having stopped by themselves.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// The signal Ctrl-C sends.
const SIGINT: i32 = 2;

/// Why the servers are being stopped.
enum Stop {
    /// Ctrl-C, SIGTERM or SIGHUP: the way this program is meant to end.
    Asked,
    /// Our stdout is gone: nobody to report to.
    NoOutput,
}

fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();
    let children = Children::default();
    let (stop, stopped) = mpsc::channel();
    let on_signal = stop.clone();
    if let Err(error) = ctrlc::set_handler(move || {
        let _ = on_signal.send(Stop::Asked);
    }) {
        // Without it, Ctrl-C would leave the servers running.
        eprintln!("poetry-servers: cannot watch for Ctrl-C: {error}");
        return ExitCode::FAILURE;
    }

    let ports = match start(&options, &children, &stop) {
        Ok(ports) => ports,
        Err(message) => {
            children.kill_all();
            eprintln!("poetry-servers: {message}");
            return ExitCode::FAILURE;
        }
    };

    // Wait for Ctrl-C, watching for a server that stops by itself.
    let outcome = loop {
        match stopped.recv_timeout(WATCH_EVERY) {
            Ok(Stop::Asked) | Err(RecvTimeoutError::Disconnected) => break ExitCode::SUCCESS,
            // As every program does when its stdout goes (see log::init).
            Ok(Stop::NoOutput) => break ExitCode::from(BROKEN_PIPE_EXIT as u8),
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Some((pid, status)) = children.exited() {
            // Ctrl-C reached the whole group: the server heard it too.
            if status.signal() == Some(SIGINT) {
                break ExitCode::SUCCESS;
            }
            let port = ports
                .iter()
                .find(|(server, _)| *server == pid)
                .map_or_else(String::new, |(_, port)| format!(" on port {port}"));
            eprintln!("poetry-servers: the server{port} stopped ({status}); stopping the others");
            break ExitCode::FAILURE;
        }
    };
    children.kill_all();
    // Stdout may be gone by now; there is nothing else to do either way.
    let _ = writeln!(io::stdout(), "Stopped the servers.");
    outcome
}

/// Starts the three servers and prints where each serves; returns each
/// server's process id and port.
fn start(
    options: &Options,
    children: &Children,
    stop: &Sender<Stop>,
) -> Result<Vec<(u32, u16)>, String> {
    let bin_dir = sibling_programs(&["slowpoetry"], options.no_build)?;
    // The same check slowpoetry makes, made first for all three, so that a
    // wrong folder is one clear message rather than a server that starts
    // and two that do not.
    for (poem, _) in PART2_SERVERS {
        let file = options.poetry_dir.join(poem);
        check_poem_file(&file).map_err(|message| {
            format!("{message} (run from the repository root, or pass --poetry-dir)")
        })?;
    }
    let delay = options.delay.as_secs_f64().to_string();
    let mut started = Vec::new();
    for (offset, (poem, num_bytes)) in (0..).zip(PART2_SERVERS) {
        let file = options.poetry_dir.join(poem);
        let port = match options.base_port {
            0 => 0,
            base => base + offset,
        };
        let mut server = Command::new(bin_dir.join("slowpoetry"));
        server
            .args(["--port", &port.to_string(), "--delay", &delay])
            .args(["--num-bytes", &num_bytes.to_string()])
            .arg(&file)
            // In our process group, so that Ctrl-C in the terminal, or
            // whoever stops the group, stops the servers too, even if this
            // program is killed before it can stop them itself.
            .stdin(Stdio::null());
        let server = children
            .start_server(&mut server, STARTUP_LIMIT)
            .map_err(|message| format!("{message}; stopping the servers that did start"))?;
        let port = server.port;
        say(
            stop,
            &format!(
                "Port {port}: {}, {num_bytes} bytes a send, {delay} s between sends",
                file.display()
            ),
        );
        started.push((server.pid, port));
        if !options.quiet {
            let stop = stop.clone();
            let lines = server.lines;
            thread::spawn(move || {
                for line in lines {
                    say(&stop, &format!("[{port}] {line}"));
                }
            });
        }
    }
    say(stop, "Ctrl-C stops all three.");
    Ok(started)
}

/// Prints `line` on stdout. If stdout is gone, asks for everything to
/// stop: a plain `println!` would end the program there and then, and
/// leave the servers running.
fn say(stop: &Sender<Stop>, line: &str) {
    let mut out = io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        let _ = stop.send(Stop::NoOutput);
    }
}
