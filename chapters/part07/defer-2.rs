//! Part 7: a Deferred fired with a failure runs its errback instead.
//!
//! ```text
//! cargo run --bin defer-2
//! ```

use std::io;

use clap::Parser;
use mini_twisted::{deferred, Failure};

/// Fires a Deferred with a failure: the errback runs.
#[derive(Parser)]
#[command(name = "defer-2")]
struct Options {}

// ANCHOR: main
fn got_poem(poem: &str) -> Result<(), Failure> {
    println!("Your poem is served:");
    println!("{poem}");
    Ok(())
}

fn poem_failed(_failure: Failure) -> Result<(), Failure> {
    println!("No poetry for you.");
    Ok(())
}

fn main() {
    mini_twisted::log::init();
    Options::parse();
    let (d, trigger) = deferred::<&str>();
    let _d = d.add_callbacks(got_poem, poem_failed);
    trigger.errback(Failure::new(io::Error::other("I have failed.")));
    println!("Finished");
}
// ANCHOR_END: main
