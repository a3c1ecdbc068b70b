//! Part 8: who calls a Deferred's callback?
//!
//! Client 4.0's `get_poetry`, with a callback that prints the call stack
//! and exits. Read from the top: our callback, the Deferred running its
//! chain, the trigger fired by the protocol's `connection_lost`, the
//! transport that saw the connection end, the reactor, `main`. The
//! Deferred did not wait for anything: it ran the callback on the stack of
//! whoever fired it.
//!
//! Frames from outside this project are left out unless you pass `--full`.
//!
//! ```text
//! cargo run --bin get-poetry-4-stack -- 10000
//! ```

use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use clap::Parser;
use mini_twisted::log::describe_stack;
use mini_twisted::poetry::Servers;
use mini_twisted::protocol::{ClientFactory, Factory, Protocol};
use mini_twisted::reactor::ReactorError;
use mini_twisted::tcp::Connector;
use mini_twisted::{deferred, Deferred, Failure, Reactor, Trigger};

/// Prints the call stack from inside a Deferred's callback, then exits.
#[derive(Parser)]
#[command(name = "get-poetry-4-stack")]
struct Options {
    /// Print every frame, those from outside the project included
    #[arg(long)]
    full: bool,

    #[command(flatten)]
    servers: Servers,
}

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

    fn connection_lost(&mut self, _reason: Failure) {
        // Take the trigger out: whoever fires it is the last to hold it.
        if let Some(trigger) = self.pending.borrow_mut().take() {
            trigger.callback(String::from_utf8_lossy(&self.poem).into_owned());
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

/// Downloads a poem from `host:port`. The Deferred fires with the poem, or
/// with the failure that prevented it.
fn get_poetry(reactor: &Reactor, host: &str, port: u16) -> Deferred<String> {
    let (d, trigger) = deferred();
    let factory = PoetryClientFactory {
        pending: Rc::new(RefCell::new(Some(trigger))),
    };
    reactor.connect_tcp(host, port, Rc::new(factory));
    d
}
// ANCHOR: main
fn main() -> Result<(), ReactorError> {
    let options = Options::parse();
    options.servers.require::<Options>();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    let full = options.full;
    for address in &options.servers.addresses {
        let stopper = reactor.clone();
        let _d = get_poetry(&reactor, &address.host, address.port).add_callbacks(
            move |_poem| -> Result<(), Failure> {
                println!("The Rust stack:");
                print!("{}", describe_stack(&Backtrace::force_capture(), full));
                std::process::exit(0)
            },
            move |failure| {
                eprintln!("Poem failed: {failure}");
                stopper.stop();
                Ok(())
            },
        );
    }
    reactor.run()?;
    // Reaching this line means no poem ever arrived.
    std::process::exit(1)
}
// ANCHOR_END: main
