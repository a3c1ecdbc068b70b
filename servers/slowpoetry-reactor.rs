//! Part 22: the slow poetry server of Part 2, rebuilt on the reactor.
//!
//! The same options and the same lines as `slowpoetry`, and the same pace
//! for each client: `--num-bytes` at a time, `--delay` after each send.
//! What changes is who waits. The blocking server sleeps between two sends,
//! so everybody else waits in the kernel's listen queue; here nobody
//! sleeps. Each connection's protocol sends a chunk and asks the reactor,
//! with `call_later`, to call it again after the delay; in between, the one
//! thread serves every other client. Ten thousand slow readers at once
//! take about as long as one.
//!
//! Two things differ from the blocking server on purpose:
//!
//! - The poem is read once, at start, into a `bytes::Bytes`, and each send
//!   is a slice of it: a reference, not a copy. The blocking server reads
//!   the file afresh for every client, which costs nothing when there is
//!   one client at a time. Here it would cost a copy of the poem per
//!   connection, and worse, a file read blocks the thread, and on a
//!   reactor a blocked thread stalls every client at once.
//! - A client that leaves early is heard at once (`connection_lost`), and
//!   its timer is cancelled there, instead of on the next failed write.
//!
//! A client that closes its sending side early is taken as gone, as the
//! framework's transport takes any end of file: it gets no more poetry.
//!
//! Run it (from the repository root), then fetch the poem with several
//! clients at once:
//!
//! ```text
//! cargo run --bin slowpoetry-reactor -- --port 10000 poetry/ecstasy.txt
//! ```

use std::cell::Cell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use mini_twisted::failure::Failure;
use mini_twisted::poetry::{parse_port, parse_seconds, parse_whole, poem_file, Checked};
use mini_twisted::protocol::{Factory, Protocol, Transport};
use mini_twisted::reactor::DelayedCall;
use mini_twisted::Reactor;

/// Slow Poetry Server, reactor edition: serves one poem, slowly, to every
/// client at once.
#[derive(Parser)]
#[command(name = "slowpoetry-reactor")]
struct Options {
    /// The port to listen on [default: a free port chosen by the system]
    #[arg(long, default_value_t = 0, hide_default_value = true,
          value_parser = Checked(parse_port))]
    port: u16,

    /// The network interface to listen on (an IPv6 address with or without
    /// brackets: ::1 or [::1])
    #[arg(long, default_value = "localhost")]
    iface: String,

    /// Seconds to pause after each send
    #[arg(long, default_value = "0.1", value_parser = Checked(parse_seconds))]
    delay: Duration,

    /// How many bytes to send at a time
    #[arg(long, default_value_t = 10,
          value_parser = Checked(|text: &str| parse_whole(text, 1, u32::MAX.into()).map(|n| n as u32)))]
    num_bytes: u32,

    /// The poem to serve (exactly one file, read once at start)
    #[arg(value_name = "POETRY-FILE")]
    files: Vec<PathBuf>,
}

// ANCHOR: recital
/// One client's poem in progress: what the timer's callback needs between
/// two sends. The protocol holds it, and so does the pending timer's
/// closure, until the timer runs or is cancelled.
struct Recital {
    transport: Rc<dyn Transport>,
    poem: Bytes,
    num_bytes: usize,
    delay: Duration,
    /// How much of the poem has been sent.
    sent: Cell<usize>,
    /// The next send, while one is scheduled: `connection_lost` cancels it.
    next: Cell<Option<DelayedCall>>,
}

impl Recital {
    /// One step of the send loop: a chunk and a pause, or at the end of the
    /// poem, the end of the connection.
    fn send_next(self: Rc<Self>, reactor: &Reactor) {
        let start = self.sent.get();
        if start == self.poem.len() {
            // The framework's lingering close: every byte queued goes out,
            // then our side shuts down.
            self.transport.lose_connection();
            return;
        }
        let end = (start + self.num_bytes).min(self.poem.len());
        println!("Sending {} bytes", end - start);
        // A slice of the one poem in memory, not a copy.
        self.transport.write_bytes(self.poem.slice(start..end));
        self.sent.set(end);
        let delay = self.delay;
        let me = Rc::clone(&self);
        self.next.set(Some(
            reactor.call_later(delay, move |reactor| me.send_next(reactor)),
        ));
    }

    /// Makes sure no send is left scheduled. Whether the poem was cut off.
    fn stop(&self) -> bool {
        if let Some(call) = self.next.take() {
            // Dropping the timer's closure drops its hold on this recital.
            call.cancel();
        }
        self.sent.get() < self.poem.len()
    }
}
// ANCHOR_END: recital

// ANCHOR: protocol
/// One client of the slow server.
struct SlowPoetryProtocol {
    factory: Rc<Shared>,
    peer: SocketAddr,
    recital: Option<Rc<Recital>>,
}

