//! Part 17: two generators, one loop, taking turns.
//!
//! The loop holds a list of generators and gives each one a turn in
//! order: one call to `next`, one value printed. A generator that has
//! nothing more leaves the list; the loop ends when the list is empty. The
//! two never run at the same time, yet their values interleave, because
//! each stops after every value and waits for its next turn. That loop is
//! a reactor in miniature, and each generator one of its tasks.
//!
//! ```text
//! cargo run --bin gen-3
//! ```

use clap::Parser;

/// Two generators driven in turn by one loop.
#[derive(Parser)]
#[command(name = "gen-3")]
struct Options {}

// ANCHOR: steps
/// Counts up by `step`, from `step` to `last`: the numbers a generator
/// would yield in a `for` loop of its own.
struct Steps {
    next: u32,
    step: u32,
    last: u32,
}

impl Steps {
    fn by(step: u32, last: u32) -> Steps {
        Steps {
            next: step,
            step,
            last,
        }
    }
}

impl Iterator for Steps {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.next > self.last {
            return None;
        }
        let n = self.next;
        self.next += self.step;
        Some(n)
    }
}
// ANCHOR_END: steps

// ANCHOR: main
fn main() {
    mini_twisted::log::init();
    Options::parse();
    // 1, 2, 3 and 10, 20, 30, 40.
    let mut generators = vec![Steps::by(1, 3), Steps::by(10, 40)];
    while !generators.is_empty() {
        // One round: every generator runs to its next value, in turn; one
        // that has finished is taken off the list.
        generators.retain_mut(|generator| match generator.next() {
            Some(n) => {
                println!("{n}");
                true
            }
            None => false,
        });
    }
}
// ANCHOR_END: main
