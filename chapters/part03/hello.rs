//! Part 3: our first callback.
//!
//! `call_when_running` hands the reactor a function to call once the loop
//! has started. The messages come from inside the loop; then the reactor
//! goes back to waiting, for ever, until you press Ctrl-C.
//!
//! ```text
//! cargo run --bin hello
//! ```

use clap::Parser;
use mini_twisted::reactor::{Reactor, ReactorError};

/// Says hello from inside the reactor loop, then waits until Ctrl-C.
#[derive(Parser)]
#[command(name = "hello")]
struct Options {}

// ANCHOR: main
fn hello(_reactor: &Reactor) {
    println!("Hello from the reactor loop!");
    println!("Lately I feel like I'm stuck in a rut.");
}

fn main() -> Result<(), ReactorError> {
    mini_twisted::log::init();
    Options::parse();
    let reactor = Reactor::new()?;
    reactor.call_when_running(hello);
    println!("Starting the reactor.");
    reactor.run()
}
// ANCHOR_END: main
