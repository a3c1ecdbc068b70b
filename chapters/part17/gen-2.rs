//! Part 17: the `for` loop of `gen-1` taken apart.
//!
//! A `for` loop over an iterator is a loop that calls `next` until it gets
//! `None`. This program writes that loop out, with `gen-1`'s generator, so
//! that the consumer's side is in plain sight: it decides when the
//! generator runs, one call at a time. `None` is Rust's form of Python's
//! `StopIteration`, and the same lines come out.
//!
//! ```text
//! cargo run --bin gen-2
//! ```

use clap::Parser;

/// gen-1's generator, driven by explicit calls to next.
#[derive(Parser)]
#[command(name = "gen-2")]
struct Options {}

// gen-1's generator, borrowed from its file rather than copied.
#[path = "gen-1.rs"]
#[allow(dead_code)]
mod gen_1;

use gen_1::MyGenerator;

// ANCHOR: main
// Clippy would fold this loop into a `for`: writing it out is the point.
#[allow(clippy::while_let_loop)]
fn main() {
    mini_twisted::log::init();
    Options::parse();
    let mut generator = MyGenerator::new();
    loop {
        // Each call runs the generator up to its next value, or its end.
        match generator.next() {
            Some(n) => println!("{n}"),
            None => break, // Python's StopIteration
        }
    }
}
// ANCHOR_END: main
