//! Part 10: client 5.1. The failure carries the poem back.
//!
//! Client 5.0 caught the cummingsifier's failures inside the callback that
//! called it. Here the cummingsifier fails with `CannotCummingsify`, which
//! holds the original poem, and an errback in the chain recovers: it takes
//! the poem out of the failure and returns it, which puts the chain back on
//! the callback side. Gibberish it passes on, as before.
//!
//! `--seed` makes the random choices the same from run to run.
//!
//! ```text
//! cargo run --bin get-poetry-5-1 -- 10000 10001 10002
//! ```

use std::cell::{Cell, RefCell};
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use mini_twisted::poetry::cummingsify::{
    CannotCummingsify, Cummingsifier, GibberishError, Outcome,
};
use mini_twisted::poetry::{exit_status, Servers};
use mini_twisted::reactor::ReactorError;
use mini_twisted::{Failure, Reactor};

// Client 4.0's get_poetry, unchanged: the lesson here is in the chain.
#[path = "get-poetry-4.rs"]
#[allow(dead_code)]
mod client_4;

use client_4::get_poetry;

/// Get Poetry Now! Client 5.1: an errback recovers the original poem.
#[derive(Parser)]
#[command(name = "get-poetry-5-1")]
struct Options {
    /// Make the cummingsifier's random choices repeatable
    #[arg(long)]
    seed: Option<u64>,

    #[command(flatten)]
    servers: Servers,
}

// ANCHOR: cummingsify
/// Lower-cases the poem, or fails in one of two ways; the second way keeps
/// the poem.
fn cummingsify(cummingsifier: &mut Cummingsifier, poem: String) -> Result<String, Failure> {
    match cummingsifier.next_outcome() {
        Outcome::LowerCase => Ok(poem.to_lowercase()),
        Outcome::Gibberish => Err(GibberishError)?,
        Outcome::Broken => Err(CannotCummingsify(poem))?,
    }
}

/// Recovers the poem from a `CannotCummingsify`; passes on anything else.
fn cummingsify_failed(failure: Failure) -> Result<String, Failure> {
    match failure.downcast_ref::<CannotCummingsify>() {
        Some(CannotCummingsify(poem)) => {
            println!("Cummingsify failed!");
            Ok(poem.clone())
        }
        None => Err(failure),
    }
}
// ANCHOR_END: cummingsify

// ANCHOR: main
fn main() -> Result<ExitCode, ReactorError> {
    let options = Options::parse();
    options.servers.require::<Options>();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    let cummingsifier = Rc::new(RefCell::new(Cummingsifier::new(options.seed)));

    let addresses = &options.servers.addresses;
    let done = Rc::new(Cell::new(0));
    // Downloads with no poem to show: the server's fault or the gibberish.
    let failed = Rc::new(Cell::new(0));
    for address in addresses {
        let (cummingsifier, failed) = (Rc::clone(&cummingsifier), Rc::clone(&failed));
        let (done, total, stopper) = (Rc::clone(&done), addresses.len(), reactor.clone());
        let _d = get_poetry(&reactor, &address.host, address.port)
            .add_callback(move |poem| cummingsify(&mut cummingsifier.borrow_mut(), poem))
            .add_errback(cummingsify_failed)
            .add_callbacks(
                |poem| {
                    println!("{poem}");
                    Ok(())
                },
                move |_failure| {
                    eprintln!("The poem download failed.");
                    failed.set(failed.get() + 1);
                    Ok(())
                },
            )
            .add_both(move |_| {
                done.set(done.get() + 1);
                if done.get() == total {
                    stopper.stop();
                }
                Ok(())
            });
    }
    reactor.run()?;
    Ok(exit_status(failed.get() == 0))
}
// ANCHOR_END: main
