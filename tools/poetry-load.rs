//! A tool for Part 11: a load generator for poetry servers, written
//! directly on mio.
//!
//! Keeps `--concurrency` connections to one server in flight for
//! `--seconds`: each one connects, reads the poem to the end, checks it
//! byte for byte against `--poem`, and is replaced by a fresh connection
//! the moment it ends. It then reports how many connections completed, how
//! long each took from the start of its connect to the end of its poem, and
//! every error by kind.
//!
//! Two more modes serve Part 12's benchmark:
//!
//! - `--netstring` speaks to a transformation server: each connection sends
//!   `cummingsify.POEM` as a netstring and must get back the netstring of
//!   the poem in lower case, byte for byte, then the close.
//! - `--hold N --server-pid PID` measures what an idle connection costs a
//!   server: it opens N connections, sends nothing, holds them for
//!   `--seconds`, and reads the server's memory and open descriptors from
//!   `/proc/PID` before and while they are held.
//!
//! And one serves Part 22's, ten thousand slow readers at once:
//!
//! - `--clients N` opens N connections together, each of which reads its
//!   poem once, to the end, checked byte for byte; it waits for all of them
//!   (within `--time-limit`) and reports the wall time from the first
//!   connect to the end of the last poem, and each connection's time. At
//!   most `--ramp` connections at a time wait for the server's first byte;
//!   the next connect starts when one of them hears it. Ten thousand SYNs at
//!   once would overflow the kernel's queues, and so would connects that
//!   finish their handshakes faster than the server accepts them (the
//!   kernel completes a handshake before the server accepts it): every SYN
//!   the kernel drops is tried again only a second later, which would put
//!   whole seconds into a measurement of pacing. A
//!   blocking server's clients wait in its listen queue, silent, until it
//!   serves them, so this mode has no idle limit unless `--idle-limit` sets
//!   one.
//!
//! It uses neither our framework nor tokio, so that it treats the servers it
//! compares (`fastpoetry` on mini-twisted, `fastpoetry-tokio`, and the
//! Twisted original) in exactly the same way. One thread, one `mio::Poll`.
//!
//! Run it against a fast server on port 10000 (from the repository root):
//!
//! ```text
//! cargo run --release --bin poetry-load -- 10000 --concurrency 100 --seconds 5 --poem poetry/ecstasy.txt
//! cargo run --release --bin poetry-load -- 10001 --netstring --poem poetry/ecstasy.txt
//! cargo run --release --bin poetry-load -- 10001 --hold 1000 --server-pid "$(pgrep -n transformedpoe)"
//! cargo run --release --bin poetry-load -- 10002 --clients 1000 --poem poetry/science.txt
//! ```
//!
//! The last line starts with `RESULT ` and holds `key=value` pairs for
//! scripts such as `cargo bench --bench servers`. The exit code is 0 when
//! every connection delivered the poem, 1 when any failed, and 2 when the
//! command line is wrong.
//!
//! It only sends to this machine (a loopback address): it is a tool for
//! measuring our own servers, not other people's.

use std::collections::VecDeque;
use std::fs;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use mini_twisted::netstring;
use mini_twisted::poetry::{
    check_poem_file, clock_ticks_per_second, excerpt, parse_run_seconds, raise_open_files_limit,
    Address, Checked,
};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// A connection that has heard nothing for this long has failed (unless
/// `--idle-limit` says otherwise). Far above any honest latency on
/// loopback, so that only a stuck server trips it.
const IDLE_LIMIT: Duration = Duration::from_secs(10);
/// Once the run is over, how long the connections still open may take to
/// finish before they are given up (and counted as timeouts).
const FINISH_LIMIT: Duration = Duration::from_secs(5);
/// After a connect fails at once (refused, no free local port), its slot
/// waits this long before trying again, so that a dead server costs a
/// trickle of attempts instead of a busy loop.
const RETRY_PAUSE: Duration = Duration::from_millis(10);
/// How often the open connections are checked against [`IDLE_LIMIT`]. A
/// sweep looks at every slot, so it is kept away from the hot path.
const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// Descriptors needed besides the connections: stdio, the poller, and
/// whatever the parent left open.
const SPARE_DESCRIPTORS: u64 = 32;

/// Poetry load generator: keeps many connections to one poetry server in
/// flight, checks every poem byte for byte, and reports connections per
/// second, latency percentiles and errors. Loopback addresses only.
#[derive(Parser)]
#[command(
    name = "poetry-load",
    after_help = "Errors are counted by kind: refused, reset, mismatched (not the poem's \
                  bytes), timeouts (silent for 10 s or --idle-limit, or still open 5 s \
                  after the run or at --clients' --time-limit), \
                  no_port (no free local port) and other. The last line starts with \
                  RESULT and holds key=value pairs for scripts.\n\n\
                  Exit status: 0 when every connection delivered the poem (with --hold: \
                  stayed open and silent), 1 when any failed, 2 when the command line \
                  is wrong."
)]
struct Options {
    /// The server, as [host:]port; the host defaults to 127.0.0.1 and must
    /// be an address of this machine
    #[arg(value_name = "[HOST:]PORT", value_parser = Checked(str::parse::<Address>))]
    server: Address,

    /// How many connections to keep in flight at once
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    concurrency: u32,

