//! Part 14: a Deferred that has already fired, and one that is paused.
//!
//! Callbacks added to a fired Deferred run the moment they are added. And a
//! paused Deferred holds its callbacks, even once fired, until it is
//! unpaused: the same mechanism that holds a chain waiting on an inner
//! Deferred (Part 13).
//!
//! ```text
//! cargo run --bin defer-11
//! ```

use clap::Parser;
use mini_twisted::{deferred, Failure};

/// Adds callbacks to a fired Deferred, then to a paused one.
#[derive(Parser)]
#[command(name = "defer-11")]
struct Options {}

// ANCHOR: main
fn callback_1(n: u32) -> Result<u32, Failure> {
    println!("callback_1 got {n}");
    Ok(n + 1)
}

fn callback_2(n: u32) -> Result<u32, Failure> {
    println!("callback_2 got {n}");
    Ok(n + 1)
}

fn callback_3(n: u32) -> Result<u32, Failure> {
    println!("callback_3 got {n}");
    Ok(n + 1)
}

fn main() {
    mini_twisted::log::init();
    Options::parse();
    println!("A Deferred fired before any callback is added:");
    println!("each callback runs as soon as it is added.");
    println!();
    let (d, trigger) = deferred();
    println!("Firing empty deferred.");
    trigger.callback(0);
    println!("Adding first callback.");
    let d = d.add_callback(callback_1);
    println!("Adding second callback.");
    let d = d.add_callback(callback_2);
    println!("Adding third callback.");
    let _d = d.add_callback(callback_3);

    println!();
    println!("A paused Deferred holds its callbacks, fired or not,");
    println!("until it is unpaused.");
    println!();
    let (d, trigger) = deferred();
    println!("Pausing, then firing deferred.");
    d.pause();
    trigger.callback(0);
    println!("Adding callbacks.");
    let d = d
        .add_callback(callback_1)
        .add_callback(callback_2)
        .add_callback(callback_3);
    println!("Unpausing the deferred.");
    d.unpause();
}
// ANCHOR_END: main
