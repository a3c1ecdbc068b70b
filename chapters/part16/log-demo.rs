//! Part 16: a log, as a server keeps one.
//!
//! Nothing is logged until the log is started; then each line carries the
//! time in UTC and, in brackets, the system that logged it (`-` here: no
//! connection is at work). An error of several lines goes on with lines
//! that begin with a tab: a panic caught in a callback, and a failure that
//! came down a Deferred's chain, with what caused it.
//!
//! ```text
//! cargo run --bin log-demo
//! ```

use std::error::Error;
use std::fmt;
use std::process::ExitCode;

use clap::Parser;
use mini_twisted::defer::{succeed, Panicked};
use mini_twisted::log;
use mini_twisted::Failure;

/// Starts a log on stdout and writes a message, two errors and a panic to it.
#[derive(Parser)]
#[command(name = "log-demo")]
struct Options {}

/// A poem that was asked for and is not there, and why.
#[derive(Debug)]
struct NoSuchPoem {
    cause: std::io::Error,
}

impl fmt::Display for NoSuchPoem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("there is no poem called \"xxx\"")
    }
}

impl Error for NoSuchPoem {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.cause)
    }
}

// ANCHOR: main
/// A callback that expects a poem and was called without one.
fn bad_callback(poem: Option<&str>) -> usize {
    poem.expect("bad_callback was called without its poem")
        .len()
}

fn main() -> ExitCode {
    Options::parse();
    log::msg("This will not be logged: the log has not started.");
    if let Err(error) = log::start_logging(std::io::stdout()) {
        eprintln!("log-demo: {error}");
        return ExitCode::FAILURE;
    }
    log::msg("This will be logged.");
    tracing::error!("This will be logged as an error.");

    log::msg("The next call will log a panic as an error.");
    if let Err(panic) = log::catch_panic(|| bad_callback(None)) {
        log::err(&Failure::without_backtrace(Panicked::from(panic)));
    }

    log::msg("The next call will log the failure as an error.");
    let _ = succeed("xxx")
        .add_callback(|name| {
            let cause = std::io::Error::new(std::io::ErrorKind::NotFound, format!("poetry/{name}"));
            Err::<usize, _>(Failure::without_backtrace(NoSuchPoem { cause }))
        })
        .add_errback(|failure| {
            log::err(&failure);
            Ok::<usize, Failure>(0)
        });

    log::msg("End of example.");
    ExitCode::SUCCESS
}
// ANCHOR_END: main
