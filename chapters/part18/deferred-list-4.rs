//! Part 18: the results come in the order of the list, not of the firing.
//!
//! The same two Deferreds as deferred-list-3, fired the other way round:
//! d2 first. The list's results still put d1's first, because d1 came
//! first in the list it was given.
//!
//! ```text
//! cargo run --bin deferred-list-4
//! ```

use clap::Parser;
use mini_twisted::{deferred, DeferredList, Failure};

/// Makes a DeferredList of two Deferreds, then fires d2, then d1.
#[derive(Parser)]
#[command(name = "deferred-list-4")]
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
    println!("Firing d2.");
    t2.callback("d2 result");
    println!("Firing d1.");
    t1.callback("d1 result");
}
// ANCHOR_END: main
