//! Part 8: client 4.0. `get_poetry` returns a Deferred.
//!
//! Client 3.1 took two functions and promised to call one of them. This
//! `get_poetry` takes none: it returns a `Deferred<String>`, and the caller
//! adds whatever callbacks and errbacks it likes. The factory keeps the
//! trigger and takes it out when it fires, so it cannot fire twice even by
//! mistake (the compiler sees to that) and does not keep the chain alive
//! afterwards.
//!
//! The Deferred can be cancelled (Part 19): the download stops, and the
//! Deferred fails with `CancelledError`. `--timeout SECONDS` uses that:
//! a download that takes longer is cancelled and fails with a
//! `TimeoutError` (Part 8's first exercise, solved in Part 19).
//!
//! ```text
//! cargo run --bin get-poetry-4 -- 10000 10001 10002
//! cargo run --bin get-poetry-4 -- --timeout 8 10000 10001 10002
//! ```

use std::cell::{Cell, OnceCell, RefCell};
use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use mini_twisted::defer::CancelledError;
use mini_twisted::poetry::{exit_status, parse_seconds, Checked, Servers};
use mini_twisted::protocol::{ClientFactory, Factory, Protocol};
use mini_twisted::reactor::ReactorError;
use mini_twisted::tcp::{ConnectionDone, Connector};
use mini_twisted::{deferred_with_canceller, Deferred, Failure, Reactor, Trigger};

/// Get Poetry Now! Client 4.0: get_poetry returns a Deferred.
#[derive(Parser)]
#[command(name = "get-poetry-4")]
struct Options {
    /// Give up on a poem that has not come after this many seconds
    /// (connecting included) [default: wait as long as it takes]
    #[arg(long, value_name = "SECONDS", value_parser = Checked(parse_seconds))]
    timeout: Option<Duration>,

    #[command(flatten)]
    servers: Servers,
}

// ANCHOR: get_poetry
/// The trigger of one download's Deferred, until it is used.
type Pending = Rc<RefCell<Option<Trigger<String>>>>;

struct PoetryProtocol {
    poem: Vec<u8>,
    pending: Pending,
}

impl Protocol for PoetryProtocol {
    fn data_received(&mut self, data: &[u8]) {
        self.poem.extend_from_slice(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        // Take the trigger out: whoever fires it is the last to hold it.
        let Some(trigger) = self.pending.borrow_mut().take() else {
            return;
        };
        // A clean close is the end of the poem; a reset cut it short.
        if reason.check::<ConnectionDone>() {
            trigger.callback(String::from_utf8_lossy(&self.poem).into_owned());
        } else {
            trigger.errback(reason);
        }
    }
}

struct PoetryClientFactory {
    pending: Pending,
}

impl Factory for PoetryClientFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(PoetryProtocol {
            poem: Vec::new(),
            pending: Rc::clone(&self.pending),
        })
    }
}

impl ClientFactory for PoetryClientFactory {
    fn client_connection_failed(&self, _connector: &Connector, reason: Failure) {
        if let Some(trigger) = self.pending.borrow_mut().take() {
            trigger.errback(reason);
        }
    }
}

// ANCHOR: cancellable
/// Downloads a poem from `host:port`. The Deferred fires with the poem, or
/// with the failure that prevented it (a refused connection, a reset).
/// Cancelled, it stops the download and fails with `CancelledError`.
pub fn get_poetry(reactor: &Reactor, host: &str, port: u16) -> Deferred<String> {
    let pending: Pending = Rc::default();
    // Known once connect_tcp returns, after the canceller is made.
    let connector: Rc<OnceCell<Connector>> = Rc::default();
    let (d, trigger) = deferred_with_canceller({
        let (pending, connector) = (Rc::clone(&pending), Rc::clone(&connector));
        move |_cancelled: Trigger<String>| {
            // What has arrived is not the poem: nobody may fire with it.
            drop(pending.borrow_mut().take());
            if let Some(connector) = connector.get() {
                connector.disconnect();
            }
        }
    });
    *pending.borrow_mut() = Some(trigger);
    let factory = PoetryClientFactory { pending };
    let _ = connector.set(reactor.connect_tcp(host, port, Rc::new(factory)));
    d
}
// ANCHOR_END: cancellable
// ANCHOR_END: get_poetry

// ANCHOR: timeout
/// A download took longer than the `--timeout` allowed.
#[derive(Debug)]
pub struct TimeoutError(pub Duration);

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out after {:?}", self.0)
    }
}

impl Error for TimeoutError {}

/// `d`, cancelled if it has not fired within `limit`, and then failing
/// with a [`TimeoutError`] rather than a `CancelledError`.
fn with_timeout(reactor: &Reactor, d: Deferred<String>, limit: Duration) -> Deferred<String> {
    let cancel = d.canceller();
    let timer = reactor.call_later(limit, move |_| cancel.cancel());
    d.add_both(move |outcome| {
        timer.cancel(); // does nothing if it was the timer that ended it
        outcome
    })
    .add_errback(
        move |failure: Failure| match failure.check::<CancelledError>() {
            true => Err(TimeoutError(limit).into()),
            false => Err(failure),
        },
    )
}
// ANCHOR_END: timeout

// ANCHOR: main
fn main() -> Result<ExitCode, ReactorError> {
    let options = Options::parse();
    options.servers.require::<Options>();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;

    let addresses = &options.servers.addresses;
    let poems = Rc::new(RefCell::new(Vec::new()));
    let done = Rc::new(Cell::new(0));
    for address in addresses {
        let (poems, done, total) = (Rc::clone(&poems), Rc::clone(&done), addresses.len());
        let stopper = reactor.clone();
        let mut d = get_poetry(&reactor, &address.host, address.port);
        if let Some(limit) = options.timeout {
            d = with_timeout(&reactor, d, limit); // Part 19
        }
        let _d = d
            .add_callbacks(
                move |poem| {
                    poems.borrow_mut().push(poem);
                    Ok(())
                },
                |failure| {
                    eprintln!("Poem failed: {failure}");
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

    for poem in poems.borrow().iter() {
        println!("{poem}");
    }
    let got = poems.borrow().len();
    Ok(exit_status(got == addresses.len()))
}
// ANCHOR_END: main
