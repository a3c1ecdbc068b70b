//! Part 19: cancelling a Deferred that has no errback.
//!
//! `cancel` on a Deferred that has not fired fails it with a
//! `CancelledError`. The callback is skipped, nothing handles the failure,
//! and when the chain is dropped at the end of `main` it is reported on
//! stderr, as any failure nobody handled is (Part 9).
//!
//! ```text
//! cargo run --bin defer-cancel-1
//! ```

use clap::Parser;
use mini_twisted::deferred;

/// Cancels a Deferred that has a callback and no errback.
#[derive(Parser)]
#[command(name = "defer-cancel-1")]
struct Options {}

// ANCHOR: main
fn main() {
    mini_twisted::log::init();
    Options::parse();
    // The producer keeps the trigger, and never gets to fire it.
    let (d, _trigger) = deferred::<&str>();
    let d = d.add_callback(|result| {
        println!("callback got: {result}");
        Ok(())
    });
    d.cancel();
    println!("done");
    // Here `d` and `_trigger` are dropped: the CancelledError is reported.
}
// ANCHOR_END: main
