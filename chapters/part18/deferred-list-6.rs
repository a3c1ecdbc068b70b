//! Part 18: a component that fails, with errors not consumed.
//!
//! The same run as deferred-list-5 without `consume_errors`. The list
//! records d2's failure and prints the same line, but it also leaves the
//! failure at the end of d2's own chain, where nobody can handle it any
//! more: the list took d2's chain and let it go. When d2's trigger has
//! fired, nothing holds that chain, and the failure is reported on stderr
//! as unhandled. The program still exits 0: a report, not a crash.
//!
//! ```text
//! cargo run --bin deferred-list-6
//! ```

use std::error::Error;
use std::fmt;

use clap::Parser;
use mini_twisted::{deferred, DeferredList, Failure};

/// Fires d1 with a value and d2 with a failure; errors are not consumed.
#[derive(Parser)]
#[command(name = "deferred-list-6")]
struct Options {}

/// The error d2 fails with: just a message.
#[derive(Debug)]
struct DemoError(&'static str);

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Error for DemoError {}

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
    let d = DeferredList::new([d1, d2]).all();
    let _d = d.add_callback(got_results);
    println!("Firing d1.");
    t1.callback("d1 result");
    println!("Firing d2 with errback.");
    t2.errback(DemoError("d2 failure"));
}
// ANCHOR_END: main
