//! Part 16: `poetryd`, the runner (Twisted's `twistd`). It runs a poetry
//! service the way servers run in production: detached from the terminal,
//! logging to a file, leaving a pid file to be found and signalled by, and
//! shutting down cleanly on SIGTERM or SIGINT.
//!
//! ```text
//! poetryd [--nodaemon] [--logfile FILE] [--pidfile FILE] SERVICE [SERVICE OPTIONS]
//! ```
//!
//! The runner's options come before the service's name, the service's
//! after it, as with twistd. The services it can run are a list compiled
//! into it, [`REGISTRY`], each with its name, its description and its
//! options: the Rust form of Twisted's plugins.
//!
//! Run it (from the repository root), stop it, and read its log:
//!
//! ```text
//! cargo run --bin poetryd -- fastpoetry --port 10000 --poem poetry/ecstasy.txt
//! kill $(cat poetryd.pid)
//! cat poetryd.log
//! ```
//!
//! # Detaching without `fork`
//!
//! twistd detaches by forking: the parent exits, and the child, in a new
//! session, runs the server. `fork` in Rust is `unsafe`: in a process with
//! several threads, the child gets a copy of one thread and of locks the
//! others may have held. poetryd detaches by starting itself again
//! instead, as a child whose standard streams go to the log file, marked
//! by an environment variable; the child opens a new session (`setsid`)
//! and serves. The parent waits until the child has written its pid file
//! (the server is up) or has exited (it could not start, and the parent
//! shows the end of the log), then exits itself.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgMatches};
use mini_twisted::app::{stop_on_signals, Application};
use mini_twisted::poetry::excerpt;
use mini_twisted::{log, Reactor};

#[path = "poetryd/fastpoetry.rs"]
mod fastpoetry;
#[path = "poetryd/logfile.rs"]
mod logfile;
#[path = "poetryd/pidfile.rs"]
mod pidfile;
#[path = "poetryd/transform.rs"]
mod transform;
#[path = "transformedpoetry/transform.rs"]
mod transform_layers;

use logfile::LogFile;
use pidfile::{Found, PidFile};

// ANCHOR: registry
/// A service poetryd can run (a Twisted plugin's `IServiceMaker`): its
/// name on the command line, its line in `poetryd --help`, its options,
/// and how to build the application from them.
pub struct ServiceMaker {
    pub name: &'static str,
    pub description: &'static str,
    /// The service's command line, as clap defines it.
    pub command: fn() -> clap::Command,
    /// The application, from what clap parsed; or why the options will not do.
    pub make: fn(&ArgMatches) -> Result<Application, String>,
}

/// Every service poetryd knows. Adding one is adding a line here.
const REGISTRY: &[ServiceMaker] = &[fastpoetry::MAKER, transform::MAKER];
// ANCHOR_END: registry

/// The environment variable that marks the detached child.
const DETACHED: &str = "POETRYD_DETACHED";
/// How long the parent waits for the child to be up.
const START_LIMIT: Duration = Duration::from_secs(10);
/// How many lines of the log the parent shows when the child failed.
const LOG_LINES_SHOWN: usize = 10;
/// How much of the end of the log the parent reads to find them.
const TAIL_BYTES: u64 = 64 * 1024;

/// The runner's command line, with one subcommand per registered service.
fn command() -> clap::Command {
    let services = REGISTRY
        .iter()
        .map(|maker| (maker.command)().about(maker.description));
    clap::Command::new("poetryd")
        .about(
            "Runs a poetry service as a daemon, as twistd does: detached, logging to a \
             file, with a pid file, stopping cleanly on SIGTERM or SIGINT.",
        )
        .after_help(
            "Runner options go before the service's name, the service's own after it: \
             poetryd --nodaemon fastpoetry --poem poetry/ecstasy.txt",
        )
        .arg(
            Arg::new("nodaemon")
                .long("nodaemon")
                .short('n')
                .action(ArgAction::SetTrue)
                .help("Stay in the foreground and log to stdout (unless --logfile is given)"),
        )
        .arg(
            Arg::new("logfile")
                .long("logfile")
                .short('l')
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                // The detached child is given the parent's choice again.
                .overrides_with("logfile")
                .help("Log to FILE, rotated at 1 MB [default: poetryd.log when detached]"),
        )
        .arg(
            Arg::new("pidfile")
                .long("pidfile")
                .value_name("FILE")
                .default_value("poetryd.pid")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Write the server's pid to FILE, and remove it on shutdown"),
        )
        .subcommand_required(true)
        .subcommand_value_name("SERVICE")
        .subcommand_help_heading("Services")
        .subcommands(services)
}

