//! Part 19: the producer fires a Deferred that was cancelled, and nothing
//! happens.
//!
//! The code that made the Deferred does not know it was cancelled (it gave
//! no canceller to be told), so it fires it when its work is done. That
//! fire is ignored: the chain has had its outcome, the `CancelledError`.
//! In Twisted a *second* late fire raises `AlreadyCalledError`; here there
//! is no second fire to make, because firing takes the trigger (Part 7).
//!
//! ```text
//! cargo run --bin defer-cancel-4
//! ```

use clap::Parser;
use mini_twisted::{deferred, Failure};

/// Cancels a Deferred, then fires it.
#[derive(Parser)]
#[command(name = "defer-cancel-4")]
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
    d.cancel();
    trigger.callback("result"); // ignored: the chain was cancelled
                                // trigger.callback("again"); // error[E0382]: use of moved value: `trigger`
    println!("done");
}
// ANCHOR_END: main
