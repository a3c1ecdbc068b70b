//! Part 19: cancelling a chain that waits on another Deferred.
//!
//! The outer Deferred has fired, and its first callback returned the inner
//! Deferred, so the outer chain waits for that one. Cancelling the outer
//! Deferred then cancels the inner one: the inner's canceller runs (the
//! outer's does not: the outer has fired already), and the outer chain
//! goes on with the inner's `CancelledError`.
//!
//! ```text
//! cargo run --bin defer-cancel-12
//! ```

use clap::Parser;
use mini_twisted::{deferred_with_canceller, Deferred, Failure, Trigger};

/// Cancels an outer Deferred while it waits on an inner one.
#[derive(Parser)]
#[command(name = "defer-cancel-12")]
struct Options {}

// ANCHOR: main
fn cancel_outer(_trigger: Trigger<&str>) {
    println!("outer cancel callback.");
}

fn cancel_inner(_trigger: Trigger<&str>) {
    println!("inner cancel callback.");
}

fn second_outer_callback(result: &str) -> Result<(), Failure> {
    println!("second outer callback got: {result}");
    Ok(())
}

fn outer_errback(failure: Failure) -> Result<(), Failure> {
    println!("outer errback got: {failure}");
    Ok(())
}

fn main() {
    mini_twisted::log::init();
    Options::parse();
    let (outer, outer_trigger) = deferred_with_canceller(cancel_outer);
    // Its producer keeps the inner trigger, and never fires it.
    let (inner, _inner_trigger) = deferred_with_canceller(cancel_inner);

    let outer = outer
        .add_callback(move |_result| -> Deferred<&str> {
            println!("first outer callback, returning inner deferred");
            inner
        })
        .add_callbacks(second_outer_callback, outer_errback);

    outer_trigger.callback("result");
    // The outer Deferred has fired, but its chain waits on the inner one.

    println!("canceling outer deferred.");
    outer.cancel();
    println!("done");
}
// ANCHOR_END: main
