//! Part 21: the second Haskell client, in Rust. The poems are printed in
//! argument order, each as soon as the ones before it are done.
//!
//! A thread per server connects, and hands main the poem's lazy iterator
//! of lines through a channel: that is all it does. Main takes the poems in
//! order and prints each line as it pulls it, so the first poem streams out
//! at its server's pace, while the others wait in their sockets (the
//! kernel keeps what their servers send) until main gets to them, and then
//! come out at once.
//!
//! A server that refuses, or a connection that breaks, is reported on
//! stderr when main gets to that poem, and the next poem follows: unlike
//! the original's MVar, a channel whose thread has gone cannot be waited on
//! for ever.
//!
//! ```text
//! cargo run --bin get-poetry-lazy-ordered -- 10000 10001 10002
//! ```

use std::io;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver};
use std::thread;

use clap::Parser;
use mini_twisted::poetry::{exit_status, Address, Checked, EXIT_STATUS_HELP};

// ANCHOR: reuse
// The first lazy client's connection and lazy iterator of lines; what is
// new here is who pulls the lines, and when.
#[path = "get-poetry-lazy.rs"]
#[allow(dead_code)]
mod lazy;

use lazy::{connect, lazy_lines, PoemLines};
// ANCHOR_END: reuse

/// Get Poetry Now! The lazy client, in order: prints the poems in the
/// order of the arguments, each as soon as the ones before it are done.
///
/// The first poem is printed line by line as it arrives; the others have
/// waited in their connections and follow at once. A server that is down,
/// or a poem cut short, is reported on stderr, and the next poem follows.
#[derive(Parser)]
#[command(name = "get-poetry-lazy-ordered", after_help = EXIT_STATUS_HELP)]
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

// ANCHOR: main
fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();

    // A thread per server connects and sends back the poem's lines, not
    // yet read: the Rust form of forkIO and putMVar.
    let poems: Vec<Receiver<io::Result<PoemLines>>> = options
        .servers
        .iter()
        .map(|address| {
            let (sender, receiver) = mpsc::channel();
            let address = address.clone();
            thread::spawn(move || {
                let _ = sender.send(connect(&address).map(lazy_lines));
            });
            receiver
        })
        .collect();

    // Main takes them in argument order: takeMVar and putStrLn.
    let mut all_whole = true;
    for (address, poem) in options.servers.iter().zip(poems) {
        all_whole &= print_poem(address, &poem);
    }
    exit_status(all_whole)
}
// ANCHOR_END: main

// ANCHOR: print_poem
/// Waits for the poem from `address` and prints it, pulling its lines one
/// by one. True if it came whole.
fn print_poem(address: &Address, poem: &Receiver<io::Result<PoemLines>>) -> bool {
    let lines = match poem.recv() {
        Ok(Ok(lines)) => lines,
        Ok(Err(error)) => {
            eprintln!("Failed to connect to {address}: {error}");
            return false;
        }
        // The thread ended without sending: its sender is gone, so the
        // channel says so at once instead of waiting for ever.
        Err(mpsc::RecvError) => {
            eprintln!("No poem from {address}: its thread ended without one");
            return false;
        }
    };
    for line in lines {
        match line {
            // Shown as text; bytes that are not UTF-8 show as U+FFFD.
            Ok(line) => println!("{}", String::from_utf8_lossy(&line)),
            Err(error) => {
                eprintln!("The poem from {address} may be incomplete: {error}");
                return false;
            }
        }
    }
    // The blank line that ends each poem, as the original's putStrLn adds
    // a newline after the poem's own.
    println!();
    true
}
// ANCHOR_END: print_poem
