//! Part 5: client 2.1, the simplest client on protocols: it prints the
//! poems and nothing else.
//!
//! The same protocol and factory as client 2.0, without task numbers,
//! progress lines or timing. What is left is the shape every later client
//! starts from: collect the bytes in the protocol, hand the finished poem
//! to the factory, stop when the last one is in.
//!
//! ```text
//! cargo run --bin get-poetry-2-simple -- 10000 10001 10002
//! ```

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use mini_twisted::poetry::{exit_status, warn_if_cut_short, Servers};
use mini_twisted::protocol::{ClientFactory, Factory, Protocol};
use mini_twisted::reactor::ReactorError;
use mini_twisted::tcp::Connector;
use mini_twisted::{Failure, Reactor};

/// Get Poetry Now! Client 2.1: prints the poems, in the order they finish.
#[derive(Parser)]
#[command(name = "get-poetry-2-simple")]
struct Options {
    #[command(flatten)]
    servers: Servers,
}

// ANCHOR: protocol
struct PoetryProtocol {
    peer: SocketAddr,
    poem: Vec<u8>,
    downloads: Rc<Downloads>,
}

impl Protocol for PoetryProtocol {
    fn data_received(&mut self, data: &[u8]) {
        self.poem.extend_from_slice(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        warn_if_cut_short(self.peer, &reason);
        let poem = String::from_utf8_lossy(&self.poem).into_owned();
        self.downloads.poem_finished(Some(poem));
    }
}

struct Downloads {
    reactor: Reactor,
    left: Cell<usize>,
    poems: RefCell<Vec<String>>,
}

impl Downloads {
    fn poem_finished(&self, poem: Option<String>) {
        self.poems.borrow_mut().extend(poem);
        self.left.set(self.left.get() - 1);
        if self.left.get() == 0 {
            for poem in self.poems.borrow().iter() {
                println!("{poem}");
            }
            self.reactor.stop();
        }
    }
}

struct PoetryClientFactory {
    downloads: Rc<Downloads>,
}

impl Factory for PoetryClientFactory {
    fn build_protocol(&self, addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(PoetryProtocol {
            peer: addr,
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
// ANCHOR_END: protocol

fn main() -> Result<ExitCode, ReactorError> {
    let options = Options::parse();
    options.servers.require::<Options>();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    let addresses = &options.servers.addresses;
    let factory = Rc::new(PoetryClientFactory {
        downloads: Rc::new(Downloads {
            reactor: reactor.clone(),
            left: Cell::new(addresses.len()),
            poems: RefCell::default(),
        }),
    });
    for address in addresses {
        reactor.connect_tcp(&address.host, address.port, Rc::clone(&factory));
    }
    reactor.run()?;
    // Status 1 if a server was down or a poem cut short.
    let poems = factory.downloads.poems.borrow().len();
    Ok(exit_status(poems == addresses.len()))
}
