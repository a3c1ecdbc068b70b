//! Part 3: a callback that panics does not bring the reactor down.
//!
//! The first callback panics. The reactor catches the panic, reports it on
//! stderr (through `tracing`, with the message and the line), and calls the
//! next callback as if nothing had happened. That one stops the reactor,
//! and the program exits successfully.
//!
//! ```text
//! cargo run --bin exception
//! ```

use clap::Parser;
use mini_twisted::reactor::{Reactor, ReactorError};

/// A callback panics; the reactor reports it and carries on.
#[derive(Parser)]
#[command(name = "exception")]
struct Options {}

// ANCHOR: main
fn fall_down(_reactor: &Reactor) {
    panic!("I fall down.");
}

fn up_again(reactor: &Reactor) {
    println!("But I get up again.");
    reactor.stop();
}

fn main() -> Result<(), ReactorError> {
    Options::parse();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    reactor.call_when_running(fall_down);
    reactor.call_when_running(up_again);
    println!("Starting the reactor.");
    reactor.run()
}
// ANCHOR_END: main
