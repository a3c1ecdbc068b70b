//! Part 19: a fired Deferred is not cancelled, and its canceller is never
//! called.
//!
//! The Deferred has a canceller, but it has fired before the `cancel`:
//! the work is done, there is nothing to stop, and the canceller (dropped
//! at the fire) is not called.
//!
//! ```text
//! cargo run --bin defer-cancel-8
//! ```

use clap::Parser;
use mini_twisted::{deferred_with_canceller, Failure, Trigger};

/// Fires a Deferred that has a canceller, then cancels it.
#[derive(Parser)]
#[command(name = "defer-cancel-8")]
struct Options {}

// ANCHOR: main
fn canceller(trigger: Trigger<&str>) {
    println!("I need to cancel this deferred: {trigger:?}");
}

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
    let (d, trigger) = deferred_with_canceller(canceller);
    let d = d.add_callbacks(callback, errback);
    trigger.callback("result");
    d.cancel(); // fired already: the canceller is not called
    println!("done");
}
// ANCHOR_END: main
