//! Part 17: a generator is a function that can stop and go on later.
//!
//! Python's generators run their body a piece at a time: each `next` runs
//! it up to the following `yield`, hands over the value, and leaves the
//! function paused there, locals and all. A Rust `Iterator` written by
//! hand is the same bargain with the pausing done by us: the iterator
//! remembers where it stopped, and each call to `next` runs the piece of
//! work that comes after that place.
//!
//! This one prints as it works, so the output shows its lines and those of
//! the `for` loop that consumes it taking turns. They never run at the
//! same time: while the generator works, the loop waits, and while the
//! loop prints, the generator stays where it stopped.
//!
//! ```text
//! cargo run --bin gen-1
//! ```

use clap::Parser;

/// A generator that talks while it works: a for loop over it.
#[derive(Parser)]
#[command(name = "gen-1")]
struct Options {}

// ANCHOR: generator
/// The series' generator: three values, and something to say before each
/// of them and after the last.
pub(crate) struct MyGenerator {
    place: Place,
}

/// Where the generator stopped: before its first line, or just after it
/// gave one of its values.
enum Place {
    NotStarted,
    Gave1,
    Gave2,
    Gave3,
    Finished,
}

impl MyGenerator {
    pub(crate) fn new() -> MyGenerator {
        MyGenerator {
            place: Place::NotStarted,
        }
    }
}

impl Iterator for MyGenerator {
    type Item = u32;

    /// Runs the next piece of the generator: from where it stopped to the
    /// next value, or to its end.
    fn next(&mut self) -> Option<u32> {
        match self.place {
            Place::NotStarted => {
                println!("starting up");
                self.place = Place::Gave1;
                Some(1)
            }
            Place::Gave1 => {
                println!("workin'");
                self.place = Place::Gave2;
                Some(2)
            }
            Place::Gave2 => {
                println!("still workin'");
                self.place = Place::Gave3;
                Some(3)
            }
            Place::Gave3 => {
                println!("done");
                self.place = Place::Finished;
                None
            }
            Place::Finished => None,
        }
    }
}
// ANCHOR_END: generator

// ANCHOR: main
fn main() {
    mini_twisted::log::init();
    Options::parse();
    for n in MyGenerator::new() {
        println!("{n}");
    }
}
// ANCHOR_END: main
