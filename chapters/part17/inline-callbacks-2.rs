//! Part 17: two tasks at once, and the Deferreds they give back.
//!
//! Two `async fn`s run on the reactor side by side, each waiting on its
//! own timers: two and two seconds for the first, three and three for the
//! second, as in the series. Their lines interleave by time, though
//! neither knows about the other: while one waits, the loop runs the
//! other. `spawn` gives back a Deferred for each task's outcome. The first
//! returns `Ok(1)`, and its Deferred fires with 1; the second returns an
//! error, and its Deferred fails with it, as an exception raised in an
//! `inlineCallbacks` generator fails the generator's Deferred. An
//! `add_both` on each counts them and stops the reactor after both.
//!
//! `--scale` multiplies every delay (0.1 runs it ten times faster).
//!
//! ```text
//! cargo run --bin inline-callbacks-2
//! cargo run --bin inline-callbacks-2 -- --scale 0.1
//! ```

use std::cell::Cell;
use std::error::Error;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use mini_twisted::poetry::{parse_seconds, Checked};
use mini_twisted::reactor::ReactorError;
use mini_twisted::{deferred, Deferred, Failure, Reactor};

/// Two async functions on the reactor at once: one returns a value, one fails.
#[derive(Parser)]
#[command(name = "inline-callbacks-2")]
struct Options {
    /// Multiplies every delay (the series' 2 and 3 seconds) by this
    #[arg(long, value_name = "FACTOR", default_value = "1", value_parser = Checked(parse_seconds))]
    scale: Duration,
}

/// The error the second task ends with: the series' `Exception('uh oh')`.
#[derive(Debug)]
struct UhOh;

impl fmt::Display for UhOh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uh oh")
    }
}

impl Error for UhOh {}

// ANCHOR: tasks
/// A Deferred that fires (with nothing) once `delay` has passed.
fn sleep(reactor: &Reactor, delay: Duration) -> Deferred<()> {
    let (d, trigger) = deferred();
    reactor.call_later(delay, move |_| trigger.callback(()));
    d
}

async fn my_callbacks_1(reactor: Reactor, scale: f64) -> Result<u32, Failure> {
    println!("my_callbacks_1 first callback");
    sleep(&reactor, seconds(2.0, scale)).await?;

    println!("my_callbacks_1 second callback");
    sleep(&reactor, seconds(2.0, scale)).await?;

    println!("my_callbacks_1 third callback");
    Ok(1)
}

async fn my_callbacks_err(reactor: Reactor, scale: f64) -> Result<u32, Failure> {
    println!("my_callbacks_err first callback");
    sleep(&reactor, seconds(3.0, scale)).await?;

    println!("my_callbacks_err second callback");
    sleep(&reactor, seconds(3.0, scale)).await?;

    println!("my_callbacks_err third callback");
    Err(Failure::new(UhOh))
}
// ANCHOR_END: tasks

/// The series' delay of `series` seconds, scaled.
fn seconds(series: f64, scale: f64) -> Duration {
    Duration::from_secs_f64(series * scale)
}

// ANCHOR: main
fn got_result(result: u32) -> Result<(), Failure> {
    println!("got result: {result}");
    Ok(())
}

fn got_error(failure: Failure) -> Result<(), Failure> {
    println!("got error: {failure:?}");
    Ok(())
}

fn run_callbacks(reactor: &Reactor, scale: f64) {
    let d1 = reactor.spawn(my_callbacks_1(reactor.clone(), scale));
    let d1 = d1.add_callbacks(got_result, got_error);

    let d2 = reactor.spawn(my_callbacks_err(reactor.clone(), scale));
    let d2 = d2.add_callbacks(got_result, got_error);

    // Counts the two tasks as they end, whichever way; stops after both.
    let finished = Rc::new(Cell::new(0));
    for d in [d1, d2] {
        let (finished, stopper) = (Rc::clone(&finished), reactor.clone());
        let _d = d.add_both(move |_| {
            finished.set(finished.get() + 1);
            if finished.get() == 2 {
                println!("all done");
                stopper.stop();
            }
            Ok(())
        });
    }
}

fn main() -> Result<(), ReactorError> {
    let options = Options::parse();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    let scale = options.scale.as_secs_f64();
    reactor.call_when_running(move |reactor| run_callbacks(reactor, scale));
    reactor.run()
}
// ANCHOR_END: main
