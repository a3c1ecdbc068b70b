//! Part 19: a poem that arrives later, from a timer. No cancelling yet.
//!
//! `get_poem` returns a Deferred and asks the reactor to fire it in five
//! seconds, as a download would, later. The reactor stops at ten seconds.
//! The next two programs cancel this Deferred at two seconds.
//!
//! ```text
//! cargo run --bin defer-cancel-9
//! ```
//!
//! `--scale 0.1` runs it ten times faster, with the same order of events.

use std::time::Duration;

use clap::Parser;
use mini_twisted::poetry::{parse_seconds, Checked};
use mini_twisted::reactor::ReactorError;
use mini_twisted::{deferred, Deferred, Failure, Reactor, Trigger};

/// Gets a poem from a timer, five seconds later.
#[derive(Parser)]
#[command(name = "defer-cancel-9")]
struct Options {
    /// Multiply the program's times (the poem at 5 s, the stop at 10 s)
    /// by this
    /// (at 0, every timer is due at once, and they run in the order they
    /// were set)
    #[arg(long, value_name = "FACTOR", default_value = "1",
          value_parser = Checked(parse_seconds))]
    scale: Duration,
}

// ANCHOR: main
const POEM: &str = "A poem takes its time";

fn send_poem(trigger: Trigger<&'static str>) {
    println!("Sending poem");
    trigger.callback(POEM);
}

/// A poem, in `delay`: the timer holds the trigger until then.
fn get_poem(reactor: &Reactor, delay: Duration) -> Deferred<&'static str> {
    let (d, trigger) = deferred();
    reactor.call_later(delay, move |_| send_poem(trigger));
    d
}

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

    let _d = get_poem(&reactor, seconds(5.0)).add_callbacks(got_poem, poem_error);

    reactor.call_later(seconds(10.0), |reactor| reactor.stop());
    reactor.run()
}
// ANCHOR_END: main
