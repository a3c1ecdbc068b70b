//! Part 20: Get Poetry Now!, Erlang edition, in Rust: processes and
//! messages instead of a reactor.
//!
//! Each server gets a worker thread of its own (Erlang's "process") that
//! connects and reads with plain blocking calls, printing a line per chunk,
//! and sends its poem to main over a channel when the server closes. Main
//! never touches a socket: it waits for messages. Each worker holds a
//! `Monitor` guard whose `Drop` tells main that the worker is down and why,
//! whether it finished, failed or panicked (Erlang's `spawn_monitor` and
//! its `'DOWN'` message). A server that refuses the connection crashes only
//! its own worker: main reports the crash on stderr and the others carry
//! on. When every worker is down, main prints the poems, the last one to
//! arrive first, as the Erlang client does.
//!
//! Run it against the three slow servers of Part 2 (`cargo run --bin
//! poetry-servers` in another terminal):
//!
//! ```text
//! cargo run --bin get-poetry-actors -- 10000 10001 10002
//! ```

use std::io::{self, Read};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use clap::{CommandFactory, Parser};
use mini_twisted::poetry::{Address, Checked};

/// Get Poetry Now! The Erlang client, in Rust: a thread per server, and
/// messages to main over a channel.
#[derive(Parser)]
#[command(
    name = "get-poetry-actors",
    after_help = "Each server gets a worker thread that prints a line per chunk it reads. \
                  When every worker has ended, the poems are printed, the last one to arrive \
                  first. A worker that fails (a server that is down, a connection reset in \
                  mid-poem) crashes alone: its report goes to stderr and the others finish. \
                  As in the Erlang original, the exit status is 0 once every worker has ended, \
                  crashed or not; it is 1 when no server is given, 2 for a bad argument."
)]
struct Options {
    /// The servers to get poetry from, as [host:]port; the host defaults to
    /// 127.0.0.1
    #[arg(value_name = "[HOST:]PORT", value_parser = Checked(str::parse::<Address>))]
    servers: Vec<Address>,
}

// ANCHOR: messages
/// What a worker tells main. In Erlang these are `{poem, Text}` and the
/// `'DOWN'` message that the runtime sends for a monitored process.
enum Message {
    /// A whole poem: its server closed the connection.
    Poem(Vec<u8>),
    /// Worker `task` has ended, and why. Always its last message.
    Down { task: usize, reason: Reason },
}

/// Why a worker ended: Erlang's exit reason.
enum Reason {
    /// Its poem was sent: `normal`.
    Normal,
    /// It returned an error, which says what happened.
    Crashed(String),
    /// It panicked; the panic's own message is already on stderr.
    Panicked,
}
// ANCHOR_END: messages

// ANCHOR: monitor
/// Erlang's monitor, as a guard that the worker owns. When the worker ends,
/// however it ends, the guard is dropped, and dropping it sends main a
/// `Down` message. A panic unwinds the worker's stack and drops the guard
/// on the way, so even a panicking worker is heard from.
struct Monitor {
    task: usize,
    main: Sender<Message>,
    /// Set by the worker as it returns; still `Panicked` if it never did.
    reason: Reason,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let reason = std::mem::replace(&mut self.reason, Reason::Panicked);
        // Main waits for every Down, so it is still listening; if it were
        // not, there would be nobody to tell.
        let _ = self.main.send(Message::Down {
            task: self.task,
            reason,
        });
    }
}
// ANCHOR_END: monitor

// ANCHOR: spawn_monitor
/// Erlang's `spawn_monitor`: starts a worker for `address` that main will
/// hear from exactly once more, with a `Down`, however it ends.
fn spawn_monitor(task: usize, address: Address, main: Sender<Message>) -> io::Result<()> {
    thread::Builder::new()
        .name(format!("task-{task}"))
        .spawn(move || {
            let mut monitor = Monitor {
                task,
                main: main.clone(),
                reason: Reason::Panicked,
            };
            monitor.reason = match get_poetry(task, &address, &main) {
                Ok(()) => Reason::Normal,
                Err(error) => Reason::Crashed(error),
            };
        })?;
    Ok(())
}
// ANCHOR_END: spawn_monitor

