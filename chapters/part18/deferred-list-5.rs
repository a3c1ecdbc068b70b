//! Part 18: a component that fails, with errors consumed.
//!
//! d2 fails. The list records its failure, as `Err`, in d2's place, and
//! still fires with a callback: a list of results is a value, whatever the
//! results say. `consume_errors` tells the list to handle each failure
//! once it has recorded it, so that nothing is left unhandled on d2's own
//! chain: stderr stays quiet (compare deferred-list-6).
//!
//! ```text
//! cargo run --bin deferred-list-5
//! ```

use std::error::Error;
use std::fmt;

use clap::Parser;
use mini_twisted::{deferred, DeferredList, Failure};

/// Fires d1 with a value and d2 with a failure; the list consumes errors.
#[derive(Parser)]
#[command(name = "deferred-list-5")]
struct Options {}

// ANCHOR: demo_error
/// The error d2 fails with: just a message.
#[derive(Debug)]
struct DemoError(&'static str);

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Error for DemoError {}
// ANCHOR_END: demo_error

// ANCHOR: main
fn got_results(results: Vec<Result<&str, Failure>>) -> Result<(), Failure> {
    println!("We got: {results:?}");
    Ok(())
}

fn main() {
    mini_twisted::log::init();
    Options::parse();
    let (d1, t1) = deferred();
    let (d2, t2) = deferred();
    let d = DeferredList::new([d1, d2]).consume_errors().all();
    let _d = d.add_callback(got_results);
    println!("Firing d1.");
    t1.callback("d1 result");
    println!("Firing d2 with errback.");
    t2.errback(DemoError("d2 failure"));
}
// ANCHOR_END: main
