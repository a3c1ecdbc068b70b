//! Part 19: a canceller that fires the Deferred with an error of its own.
//!
//! This canceller fires its trigger with a failure: the errback gets that
//! failure, not a `CancelledError`.
//!
//! ```text
//! cargo run --bin defer-cancel-7
//! ```

use std::io;

use clap::Parser;
use mini_twisted::{deferred_with_canceller, Failure, Trigger};

/// Cancels a Deferred whose canceller fires it with an error.
#[derive(Parser)]
#[command(name = "defer-cancel-7")]
struct Options {}

// ANCHOR: main
// ANCHOR: canceller
fn canceller(trigger: Trigger<&str>) {
    println!("I need to cancel this deferred: {trigger:?}");
    println!("Firing the deferred with an error");
    trigger.errback(io::Error::other("error!"));
}
// ANCHOR_END: canceller

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
    let (d, _trigger) = deferred_with_canceller(canceller);
    let d = d.add_callbacks(callback, errback);
    d.cancel();
    println!("done");
}
// ANCHOR_END: main
