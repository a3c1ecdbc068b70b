//! Part 11: Your Poetry is Served. The fast poetry server, on the framework.
//!
//! Every piece the client side needed is here too, pointed the other way:
//! `listen_tcp` instead of `connect_tcp`, a factory that holds the poem
//! every connection shares, and a protocol that, the moment a client
//! connects, writes the whole poem and asks for the connection to be closed.
//! The transport does the rest: it sends what the socket takes, keeps the
//! remainder for later, and closes only when all of it has gone.
//!
//! Run it (from the repository root), then get the poem with any client:
//!
//! ```text
//! cargo run --bin fastpoetry -- --port 10010 poetry/ecstasy.txt
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use bytes::Bytes;
use clap::Parser;
use mini_twisted::poetry::{parse_port, poem_file, Checked};
use mini_twisted::protocol::{Factory, Protocol, Transport};
use mini_twisted::Reactor;

/// Fast Poetry Server: serves one poem, all at once, to every client.
#[derive(Parser)]
#[command(name = "fastpoetry")]
struct Options {
    /// The port to listen on [default: a free port chosen by the system]
    #[arg(long, default_value_t = 0, hide_default_value = true,
          value_parser = Checked(parse_port))]
    port: u16,

    /// The network interface to listen on
    #[arg(long, default_value = "localhost")]
    iface: String,

    /// The poem to serve (exactly one file)
    #[arg(value_name = "POETRY-FILE")]
    files: Vec<PathBuf>,
}

// ANCHOR: protocol
/// One client: give it the poem and hang up.
struct PoetryProtocol {
    poem: Bytes,
}

impl Protocol for PoetryProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        // A `Bytes` clone is a reference to the one poem in memory: however
        // many clients are slow to read it, none of them gets a copy.
        transport.write_bytes(self.poem.clone());
        transport.lose_connection();
    }
}

/// Holds the poem, read once, that every connection shares.
struct PoetryFactory {
    poem: Bytes,
}

impl Factory for PoetryFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(PoetryProtocol {
            poem: self.poem.clone(),
        })
    }
}
// ANCHOR_END: protocol

// ANCHOR: main
fn main() -> ExitCode {
    let options = Options::parse();
    let file = poem_file::<Options>(&options.files);
    mini_twisted::log::init();
    let poem = match std::fs::read(&file) {
        Ok(poem) => Bytes::from(poem),
        Err(error) => {
            eprintln!("fastpoetry: cannot read {}: {error}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let served = Reactor::new()
        .map_err(|error| error.to_string())
        .and_then(|reactor| {
            let factory = Rc::new(PoetryFactory { poem });
            let port = reactor
                .listen_tcp(options.port, factory, &options.iface)
                .map_err(|error| error.to_string())?;
            println!("Serving {} on {}.", file.display(), port.host());
            reactor.run().map_err(|error| error.to_string())
        });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fastpoetry: {error}");
            ExitCode::FAILURE
        }
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;
    use mini_twisted::testing::FakeTransport;

    #[test]
    fn a_client_gets_the_whole_poem_then_the_connection_closes() {
        let factory = PoetryFactory {
            poem: Bytes::from_static(b"Roses are red\n"),
        };
        let mut protocol = factory.build_protocol(FakeTransport::new().peer());
        let transport = FakeTransport::connect(protocol.as_mut());
        assert_eq!(transport.written(), b"Roses are red\n");
        assert!(transport.disconnecting() && !transport.aborted());
    }

    #[test]
    fn every_client_gets_its_own_copy() {
        let factory = PoetryFactory {
            poem: Bytes::from_static(b"twice"),
        };
        for _ in 0..2 {
            let mut protocol = factory.build_protocol(FakeTransport::new().peer());
            let transport = FakeTransport::connect(protocol.as_mut());
            assert_eq!(transport.take_written(), b"twice");
        }
    }
}
