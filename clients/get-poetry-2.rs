//! Part 5: Twistier Poetry, client 2.0: the poetry client on transports,
//! protocols and a factory.
//!
//! Client 1 read raw sockets itself. This one only says what a poetry
//! download *is*: a `PoetryProtocol` that collects the bytes of one poem,
//! and a `PoetryClientFactory` that numbers the downloads, counts the ones
//! still going, and stops the reactor after the last. Sockets, reads,
//! buffers and the "would block" dance are all the framework's.
//!
//! Run it against three `slowpoetry` servers on ports 10000, 10001, 10002:
//!
//! ```text
//! cargo run --bin get-poetry-2 -- 10000 10001 10002
//! ```

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

use clap::Parser;
use mini_twisted::poetry::{exit_status, warn_if_cut_short, Elapsed, Servers};
use mini_twisted::protocol::{ClientFactory, Factory, Protocol, Transport};
use mini_twisted::reactor::ReactorError;
use mini_twisted::tcp::Connector;
use mini_twisted::{Failure, Reactor};

/// Get Poetry Now! Client 2.0: a protocol and a factory on the reactor.
#[derive(Parser)]
#[command(name = "get-poetry-2")]
struct Options {
    #[command(flatten)]
    servers: Servers,
}

// ANCHOR: protocol
/// One download: the poem so far, and where it comes from.
struct PoetryProtocol {
    task: usize,
    peer: Option<SocketAddr>,
    poem: Vec<u8>,
    downloads: Rc<Downloads>,
}

impl Protocol for PoetryProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.peer = Some(transport.peer());
    }

    fn data_received(&mut self, data: &[u8]) {
        self.poem.extend_from_slice(data);
        let (task, bytes) = (self.task, data.len());
        if let Some(peer) = self.peer {
            println!("Task {task}: got {bytes} bytes of poetry from {peer}");
        }
    }

    fn connection_lost(&mut self, reason: Failure) {
        // No errback to tell: a poem cut short is still reported, as in the
        // series, but not without a warning.
        if let Some(peer) = self.peer {
            warn_if_cut_short(peer, &reason);
        }
        let poem = std::mem::take(&mut self.poem);
        self.downloads.poem_finished(Some((self.task, poem)));
    }
}
// ANCHOR_END: protocol

// ANCHOR: factory
/// What every download shares: the protocols hold it, the factory owns it.
struct Downloads {
    reactor: Reactor,
    /// Downloads not finished yet, failed ones included.
    left: Cell<usize>,
    /// Task numbers, given in the order the connections are made.
    next_task: Cell<usize>,
    /// `(task, poem)` in the order the poems finished.
    poems: RefCell<Vec<(usize, Vec<u8>)>>,
}

impl Downloads {
    fn poem_finished(&self, poem: Option<(usize, Vec<u8>)>) {
        self.poems.borrow_mut().extend(poem);
        self.left.set(self.left.get() - 1);
        if self.left.get() == 0 {
            self.report();
            self.reactor.stop();
        }
    }

    fn report(&self) {
        for (task, poem) in self.poems.borrow().iter() {
            println!("Task {task}: {} bytes of poetry", poem.len());
        }
    }
}

struct PoetryClientFactory {
    downloads: Rc<Downloads>,
}

impl Factory for PoetryClientFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        let task = self.downloads.next_task.get();
        self.downloads.next_task.set(task + 1);
        Box::new(PoetryProtocol {
            task,
            peer: None,
            poem: Vec::new(),
            downloads: Rc::clone(&self.downloads),
        })
    }
}

impl ClientFactory for PoetryClientFactory {
    fn client_connection_failed(&self, connector: &Connector, _reason: Failure) {
        println!("Failed to connect to: {}", connector.destination());
        self.downloads.poem_finished(None);
    }
}
// ANCHOR_END: factory

// ANCHOR: main
fn main() -> Result<ExitCode, ReactorError> {
    let options = Options::parse();
    options.servers.require::<Options>();
    mini_twisted::log::init();
    let start = Instant::now();

    let reactor = Reactor::new()?;
    let addresses = &options.servers.addresses;
    let factory = Rc::new(PoetryClientFactory {
        downloads: Rc::new(Downloads {
            reactor: reactor.clone(),
            left: Cell::new(addresses.len()),
            next_task: Cell::new(1),
            poems: RefCell::default(),
        }),
    });
    for address in addresses {
        reactor.connect_tcp(&address.host, address.port, Rc::clone(&factory));
    }
    reactor.run()?;

    // As in the series, every address counts, the failed ones included.
    let elapsed = Elapsed(start.elapsed());
    println!("Got {} poems in {elapsed}", addresses.len());
    // But the exit status is 1 if a server was down or a poem cut short.
    let poems = factory.downloads.poems.borrow().len();
    Ok(exit_status(poems == addresses.len()))
}
// ANCHOR_END: main
