//! Part 18: client 8.0. The poems' Deferreds, waited for as one.
//!
//! Each poem is fetched and transformed by an `async` function, as in
//! client 7.0, run on the reactor with `reactor.spawn`, which gives back a
//! Deferred for its outcome. Client 7 counts the Deferreds that have fired
//! and stops the reactor at the last; client 8 puts them all in a
//! `DeferredList` and stops the reactor when the list fires. The list
//! consumes the failures of the poems that could not be fetched: each was
//! reported on stderr already, and the list's results say which.
//!
//! ```text
//! cargo run --bin get-poetry-8 -- 10001 10002 10003
//! ```

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;

use clap::{CommandFactory, Parser};
use mini_twisted::poetry::{exit_status, Address, Checked, EXIT_STATUS_HELP};
use mini_twisted::reactor::ReactorError;
use mini_twisted::{DeferredList, Reactor};

// ANCHOR: reuse
// Client 7.0's async function for one poem, unchanged (with client 6.0's
// TransformProxy, which client 7 passes on): the lesson here is in how
// the poems are waited for.
#[path = "get-poetry-7.rs"]
#[allow(dead_code)]
mod client_7;

use client_7::{get_transformed_poem, TransformProxy};
// ANCHOR_END: reuse

/// Get Poetry Now! Client 8.0: one DeferredList for all the poems.
#[derive(Parser)]
#[command(name = "get-poetry-8", after_help = EXIT_STATUS_HELP)]
struct Options {
    /// The transform server, as [host:]port; the host defaults to 127.0.0.1
    #[arg(value_name = "XFORM-ADDR", value_parser = Checked(str::parse::<Address>))]
    transform: Option<Address>,

    /// The servers to get poetry from, as [host:]port
    #[arg(value_name = "ADDR", value_parser = Checked(str::parse::<Address>))]
    servers: Vec<Address>,
}

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

    // One task per poem; each poem is printed as soon as it is ready.
    let ds: Vec<_> = options
        .servers
        .into_iter()
        .map(|address| {
            let poem = get_transformed_poem(reactor.clone(), Rc::clone(&proxy), address);
            reactor.spawn(poem).add_callback(|poem| {
                println!("{poem}");
                Ok(())
            })
        })
        .collect();

    // When every poem is printed or has failed: note whether all came, and stop.
    let all_fetched = Rc::new(Cell::new(false));
    let (fetched, stopper) = (Rc::clone(&all_fetched), reactor.clone());
    let _d = DeferredList::new(ds)
        .consume_errors()
        .all()
        .add_callback(move |results| {
            fetched.set(results.iter().all(Result::is_ok));
            stopper.stop();
            Ok(())
        });
    reactor.run()?;
    Ok(exit_status(all_fetched.get()))
}
// ANCHOR_END: main