fn main() -> ExitCode {
    let mut command = command();
    let matches = command.clone().get_matches();
    // clap has made sure there is a service, and that it is one of ours.
    let found = matches.subcommand().and_then(|(name, options)| {
        Some((REGISTRY.iter().find(|maker| maker.name == name)?, options))
    });
    let Some((maker, service_matches)) = found else {
        command
            .error(ErrorKind::MissingSubcommand, "name a service to run")
            .exit();
    };
    let application = match (maker.make)(service_matches) {
        Ok(application) => application,
        Err(message) => command.error(ErrorKind::ValueValidation, message).exit(),
    };
    let pidfile = matches
        .get_one::<PathBuf>("pidfile")
        .cloned()
        .unwrap_or_default();
    let logfile = matches.get_one::<PathBuf>("logfile").cloned();
    let detached = std::env::var_os(DETACHED).is_some();

    // A second server would fail to bind, or worse, bind another port and
    // take the pid file: refuse it before anything starts.
    let stale = match pidfile::check(&pidfile) {
        Ok(Found::Nothing) => None,
        Ok(Found::Stale(why)) => Some(why),
        Ok(Found::Running(pid)) if detached => {
            // The parent checked; a pid file appearing since is a race
            // another start won.
            eprintln!("poetryd: another server (PID {pid}) started meanwhile");
            return ExitCode::FAILURE;
        }
        Ok(Found::Running(pid)) => {
            eprintln!(
                "poetryd: a server is already running as PID {pid} (its pid file is {}); \
                 stop it first, or remove the file if that process is not poetryd",
                shown(&pidfile)
            );
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("poetryd: cannot read {}: {error}", shown(&pidfile));
            return ExitCode::FAILURE;
        }
    };

    if !matches.get_flag("nodaemon") && !detached {
        let logfile = logfile.unwrap_or_else(|| PathBuf::from("poetryd.log"));
        return detach(&logfile, &pidfile);
    }
    if detached {
        // A session of its own: no terminal, and no signals from the shell
        // that started the parent (Ctrl-C there no longer reaches us).
        if let Err(error) = nix::unistd::setsid() {
            eprintln!("poetryd: cannot start a new session: {error}");
            return ExitCode::FAILURE;
        }
    }
    serve(application, logfile.as_deref(), &pidfile, stale)
}

// ANCHOR: serve
/// Runs `application` in this process until a signal stops it.
fn serve(
    application: Application,
    logfile: Option<&Path>,
    pidfile: &Path,
    stale: Option<String>,
) -> ExitCode {
    let logging = match logfile {
        Some(path) => match LogFile::open(path) {
            Ok(file) => log::start_logging(file).map_err(io::Error::other),
            Err(error) => Err(io::Error::other(format!("{}: {error}", shown(path)))),
        },
        None => log::start_logging(io::stdout()).map_err(io::Error::other),
    };
    if let Err(error) = logging {
        eprintln!("poetryd: cannot start the log: {error}");
        return ExitCode::FAILURE;
    }
    log::msg(format!(
        "poetryd {} (mini-twisted) starting up.",
        env!("CARGO_PKG_VERSION")
    ));
    log::msg("reactor class: mini_twisted::Reactor (mio).");
    if let Some(why) = stale {
        log::msg(format!(
            "Removing stale pid file {} ({why}).",
            shown(pidfile)
        ));
    }

    let reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(error) => return fail(&format!("cannot make a reactor: {error}")),
    };
    let name = application.name().to_string();
    if let Err(failure) = application.start(&reactor) {
        log::err(&failure);
        return fail(&format!(
            "the {name} application could not start: {failure}"
        ));
    }
    // Before the pid file: whoever reads it may signal us at once, and a
    // SIGTERM that came before this would end the process on the spot,
    // without its clean shutdown and leaving the pid file behind.
    if let Err(error) = stop_on_signals(&reactor) {
        return fail(&format!("cannot watch for signals: {error}"));
    }
    // Written once the services are up: the parent takes it as the sign
    // that the server started.
    let pid = match PidFile::write(pidfile) {
        Ok(pid) => pid,
        Err(error) => return fail(&format!("cannot write {}: {error}", shown(pidfile))),
    };
    let ran = reactor.run();
    log::msg("Main loop terminated.");
    drop(reactor);
    drop(pid);
    if let Err(error) = ran {
        return fail(&format!("the reactor failed: {error}"));
    }
    log::msg("Server Shut Down.");
    ExitCode::SUCCESS
}
// ANCHOR_END: serve

