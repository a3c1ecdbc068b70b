//! Part 18: a DeferredList of two Deferreds, fired in order.
//!
//! Firing the first is not enough: the list waits until both have fired,
//! then gives both results at once.
//!
//! ```text
//! cargo run --bin deferred-list-3
//! ```

use clap::Parser;
use mini_twisted::{deferred, DeferredList, Failure};

/// Makes a DeferredList of two Deferreds, then fires d1, then d2.
#[derive(Parser)]
#[command(name = "deferred-list-3")]
struct Options {}

// ANCHOR: main
fn got_results(results: Vec<Result<&str, Failure>>) -> Result<(), Failure> {
    println!("We got: {results:?}");
    Ok(())
}

fn main() {
    mini_twisted::log::init();
    Options::parse();
    println!("Two Deferreds.");
    let (d1, t1) = deferred();
    let (d2, t2) = deferred();
    let d = DeferredList::new([d1, d2]).all();
    println!("Adding Callback.");
    let _d = d.add_callback(got_results);
    println!("Firing d1.");
    t1.callback("d1 result");
    println!("Firing d2.");
    t2.callback("d2 result");
}
// ANCHOR_END: main
