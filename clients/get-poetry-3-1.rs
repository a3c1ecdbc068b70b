//! Part 6: client 3.1. Two callbacks: one for the poem, one for the failure.
//!
//! Client 3.0 waited forever for a poem from a server that was down. Here
//! `get_poetry` takes a second function, the errback, and the factory
//! calls it with a `Failure` when the connection cannot be made, or breaks
//! before the end of the poem. Every download now ends one way or the
//! other, so the program always ends.
//!
//! Try it with no server on port 10004:
//!
//! ```text
//! cargo run --bin get-poetry-3-1 -- 10004
//! ```

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use mini_twisted::poetry::{exit_status, Servers};
use mini_twisted::protocol::{ClientFactory, Factory, Protocol};
use mini_twisted::reactor::ReactorError;
use mini_twisted::tcp::{ConnectionDone, Connector};
use mini_twisted::{Failure, Reactor};

/// Get Poetry Now! Client 3.1: get_poetry with a callback and an errback.
#[derive(Parser)]
#[command(name = "get-poetry-3-1")]
struct Options {
    #[command(flatten)]
    servers: Servers,
}

type Callback = Box<dyn FnOnce(String)>;
type Errback = Box<dyn FnOnce(Failure)>;

struct PoetryProtocol {
    poem: Vec<u8>,
    callback: Option<Callback>,
}

impl Protocol for PoetryProtocol {
    fn data_received(&mut self, data: &[u8]) {
        self.poem.extend_from_slice(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        // Only a clean close ends a poem; the factory hears any other end.
        if !reason.check::<ConnectionDone>() {
            return;
        }
        if let Some(callback) = self.callback.take() {
            callback(String::from_utf8_lossy(&self.poem).into_owned());
        }
    }
}

// ANCHOR: factory
/// One download's factory: the callback goes to the protocol, the errback
/// stays here, for a connection that cannot be made or that breaks.
struct PoetryClientFactory {
    callback: RefCell<Option<Callback>>,
    errback: RefCell<Option<Errback>>,
}

impl Factory for PoetryClientFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(PoetryProtocol {
            poem: Vec::new(),
            callback: self.callback.take(),
        })
    }
}

impl ClientFactory for PoetryClientFactory {
    fn client_connection_failed(&self, _connector: &Connector, reason: Failure) {
        if let Some(errback) = self.errback.take() {
            errback(reason);
        }
    }

    /// A reset in mid-poem: what arrived is not the poem, so it fails too.
    fn client_connection_lost(&self, _connector: &Connector, reason: Failure) {
        if reason.check::<ConnectionDone>() {
            return;
        }
        if let Some(errback) = self.errback.take() {
            errback(reason);
        }
    }
}

/// Downloads a poem from `host:port`: `callback` gets the poem, or
/// `errback` gets the reason there is none.
fn get_poetry(
    reactor: &Reactor,
    host: &str,
    port: u16,
    callback: impl FnOnce(String) + 'static,
    errback: impl FnOnce(Failure) + 'static,
) {
    let factory = PoetryClientFactory {
        callback: RefCell::new(Some(Box::new(callback))),
        errback: RefCell::new(Some(Box::new(errback))),
    };
    reactor.connect_tcp(host, port, Rc::new(factory));
}
// ANCHOR_END: factory

// ANCHOR: main
/// What `main` keeps track of: the poems, and how many downloads failed.
struct Results {
    poems: RefCell<Vec<String>>,
    errors: Cell<usize>,
    total: usize,
    reactor: Reactor,
}

impl Results {
    fn got_poem(&self, poem: String) {
        self.poems.borrow_mut().push(poem);
        self.maybe_done();
    }

    fn poem_failed(&self, failure: Failure) {
        eprintln!("Poem failed: {failure}");
        self.errors.set(self.errors.get() + 1);
        self.maybe_done();
    }

    fn maybe_done(&self) {
        if self.poems.borrow().len() + self.errors.get() == self.total {
            self.reactor.stop();
        }
    }
}

fn main() -> Result<ExitCode, ReactorError> {
    let options = Options::parse();
    options.servers.require::<Options>();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;

    let addresses = &options.servers.addresses;
    let results = Rc::new(Results {
        poems: RefCell::default(),
        errors: Cell::new(0),
        total: addresses.len(),
        reactor: reactor.clone(),
    });
    for address in addresses {
        let (on_poem, on_failure) = (Rc::clone(&results), Rc::clone(&results));
        get_poetry(
            &reactor,
            &address.host,
            address.port,
            move |poem| on_poem.got_poem(poem),
            move |failure| on_failure.poem_failed(failure),
        );
    }
    reactor.run()?;

    for poem in results.poems.borrow().iter() {
        println!("{poem}");
    }
    Ok(exit_status(results.errors.get() == 0))
}
// ANCHOR_END: main
