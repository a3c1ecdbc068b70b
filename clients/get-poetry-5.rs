//! Part 10: client 5.0. A transformation step in the chain.
//!
//! Each poem goes through the cummingsifier on its way to being printed.
//! The cummingsifier does one of three things, at random: it lower-cases
//! the poem; it fails with gibberish, and then there is no poem to show;
//! or it fails some other way, and then the original poem is shown. The
//! chain routes each outcome: `try_to_cummingsify` lets the gibberish
//! failure through to the errback and turns any other into the original
//! poem on the callback side.
//!
//! `--seed` makes the random choices the same from run to run.
//!
//! ```text
//! cargo run --bin get-poetry-5 -- 10000 10001 10002
//! ```

use std::cell::{Cell, RefCell};
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use mini_twisted::poetry::cummingsify::{
    Cummingsifier, CummingsifierBroke, GibberishError, Outcome,
};
use mini_twisted::poetry::{exit_status, Servers};
use mini_twisted::reactor::ReactorError;
use mini_twisted::{Failure, Reactor};

// Client 4.0's get_poetry, unchanged: the lesson here is in the chain.
#[path = "get-poetry-4.rs"]
#[allow(dead_code)]
mod client_4;

use client_4::get_poetry;

/// Get Poetry Now! Client 5.0: cummingsifies each poem, when it can.
#[derive(Parser)]
#[command(name = "get-poetry-5")]
struct Options {
    /// Make the cummingsifier's random choices repeatable
    #[arg(long)]
    seed: Option<u64>,

    #[command(flatten)]
    servers: Servers,
}

// ANCHOR: cummingsify
/// Lower-cases the poem, or fails in one of two ways.
fn cummingsify(cummingsifier: &mut Cummingsifier, poem: &str) -> Result<String, Failure> {
    match cummingsifier.next_outcome() {
        Outcome::LowerCase => Ok(poem.to_lowercase()),
        Outcome::Gibberish => Err(GibberishError)?,
        Outcome::Broken => Err(CummingsifierBroke)?,
    }
}

/// Gibberish goes on as a failure; any other failure gives back the poem.
fn try_to_cummingsify(cummingsifier: &mut Cummingsifier, poem: String) -> Result<String, Failure> {
    match cummingsify(cummingsifier, &poem) {
        Ok(transformed) => Ok(transformed),
        Err(failure) if failure.check::<GibberishError>() => Err(failure),
        Err(_) => {
            println!("Cummingsify failed!");
            Ok(poem)
        }
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
            .add_callback(move |poem| try_to_cummingsify(&mut cummingsifier.borrow_mut(), poem))
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
