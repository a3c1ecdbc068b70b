//! Part 8: a Deferred does not make anything asynchronous.
//!
//! The middle callback writes a poem with pauses between its lines, and it
//! pauses the way blocking code does: it sleeps. The whole chain runs
//! inside `trigger.callback`, so nothing else (not the reactor, not the
//! code that fired it) moves until the last callback is done.
//! `Firing finished.` comes only after `The end of the callback chain.`
//!
//! ```text
//! cargo run --bin defer-block
//! ```

use std::io::Write;
use std::thread;
use std::time::Duration;

use clap::Parser;
use mini_twisted::poetry::{parse_seconds, Checked};
use mini_twisted::reactor::ReactorError;
use mini_twisted::{deferred, Reactor};

/// Runs a callback chain whose middle callback blocks.
#[derive(Parser)]
#[command(name = "defer-block")]
struct Options {
    /// Multiply every pause by this (0 for no pauses at all)
    #[arg(long, default_value = "1", value_parser = Checked(parse_seconds))]
    pace: Duration,
}

/// The poem, one fragment at a time, each after its pause in seconds.
const POEM: [(f64, &str); 10] = [
    (0.0, "\n"),
    (0.6, "I wait\n"),
    (0.8, "  and the chain\n"),
    (1.0, "    waits with me\n"),
    (1.2, "so does\n"),
    (0.8, "  the loop\n"),
    (1.5, "that runs\n"),
    (0.6, "  the rest\n"),
    (1.0, "remember\n"),
    (2.0, "  the sleep\n\n"),
];

// ANCHOR: main
fn sleepy_poem(pace: f64) {
    for (pause, fragment) in POEM {
        thread::sleep(Duration::from_secs_f64(pause * pace));
        print!("{fragment}");
        let _ = std::io::stdout().flush();
    }
}

fn main() -> Result<(), ReactorError> {
    mini_twisted::log::init();
    let options = Options::parse();
    let pace = options.pace.as_secs_f64();
    let reactor = Reactor::new()?;

    let (d, trigger) = deferred::<()>();
    let stopper = reactor.clone();
    let _d = d
        .add_callback(|()| {
            println!("The start of the callback chain.");
            Ok(())
        })
        .add_callback(move |()| {
            sleepy_poem(pace);
            Ok(())
        })
        .add_callback(move |()| {
            println!("The end of the callback chain.");
            stopper.stop();
            Ok(())
        });

    reactor.call_when_running(move |_| {
        println!("Firing deferred.");
        trigger.callback(());
        println!("Firing finished.");
    });
    println!("Starting reactor.");
    reactor.run()?;
    println!("Done.");
    Ok(())
}
// ANCHOR_END: main
