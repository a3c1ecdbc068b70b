//! Part 17: who runs a task? The stack, seen from inside one.
//!
//! A task prints the call stack twice. The first time is before it has
//! waited for anything: `spawn` polls a new task at once, so the task is
//! running inside `spawn`, inside the code that called it (here a
//! `call_when_running` callback, inside `Reactor::run`). The series' demo
//! prints this one, after a `yield` of a plain value. Then the task
//! awaits a Deferred that a zero-delay timer fires, and prints the stack
//! again: now the reactor's loop is running it, from the step of each turn
//! that polls the tasks that were woken. Neither stack shows the timer
//! that fired the Deferred: it had finished before the task ran.
//!
//! Frames from outside this project are left out unless you pass `--full`.
//!
//! ```text
//! cargo run --bin inline-callbacks-tb
//! ```

use std::backtrace::Backtrace;
use std::time::Duration;

use clap::Parser;
use mini_twisted::defer::succeed;
use mini_twisted::log::describe_stack;
use mini_twisted::reactor::ReactorError;
use mini_twisted::{deferred, Failure, Reactor};

/// Prints the call stack from inside a task on the reactor, before and after it waits.
#[derive(Parser)]
#[command(name = "inline-callbacks-tb")]
struct Options {
    /// Print every frame, those from outside the project included
    #[arg(long)]
    full: bool,
}

// ANCHOR: my_callbacks
async fn my_callbacks(reactor: Reactor, full: bool) -> Result<(), Failure> {
    succeed(1).await?;
    println!("The Rust stack, before the task has waited:");
    print!("{}", describe_stack(&Backtrace::force_capture(), full));

    let (d, trigger) = deferred();
    reactor.call_later(Duration::ZERO, move |_| trigger.callback(()));
    d.await?;
    println!();
    println!("The Rust stack, after a wait:");
    print!("{}", describe_stack(&Backtrace::force_capture(), full));
    reactor.stop();
    Ok(())
}

fn main() -> Result<(), ReactorError> {
    let options = Options::parse();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    reactor.call_when_running(move |reactor| {
        let _done = reactor.spawn(my_callbacks(reactor.clone(), options.full));
    });
    reactor.run()
}
// ANCHOR_END: my_callbacks
