//! Part 13: a callback that returns a Deferred.
//!
//! First a chain of three callbacks that return values: all three run when
//! it fires. Then the same chain whose second callback returns a Deferred
//! that has not fired: the chain stops there, and carries on, with the
//! inner Deferred's value, only when that one fires.
//!
//! ```text
//! cargo run --bin defer-10
//! ```

use clap::Parser;
use mini_twisted::{deferred, Deferred, Failure};

/// Shows a chain pausing on a Deferred returned by one of its callbacks.
#[derive(Parser)]
#[command(name = "defer-10")]
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
    println!("Each callback returns a value: the chain runs to the end.");
    println!();
    let (d, trigger) = deferred();
    let _d = d
        .add_callback(callback_1)
        .add_callback(callback_2)
        .add_callback(callback_3);
    trigger.callback(0);

    println!();
    println!("The second callback returns a Deferred that has not fired:");
    println!("the chain waits for it.");
    println!();
    let (inner, inner_trigger) = deferred::<u32>();
    let mut inner = Some(inner);
    let callback_2_async = move |n: u32| -> Deferred<u32> {
        println!("callback_2 got {n}");
        inner.take().expect("called once")
    };
    let (d, trigger) = deferred();
    let _d = d
        .add_callback(callback_1)
        .add_callback(callback_2_async)
        .add_callback(callback_3);
    trigger.callback(0);

    println!();
    println!("Firing the inner Deferred with 2; the outer chain goes on:");
    println!();
    inner_trigger.callback(2);
}
// ANCHOR_END: main
