//! Part 19: cancelling an `async` task that is waiting on a Deferred.
//!
//! Two tasks run on the reactor (Part 17's `Reactor::spawn`), each
//! awaiting a poem that a timer sends in five seconds. The first task's
//! Deferred is kept, and cancelled at two seconds: it fails at once, and
//! the task, parked on its `await`, is resumed with the `CancelledError`
//! there (the poem's own canceller stops its timer). The second task's
//! Deferred is dropped at once, and that cancels nothing: the task gets
//! its poem at five seconds.
//!
//! ```text
//! cargo run --bin defer-cancel-await
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

/// Cancels one of two tasks that wait for a poem.
#[derive(Parser)]
#[command(name = "defer-cancel-await")]
struct Options {
    /// Multiply the program's times (the cancel at 2 s, the poems at 5 s,
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

/// A poem, in `delay`; cancelling it cancels the timer too (as in
/// `defer-cancel-11`).
fn get_poem(reactor: &Reactor, delay: Duration) -> Deferred<&'static str> {
    let timer: Rc<OnceCell<DelayedCall>> = Rc::default();
    let (d, trigger) = deferred_with_canceller({
        let timer = Rc::clone(&timer);
        move |_trigger: Trigger<&'static str>| {
            if let Some(call) = timer.get() {
                call.cancel();
            }
        }
    });
    let _ = timer.set(reactor.call_later(delay, move |_| send_poem(trigger)));
    d
}

// ANCHOR: main
/// A task: wait for a poem, and say what the `await` gave.
async fn read_poem(reactor: Reactor, name: &str, delay: Duration) -> Result<(), Failure> {
    println!("{name}: waiting for a poem");
    match get_poem(&reactor, delay).await {
        Ok(poem) => println!("{name}: I got a poem: {poem}"),
        Err(failure) => println!("{name}: the await gave: {failure}"),
    }
    Ok(())
}

fn main() -> Result<(), ReactorError> {
    mini_twisted::log::init();
    let options = Options::parse();
    let seconds = |s: f64| options.scale.mul_f64(s);
    let reactor = Reactor::new()?;

    let task_1 = reactor
        .spawn(read_poem(reactor.clone(), "task 1", seconds(5.0)))
        .add_errback(|failure| {
            println!("task 1's Deferred failed: {failure}");
            Ok(())
        });
    // Nobody wants task 2's result: the task runs on all the same.
    drop(reactor.spawn(read_poem(reactor.clone(), "task 2", seconds(5.0))));

    reactor.call_later(seconds(2.0), move |_| {
        println!("cancelling task 1");
        task_1.cancel();
    });
    reactor.call_later(seconds(10.0), |reactor| reactor.stop());
    reactor.run()
}
// ANCHOR_END: main