    /// Instead of a stream of fetches: open N connections at once, each
    /// reading its poem once, and wait for them all (Part 22)
    #[arg(long, value_name = "N",
          conflicts_with_all = ["concurrency", "seconds", "max_connections", "netstring", "hold"],
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    clients: Option<u32>,

    /// With --clients: how many connections may wait for the server's first
    /// byte at once (a connect starts when one of them hears it)
    #[arg(long, value_name = "N", default_value_t = 256, requires = "clients",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    ramp: u32,

    /// With --clients: the longest the whole run may take, in seconds;
    /// connections still open then count as timeouts
    #[arg(long, value_name = "SECONDS", default_value = "600", requires = "clients",
          value_parser = Checked(parse_run_seconds))]
    time_limit: Duration,

    /// Fail a connection that has heard nothing for this many seconds
    /// [default: 10, and none with --clients]
    #[arg(long, value_name = "SECONDS", value_parser = Checked(parse_run_seconds))]
    idle_limit: Option<Duration>,

    /// How long to keep starting connections, in seconds (decimals are
    /// fine); the connections still open then are given a few seconds to end
    #[arg(long, default_value = "5", value_parser = Checked(parse_run_seconds))]
    seconds: Duration,

    /// The file the server serves: every connection must deliver exactly
    /// its bytes, no more and no fewer
    #[arg(long, value_name = "FILE", required_unless_present = "hold")]
    poem: Option<PathBuf>,

    /// Start no more than this many connections in all, even if time
    /// remains (to keep tests short)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,

    /// Speak to a transformation server (Part 12): send `cummingsify.POEM`
    /// as a netstring, and expect the netstring of the poem in lower case
    #[arg(long, conflicts_with = "hold")]
    netstring: bool,

    /// Instead of fetching, open N connections, send nothing, and hold them
    /// for --seconds, reading the server's memory and descriptors from /proc
    #[arg(long, value_name = "N", requires = "server_pid",
          conflicts_with_all = ["concurrency", "max_connections"],
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    hold: Option<u32>,

    /// The server's process id, for --hold: whose /proc/PID to read
    #[arg(long, value_name = "PID", requires = "hold",
          value_parser = clap::value_parser!(u32).range(1..))]
    server_pid: Option<u32>,
}

/// What each connection sends, and what it must receive before the close.
struct Exchange {
    request: Vec<u8>,
    expected: Vec<u8>,
    /// What `expected` is, for the first line of the report.
    described: String,
}

fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();
    let target = check_usage(&options);
    let outcome = match (options.hold, options.server_pid) {
        _ if options.clients.is_some() => {
            let exchange = exchange(&options);
            let count = options.clients.unwrap_or(1);
            println!(
                "poetry-load: {target}, {count} clients at once (connects {} at a time), \
                 every poem checked against {} ({} bytes)",
                options.ramp,
                exchange.described,
                exchange.expected.len()
            );
            run_clients(&options, target, &exchange.expected).map(|clients| clients.report())
        }
        (Some(count), Some(pid)) => {
            println!(
                "poetry-load: {target}, holding {count} idle connections for {} s, \
                 reading /proc/{pid}",
                options.seconds.as_secs_f64()
            );
            hold(target, count as usize, options.seconds, pid).map(|held| held.report())
        }
        _ => {
            let exchange = exchange(&options);
            println!(
                "poetry-load: {target}, concurrency {}, {} s, every reply checked against {} ({} bytes)",
                options.concurrency,
                options.seconds.as_secs_f64(),
                exchange.described,
                exchange.expected.len()
            );
            run(&options, target, &exchange).map(|tally| {
                tally.report();
                tally.errors()
            })
        }
    };
    match outcome {
        Ok(errors) => {
            if errors == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("poetry-load: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A usage error (exit code 2) that says what is wrong with the command
/// line.
fn usage(message: String) -> ! {
    Options::command()
        .error(ErrorKind::ValueValidation, message)
        .exit()
}

/// The server's address, or a usage error.
fn check_usage(options: &Options) -> SocketAddr {
    let server = excerpt(&options.server.to_string());
    let target = match options.server.resolve() {
        Ok(target) => target,
        Err(error) => usage(format!("cannot resolve {server}: {error}")),
    };
    if !target.ip().is_loopback() {
        usage(format!(
            "{server} is not on this machine: poetry-load only sends to loopback addresses such as 127.0.0.1"
        ));
    }
    // Running out of descriptors mid-run would turn a question about the
    // server into one about this machine: refuse up front instead.
    let (option, count) = match (options.hold, options.clients) {
        (Some(count), _) => ("--hold", count),
        (None, Some(count)) => ("--clients", count),
        (None, None) => ("--concurrency", options.concurrency),
    };
    let needed = u64::from(count) + SPARE_DESCRIPTORS;
    if let Err(why) = raise_open_files_limit(needed) {
        usage(format!(
            "{option} {count}: {why}; ask for fewer, or raise the hard limit (`ulimit -Hn`)"
        ));
    }
    target
}

/// The request and the reply of each connection, from `--poem` (which
/// clap has made sure is there unless `--hold` is), or a usage error.
fn exchange(options: &Options) -> Exchange {
    let path = options.poem.clone().unwrap_or_default();
    let shown = excerpt(&path.to_string_lossy());
    // The servers' own check: reading a named pipe or a device would hang
    // or never end before the first connection.
    if let Err(message) = check_poem_file(&path) {
        usage(message);
    }
    let poem = match fs::read(&path) {
        Ok(poem) => poem,
        Err(error) => usage(format!("cannot read {shown}: {error}")),
    };
    if !options.netstring {
        return Exchange {
            request: Vec::new(),
            expected: poem,
            described: shown,
        };
    }
    // The transform server lowers text, so the poem must be text; and its
    // request must fit in a netstring the server accepts.
    let Ok(text) = String::from_utf8(poem) else {
        usage(format!(
            "--netstring needs a poem in UTF-8, and {shown} is not"
        ));
    };
    let request = format!("cummingsify.{text}");
    if request.len() > netstring::MAX_LENGTH {
        usage(format!(
            "--netstring sends the poem in one netstring of at most {} bytes, \
             and cummingsify.{shown} takes {}",
            netstring::MAX_LENGTH,
            request.len()
        ));
    }
    Exchange {
        request: netstring::encode(request.as_bytes()).to_vec(),
        expected: netstring::encode(text.to_lowercase().as_bytes()).to_vec(),
        described: format!("the netstring of {shown} in lower case"),
    }
}

// ---------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------

/// One connection in flight.
struct Connection {
    socket: TcpStream,
    /// When its connect began: latency runs from here to the end of the poem.
    started: Instant,
    /// When it last made progress, for the idle limit.
    heard: Instant,
    /// Bytes of the request sent so far (there is none but in --netstring).
    sent: usize,
    /// Bytes received so far; compared with the poem as they arrive.
    received: usize,
    /// Where the bytes first differed from the poem, if they have.
    differs_at: Option<usize>,
}

/// What one read left a connection in.
enum Progress {
    /// The kernel has nothing more for now: wait for the next event.
    Waiting,
    /// The server closed the connection after sending exactly the poem.
    Poem,
    Failed(Failure, String),
}

/// The kinds of error counted separately.
#[derive(Clone, Copy)]
enum Failure {
    /// Nobody listens on the port, or the listen queue overflowed.
    Refused,
    /// The server reset the connection (or it broke another way mid-poem).
    Reset,
    /// The bytes were not the poem: different, too few or too many.
    Mismatched,
    /// Nothing heard for the idle limit, or not finished in time.
    TimedOut,
    /// No free local port to connect from (ephemeral ports exhausted).
    NoPort,
    Other,
}

const FAILURES: [(Failure, &str); 6] = [
    (Failure::Refused, "refused"),
    (Failure::Reset, "reset"),
    (Failure::Mismatched, "mismatched"),
    (Failure::TimedOut, "timeouts"),
    (Failure::NoPort, "no_port"),
    (Failure::Other, "other"),
];

impl Failure {
    fn of(error: &io::Error) -> Failure {
        match error.kind() {
            io::ErrorKind::ConnectionRefused => Failure::Refused,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Failure::Reset,
            io::ErrorKind::TimedOut => Failure::TimedOut,
            // Linux's connect says EAGAIN (WouldBlock, to Rust) on some
            // kernels and EADDRNOTAVAIL on others when every local port
            // toward this server is taken.
            io::ErrorKind::AddrNotAvailable | io::ErrorKind::WouldBlock => Failure::NoPort,
            _ => Failure::Other,
        }
    }
}

/// Everything counted during a run.
struct Tally {
    concurrency: u32,
    started: u64,
    completed: u64,
    /// Microseconds from the start of the connect to the end of the poem,
    /// one per completed connection.
    latencies: Vec<u32>,
    /// Counts in the order of [`FAILURES`].
    failures: [u64; 6],
    /// The first message of each kind, to show what went wrong.
    examples: [Option<String>; 6],
    elapsed: Duration,
}

impl Tally {
    fn new(concurrency: u32) -> Tally {
        Tally {
            concurrency,
            started: 0,
            completed: 0,
            latencies: Vec::new(),
            failures: [0; 6],
            examples: Default::default(),
            elapsed: Duration::ZERO,
        }
    }

    fn fail(&mut self, failure: Failure, message: String) {
        let kind = failure as usize;
        self.failures[kind] += 1;
        self.examples[kind].get_or_insert(message);
    }

    fn errors(&self) -> u64 {
        self.failures.iter().sum()
    }
}

/// The state of a run: a fixed set of slots, each holding at most one
/// connection. A slot's index is its token with the poller, so an event
/// leads straight to its connection.
struct Load {
    poll: Poll,
    target: SocketAddr,
    slots: Vec<Option<Connection>>,
    open: usize,
    /// Slots waiting out [`RETRY_PAUSE`], oldest first. Every pause is as
    /// long as every other, so the queue stays in order of its deadlines.
    paused: VecDeque<(Instant, usize)>,
    max_connections: Option<u64>,
    /// Readable only, unless there is a request to send.
    interest: Interest,
    /// A connection silent for longer has failed; `None`: no such limit.
    idle_limit: Option<Duration>,
    tally: Tally,
}

fn run(options: &Options, target: SocketAddr, exchange: &Exchange) -> io::Result<Tally> {
    let concurrency = options.concurrency as usize;
    let mut load = Load {
        poll: Poll::new()?,
        target,
        slots: (0..concurrency).map(|_| None).collect(),
        open: 0,
        paused: VecDeque::new(),
        max_connections: options.max_connections,
        interest: if exchange.request.is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        },
        idle_limit: Some(options.idle_limit.unwrap_or(IDLE_LIMIT)),
        tally: Tally::new(options.concurrency),
    };
    let mut events = Events::with_capacity(1024);
    // Big enough for a whole poem in one read most of the time.
    let mut buffer = vec![0; 64 * 1024];

    let begin = Instant::now();
    let stop_starting = begin + options.seconds;
    let mut next_sweep = begin + SWEEP_EVERY;
    // When the run stopped starting connections: then the rest must finish.
    let mut stopped: Option<Instant> = None;
    for slot in 0..concurrency {
        load.start_if(slot, true);
    }

    // ANCHOR: loop
    loop {
        let now = Instant::now();
        let starting = now < stop_starting && !load.at_cap();
        if starting {
            while let Some(&(until, slot)) = load.paused.front() {
                if until > now {
                    break;
                }
                load.paused.pop_front();
                load.start_if(slot, true);
            }
        } else {
            let stopped_at = *stopped.get_or_insert(now);
            load.paused.clear();
            if load.open == 0 {
                break;
            }
            if now >= stopped_at + FINISH_LIMIT {
                let why = format!(
                    "still open {} s after the run ended",
                    FINISH_LIMIT.as_secs()
                );
                load.give_up_on_open(&why);
                break;
            }
        }

        // Sleep until something happens, or until the next thing that is
        // due: a paused slot, the end of the run, a sweep.
        let mut wake = next_sweep;
        match stopped {
            None => {
                wake = wake.min(stop_starting);
                if let Some(&(until, _)) = load.paused.front() {
                    wake = wake.min(until);
                }
            }
            Some(stopped_at) => wake = wake.min(stopped_at + FINISH_LIMIT),
        }
        if let Err(error) = load
            .poll
            .poll(&mut events, Some(wake.saturating_duration_since(now)))
        {
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }

        for event in &events {
            let slot = event.token().0;
            let Some(connection) = load.slots.get_mut(slot).and_then(Option::as_mut) else {
                continue; // an event for a connection already closed
            };
            let mut progress = send_request(connection, &exchange.request);
            if matches!(progress, Progress::Waiting) {
                progress = read_poem(
                    connection,
                    &mut buffer,
                    &exchange.expected,
                    event.is_error(),
                );
            }
            if !matches!(progress, Progress::Waiting) {
                load.finish(slot, progress);
                load.start_if(slot, starting);
            }
        }

        if Instant::now() >= next_sweep {
            load.sweep(starting);
            next_sweep = Instant::now() + SWEEP_EVERY;
        }
    }
    // ANCHOR_END: loop

    load.tally.elapsed = begin.elapsed();
    Ok(load.tally)
}

/// Sends what is left of the request, as far as the socket takes it. A
/// socket still connecting says so (WouldBlock or NotConnected); its
/// writable event comes when it is connected.
fn send_request(connection: &mut Connection, request: &[u8]) -> Progress {
    while let Some(rest) = request
        .get(connection.sent..)
        .filter(|rest| !rest.is_empty())
    {
        match connection.socket.write(rest) {
            Ok(n) => connection.sent += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::NotConnected
                ) =>
            {
                break
            }
            Err(error) => return Progress::Failed(Failure::of(&error), error.to_string()),
        }
    }
    Progress::Waiting
}

/// Reads what has arrived, checking it against the poem. Reads until the
/// kernel says WouldBlock, because mio reports readiness once per change.
fn read_poem(
    connection: &mut Connection,
    buffer: &mut [u8],
    poem: &[u8],
    error_event: bool,
) -> Progress {
    loop {
        match connection.socket.read(buffer) {
            Ok(0) => return judge(connection, poem),
            Ok(n) => {
                let from = connection.received;
                connection.received += n;
                connection.heard = Instant::now();
                if connection.differs_at.is_none() {
                    connection.differs_at = first_difference(poem, from, &buffer[..n]);
                }
                // A server that never stops sending would hold this loop,
                // and the slot, for ever: past the poem's end the verdict
                // cannot change, so give it now.
                if connection.received > poem.len() {
                    return Progress::Failed(
                        Failure::Mismatched,
                        format!(
                            "got more than the {} bytes expected, starting at byte {}",
                            poem.len(),
                            connection.differs_at.unwrap_or(poem.len())
                        ),
                    );
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Progress::Failed(Failure::of(&error), error.to_string()),
        }
    }
    // An error event normally makes the read above fail; if the read only
    // said WouldBlock, the error is still waiting in the socket.
    if error_event {
        let pending = match connection.socket.take_error() {
            Ok(pending) => pending,
            Err(error) => Some(error),
        };
        if let Some(error) = pending {
            return Progress::Failed(Failure::of(&error), error.to_string());
        }
    }
    Progress::Waiting
}

/// Where `chunk`, received at offset `from`, first departs from the poem:
/// a different byte, or a byte beyond the poem's end.
fn first_difference(poem: &[u8], from: usize, chunk: &[u8]) -> Option<usize> {
    let expected = poem.get(from..).unwrap_or_default();
    match chunk
        .iter()
        .zip(expected)
        .position(|(got, want)| got != want)
    {
        Some(at) => Some(from + at),
        None if chunk.len() > expected.len() => Some(from + expected.len()),
        None => None,
    }
}

/// The verdict on a connection the server has closed.
fn judge(connection: &Connection, poem: &[u8]) -> Progress {
    match connection.differs_at {
        None if connection.received == poem.len() => Progress::Poem,
        None => Progress::Failed(
            Failure::Mismatched,
            format!(
                "the connection ended after {} of the {} bytes expected",
                connection.received,
                poem.len()
            ),
        ),
        Some(at) => Progress::Failed(
            Failure::Mismatched,
            format!(
                "got {} bytes that differ from the {} expected from byte {at} on",
                connection.received,
                poem.len()
            ),
        ),
    }
}

impl Load {
    fn at_cap(&self) -> bool {
        self.max_connections
            .is_some_and(|most| self.tally.started >= most)
    }

    /// Starts a connection in `slot` if `starting` (and the cap allows).
    /// A connect that fails at once is counted, and the slot pauses.
    fn start_if(&mut self, slot: usize, starting: bool) {
        if !starting || self.at_cap() {
            return;
        }
        self.tally.started += 1;
        let started = Instant::now();
        // Non-blocking: the connect completes (or fails) later, and either
        // way the socket becomes readable, which is all we wait for.
        let connected = TcpStream::connect(self.target).and_then(|mut socket| {
            self.poll
                .registry()
                .register(&mut socket, Token(slot), self.interest)?;
            Ok(socket)
        });
        match connected {
            Ok(socket) => {
                self.slots[slot] = Some(Connection {
                    socket,
                    started,
                    heard: started,
                    sent: 0,
                    received: 0,
                    differs_at: None,
                });
                self.open += 1;
            }
            Err(error) => {
                self.tally.fail(Failure::of(&error), error.to_string());
                self.paused.push_back((started + RETRY_PAUSE, slot));
            }
        }
    }

    /// Closes the connection in `slot` and counts how it ended. No
    /// deregistering: closing a socket takes it out of the poller, and that
    /// saves a system call per connection.
    fn finish(&mut self, slot: usize, progress: Progress) {
        let Some(connection) = self.slots[slot].take() else {
            return;
        };
        self.open -= 1;
        match progress {
            Progress::Poem => {
                self.tally.completed += 1;
                let micros = connection.started.elapsed().as_micros();
                self.tally
                    .latencies
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
            Progress::Failed(failure, message) => self.tally.fail(failure, message),
            Progress::Waiting => {}
        }
    }

    /// Fails the connections that have heard nothing for the idle limit.
    fn sweep(&mut self, starting: bool) {
        let Some(limit) = self.idle_limit else {
            return;
        };
        let now = Instant::now();
        for slot in 0..self.slots.len() {
            let idle = self.slots[slot]
                .as_ref()
                .is_some_and(|connection| now.duration_since(connection.heard) > limit);
            if idle {
                let message = format!("nothing heard for {} s", limit.as_secs_f64());
                self.finish(slot, Progress::Failed(Failure::TimedOut, message));
                self.start_if(slot, starting);
            }
        }
    }

    /// The run is over and these connections did not finish in time:
    /// `why` says which time.
    fn give_up_on_open(&mut self, why: &str) {
        for slot in 0..self.slots.len() {
            if self.slots[slot].is_some() {
                let message = why.to_string();
                self.finish(slot, Progress::Failed(Failure::TimedOut, message));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Slow readers, all at once (--clients).
// ---------------------------------------------------------------------------

/// What a --clients run found.
struct Clients {
    tally: Tally,
    /// From the first connect to the end of the last poem; to the end of
    /// the run when no poem arrived.
    wall: Duration,
    /// How long it took until every connect had been started.
    ramped: Duration,
    ramp: u32,
}

// ANCHOR: clients
/// Opens `--clients` connections to `target`, at most `--ramp` of them
/// waiting for their first byte at a time, lets each read `poem` to the
/// end, and waits for every one of them, or for `--time-limit`.
fn run_clients(options: &Options, target: SocketAddr, poem: &[u8]) -> io::Result<Clients> {
    let count = options.clients.unwrap_or(1) as usize;
    let ramp = options.ramp as usize;
    let mut load = Load {
        poll: Poll::new()?,
        target,
        slots: (0..count).map(|_| None).collect(),
        open: 0,
        paused: VecDeque::new(),
        max_connections: None,
        // Writable too: that event is how a connect says it is done.
        interest: Interest::READABLE | Interest::WRITABLE,
        idle_limit: options.idle_limit,
        tally: Tally::new(count as u32),
    };
    let mut events = Events::with_capacity(1024);
    let mut buffer = vec![0; 64 * 1024];
    let begin = Instant::now();
    let give_up = begin + options.time_limit;
    let mut next_sweep = begin + SWEEP_EVERY;
    let mut last_poem = None;
    let mut ramped = None;
    // The next slot to start, and how many started connections have not
    // heard from the server yet.
    let (mut next, mut unanswered) = (0, 0);
    loop {
        while next < count && unanswered < ramp {
            load.start_if(next, true);
            unanswered += usize::from(load.slots[next].is_some());
            next += 1;
        }
        // A connect that failed at once is counted; it is not tried again.
        load.paused.clear();
        if next == count {
            ramped.get_or_insert(begin.elapsed());
            if load.open == 0 {
                break;
            }
        }
        let now = Instant::now();
        if now >= give_up {
            let limit = options.time_limit.as_secs_f64();
            load.give_up_on_open(&format!("still open at the time limit, {limit} s"));
            break;
        }
        poll_quietly(&mut load.poll, &mut events, next_sweep.min(give_up))?;

        for event in &events {
            let slot = event.token().0;
            let Some(connection) = load.slots.get_mut(slot).and_then(Option::as_mut) else {
                continue; // an event for a connection already closed
            };
            let answered = connection.received > 0;
            let progress = read_poem(connection, &mut buffer, poem, event.is_error());
            if !answered && (connection.received > 0 || !matches!(progress, Progress::Waiting)) {
                unanswered -= 1; // its first bytes, or its end before them
            }
            if !matches!(progress, Progress::Waiting) {
                if matches!(progress, Progress::Poem) {
                    last_poem = Some(Instant::now());
                }
                load.finish(slot, progress);
            }
        }

        if Instant::now() >= next_sweep {
            load.sweep(false);
            // The sweep may have ended unanswered connections: count again.
            unanswered = load
                .slots
                .iter()
                .flatten()
                .filter(|c| c.received == 0)
                .count();
            next_sweep = Instant::now() + SWEEP_EVERY;
        }
    }
    load.tally.elapsed = begin.elapsed();
    Ok(Clients {
        wall: last_poem.map_or(load.tally.elapsed, |end| end.duration_since(begin)),
        ramped: ramped.unwrap_or(load.tally.elapsed),
        ramp: options.ramp,
        tally: load.tally,
    })
}
// ANCHOR_END: clients

impl Clients {
    /// Prints what the run found; the number of errors.
    fn report(&self) -> u64 {
        let tally = &self.tally;
        let wall = self.wall.as_secs_f64();
        let mut sorted = tally.latencies.clone();
        sorted.sort_unstable();
        let min = sorted.first().map(|&micros| f64::from(micros) / 1e3);
        let p50 = percentile_ms(&sorted, 0.50);
        let p99 = percentile_ms(&sorted, 0.99);
        let max = sorted.last().map(|&micros| f64::from(micros) / 1e3);
        let ms = |value: Option<f64>| value.map_or("-".to_string(), |ms| format!("{ms:.1} ms"));
        println!(
            "clients      {} poems of {} in {wall:.2} s (first connect to end of last poem), \
             every byte checked",
            tally.completed, tally.concurrency
        );
        println!(
            "ramp         every connect started within {:.2} s, at most {} unanswered at a time",
            self.ramped.as_secs_f64(),
            self.ramp
        );
        let cpu = own_cpu_seconds();
        if let Some(cpu) = cpu {
            println!("own CPU      {cpu:.2} s");
        }
        println!(
            "per client   min {}, p50 {}, p99 {}, max {} (start of connect to end of poem)",
            ms(min),
            ms(p50),
            ms(p99),
            ms(max)
        );
        let errors = tally.report_errors();
        let number = |value: Option<f64>| value.map_or("na".to_string(), |ms| format!("{ms:.1}"));
        let mut pairs = vec![
            format!("clients={}", tally.concurrency),
            format!("poems={}", tally.completed),
            format!("seconds={wall:.3}"),
            format!("ramp_s={:.3}", self.ramped.as_secs_f64()),
            format!("min_ms={}", number(min)),
            format!("p50_ms={}", number(p50)),
            format!("p99_ms={}", number(p99)),
            format!("max_ms={}", number(max)),
            format!(
                "cpu_s={}",
                cpu.map_or("na".to_string(), |s| format!("{s:.2}"))
            ),
            format!("started={}", tally.started),
        ];
        pairs.extend(errors);
        println!("RESULT {}", pairs.join(" "));
        tally.errors()
    }
}

// ---------------------------------------------------------------------------
// Holding idle connections (--hold).
// ---------------------------------------------------------------------------

/// How many connects --hold keeps in progress at once. A burst far beyond
/// the server's listen queue would only be dropped by the kernel and
/// retried a second later.
const CONNECTS_IN_FLIGHT: usize = 256;
/// How long --hold may take to open its connections and see the server
/// accept them all.
const OPEN_LIMIT: Duration = Duration::from_secs(30);
/// How often --hold looks at the server's descriptors while it waits for
/// the server to accept.
const ACCEPT_CHECK: Duration = Duration::from_millis(20);

/// What `/proc/PID` says about the server at one moment.
#[derive(Clone, Copy)]
struct Sample {
    /// Resident memory (`VmRSS`), in kB.
    rss_kb: u64,
    /// The anonymous part of it (`RssAnon`): the heap and the stacks,
    /// without the program's own pages.
    anon_kb: u64,
    /// Open descriptors: the entries of `/proc/PID/fd`.
    fds: u64,
}

fn sample(pid: u32) -> io::Result<Sample> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> io::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| io::Error::other(format!("/proc/{pid}/status has no {name}")))
    };
    let fds = fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
    Ok(Sample {
        rss_kb: field("VmRSS:")?,
        anon_kb: field("RssAnon:")?,
        fds,
    })
}

/// What a hold found.
struct Held {
    tally: Tally,
    /// Connections open through the whole hold.
    held: usize,
    before: Sample,
    during: Sample,
    seconds: f64,
}

/// One connection of a hold.
enum Idle {
    Connecting(TcpStream),
    Open(TcpStream),
    /// Never opened, or failed (and counted).
    Gone,
}

// ANCHOR: hold
/// Opens `count` connections to `target`, sends nothing, and holds them
/// for `seconds` once the server has accepted them all; reads the server's
/// `/proc/PID` before the first connection and at the end of the hold.
fn hold(target: SocketAddr, count: usize, seconds: Duration, pid: u32) -> io::Result<Held> {
    let before = sample(pid)?;
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut idle: Vec<Idle> = Vec::with_capacity(count);
    let mut tally = Tally::new(count as u32);
    let mut connecting = 0;

    // Open them, a window of connects at a time.
    let open_by = Instant::now() + OPEN_LIMIT;
    while (idle.len() < count || connecting > 0) && Instant::now() < open_by {
        while idle.len() < count && connecting < CONNECTS_IN_FLIGHT {
            tally.started += 1;
            let token = Token(idle.len());
            let opened = TcpStream::connect(target).and_then(|mut socket| {
                let interest = Interest::READABLE | Interest::WRITABLE;
                poll.registry().register(&mut socket, token, interest)?;
                Ok(socket)
            });
            match opened {
                Ok(socket) => {
                    idle.push(Idle::Connecting(socket));
                    connecting += 1;
                }
                Err(error) => {
                    tally.fail(Failure::of(&error), error.to_string());
                    idle.push(Idle::Gone);
                }
            }
        }
        poll_quietly(&mut poll, &mut events, open_by)?;
        for event in &events {
            let slot = event.token().0;
            let was_connecting = matches!(idle[slot], Idle::Connecting(_));
            idle[slot] = settle(std::mem::replace(&mut idle[slot], Idle::Gone), &mut tally);
            if was_connecting && !matches!(idle[slot], Idle::Connecting(_)) {
                connecting -= 1;
            }
        }
    }
    for connection in &mut idle {
        if matches!(connection, Idle::Connecting(_)) {
            let message = format!("not connected within {} s", OPEN_LIMIT.as_secs());
            tally.fail(Failure::TimedOut, message);
            *connection = Idle::Gone;
        }
    }

    // The kernel completes a connection before the server accepts it: wait
    // until the server holds a descriptor for every one.
    let open = |idle: &[Idle]| idle.iter().filter(|c| matches!(c, Idle::Open(_))).count();
    while sample(pid)?.fds < before.fds + open(&idle) as u64 && Instant::now() < open_by {
        poll_quietly(&mut poll, &mut events, Instant::now() + ACCEPT_CHECK)?;
        watch(&events, &mut idle, &mut tally);
    }

    // The hold itself: any word from the server now is an error.
    let begin = Instant::now();
    let end = begin + seconds;
    while Instant::now() < end {
        poll_quietly(&mut poll, &mut events, end)?;
        watch(&events, &mut idle, &mut tally);
    }
    let during = sample(pid)?;
    tally.elapsed = begin.elapsed();
    let held = open(&idle);
    tally.completed = held as u64;
    Ok(Held {
        tally,
        held,
        before,
        during,
        seconds: seconds.as_secs_f64(),
    })
}
// ANCHOR_END: hold

/// Waits for events until `until`; a signal's interruption is no event.
fn poll_quietly(poll: &mut Poll, events: &mut Events, until: Instant) -> io::Result<()> {
    let timeout = until.saturating_duration_since(Instant::now());
    match poll.poll(events, Some(timeout)) {
        Err(error) if error.kind() == io::ErrorKind::Interrupted => {
            events.clear();
            Ok(())
        }
        other => other,
    }
}

/// Settles every connection an event names.
fn watch(events: &Events, idle: &mut [Idle], tally: &mut Tally) {
    for event in events {
        if let Some(connection) = idle.get_mut(event.token().0) {
            *connection = settle(std::mem::replace(connection, Idle::Gone), tally);
        }
    }
}

/// What an event means for one connection of a hold: a connect that ended
/// (open, or failed), or, for an open one, a server that said something.
fn settle(connection: Idle, tally: &mut Tally) -> Idle {
    let failure = |error: io::Error| (Failure::of(&error), error.to_string());
    let verdict = match connection {
        Idle::Gone => return Idle::Gone,
        Idle::Connecting(socket) => match socket.take_error() {
            Ok(None) => match socket.peer_addr() {
                Ok(_) => return settle(Idle::Open(socket), tally),
                Err(error) if error.kind() == io::ErrorKind::NotConnected => {
                    return Idle::Connecting(socket)
                }
                Err(error) => failure(error),
            },
            Ok(Some(error)) | Err(error) => failure(error),
        },
        Idle::Open(mut socket) => match socket.read(&mut [0; 1]) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Idle::Open(socket),
            Ok(0) => (
                Failure::Reset,
                "the server closed a connection that had sent nothing".to_string(),
            ),
            Ok(_) => (
                Failure::Mismatched,
                "the server sent bytes to a connection that had asked for nothing".to_string(),
            ),
            Err(error) => failure(error),
        },
    };
    tally.fail(verdict.0, verdict.1);
    Idle::Gone
}

impl Held {
    /// Prints what the hold found; the number of errors.
    fn report(&self) -> u64 {
        let per_connection = |before: u64, during: u64| -> Option<f64> {
            (self.held > 0).then(|| (during as f64 - before as f64) * 1024.0 / self.held as f64)
        };
        let rss = per_connection(self.before.rss_kb, self.during.rss_kb);
        let anon = per_connection(self.before.anon_kb, self.during.anon_kb);
        let bytes = |value: Option<f64>| value.map_or("na".to_string(), |b| format!("{b:.0}"));
        println!(
            "held         {} idle connections for {:.2} s ({} opened)",
            self.held, self.seconds, self.tally.started
        );
        println!(
            "server RSS   {} kB before, {} kB held: {} bytes per connection ({} anonymous)",
            self.before.rss_kb,
            self.during.rss_kb,
            bytes(rss),
            bytes(anon)
        );
        println!(
            "server fds   {} before, {} held",
            self.before.fds, self.during.fds
        );
        let mut pairs = vec![
            format!("held={}", self.held),
            format!("seconds={:.3}", self.seconds),
            format!("started={}", self.tally.started),
            format!("rss_before_kb={}", self.before.rss_kb),
            format!("rss_held_kb={}", self.during.rss_kb),
            format!("anon_before_kb={}", self.before.anon_kb),
            format!("anon_held_kb={}", self.during.anon_kb),
            format!("bytes_per_connection={}", bytes(rss)),
            format!("anon_bytes_per_connection={}", bytes(anon)),
            format!("fds_before={}", self.before.fds),
            format!("fds_held={}", self.during.fds),
        ];
        pairs.extend(self.tally.report_errors());
        println!("RESULT {}", pairs.join(" "));
        self.tally.errors()
    }
}

// ---------------------------------------------------------------------------
// The report.
// ---------------------------------------------------------------------------

impl Tally {
    fn report(&self) {
        let seconds = self.elapsed.as_secs_f64();
        let per_second = if seconds > 0.0 {
            self.completed as f64 / seconds
        } else {
            0.0
        };
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let p50 = percentile_ms(&sorted, 0.50);
        let p99 = percentile_ms(&sorted, 0.99);
        let max = sorted.last().map(|&micros| f64::from(micros) / 1e3);
        let ms = |value: Option<f64>| value.map_or("-".to_string(), |ms| format!("{ms:.3} ms"));

        println!(
            "connections  {} completed in {seconds:.2} s ({} started), every byte checked",
            self.completed, self.started
        );
        println!("per second   {per_second:.0}");
        // When this is near the elapsed time, the load generator, not the
        // server, set the pace: compare servers by their own CPU instead.
        let cpu = own_cpu_seconds();
        if let Some(cpu) = cpu {
            println!(
                "own CPU      {cpu:.2} s ({:.0}% of one CPU)",
                cpu / seconds.max(1e-9) * 100.0
            );
        }
        println!(
            "latency      p50 {}, p99 {}, max {} (start of connect to end of poem)",
            ms(p50),
            ms(p99),
            ms(max)
        );
        let errors = self.report_errors();

        let number = |value: Option<f64>| value.map_or("na".to_string(), |ms| format!("{ms:.3}"));
        let mut pairs = vec![
            format!("connections={}", self.completed),
            format!("seconds={seconds:.3}"),
            format!("per_second={per_second:.1}"),
            format!("p50_ms={}", number(p50)),
            format!("p99_ms={}", number(p99)),
            format!("max_ms={}", number(max)),
            format!("concurrency={}", self.concurrency),
            format!(
                "cpu_s={}",
                cpu.map_or("na".to_string(), |s| format!("{s:.2}"))
            ),
            format!("started={}", self.started),
        ];
        pairs.extend(errors);
        println!("RESULT {}", pairs.join(" "));
    }

    /// Prints the `errors` line, and an example of each kind on stderr;
    /// returns the RESULT pairs that count them.
    fn report_errors(&self) -> Vec<String> {
        let errors = self.errors();
        if errors == 0 {
            println!("errors       0");
        } else {
            let kinds: Vec<String> = FAILURES
                .iter()
                .map(|&(failure, name)| format!("{name} {}", self.failures[failure as usize]))
                .collect();
            println!("errors       {errors}: {}", kinds.join(", "));
            for &(failure, name) in &FAILURES {
                if let Some(example) = &self.examples[failure as usize] {
                    eprintln!("poetry-load: {name}, for example: {example}");
                }
            }
        }
        let mut pairs = vec![format!("errors={errors}")];
        for &(failure, name) in &FAILURES {
            pairs.push(format!("{name}={}", self.failures[failure as usize]));
        }
        pairs
    }
}

/// This process's CPU time so far (user and system), from the clock ticks
/// in `/proc/self/stat`; `None` where that cannot be read.
fn own_cpu_seconds() -> Option<f64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // The name (field 2) may hold spaces: count from the `)` that ends it,
    // after which field 3 comes; utime and stime are fields 14 and 15.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks_per_second() as f64)
}

/// The nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted: &[u32], fraction: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    Some(f64::from(sorted[index]) / 1e3)
}
