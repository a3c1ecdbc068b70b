//! Part 18: a component with an errback of its own.
//!
//! The series fixes deferred-list-6 by adding an errback to d2 *after*
//! the list was made. Here the list owns d2 by then, and that program does
//! not compile (`tests/ui/errback_after_list.rs` keeps the compiler's
//! word for it). What Rust lets you write is the errback first, before the
//! list takes d2. The errback then runs first, too: it handles d2's
//! failure, and the list records what the errback returned, a value, where
//! the series' list records the failure. Either way nothing is left
//! unhandled. (To record the failure *and* handle it, let the list
//! consume errors, as deferred-list-5 does.)
//!
//! ```text
//! cargo run --bin deferred-list-7
//! ```

use std::error::Error;
use std::fmt;

use clap::Parser;
use mini_twisted::{deferred, DeferredList, Failure};

/// Gives d2 an errback, then a list takes d1 and d2; d2 fails.
#[derive(Parser)]
#[command(name = "deferred-list-7")]
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

/// d2's own errback: it handles the failure by putting a value in its place.
fn d2_failed(failure: Failure) -> Result<&'static str, Failure> {
    println!("d2's errback handles: {failure}");
    Ok("d2 recovered")
}

fn main() {
    mini_twisted::log::init();
    Options::parse();
    let (d1, t1) = deferred();
    let (d2, t2) = deferred();
    let d2 = d2.add_errback(d2_failed); // before the list takes d2
    let d = DeferredList::new([d1, d2]).all();
    let _d = d.add_callback(got_results);
    println!("Firing d1.");
    t1.callback("d1 result");
    println!("Firing d2 with errback.");
    t2.errback(DemoError("d2 failure"));
}
// ANCHOR_END: main
