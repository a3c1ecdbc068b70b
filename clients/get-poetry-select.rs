//! Part 2: Get Poetry Now!, asynchronous edition, written by hand.
//!
//! Connects to every server first, then waits on all the sockets at once
//! with `mio::Poll` and reads from whichever has data. The run takes about
//! as long as the slowest server alone.
//!
//! There is no framework here on purpose: the loop that waits, the code that
//! reads sockets, and the poetry bookkeeping are all tangled in `run`.
//! Chapter 2 shows where the seams are; Part 3 pulls them apart, and what
//! comes out is the reactor.
//!
//! Run it against three `slowpoetry` servers on ports 10000, 10001, 10002:
//!
//! ```text
//! cargo run --bin get-poetry-select -- 10000 10001 10002
//! ```

use std::io::{self, Read};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mini_twisted::poetry::{Address, ClientArgs};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// Get Poetry Now! The asynchronous client: waits on every server at once
/// with a hand-written mio::Poll loop.
#[derive(Parser)]
#[command(name = "get-poetry-select")]
struct Options {
    #[command(flatten)]
    client: ClientArgs,
}

// ANCHOR: task
/// One download: its socket while it is open, and the poem so far.
struct Task {
    address: Address,
    socket: Option<TcpStream>,
    poem: Vec<u8>,
    error: Option<io::Error>,
}
// ANCHOR_END: task

fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();
    options.client.require_addresses::<Options>();
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("get-poetry-select: {error}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: run
/// Fetches every poem; `Ok(false)` when some task failed.
fn run(options: &Options) -> io::Result<bool> {
    let start = Instant::now();
    let mut timeline = options.client.new_timeline();
    let mut poll = Poll::new()?;

    // ANCHOR: connect
    // Connect to every server up front. Each socket is registered with the
    // poller under a token that is simply its task's index.
    let mut tasks = Vec::new();
    for (i, address) in options.client.servers.addresses.iter().enumerate() {
        let mut task = Task {
            address: address.clone(),
            socket: None,
            poem: Vec::new(),
            error: None,
        };
        match connect(address) {
            Ok(mut socket) => {
                poll.registry()
                    .register(&mut socket, Token(i), Interest::READABLE)?;
                task.socket = Some(socket);
                timeline.connected(i);
            }
            Err(error) => {
                eprintln!("Task {}: failed to connect to {address}: {error}", i + 1);
                timeline.failed(i);
                task.error = Some(error);
            }
        }
        tasks.push(task);
    }
    // ANCHOR_END: connect

    // ANCHOR: loop
    let mut open = tasks.iter().filter(|task| task.socket.is_some()).count();
    let mut events = Events::with_capacity(16);
    let mut buffer = [0; 1024];
    while open > 0 {
        // The only place this program waits: until one or more sockets are
        // readable. Nothing else can happen, so there is nothing else to do.
        if let Err(error) = poll.poll(&mut events, None) {
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }

        for event in &events {
            let i = event.token().0;
            let task = &mut tasks[i];
            let Some(socket) = task.socket.as_mut() else {
                continue; // an event for a socket we have already closed
            };

            // mio reports a socket once each time it becomes readable, so we
            // must read until the kernel says WouldBlock, or we may never
            // hear about the rest of what is waiting.
            let mut got = 0;
            let mut finished = false;
            loop {
                match socket.read(&mut buffer) {
                    Ok(0) => {
                        finished = true;
                        break;
                    }
                    Ok(n) => {
                        got += n;
                        task.poem.extend_from_slice(&buffer[..n]);
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => {
                        task.error = Some(error);
                        break;
                    }
                }
            }

            // A wake-up may bring nothing at all (a spurious event): then
            // there is nothing to report.
            if got > 0 {
                println!(
                    "Task {}: got {got} bytes of poetry from {}",
                    i + 1,
                    task.address
                );
                timeline.received(i);
            }
            if finished || task.error.is_some() {
                poll.registry().deregister(socket)?;
                task.socket = None; // dropping the socket closes it
                open -= 1;
                match &task.error {
                    None => {
                        println!("Task {} finished", i + 1);
                        timeline.finished(i);
                    }
                    Some(error) => {
                        let address = &task.address;
                        eprintln!("Task {}: lost the connection to {address}: {error}", i + 1);
                        timeline.failed(i);
                    }
                }
            }
        }
    }
    // ANCHOR_END: loop

    // Failed tasks were reported when they failed; list the poems we got.
    let sizes: Vec<Option<usize>> = tasks
        .iter()
        .map(|task| task.error.is_none().then_some(task.poem.len()))
        .collect();
    Ok(options
        .client
        .report(&sizes, start, &timeline, "Select client"))
}
// ANCHOR_END: run

// ANCHOR: connect_fn
/// Connects with an ordinary blocking connect (quick on a local network),
/// then switches the socket to non-blocking so that reads never wait.
fn connect(address: &Address) -> io::Result<TcpStream> {
    let socket = std::net::TcpStream::connect(address.resolve()?)?;
    socket.set_nonblocking(true)?;
    Ok(TcpStream::from_std(socket))
}
// ANCHOR_END: connect_fn
