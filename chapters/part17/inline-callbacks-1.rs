//! Part 17: one `async fn` where the series had a chain of callbacks.
//!
//! The series' first `inlineCallbacks` demo, as a task on the reactor.
//! Each `await` stands where a callback of the chain would have begun:
//!
//! - awaiting a Deferred that has already fired (`succeed(1)`) goes on at
//!   once, without a turn of the loop, as yielding a plain value does in
//!   the series;
//! - awaiting one that fires later, from a timer, stops the task there;
//!   the reactor goes on with its loop, and the task goes on from the same
//!   line when the timer has fired the Deferred;
//! - a Deferred that fails comes back as an `Err`, which the task handles
//!   like any other error.
//!
//! The two timers wait five seconds each, as in the series; `--delay`
//! changes that.
//!
//! ```text
//! cargo run --bin inline-callbacks-1
//! cargo run --bin inline-callbacks-1 -- --delay 0.5
//! ```

use std::error::Error;
use std::fmt;
use std::time::Duration;

use clap::Parser;
use mini_twisted::defer::succeed;
use mini_twisted::poetry::{parse_seconds, Checked};
use mini_twisted::reactor::ReactorError;
use mini_twisted::{deferred, Failure, Reactor};

/// An async function on the reactor: a value at once, a value later, a failure later.
#[derive(Parser)]
#[command(name = "inline-callbacks-1")]
struct Options {
    /// Seconds each of the two timers waits
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = Checked(parse_seconds))]
    delay: Duration,
}

/// The error the second timer fails its Deferred with: the series'
/// `Exception(3)`.
#[derive(Debug)]
struct Malfunction(u32);

impl fmt::Display for Malfunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Error for Malfunction {}

// ANCHOR: my_callbacks
/// The series' `my_callbacks`: four "callbacks", one function.
async fn my_callbacks(reactor: Reactor, delay: Duration) -> Result<(), Failure> {
    println!("first callback");
    // A Deferred that has already fired: the task goes on at once.
    let result = succeed(1).await?;

    println!("second callback got {result}");
    let (d, trigger) = deferred();
    reactor.call_later(delay, move |_| trigger.callback(2));
    // This one fires later: the task stops here until it does.
    let result = d.await?;

    println!("third callback got {result}");
    let (d, trigger) = deferred::<u32>();
    reactor.call_later(delay, move |_| trigger.errback(Malfunction(3)));
    // This one fails: the failure comes back as an Err.
    let result = match d.await {
        Ok(value) => value.to_string(),
        Err(failure) => format!("{failure:?}"),
    };

    println!("fourth callback got {result}");
    reactor.stop();
    Ok(())
}
// ANCHOR_END: my_callbacks

// ANCHOR: main
fn main() -> Result<(), ReactorError> {
    let options = Options::parse();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    let delay = options.delay;
    reactor.call_when_running(move |reactor| {
        let _done = reactor.spawn(my_callbacks(reactor.clone(), delay));
    });
    reactor.run()
}
// ANCHOR_END: main
