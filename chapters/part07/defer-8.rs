//! Part 7: a Deferred fired by the reactor, as a real download would be.
//!
//! The reactor calls `trigger.callback` once it is running, with the poem
//! as the argument. Whichever of the callback and the errback runs stops
//! the reactor.
//!
//! ```text
//! cargo run --bin defer-8
//! ```

use clap::Parser;
use mini_twisted::reactor::ReactorError;
use mini_twisted::{deferred, Failure, Reactor};

/// Lets the reactor fire a Deferred; the callback stops the reactor.
#[derive(Parser)]
#[command(name = "defer-8")]
struct Options {}

// ANCHOR: main
fn main() -> Result<(), ReactorError> {
    mini_twisted::log::init();
    Options::parse();
    let reactor = Reactor::new()?;
    let (on_poem, on_failure) = (reactor.clone(), reactor.clone());
    let (d, trigger) = deferred::<&str>();
    let _d = d.add_callbacks(
        move |poem| {
            println!("{poem}");
            on_poem.stop();
            Ok(())
        },
        move |_failure: Failure| {
            eprintln!("poem download failed");
            eprintln!("I am terribly sorry");
            eprintln!("try again later?");
            on_failure.stop();
            Ok(())
        },
    );
    reactor.call_when_running(move |_| trigger.callback("Another short poem."));
    reactor.run()
}
// ANCHOR_END: main
