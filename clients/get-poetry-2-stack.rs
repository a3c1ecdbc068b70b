//! Part 5: who calls `data_received`?
//!
//! A poetry protocol that, the first time data arrives, prints the call
//! stack and exits at once. Read from the top: our `data_received`, the
//! transport's `do_read` that called it, the reactor's dispatch, then
//! `Reactor::run` and `main`. The transport *is* the reader the reactor
//! watches; the protocol is only the part that knows about poetry.
//!
//! Frames from outside this project are left out unless you pass `--full`.
//!
//! ```text
//! cargo run --bin get-poetry-2-stack -- 10000
//! ```

use std::backtrace::Backtrace;
use std::net::SocketAddr;
use std::rc::Rc;

use clap::Parser;
use mini_twisted::log::describe_stack;
use mini_twisted::poetry::Servers;
use mini_twisted::protocol::{ClientFactory, Factory, Protocol};
use mini_twisted::reactor::ReactorError;
use mini_twisted::tcp::Connector;
use mini_twisted::{Failure, Reactor};

/// Prints the call stack from inside a protocol's data_received, then exits.
#[derive(Parser)]
#[command(name = "get-poetry-2-stack")]
struct Options {
    /// Print every frame, those from outside the project included
    #[arg(long)]
    full: bool,

    #[command(flatten)]
    servers: Servers,
}

// ANCHOR: protocol
struct StackProtocol {
    full: bool,
}

impl Protocol for StackProtocol {
    fn data_received(&mut self, _data: &[u8]) {
        println!("The Rust stack:");
        print!("{}", describe_stack(&Backtrace::force_capture(), self.full));
        // The demo has made its point; end here, without tidying up.
        std::process::exit(0);
    }
}
// ANCHOR_END: protocol

struct StackFactory {
    full: bool,
    reactor: Reactor,
}

impl Factory for StackFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(StackProtocol { full: self.full })
    }
}

impl ClientFactory for StackFactory {
    fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
        eprintln!(
            "Failed to connect to: {}: {reason}",
            connector.destination()
        );
        self.reactor.stop();
    }

    fn client_connection_lost(&self, _connector: &Connector, _reason: Failure) {
        eprintln!("The connection ended before any poetry arrived.");
        self.reactor.stop();
    }
}

fn main() -> Result<(), ReactorError> {
    let options = Options::parse();
    options.servers.require::<Options>();
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    let factory = Rc::new(StackFactory {
        full: options.full,
        reactor: reactor.clone(),
    });
    // The first server to send anything ends the program.
    for address in &options.servers.addresses {
        reactor.connect_tcp(&address.host, address.port, Rc::clone(&factory));
    }
    reactor.run()?;
    // Reaching this line means no data ever arrived.
    std::process::exit(1)
}
