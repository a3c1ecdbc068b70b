//! Part 19: cancelling a Deferred that has already fired does nothing.
//!
//! The callback has run and the outcome is there: there is nothing left to
//! cancel, and `cancel` leaves it alone.
//!
//! ```text
//! cargo run --bin defer-cancel-3
//! ```

use clap::Parser;
use mini_twisted::{deferred, Failure};

/// Fires a Deferred, then cancels it.
#[derive(Parser)]
#[command(name = "defer-cancel-3")]
struct Options {}

// ANCHOR: main
fn callback(result: &str) -> Result<(), Failure> {
    println!("callback got: {result}");
    Ok(())
}

fn errback(failure: Failure) -> Result<(), Failure> {
    println!("errback got: {failure}");
    Ok(())
}

fn main() {
    mini_twisted::log::init();
    Options::parse();
    let (d, trigger) = deferred();
    let d = d.add_callbacks(callback, errback);
    trigger.callback("result");
    d.cancel(); // too late: nothing happens
    println!("done");
}
// ANCHOR_END: main
