//! Part 21: the Haskell client, in Rust. A thread per server, each pulling
//! its poem line by line from a lazy iterator over a blocking socket.
//!
//! No reactor here, no callbacks, no Deferreds. Each poem is an iterator of
//! lines (`BufRead::split`) over its `TcpStream`: nothing is read from the
//! socket until the iterator is asked for a line that has not arrived yet,
//! and then the asking thread blocks until it has. A thread per server
//! asks, line after line, and prints `Task N: got LEN bytes of poetry from
//! HOST:PORT` for each, LEN being the line's length plus one for its
//! newline, as the original counts. When the iterator runs out (the server
//! closed the connection) the thread prints the whole poem.
//!
//! As in the original, every connection is made first, in argument order,
//! by the main thread: a server that refuses ends the program with a
//! message before any poem is read. A connection that breaks in mid-poem
//! fails that task only (on stderr); its half poem is not printed.
//!
//! ```text
//! cargo run --bin get-poetry-lazy -- 10000 10001 10002
//! ```

use std::io::{self, BufRead, BufReader, Split};
use std::net::TcpStream;
use std::process::ExitCode;
use std::thread;

use clap::Parser;
use mini_twisted::poetry::{exit_status, Address, Checked, EXIT_STATUS_HELP};

/// Get Poetry Now! The lazy client: a thread per server reads its poem
/// line by line, reporting each line's bytes, and prints the poem when it
/// is complete.
///
/// Every server is connected to first, in order; if one refuses, the
/// program says so and stops before any poem is read.
#[derive(Parser)]
#[command(name = "get-poetry-lazy", after_help = EXIT_STATUS_HELP)]
struct Options {
    /// The servers to get poetry from, as [host:]port; the host defaults to
    /// 127.0.0.1
    #[arg(
        value_name = "[HOST:]PORT",
        required = true,
        value_parser = Checked(str::parse::<Address>)
    )]
    servers: Vec<Address>,
}

// ANCHOR: lines
/// A poem as its lines, each without its newline, read from the socket
/// only when they are asked for.
pub type PoemLines = Split<BufReader<TcpStream>>;

/// Connects to `address` (blocking until the server accepts or refuses).
pub fn connect(address: &Address) -> io::Result<TcpStream> {
    TcpStream::connect(address.resolve()?)
}

/// The lines of the poem that `socket` will bring. Nothing is read here:
/// each call of `next` takes a line from the reader's buffer, and reads
/// from the socket, blocking, only when the buffer holds no whole line.
/// The bytes are not decoded: a line of a poem that is not UTF-8 is still
/// a line, and counts its bytes like any other.
pub fn lazy_lines(socket: TcpStream) -> PoemLines {
    BufReader::new(socket).split(b'\n')
}
// ANCHOR_END: lines

// ANCHOR: main
fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();

    // As in the original, the connections are made here, one after the
    // other, before any poem is read.
    let mut sockets = Vec::new();
    for (i, address) in options.servers.iter().enumerate() {
        match connect(address) {
            Ok(socket) => sockets.push(socket),
            Err(error) => {
                eprintln!("Task {}: failed to connect to {address}: {error}", i + 1);
                eprintln!("No poem was read: this client connects to every server before it reads a poem.");
                return ExitCode::FAILURE;
            }
        }
    }

    // Then a thread per poem, and main waits for them all.
    let threads: Vec<_> = options
        .servers
        .into_iter()
        .zip(sockets)
        .enumerate()
        .map(|(i, (address, socket))| thread::spawn(move || get_poetry(i + 1, &address, socket)))
        .collect();
    let mut all_whole = true;
    for thread in threads {
        // A thread that panicked (it should not) got no poem either.
        all_whole &= thread.join().unwrap_or(false);
    }
    exit_status(all_whole)
}
// ANCHOR_END: main

// ANCHOR: get_poetry
/// Task `task`'s thread: pulls the poem from `socket` a line at a time,
/// reports each line, then prints the whole poem. True if the poem came
/// whole (the server closed the connection cleanly).
fn get_poetry(task: usize, address: &Address, socket: TcpStream) -> bool {
    let mut poem = String::new();
    for line in lazy_lines(socket) {
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                eprintln!("Task {task}: failed to get poetry from {address}: {error}");
                return false;
            }
        };
        // The line's bytes and the newline that ended it, as the original
        // counts (a last line with no newline is counted one too many).
        let bytes = line.len() + 1;
        println!("Task {task}: got {bytes} bytes of poetry from {address}");
        // Shown as text; bytes that are not UTF-8 show as U+FFFD.
        poem.push_str(&String::from_utf8_lossy(&line));
        poem.push('\n');
    }
    // One call, so that no other thread's line lands inside the poem.
    println!("{poem}");
    true
}
// ANCHOR_END: get_poetry
