//! Part 7: a Deferred fired with a poem runs its callback at once.
//!
//! No reactor, no network: making the Deferred, adding a callback and an
//! errback, and firing it all happen on this thread, one after the other.
//! The callback runs *inside* `trigger.callback`, before `Finished`.
//!
//! ```text
//! cargo run --bin defer-1
//! ```

use clap::Parser;
use mini_twisted::{deferred, Failure};

/// Fires a Deferred with a poem: the callback runs.
#[derive(Parser)]
#[command(name = "defer-1")]
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
    let (d, trigger) = deferred();
    let _d = d.add_callbacks(got_poem, poem_failed);
    trigger.callback("This poem is short.");
    println!("Finished");
}
// ANCHOR_END: main
