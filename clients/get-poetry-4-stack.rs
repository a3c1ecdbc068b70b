//! Part 8: who calls a Deferred's callback?
//!
//! Client 4.0's `get_poetry`, with a callback that prints the call stack
//! and exits. Read from the top: our callback, the Deferred running its
//! chain, the trigger fired by the protocol's `connection_lost`, the
//! transport that saw the connection end, the reactor, `main`. The
//! Deferred did not wait for anything: it ran the callback on the stack of
//! whoever fired it.
//!
//! Frames from outside this project are left out unless you pass `--full`.
//!
//! ```text
//! cargo run --bin get-poetry-4-stack -- 10000
//! ```

use std::backtrace::Backtrace;

use clap::Parser;
use mini_twisted::log::describe_stack;
use mini_twisted::poetry::Servers;
use mini_twisted::reactor::ReactorError;
use mini_twisted::{Failure, Reactor};

/// Prints the call stack from inside a Deferred's callback, then exits.
#[derive(Parser)]
#[command(name = "get-poetry-4-stack")]
struct Options {
    /// Print every frame, those from outside the project included
    #[arg(long)]
    full: bool,

    #[command(flatten)]
    servers: Servers,
}

// Client 4.0's own get_poetry, borrowed from its file rather than copied.
#[path = "get-poetry-4.rs"]
#[allow(dead_code)]
mod client_4;

use client_4::get_poetry;

// ANCHOR: main
fn main() -> Result<(), ReactorError> {
    let options = Options::parse();
    options.servers.require::<Options>();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    let full = options.full;
    for address in &options.servers.addresses {
        let stopper = reactor.clone();
        let _d = get_poetry(&reactor, &address.host, address.port).add_callbacks(
            move |_poem| -> Result<(), Failure> {
                println!("The Rust stack:");
                print!("{}", describe_stack(&Backtrace::force_capture(), full));
                std::process::exit(0)
            },
            move |failure| {
                eprintln!("Poem failed: {failure}");
                stopper.stop();
                Ok(())
            },
        );
    }
    reactor.run()?;
    // Reaching this line means no poem ever arrived.
    std::process::exit(1)
}
// ANCHOR_END: main
