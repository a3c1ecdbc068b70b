//! Part 7: an errback always gets a `Failure`, even when the code that
//! fired the Deferred handed over a plain error.
//!
//! `trigger.errback` takes anything that converts into a `Failure`, and
//! every error type does. The errback prints what it was given: its type,
//! then the failure itself.
//!
//! ```text
//! cargo run --bin defer-3
//! ```

use std::io;

use clap::Parser;
use mini_twisted::{deferred, Failure};

/// Fires a Deferred with a plain error: the errback gets a Failure.
#[derive(Parser)]
#[command(name = "defer-3")]
struct Options {}

// ANCHOR: main
fn got_poem(poem: &str) -> Result<(), Failure> {
    println!("Your poem is served:");
    println!("{poem}");
    Ok(())
}

fn poem_failed(failure: Failure) -> Result<(), Failure> {
    println!("{}", std::any::type_name_of_val(&failure));
    println!("{failure:?}");
    println!("No poetry for you.");
    Ok(())
}

fn main() {
    mini_twisted::log::init();
    Options::parse();
    let (d, trigger) = deferred::<&str>();
    let _d = d.add_callbacks(got_poem, poem_failed);
    // A plain io::Error, not a Failure: errback wraps it.
    trigger.errback(io::Error::other("I have failed."));
}
// ANCHOR_END: main
