//! Part 18: a DeferredList with nothing to wait for.
//!
//! A `DeferredList` is one Deferred standing for many. Given none, it has
//! nothing to wait for, so it fires as it is made, with an empty list of
//! results, and the callback added afterwards runs at once (a fired
//! Deferred, as in Part 14).
//!
//! ```text
//! cargo run --bin deferred-list-1
//! ```

use clap::Parser;
use mini_twisted::{DeferredList, Failure};

/// Makes a DeferredList of no Deferreds: it fires at once, with [].
#[derive(Parser)]
#[command(name = "deferred-list-1")]
struct Options {}

// ANCHOR: main
fn got_results(results: Vec<Result<&str, Failure>>) -> Result<(), Failure> {
    println!("We got: {results:?}");
    Ok(())
}

fn main() {
    mini_twisted::log::init();
    Options::parse();
    println!("Empty List.");
    let d = DeferredList::new([]).all();
    println!("Adding Callback.");
    let _d = d.add_callback(got_results);
}
// ANCHOR_END: main
