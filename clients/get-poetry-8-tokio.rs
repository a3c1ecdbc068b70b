//! Part 22: client 8.0 written the way a tokio user would write it. The
//! twin of `get-poetry-8`, for reading side by side and for measuring.
//!
//! The same command line, lines and exit status as client 8.0 (and so as
//! client 7.0). Each poem is fetched and transformed by client 7's tokio
//! `async fn`, in a task of its own (`tokio::spawn`, which gives back a
//! `JoinHandle`, the nearest thing tokio has to the Deferred that
//! `reactor.spawn` returns). Where client 8 put the Deferreds in a
//! `DeferredList`, this one awaits `join_all` of the handles: one future
//! that ends when every task has, with their outcomes in argument order.
//! A poem that could not be fetched was reported on stderr already; its
//! outcome in the list only says which.
//!
//! ```text
//! cargo run --bin get-poetry-8-tokio -- 10001 10002 10003
//! ```

use std::io;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser};
use futures_util::future::join_all;
use mini_twisted::poetry::{exit_status, Address, Checked, EXIT_STATUS_HELP};

// ANCHOR: reuse
// Client 7's tokio async function for one poem, unchanged (with its
// TransformProxy): the lesson here is in how the poems are waited for.
#[path = "get-poetry-7-tokio.rs"]
#[allow(dead_code)]
mod client_7;

use client_7::{get_transformed_poem, TransformProxy};
// ANCHOR_END: reuse

/// Get Poetry Now! Client 8.0 on tokio: one join_all for all the poems.
#[derive(Parser)]
#[command(name = "get-poetry-8-tokio", after_help = EXIT_STATUS_HELP)]
struct Options {
    /// The transform server, as [host:]port; the host defaults to 127.0.0.1
    #[arg(value_name = "XFORM-ADDR", value_parser = Checked(str::parse::<Address>))]
    transform: Option<Address>,

    /// The servers to get poetry from, as [host:]port
    #[arg(value_name = "ADDR", value_parser = Checked(str::parse::<Address>))]
    servers: Vec<Address>,
}

// ANCHOR: main
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = Options::parse();
    let (Some(transform), false) = (options.transform, options.servers.is_empty()) else {
        // A transform server and at least one poetry server, or nothing to do.
        let _ = Options::command().print_help();
        return ExitCode::SUCCESS;
    };
    mini_twisted::log::init();
    let proxy = Arc::new(TransformProxy { address: transform });

    // One task per poem; each poem is printed as soon as it is ready.
    let handles: Vec<_> = options
        .servers
        .into_iter()
        .map(|address| {
            let poem = get_transformed_poem(Arc::clone(&proxy), address);
            tokio::spawn(async move {
                let poem = poem.await?;
                println!("{poem}");
                Ok::<(), io::Error>(())
            })
        })
        .collect();

    // When every poem is printed or has failed: note whether all came.
    let results = join_all(handles).await;
    let all_fetched = results.iter().all(|ended| matches!(ended, Ok(Ok(()))));
    exit_status(all_fetched)
}
// ANCHOR_END: main