// ANCHOR: get_poetry
/// One worker's whole life: connect, read chunk after chunk, send the poem.
/// Every call in here blocks, but only this thread.
fn get_poetry(task: usize, address: &Address, main: &Sender<Message>) -> Result<(), String> {
    let connect = |error: io::Error| format!("cannot connect to {address}: {error}");
    let peer = address.resolve().map_err(connect)?;
    let mut socket = TcpStream::connect(peer).map_err(connect)?;

    let mut poem = Vec::new();
    let mut buffer = [0; 1024];
    loop {
        match socket.read(&mut buffer) {
            // The server closed the connection: the poem is whole.
            Ok(0) => break,
            Ok(n) => {
                println!("Task {task}: got {n} bytes of poetry from {peer}");
                poem.extend_from_slice(&buffer[..n]);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                let got = poem.len();
                return Err(format!("lost {peer} after {got} bytes: {error}"));
            }
        }
    }
    // Main outlives every worker (it waits for their Downs), so this send
    // cannot fail; if it did, nobody would want the poem anyway.
    let _ = main.send(Message::Poem(poem));
    Ok(())
}
// ANCHOR_END: get_poetry

// ANCHOR: main
fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();
    if options.servers.is_empty() {
        // As the Erlang client: no server, no work, a usage message and 1.
        eprintln!("{}", Options::command().render_usage());
        eprintln!("Give the servers to get poetry from; --help says more.");
        return ExitCode::FAILURE;
    }

    let (main, mailbox) = mpsc::channel();
    let mut workers = 0;
    for (i, address) in options.servers.into_iter().enumerate() {
        let task = i + 1;
        match spawn_monitor(task, address, main.clone()) {
            Ok(()) => workers += 1,
            Err(error) => eprintln!("Task {task} crashed: cannot start its thread: {error}"),
        }
    }
    drop(main);

    let poems = collect_poems(&mailbox, workers);
    // The last poem to arrive first, as Erlang's list built by prepending.
    for poem in poems.iter().rev() {
        println!("{}", String::from_utf8_lossy(poem));
    }
    ExitCode::SUCCESS
}
// ANCHOR_END: main

// ANCHOR: collect_poems
/// Main's receive loop: poems as they come, until every worker is down.
/// A crashed worker's reason is reported on stderr, as Erlang's runtime
/// reports a process that crashed.
fn collect_poems(mailbox: &Receiver<Message>, mut workers: usize) -> Vec<Vec<u8>> {
    let mut poems = Vec::new();
    while workers > 0 {
        // Every worker's guard sends a Down before it lets go of its
        // sender, so the channel cannot close while one is missing.
        let Ok(message) = mailbox.recv() else { break };
        match message {
            Message::Poem(poem) => poems.push(poem),
            Message::Down { task, reason } => {
                workers -= 1;
                match reason {
                    Reason::Normal => {}
                    Reason::Crashed(why) => eprintln!("Task {task} crashed: {why}"),
                    Reason::Panicked => eprintln!("Task {task} crashed: it panicked (see above)"),
                }
            }
        }
    }
    poems
}
// ANCHOR_END: collect_poems

#[cfg(test)]
mod tests {
    use super::*;

    /// The guard reports a worker that panics: the unwinding drops it.
    #[test]
    fn a_panicking_worker_is_still_reported_down() {
        let (main, mailbox) = mpsc::channel();
        let worker = thread::spawn(move || {
            let _monitor = Monitor {
                task: 7,
                main,
                reason: Reason::Panicked,
            };
            panic!("a worker's bug");
        });
        assert!(worker.join().is_err(), "the worker did not panic");
        let Ok(Message::Down { task: 7, reason }) = mailbox.recv() else {
            panic!("no Down for task 7");
        };
        assert!(matches!(reason, Reason::Panicked));
    }

    /// And it reports the reason a worker returned.
    #[test]
    fn a_worker_that_returns_is_reported_with_its_reason() {
        let (main, mailbox) = mpsc::channel();
        let mut monitor = Monitor {
            task: 1,
            main,
            reason: Reason::Panicked,
        };
        monitor.reason = Reason::Crashed("refused".into());
        drop(monitor);
        let Ok(Message::Down { task: 1, reason }) = mailbox.recv() else {
            panic!("no Down for task 1");
        };
        assert!(matches!(reason, Reason::Crashed(why) if why == "refused"));
    }
}
