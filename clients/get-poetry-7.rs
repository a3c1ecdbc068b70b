//! Part 17: client 7.0. Client 6.0 again, written as one `async fn`.
//!
//! Client 6 built each poem's work as a chain: a callback that asks the
//! transform server and returns the Deferred of its answer, an errback
//! that falls back to the original poem. Client 7 does the same work, in
//! the same order, with the same Deferreds underneath, but writes it as
//! one function from top to bottom: `get_transformed_poem` awaits the
//! download, then awaits the transform, and handles each failure with a
//! `match` where it happens. The reactor runs one such task per poem, all
//! at once.
//!
//! Each poem is printed as soon as it is ready. A download that fails is
//! reported on stderr and ends that poem's task with the failure; a
//! transform that fails is reported, and the original poem is printed
//! instead. The first address is the transform server, the others poetry
//! servers, as for client 6.
//!
//! ```text
//! cargo run --bin get-poetry-7 -- 10001 10002 10003
//! ```

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;

use clap::{CommandFactory, Parser};
use mini_twisted::poetry::{exit_status, Address, Checked, EXIT_STATUS_HELP};
use mini_twisted::reactor::ReactorError;
use mini_twisted::{Failure, Reactor};

// ANCHOR: reuse
// Client 6.0's TransformProxy, and client 4.0's get_poetry, which client 6
// compiles in and passes on: the Deferreds are the same, only the code
// that waits for them is new.
#[path = "get-poetry-6.rs"]
#[allow(dead_code)]
mod client_6;

pub use client_6::{get_poetry, TransformProxy};
// ANCHOR_END: reuse

/// Get Poetry Now! Client 7.0: client 6.0 as an async function per poem.
#[derive(Parser)]
#[command(name = "get-poetry-7", after_help = EXIT_STATUS_HELP)]
struct Options {
    /// The transform server, as [host:]port; the host defaults to 127.0.0.1
    #[arg(value_name = "XFORM-ADDR", value_parser = Checked(str::parse::<Address>))]
    transform: Option<Address>,

    /// The servers to get poetry from, as [host:]port
    #[arg(value_name = "ADDR", value_parser = Checked(str::parse::<Address>))]
    servers: Vec<Address>,
}

// ANCHOR: get_transformed_poem
/// Downloads the poem at `address` and has the transform server
/// cummingsify it. Ends with the poem (the original, if the transform
/// failed), or with the failure of the download.
pub async fn get_transformed_poem(
    reactor: Reactor,
    proxy: Rc<TransformProxy>,
    address: Address,
) -> Result<String, Failure> {
    let poem = match get_poetry(&reactor, &address.host, address.port).await {
        Ok(poem) => poem,
        Err(failure) => {
            eprintln!("The poem download failed: {failure}");
            return Err(failure);
        }
    };
    let poem = match proxy.xform(&reactor, "cummingsify", &poem).await {
        Ok(lowered) => lowered,
        Err(failure) => {
            eprintln!("Cummingsify failed! {failure}");
            poem
        }
    };
    Ok(poem)
}
// ANCHOR_END: get_transformed_poem

// ANCHOR: main
fn main() -> Result<ExitCode, ReactorError> {
    let options = Options::parse();
    let (Some(transform), false) = (options.transform, options.servers.is_empty()) else {
        // A transform server and at least one poetry server, or nothing to do.
        let _ = Options::command().print_help();
        return Ok(ExitCode::SUCCESS);
    };
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    let proxy = Rc::new(TransformProxy {
        host: transform.host,
        port: transform.port,
    });

    let total = options.servers.len();
    let done = Rc::new(Cell::new(0));
    let failed = Rc::new(Cell::new(false));
    for address in options.servers {
        let task = get_transformed_poem(reactor.clone(), Rc::clone(&proxy), address);
        let (done, failed, stopper) = (Rc::clone(&done), Rc::clone(&failed), reactor.clone());
        let got_poem = |poem: String| -> Result<(), Failure> {
            println!("{poem}");
            Ok(())
        };
        // Counts every poem, whichever way it ended; a failed one has been
        // reported already, and is handled here.
        let poem_done = move |outcome: Result<(), Failure>| -> Result<(), Failure> {
            failed.set(failed.get() || outcome.is_err());
            done.set(done.get() + 1);
            if done.get() == total {
                stopper.stop();
            }
            Ok(())
        };
        let _d = reactor
            .spawn(task)
            .add_callback(got_poem)
            .add_both(poem_done);
    }
    reactor.run()?;
    Ok(exit_status(!failed.get()))
}
// ANCHOR_END: main
