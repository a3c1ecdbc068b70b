//! Part 6: what a `Failure` holds.
//!
//! Two failures of the same error. The first is made from the error alone:
//! no backtrace (unless `RUST_BACKTRACE` is set, which asks for one every
//! time). The second is made where the error happens, with
//! `Failure::with_backtrace`, so it remembers the calls that led there,
//! even after it has travelled far from them.
//!
//! ```text
//! cargo run --bin failure-examples
//! ```

use std::error::Error;
use std::fmt;

use clap::Parser;
use mini_twisted::Failure;

/// Prints two failures: one without a backtrace, one with.
#[derive(Parser)]
#[command(name = "failure-examples")]
struct Options {}

// ANCHOR: error
/// Our own error type: a poem that breaks its rhyme scheme.
#[derive(Debug)]
struct RhymeSchemeViolation;

impl fmt::Display for RhymeSchemeViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the rhyme scheme is broken")
    }
}

impl Error for RhymeSchemeViolation {}
// ANCHOR_END: error

// ANCHOR: main
fn analyze_poem(poem: &str) -> Result<(), Failure> {
    if !poem.ends_with("orange") {
        return Ok(());
    }
    // Nothing rhymes with orange.
    Err(Failure::with_backtrace(RhymeSchemeViolation))
}

fn main() {
    mini_twisted::log::init();
    Options::parse();

    println!("Just making a failure:");
    println!();
    print!("{}", Failure::new(RhymeSchemeViolation).report());
    println!();
    println!();

    println!("Catching a failure:");
    println!();
    if let Err(failure) = analyze_poem("Roses are red, violets are orange") {
        print!("{}", failure.report());
    }
}
// ANCHOR_END: main
