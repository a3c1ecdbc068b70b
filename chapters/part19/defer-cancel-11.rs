//! Part 19: a canceller that stops the work.
//!
//! `defer-cancel-10` again, but `get_poem` now makes its Deferred with a
//! canceller, and the canceller cancels the timer that would send the
//! poem. So a cancel at two seconds stops the work itself: the errback
//! runs, and `Sending poem` never comes.
//!
//! ```text
//! cargo run --bin defer-cancel-11
//! ```
//!
//! `--scale 0.1` runs it ten times faster, with the same order of events.

use std::cell::OnceCell;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use mini_twisted::poetry::{parse_seconds, Checked};
use mini_twisted::reactor::{DelayedCall, ReactorError};
use mini_twisted::{deferred_with_canceller, Deferred, Failure, Reactor, Trigger};

/// Gets a poem from a timer, and cancels it, timer and all, before it comes.
#[derive(Parser)]
#[command(name = "defer-cancel-11")]
struct Options {
    /// Multiply the program's times (the cancel at 2 s, the poem at 5 s,
    /// the stop at 10 s) by this
    /// (at 0, every timer is due at once, and they run in the order they
    /// were set)
    #[arg(long, value_name = "FACTOR", default_value = "1",
          value_parser = Checked(parse_seconds))]
    scale: Duration,
}

const POEM: &str = "A poem takes its time";

fn send_poem(trigger: Trigger<&'static str>) {
    println!("Sending poem");
    trigger.callback(POEM);
}

// ANCHOR: get_poem
/// A poem, in `delay`; cancelling it cancels the timer too.
fn get_poem(reactor: &Reactor, delay: Duration) -> Deferred<&'static str> {
    // The timer is set after the Deferred is made (it needs the trigger),
    // so the canceller finds it here.
    let timer: Rc<OnceCell<DelayedCall>> = Rc::default();
    let (d, trigger) = deferred_with_canceller({
        let timer = Rc::clone(&timer);
        move |_trigger: Trigger<&'static str>| {
            if let Some(call) = timer.get() {
                call.cancel(); // the poem will never be sent
            }
            // `_trigger` goes unfired: the Deferred fails with CancelledError.
        }
    });
    let _ = timer.set(reactor.call_later(delay, move |_| send_poem(trigger)));
    d
}
// ANCHOR_END: get_poem

fn got_poem(poem: &str) -> Result<(), Failure> {
    println!("I got a poem: {poem}");
    Ok(())
}

fn poem_error(failure: Failure) -> Result<(), Failure> {
    println!("get_poem failed: {failure}");
    Ok(())
}

fn main() -> Result<(), ReactorError> {
    mini_twisted::log::init();
    let options = Options::parse();
    let seconds = |s: f64| options.scale.mul_f64(s);
    let reactor = Reactor::new()?;

    let d = get_poem(&reactor, seconds(5.0)).add_callbacks(got_poem, poem_error);
    reactor.call_later(seconds(2.0), move |_| d.cancel());

    reactor.call_later(seconds(10.0), |reactor| reactor.stop());
    reactor.run()
}
