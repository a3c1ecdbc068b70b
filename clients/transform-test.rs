//! Part 12: transform-test, the series' netcat one-liner as a program.
//!
//! It sends one request to a transform server, `27:cummingsify.HERE IS MY
//! POEM,` unless `--send` says otherwise, reads until the server closes the
//! connection, and prints what came back exactly as it came, then a
//! newline: `15:here is my poem,`. It decodes nothing, so it shows a
//! broken reply as faithfully as a good one. Plain blocking sockets from
//! `std::net`: this is a stand-in for netcat, not a lesson on the reactor.
//!
//! Run it (from the repository root) against the transform server:
//!
//! ```text
//! cargo run --bin transformedpoetry -- --port 10001
//! cargo run --bin transform-test -- 10001
//! cargo run --bin transform-test -- --send '20:unknown.HERE IS POEM,' 10001
//! ```

use std::ffi::OsString;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser};
use mini_twisted::log::BROKEN_PIPE_EXIT;
use mini_twisted::poetry::{excerpt, parse_seconds, Address, Checked};

/// The series' request: cummingsify a poem of 15 bytes.
const REQUEST: &str = "27:cummingsify.HERE IS MY POEM,";

/// The most it reads before giving up on a server that does not stop. A
/// transform server's reply is one netstring of at most 99,999 bytes.
const MOST: usize = 1024 * 1024;

/// Sends one request to a transform server and prints the raw reply: the
/// series' `transform-test` script, which pipes the request into netcat.
#[derive(Parser)]
#[command(
    name = "transform-test",
    after_help = "Exits with status 1 unless the server replied and then closed the connection."
)]
struct Options {
    /// The transform server, as [host:]port; the host defaults to 127.0.0.1
    #[arg(value_name = "[HOST:]PORT", value_parser = Checked(str::parse::<Address>))]
    server: Option<Address>,

    /// The bytes to send, as they are: a netstring, or anything else, to
    /// see what the server makes of it
    #[arg(long, value_name = "TEXT", default_value = REQUEST)]
    send: OsString,

    /// How long to wait for the server to reply and close the connection
    #[arg(long, value_name = "SECONDS", default_value = "10",
          value_parser = Checked(parse_timeout))]
    timeout: Duration,
}

/// A number of seconds to wait, more than 0.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_seconds(text)? {
        wait if wait.is_zero() => Err(format!(
            "'{}' is no time at all: use a number of seconds above 0",
            excerpt(text)
        )),
        wait => Ok(wait),
    }
}

// ANCHOR: exchange
/// How the wait for the reply ended.
enum Ending {
    /// The server closed the connection: the reply, if any, is complete.
    Closed,
    /// The time ran out with the connection still open.
    StillOpen,
    /// Reading failed (a reset, most likely) or the reply grew past [`MOST`].
    Failed(io::Error),
}

/// Connects, sends `request`, and reads until the server closes, all
/// within `timeout`. What arrived, and how the wait ended.
///
/// # Errors
///
/// A message when there was no exchange at all: the server could not be
/// reached, or did not take the request.
fn exchange(
    server: &Address,
    request: &[u8],
    timeout: Duration,
) -> Result<(Vec<u8>, Ending), String> {
    let deadline = Instant::now() + timeout;
    let mut socket = server
        .resolve()
        .and_then(|address| TcpStream::connect_timeout(&address, timeout))
        .map_err(|error| format!("cannot connect to {server}: {error}"))?;
    socket
        .set_write_timeout(Some(timeout))
        .and_then(|()| socket.write_all(request))
        .map_err(|error| format!("cannot send the request to {server}: {error}"))?;
    // Like `netcat -q -1`, it does not shut down its side after sending:
    // an incomplete request stays incomplete, and the server waits.

    let mut reply = Vec::new();
    let mut buffer = [0; 16 * 1024];
    let ending = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // A zero timeout means "wait for ever" to the system: stop first.
        if left.is_zero() {
            break Ending::StillOpen;
        }
        if let Err(error) = socket.set_read_timeout(Some(left)) {
            break Ending::Failed(error);
        }
        match socket.read(&mut buffer) {
            Ok(0) => break Ending::Closed,
            Ok(n) if reply.len() + n > MOST => {
                let error = io::Error::other(format!("the reply is longer than {MOST} bytes"));
                break Ending::Failed(error);
            }
            Ok(n) => reply.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break Ending::StillOpen
            }
            Err(error) => break Ending::Failed(error),
        }
    };
    Ok((reply, ending))
}
// ANCHOR_END: exchange

// ANCHOR: main
fn main() -> ExitCode {
    let options = Options::parse();
    mini_twisted::log::init();
    let Some(server) = &options.server else {
        // No server: say how to use it and stop, as the poetry clients do.
        let _ = Options::command().print_help();
        return ExitCode::SUCCESS;
    };
    let (reply, ending) = match exchange(server, options.send.as_bytes(), options.timeout) {
        Ok(exchanged) => exchanged,
        Err(message) => {
            eprintln!("transform-test: {message}");
            return ExitCode::FAILURE;
        }
    };

    // What arrived, byte for byte as netcat shows it, and the newline of
    // the series' `echo`.
    match print_raw(&reply) {
        Err(error) if error.kind() == ErrorKind::BrokenPipe => {
            // Nobody is reading any more (`| head`): nobody to tell.
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        Err(error) => {
            eprintln!("transform-test: cannot print the reply: {error}");
            return ExitCode::FAILURE;
        }
        Ok(()) => {}
    }

    let seconds = match options.timeout.as_secs_f64() {
        1.0 => "1 second".to_string(),
        seconds => format!("{seconds} seconds"),
    };
    let bytes = reply.len();
    let problem = match ending {
        Ending::Closed if bytes > 0 => return ExitCode::SUCCESS,
        Ending::Closed => format!("{server} closed the connection without replying."),
        Ending::StillOpen if bytes == 0 => {
            format!("no reply from {server} within {seconds}; the connection is still open.")
        }
        Ending::StillOpen => format!(
            "{server} sent {bytes} bytes but did not close the connection within \
             {seconds}; the reply may be incomplete."
        ),
        Ending::Failed(error) => {
            format!("the connection to {server} failed after {bytes} bytes: {error}")
        }
    };
    eprintln!("transform-test: {problem}");
    ExitCode::FAILURE
}
// ANCHOR_END: main

/// `bytes` on stdout as they are, not as text, then a newline.
fn print_raw(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.write_all(b"\n")?;
    out.flush()
}
