//! Part 3: timed callbacks.
//!
//! A countdown from 5, one second a step, built from `call_later`: each step
//! prints its number and schedules the next, and the last one stops the
//! reactor. Then `run` returns and `main` prints `Stop!`.
//!
//! ```text
//! cargo run --bin countdown
//! ```

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use mini_twisted::poetry::{parse_seconds, Checked};
use mini_twisted::reactor::{Reactor, ReactorError};

/// Counts down from 5 with timed callbacks, then stops the reactor.
#[derive(Parser)]
#[command(name = "countdown")]
struct Options {
    /// Seconds between two steps of the countdown
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = Checked(parse_seconds))]
    interval: Duration,
}

// ANCHOR: countdown
/// The state of the countdown, shared between its steps.
struct Countdown {
    counter: Cell<u32>,
    interval: Duration,
}

impl Countdown {
    fn count(self: Rc<Self>, reactor: &Reactor) {
        let counter = self.counter.get();
        if counter == 0 {
            reactor.stop();
            return;
        }
        println!("{counter} ...");
        self.counter.set(counter - 1);
        let interval = self.interval;
        reactor.call_later(interval, move |reactor| self.count(reactor));
    }
}

fn main() -> Result<(), ReactorError> {
    let options = Options::parse();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    let countdown = Rc::new(Countdown {
        counter: Cell::new(5),
        interval: options.interval,
    });
    reactor.call_when_running(move |reactor| countdown.count(reactor));
    println!("Start!");
    reactor.run()?;
    println!("Stop!");
    Ok(())
}
// ANCHOR_END: countdown
