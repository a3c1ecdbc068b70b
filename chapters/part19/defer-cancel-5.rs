//! Part 19: a Deferred with a canceller that does nothing.
//!
//! The producer gave a canceller when it made the Deferred. `cancel` calls
//! it first, with a trigger of its own; this one only says it was called
//! and lets the trigger go, so the Deferred then fails with
//! `CancelledError`, and the errback runs after the canceller.
//!
//! ```text
//! cargo run --bin defer-cancel-5
//! ```

use clap::Parser;
use mini_twisted::{deferred_with_canceller, Failure, Trigger};

/// Cancels a Deferred whose canceller only prints.
#[derive(Parser)]
#[command(name = "defer-cancel-5")]
struct Options {}

// ANCHOR: main
// ANCHOR: canceller
fn canceller(trigger: Trigger<&str>) {
    println!("I need to cancel this deferred: {trigger:?}");
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