/// Logs why the server is giving up, says it on stderr too, and fails.
fn fail(message: &str) -> ExitCode {
    tracing::error!("{message}");
    eprintln!("poetryd: {message}");
    ExitCode::FAILURE
}

// ANCHOR: detach
/// Starts this program again as the detached server, and waits until it
/// is up (its pid file names it) or has failed.
fn detach(logfile: &Path, pidfile: &Path) -> ExitCode {
    let log = logfile::append(logfile);
    let (log, err) = match log.and_then(|log| Ok((log.try_clone()?, log))) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("poetryd: cannot open {}: {error}", shown(logfile));
            return ExitCode::FAILURE;
        }
    };
    // Where the log ended before the child began, to show what it wrote.
    let start = log.metadata().map(|metadata| metadata.len()).unwrap_or(0);
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(error) => {
            eprintln!("poetryd: cannot find its own program: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // The child logs to the file, whether or not it was named.
    args.splice(0..0, ["--logfile".into(), logfile.as_os_str().to_owned()]);
    let child = Command::new(program)
        .args(&args)
        .env(DETACHED, "1")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            eprintln!("poetryd: cannot start the server: {error}");
            return ExitCode::FAILURE;
        }
    };
    let deadline = Instant::now() + START_LIMIT;
    while Instant::now() < deadline {
        if let Ok(Found::Running(pid)) = pidfile::check(pidfile) {
            if pid as u32 == child.id() {
                return ExitCode::SUCCESS;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("poetryd: the server did not start ({status}); the end of its log:");
            for line in tail(logfile, start) {
                eprintln!("  {line}");
            }
            return ExitCode::FAILURE;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    eprintln!(
        "poetryd: the server was not up after {} s; stopped it. See {}",
        START_LIMIT.as_secs(),
        shown(logfile)
    );
    ExitCode::FAILURE
}
// ANCHOR_END: detach

/// A path as a message quotes it: a long one is cut short.
fn shown(path: &Path) -> String {
    excerpt(&path.to_string_lossy())
}

/// The last lines of what the log gained after byte `start`.
/// Only a plain file is read, and only its last [`TAIL_BYTES`]: a device
/// such as `/dev/zero` never ends.
fn tail(logfile: &Path, start: u64) -> Vec<String> {
    let Ok(mut file) = std::fs::File::open(logfile) else {
        return Vec::new();
    };
    let Some(length) = file
        .metadata()
        .ok()
        .filter(|metadata| metadata.is_file())
        .map(|metadata| metadata.len())
    else {
        return Vec::new();
    };
    let from = start.max(length.saturating_sub(TAIL_BYTES));
    if file.seek(SeekFrom::Start(from)).is_err() {
        return Vec::new();
    }
    let lines: Vec<String> = BufReader::new(file.take(TAIL_BYTES))
        .lines()
        .map_while(Result::ok)
        .collect();
    let from = lines.len().saturating_sub(LOG_LINES_SHOWN);
    lines[from..].to_vec()
}
