//! Part 3: who calls our callback?
//!
//! The callback prints the call stack at the moment it runs. Reading from
//! the top: our function, then the reactor code that called it, then
//! `Reactor::run`, then `main`. Our code runs *inside* `run`: while it runs,
//! the loop is not waiting for anything else.
//!
//! Frames from outside this project (the standard library's closures,
//! panic catching, program start-up) are left out unless you pass
//! `--full`. The demo keeps running afterwards, as a reactor does: press
//! Ctrl-C.
//!
//! ```text
//! cargo run --bin stack
//! ```

use std::backtrace::Backtrace;

use clap::Parser;
use mini_twisted::log::describe_stack;
use mini_twisted::reactor::{Reactor, ReactorError};

/// Prints the call stack from inside a reactor callback.
#[derive(Parser)]
#[command(name = "stack")]
struct Options {
    /// Print every frame, the standard library's included
    #[arg(long)]
    full: bool,
}

// ANCHOR: main
fn stack(full: bool) {
    println!("The Rust stack:");
    let backtrace = Backtrace::force_capture();
    print!("{}", describe_stack(&backtrace, full));
}

fn main() -> Result<(), ReactorError> {
    mini_twisted::log::init();
    let options = Options::parse();
    let reactor = Reactor::new()?;
    reactor.call_when_running(move |_| stack(options.full));
    reactor.run()
}
// ANCHOR_END: main
