//! Part 9: a failure that nobody handles.
//!
//! The callback fails and there is no errback after it. While the chain
//! exists someone could still add one, so nothing is said; `Finished` is
//! printed. Only when the chain is dropped, and nobody can handle the
//! failure any more, is it reported on stderr. The program still exits 0:
//! an unhandled failure is a report, not a crash.
//!
//! ```text
//! cargo run --bin defer-unhandled
//! ```

use std::io;

use clap::Parser;
use mini_twisted::{deferred, Failure};

/// Leaves a failure at the end of a chain, then drops the chain.
#[derive(Parser)]
#[command(name = "defer-unhandled")]
struct Options {}

// ANCHOR: main
fn callback(_result: &str) -> Result<(), Failure> {
    Err(io::Error::other("oops"))?
}

fn main() {
    mini_twisted::log::init();
    Options::parse();
    let (d, trigger) = deferred();
    let d = d.add_callback(callback);
    trigger.callback("hello");
    println!("Finished");
    drop(d); // the last handle: the failure is reported now
}
// ANCHOR_END: main