impl Protocol for SlowPoetryProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        println!("Somebody at {} wants poetry!", self.peer);
        let recital = Rc::new(Recital {
            transport,
            poem: self.factory.poem.clone(),
            num_bytes: self.factory.num_bytes,
            delay: self.factory.delay,
            sent: Cell::new(0),
            next: Cell::new(None),
        });
        self.recital = Some(Rc::clone(&recital));
        recital.send_next(&self.factory.reactor);
    }

    // Whatever the client sends is ignored, as the blocking server
    // ignores it; the transport reads and discards it.

    fn connection_lost(&mut self, reason: Failure) {
        let Some(recital) = self.recital.take() else {
            return;
        };
        if recital.stop() {
            eprintln!(
                "slowpoetry-reactor: stopped sending to {}: {reason}",
                self.peer
            );
        }
    }
}

/// What every connection shares: the poem, read once, the pace, and the
/// reactor that runs the timers.
struct Shared {
    reactor: Reactor,
    poem: Bytes,
    num_bytes: usize,
    delay: Duration,
}

struct SlowPoetryFactory(Rc<Shared>);

impl Factory for SlowPoetryFactory {
    fn build_protocol(&self, peer: SocketAddr) -> Box<dyn Protocol> {
        Box::new(SlowPoetryProtocol {
            factory: Rc::clone(&self.0),
            peer,
            recital: None,
        })
    }
}
// ANCHOR_END: protocol

fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();
    let file = poem_file::<Options>(&options.files);
    let poem = match std::fs::read(&file) {
        Ok(poem) => Bytes::from(poem),
        Err(error) => {
            eprintln!(
                "slowpoetry-reactor: cannot read {}: {error}",
                file.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let served = Reactor::new()
        .map_err(|error| error.to_string())
        .and_then(|reactor| {
            let factory = SlowPoetryFactory(Rc::new(Shared {
                reactor: reactor.clone(),
                poem,
                num_bytes: options.num_bytes as usize,
                delay: options.delay,
            }));
            let port = reactor
                .listen_tcp(options.port, Rc::new(factory), &options.iface)
                .map_err(|error| error.to_string())?;
            println!("Serving {} on port {}.", file.display(), port.host().port());
            reactor.run().map_err(|error| error.to_string())
        });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("slowpoetry-reactor: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mini_twisted::tcp::ConnectionDone;
    use mini_twisted::testing::{assert_clean, Clock, FakeTransport};
    use mini_twisted::OwnedReactor;

    const DELAY: Duration = Duration::from_millis(100);

    /// A factory for "Roses are red\n" (14 bytes), 5 bytes a send, on a
    /// reactor whose clock the test moves.
    fn factory(clock: &Clock) -> (OwnedReactor, SlowPoetryFactory) {
        let reactor = Reactor::with_clock(clock).unwrap();
        let factory = SlowPoetryFactory(Rc::new(Shared {
            reactor: (*reactor).clone(),
            poem: Bytes::from_static(b"Roses are red\n"),
            num_bytes: 5,
            delay: DELAY,
        }));
        (reactor, factory)
    }

    #[test]
    fn a_chunk_a_delay_then_the_close() {
        let clock = Clock::new();
        let (reactor, factory) = factory(&clock);
        let mut protocol = factory.build_protocol(FakeTransport::new().peer());
        let transport = FakeTransport::connect(protocol.as_mut());
        assert_eq!(transport.take_written(), b"Roses");
        clock.advance(DELAY);
        assert_eq!(transport.take_written(), b" are ");
        clock.advance(DELAY);
        assert_eq!(transport.take_written(), b"red\n");
        // The pause after the last send, as the blocking server sleeps
        // after its last one; then the close.
        assert!(!transport.disconnecting());
        clock.advance(DELAY);
        assert!(transport.disconnecting() && !transport.aborted());
        protocol.connection_lost(Failure::new(ConnectionDone));
        assert_clean(&reactor);
    }

    #[test]
    fn a_client_that_leaves_cancels_its_next_send() {
        let clock = Clock::new();
        let (reactor, factory) = factory(&clock);
        let mut protocol = factory.build_protocol(FakeTransport::new().peer());
        let transport = FakeTransport::connect(protocol.as_mut());
        assert_eq!(transport.take_written(), b"Roses");
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        protocol.connection_lost(Failure::from(reset));
        // No timer is left, so nothing holds the recital (and its poem).
        assert_clean(&reactor);
        clock.advance(DELAY * 10);
        assert!(transport.written().is_empty());
    }

    #[test]
    fn every_client_has_its_own_place_in_the_one_poem() {
        let clock = Clock::new();
        let (reactor, factory) = factory(&clock);
        let mut first = factory.build_protocol(FakeTransport::new().peer());
        let one = FakeTransport::connect(first.as_mut());
        clock.advance(DELAY);
        let mut second = factory.build_protocol(FakeTransport::new().peer());
        let two = FakeTransport::connect(second.as_mut());
        clock.advance(DELAY);
        assert_eq!(one.take_written(), b"Roses are red\n");
        assert_eq!(two.take_written(), b"Roses are ");
        for protocol in [&mut first, &mut second] {
            protocol.connection_lost(Failure::new(ConnectionDone));
        }
        assert_clean(&reactor);
    }
}
