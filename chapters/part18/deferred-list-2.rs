//! Part 18: a DeferredList of one Deferred.
//!
//! The list fires when its one component does, with one result: `Ok` and
//! the component's value.
//!
//! ```text
//! cargo run --bin deferred-list-2
//! ```

use clap::Parser;
use mini_twisted::{deferred, DeferredList, Failure};

/// Makes a DeferredList of one Deferred, then fires that Deferred.
#[derive(Parser)]
#[command(name = "deferred-list-2")]
struct Options {}

// ANCHOR: main
fn got_results(results: Vec<Result<&str, Failure>>) -> Result<(), Failure> {
    println!("We got: {results:?}");
    Ok(())
}

fn main() {
    mini_twisted::log::init();
    Options::parse();
    println!("One Deferred.");
    let (d1, t1) = deferred();
    let d = DeferredList::new([d1]).all();
    println!("Adding Callback.");
    let _d = d.add_callback(got_results);
    println!("Firing d1.");
    t1.callback("d1 result");
}
// ANCHOR_END: main
