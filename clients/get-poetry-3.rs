//! Part 6: client 3.0. Getting poetry becomes a function anyone can call.
//!
//! `get_poetry(reactor, host, port, callback)` starts a download and
//! returns at once; `callback` gets the poem when it is complete. The
//! factory no longer stops the reactor: it knows one download, not the
//! program. `main` decides when the program is done.
//!
//! **Flawed on purpose**: nothing here handles a failed connection. Point
//! it at a port where no server listens and it waits forever, because the
//! poem it waits for will never come and nobody says so. Press Ctrl-C: it
//! stops, prints the poems it has and exits with status 1. Client 3.1
//! fixes this.
//!
//! ```text
//! cargo run --bin get-poetry-3 -- 10000 10001 10002
//! ```

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use mini_twisted::poetry::{exit_status, warn_if_cut_short, Servers};
use mini_twisted::protocol::{ClientFactory, Factory, Protocol};
use mini_twisted::reactor::ReactorError;
use mini_twisted::{Failure, Reactor};

/// Get Poetry Now! Client 3.0: a reusable get_poetry with a callback.
#[derive(Parser)]
#[command(name = "get-poetry-3")]
struct Options {
    #[command(flatten)]
    servers: Servers,
}

type Callback = Box<dyn FnOnce(String)>;

// ANCHOR: get_poetry
struct PoetryProtocol {
    peer: SocketAddr,
    poem: Vec<u8>,
    callback: Option<Callback>,
}

impl Protocol for PoetryProtocol {
    fn data_received(&mut self, data: &[u8]) {
        self.poem.extend_from_slice(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        // Without an errback, all we can do with a broken connection is
        // say so, and pass on what arrived.
        warn_if_cut_short(self.peer, &reason);
        if let Some(callback) = self.callback.take() {
            callback(String::from_utf8_lossy(&self.poem).into_owned());
        }
    }
}

/// One download's factory: it hands the callback to the protocol it builds.
struct PoetryClientFactory {
    callback: RefCell<Option<Callback>>,
}

impl Factory for PoetryClientFactory {
    fn build_protocol(&self, addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(PoetryProtocol {
            peer: addr,
            poem: Vec::new(),
            callback: self.callback.take(),
        })
    }
}

/// Nothing overridden: a failed connection is silently ignored.
impl ClientFactory for PoetryClientFactory {}

/// Downloads a poem from `host:port`; `callback` gets it when it is done.
fn get_poetry(reactor: &Reactor, host: &str, port: u16, callback: impl FnOnce(String) + 'static) {
    let factory = PoetryClientFactory {
        callback: RefCell::new(Some(Box::new(callback))),
    };
    reactor.connect_tcp(host, port, Rc::new(factory));
}
// ANCHOR_END: get_poetry

// ANCHOR: main
fn main() -> Result<ExitCode, ReactorError> {
    let options = Options::parse();
    options.servers.require::<Options>();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;

    let addresses = &options.servers.addresses;
    let poems = Rc::new(RefCell::new(Vec::new()));
    for address in addresses {
        let (poems, total, stopper) = (Rc::clone(&poems), addresses.len(), reactor.clone());
        get_poetry(&reactor, &address.host, address.port, move |poem| {
            poems.borrow_mut().push(poem);
            if poems.borrow().len() == total {
                stopper.stop();
            }
        });
    }
    stop_on_ctrl_c(&reactor);
    reactor.run()?;

    for poem in poems.borrow().iter() {
        println!("{poem}");
    }
    // Status 1 if Ctrl-C stopped us before every poem was in, or if a poem
    // was cut short (`warn_if_cut_short` remembers that for `exit_status`).
    let got = poems.borrow().len();
    Ok(exit_status(got == addresses.len()))
}
// ANCHOR_END: main

/// Ctrl-C (or `kill`) stops the reactor instead of killing the program, so
/// that the poems that did arrive are still printed. The signal handler
/// runs on another thread: it hands the stop to the reactor's thread.
fn stop_on_ctrl_c(reactor: &Reactor) {
    let remote = reactor.remote();
    let handled = ctrlc::set_handler(move || {
        let _ = remote.call(|reactor| reactor.stop());
    });
    if let Err(error) = handled {
        eprintln!("get-poetry-3: Ctrl-C will not print the poems: {error}");
    }
}
