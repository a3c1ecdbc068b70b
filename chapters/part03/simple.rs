//! Part 3: the simplest reactor program.
//!
//! It creates a reactor and runs it. Nothing is registered and nothing is
//! scheduled, so the loop waits in the kernel for ever, using no CPU, until
//! you press Ctrl-C.
//!
//! ```text
//! cargo run --bin simple
//! ```

use clap::Parser;
use mini_twisted::reactor::{Reactor, ReactorError};

/// Runs a reactor with nothing to do, until Ctrl-C.
#[derive(Parser)]
#[command(name = "simple")]
struct Options {}

// ANCHOR: main
fn main() -> Result<(), ReactorError> {
    mini_twisted::log::init();
    Options::parse();
    let reactor = Reactor::new()?;
    reactor.run()
}
// ANCHOR_END: main
