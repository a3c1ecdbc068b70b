//! Part 17: a generator resumed with a value or an error, written as the
//! state machine the compiler would make of it.
//!
//! Python's `send(value)` resumes a paused generator and makes the paused
//! `yield` give `value`; `throw(error)` resumes it and makes that `yield`
//! raise `error` instead, where a `try` around it may catch it. The series'
//! generator:
//!
//! ```text
//! print starting up;  val = yield 1;  print got: val
//!                     val = yield 2;  print got: val
//! try { yield 3 } catch Malfunction { print malfunction! }
//! yield 4;  print done
//! ```
//!
//! Here it is by hand: an enum with one variant per place where the
//! generator can be paused, and a `resume` that runs from that place to
//! the next one. That is what the Rust compiler makes of an `async fn`:
//! one state per `await`, and the `Poll` of each step in place of the
//! yielded value. A local that had to live across a `yield` would be a
//! field of the variants after it; this generator has none, so its
//! states are only places.
//!
//! ```text
//! cargo run --bin gen-4
//! ```

use std::error::Error;
use std::fmt;
use std::process::ExitCode;

use clap::Parser;

/// A generator resumed with values and an error, as a state machine.
#[derive(Parser)]
#[command(name = "gen-4")]
struct Options {}

// ANCHOR: machine
/// The error the driver raises inside the generator.
#[derive(Debug)]
struct Malfunction;

impl fmt::Display for Malfunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malfunction")
    }
}

impl Error for Malfunction {}

/// What the driver resumes the generator with.
enum Input {
    /// Python's `next(gen)`: go on; the paused `yield` gives nothing.
    Next,
    /// `gen.send(value)`: the paused `yield` gives `value`.
    Send(u32),
    /// `gen.throw(error)`: the paused `yield` raises `error`.
    Throw(Malfunction),
}

/// Where the generator is paused. Each variant is a place in its code;
/// nothing else has to be kept between two runs.
enum State {
    /// Made, not run yet: before its first line.
    Start,
    /// At `yield 1`.
    AtYield1,
    /// At `yield 2`.
    AtYield2,
    /// At `yield 3`, inside the `try`: an error raised here is caught.
    AtYield3,
    /// At `yield 4`.
    AtYield4,
    /// Returned, or ended by an error it did not catch.
    Finished,
}

struct MyGenerator {
    state: State,
}

impl MyGenerator {
    fn new() -> MyGenerator {
        MyGenerator {
            state: State::Start,
        }
    }

    /// Runs the generator from where it is paused to its next `yield`
    /// (`Ok(Some(value))`) or to its end (`Ok(None)`, Python's
    /// `StopIteration`). An error given as input is raised where the
    /// generator is paused: if a `try` there catches it, the generator
    /// goes on; if not, the generator ends and the error comes back out.
    fn resume(&mut self, input: Input) -> Result<Option<u32>, Malfunction> {
        // What the paused `yield` gives: a value (or nothing), or an error.
        let given = match input {
            Input::Next => Ok(None),
            Input::Send(value) => Ok(Some(value)),
            Input::Throw(error) => Err(error),
        };
        // The old state is over whatever happens: a return below leaves
        // the generator finished.
        let state = std::mem::replace(&mut self.state, State::Finished);
        let (next, value) = match (state, given) {
            (State::Finished, _) => return Ok(None),
            // Nothing is paused yet, so nothing can catch it.
            (State::Start, Err(error)) => return Err(error),
            (State::Start, Ok(_)) => {
                println!("starting up");
                (State::AtYield1, 1)
            }
            (State::AtYield1, Ok(val)) => {
                got(val);
                (State::AtYield2, 2)
            }
            (State::AtYield2, Ok(val)) => {
                got(val);
                (State::AtYield3, 3)
            }
            // The `try` around `yield 3` catches the error, and the
            // generator goes on after it.
            (State::AtYield3, Err(Malfunction)) => {
                println!("malfunction!");
                (State::AtYield4, 4)
            }
            (State::AtYield3, Ok(_)) => (State::AtYield4, 4),
            (State::AtYield4, Ok(_)) => {
                println!("done");
                return Ok(None);
            }
            // No `try` around these: the error ends the generator.
            (State::AtYield1 | State::AtYield2 | State::AtYield4, Err(error)) => {
                return Err(error);
            }
        };
        self.state = next;
        Ok(Some(value))
    }
}

/// The line after `val = yield N`: Python would print `None` for a plain
/// `next`.
fn got(val: Option<u32>) {
    match val {
        Some(val) => println!("got: {val}"),
        None => println!("got: nothing"),
    }
}
// ANCHOR_END: machine

// ANCHOR: main
fn main() -> ExitCode {
    mini_twisted::log::init();
    Options::parse();
    let mut generator = MyGenerator::new();
    let inputs = [
        Input::Next, // start it
        Input::Send(10),
        Input::Send(20),
        Input::Throw(Malfunction),
        Input::Next, // run it to its end
    ];
    for input in inputs {
        match generator.resume(input) {
            Ok(Some(value)) => println!("{value}"),
            // The end: where Python raises StopIteration.
            Ok(None) => return ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("the generator did not catch: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
// ANCHOR_END: main
