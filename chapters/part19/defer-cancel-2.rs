//! Part 19: a cancelled Deferred runs its errback.
//!
//! The errback gets the `CancelledError` as a failure, like any other,
//! and handles it: nothing is reported at the end.
//!
//! ```text
//! cargo run --bin defer-cancel-2
//! ```

use clap::Parser;
use mini_twisted::{deferred, Failure};

/// Cancels a Deferred that has a callback and an errback.
#[derive(Parser)]
#[command(name = "defer-cancel-2")]
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
    let (d, _trigger) = deferred();
    let d = d.add_callbacks(callback, errback);
    d.cancel();
    println!("done");
}
// ANCHOR_END: main
