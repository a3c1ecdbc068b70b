//! Part 7: `add_both` as `finally`: whichever way the chain went, the last
//! stage stops the reactor, so neither the callback nor the errback has to.
//!
//! ```text
//! cargo run --bin defer-9
//! ```

use clap::Parser;
use mini_twisted::reactor::ReactorError;
use mini_twisted::{deferred, Failure, Reactor};

/// Stops the reactor from an add_both stage at the end of the chain.
#[derive(Parser)]
#[command(name = "defer-9")]
struct Options {}

// ANCHOR: main
fn main() -> Result<(), ReactorError> {
    mini_twisted::log::init();
    Options::parse();
    let reactor = Reactor::new()?;
    let stopper = reactor.clone();
    let (d, trigger) = deferred::<&str>();
    let _d = d
        .add_callbacks(
            |poem| {
                println!("{poem}");
                Ok(())
            },
            |_failure: Failure| {
                eprintln!("poem download failed");
                eprintln!("I am terribly sorry");
                eprintln!("try again later?");
                Ok(())
            },
        )
        .add_both(move |_| {
            stopper.stop();
            Ok(())
        });
    reactor.call_when_running(move |_| trigger.callback("Another short poem."));
    reactor.run()
}
// ANCHOR_END: main
