//! Part 19: a canceller that fires the Deferred with a result.
//!
//! The canceller decides how the cancelled Deferred ends: this one fires
//! its trigger with a value, so the callback runs, and there is no
//! `CancelledError` at all.
//!
//! ```text
//! cargo run --bin defer-cancel-6
//! ```

use clap::Parser;
use mini_twisted::{deferred_with_canceller, Failure, Trigger};

/// Cancels a Deferred whose canceller fires it with a value.
#[derive(Parser)]
#[command(name = "defer-cancel-6")]
struct Options {}

// ANCHOR: main
// ANCHOR: canceller
fn canceller(trigger: Trigger<&str>) {
    println!("I need to cancel this deferred: {trigger:?}");
    println!("Firing the deferred with a result");
    trigger.callback("result");
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
