//! Part 15 (met first in Part 5's tests): a fake transport, for testing a
//! protocol without a socket, and a loopback that joins two protocols in
//! memory.
//!
//! A protocol only ever talks to its [`Transport`], so a test can hand it a
//! [`FakeTransport`] instead of a TCP connection, feed it bytes cut
//! wherever the test likes, and read back exactly what it wrote. No
//! reactor, no port, no timing: the test is deterministic.
//!
//! ```
//! use mini_twisted::protocol::{Protocol, Transport};
//! use mini_twisted::testing::FakeTransport;
//! use std::rc::Rc;
//!
//! /// Says hello and hangs up.
//! struct Hello;
//!
//! impl Protocol for Hello {
//!     fn connection_made(&mut self, transport: Rc<dyn Transport>) {
//!         transport.write(b"hello");
//!         transport.lose_connection();
//!     }
//! }
//!
//! let transport = FakeTransport::connect(&mut Hello);
//! assert_eq!(transport.written(), b"hello");
//! assert!(transport.disconnecting());
//! ```

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::{Rc, Weak};

use crate::failure::Failure;
use crate::protocol::{Event, Protocol, ProtocolCell, Transport};
use crate::tcp::{ConnectionAborted, ConnectionDone};

/// A transport that keeps what is written to it.
pub struct FakeTransport {
    written: RefCell<Vec<u8>>,
    disconnecting: Cell<bool>,
    aborted: Cell<bool>,
    peer: SocketAddr,
    host: SocketAddr,
}

impl FakeTransport {
    /// A transport between 127.0.0.1:10000 (the peer) and 127.0.0.1:20000.
    pub fn new() -> Rc<FakeTransport> {
        FakeTransport::between(
            SocketAddr::from(([127, 0, 0, 1], 10000)),
            SocketAddr::from(([127, 0, 0, 1], 20000)),
        )
    }

    /// A transport with the given peer and host addresses.
    pub fn between(peer: SocketAddr, host: SocketAddr) -> Rc<FakeTransport> {
        Rc::new(FakeTransport {
            written: RefCell::default(),
            disconnecting: Cell::new(false),
            aborted: Cell::new(false),
            peer,
            host,
        })
    }

    /// Makes a new transport and gives it to `protocol` through
    /// `connection_made`, as a real connection would.
    pub fn connect(protocol: &mut dyn Protocol) -> Rc<FakeTransport> {
        let transport = FakeTransport::new();
        protocol.connection_made(transport.clone());
        transport
    }

    /// Everything written so far.
    pub fn written(&self) -> Vec<u8> {
        self.written.borrow().clone()
    }

    /// Everything written so far, emptying the record.
    pub fn take_written(&self) -> Vec<u8> {
        self.written.take()
    }

    /// Was `lose_connection` (or `abort_connection`) called?
    pub fn disconnecting(&self) -> bool {
        self.disconnecting.get()
    }

    /// Was `abort_connection` called?
    pub fn aborted(&self) -> bool {
        self.aborted.get()
    }
}

impl Transport for FakeTransport {
    fn write(&self, data: &[u8]) {
        // A real transport ignores writes once it is closing for good.
        if !self.aborted.get() {
            self.written.borrow_mut().extend_from_slice(data);
        }
    }

    fn lose_connection(&self) {
        self.disconnecting.set(true);
    }

    fn abort_connection(&self) {
        self.disconnecting.set(true);
        self.aborted.set(true);
    }

    fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn host(&self) -> SocketAddr {
        self.host
    }
}

// ---------------------------------------------------------------------------
// Two protocols joined in memory.
// ---------------------------------------------------------------------------

/// Two protocols joined in memory, as if by a connection: what one writes,
/// the other receives at once, on the writer's own call stack. A protocol
/// is still never re-entered: when the writer's peer answers at once, the
/// answer waits until the writer's method has returned, then arrives, all
/// before the first call into the pair returns. So a conversation of many
/// rounds runs to its end inside [`Loopback::connect`].
///
/// `lose_connection` (either side) ends the connection for both with
/// [`ConnectionDone`]; `abort_connection` tells the side that aborted
/// [`ConnectionAborted`] and the other [`ConnectionDone`]... as a real peer
/// would only see the connection close.
pub struct Loopback {
    ends: [Rc<End>; 2],
}

/// One side of a [`Loopback`].
struct End {
    protocol: ProtocolCell,
    peer: RefCell<Weak<End>>,
    open: Rc<Cell<bool>>,
    address: SocketAddr,
    peer_address: SocketAddr,
}

impl Loopback {
    /// Joins `a` (at 127.0.0.1:20000) and `b` (at 127.0.0.1:10000), then
    /// tells `a` and then `b` that the connection is made.
    pub fn connect(a: Box<dyn Protocol>, b: Box<dyn Protocol>) -> Loopback {
        let open = Rc::new(Cell::new(true));
        let (at_a, at_b) = (
            SocketAddr::from(([127, 0, 0, 1], 20000)),
            SocketAddr::from(([127, 0, 0, 1], 10000)),
        );
        let end = |protocol, address, peer_address| {
            Rc::new(End {
                protocol: ProtocolCell::new(protocol),
                peer: RefCell::default(),
                open: open.clone(),
                address,
                peer_address,
            })
        };
        let ends = [end(a, at_a, at_b), end(b, at_b, at_a)];
        *ends[0].peer.borrow_mut() = Rc::downgrade(&ends[1]);
        *ends[1].peer.borrow_mut() = Rc::downgrade(&ends[0]);
        for end in &ends {
            let transport = Rc::new(LoopbackTransport(Rc::downgrade(end)));
            drop(end.protocol.deliver(Event::Made(transport)));
        }
        Loopback { ends }
    }

    /// Is the connection still open?
    pub fn is_open(&self) -> bool {
        self.ends[0].open.get()
    }
}

impl End {
    fn peer(&self) -> Option<Rc<End>> {
        self.peer.borrow().upgrade()
    }

    /// Ends the connection for both sides, each hearing its own reason.
    fn close(&self, mine: Failure, theirs: Failure) {
        if !self.open.replace(false) {
            return;
        }
        drop(self.protocol.deliver(Event::Lost(mine, None)));
        if let Some(peer) = self.peer() {
            drop(peer.protocol.deliver(Event::Lost(theirs, None)));
        }
    }
}

/// The transport a loopback protocol gets: it holds its end weakly, so a
/// protocol keeping its transport keeps nothing in a circle.
struct LoopbackTransport(Weak<End>);

impl Transport for LoopbackTransport {
    fn write(&self, data: &[u8]) {
        let Some(end) = self.0.upgrade() else { return };
        if let (true, Some(peer)) = (end.open.get(), end.peer()) {
            drop(peer.protocol.data_received(data));
        }
    }

    fn lose_connection(&self) {
        if let Some(end) = self.0.upgrade() {
            end.close(Failure::new(ConnectionDone), Failure::new(ConnectionDone));
        }
    }

    fn abort_connection(&self) {
        if let Some(end) = self.0.upgrade() {
            end.close(
                Failure::new(ConnectionAborted),
                Failure::new(ConnectionDone),
            );
        }
    }

    fn peer(&self) -> SocketAddr {
        self.0
            .upgrade()
            .map_or(([0, 0, 0, 0], 0).into(), |end| end.peer_address)
    }

    fn host(&self) -> SocketAddr {
        self.0
            .upgrade()
            .map_or(([0, 0, 0, 0], 0).into(), |end| end.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Failure;
    use crate::tcp::ConnectionDone;

    /// Echoes each line back in capitals; hangs up on `bye`.
    #[derive(Default)]
    struct Shout {
        transport: Option<Rc<dyn Transport>>,
        line: Vec<u8>,
        lost: Option<String>,
    }

    impl Protocol for Shout {
        fn connection_made(&mut self, transport: Rc<dyn Transport>) {
            self.transport = Some(transport);
        }

        fn data_received(&mut self, data: &[u8]) {
            let Some(transport) = &self.transport else {
                return;
            };
            for &byte in data {
                if byte != b'\n' {
                    self.line.push(byte);
                    continue;
                }
                let line = std::mem::take(&mut self.line);
                if line == b"bye" {
                    transport.lose_connection();
                } else {
                    transport.write(&line.to_ascii_uppercase());
                    transport.write(b"\n");
                }
            }
        }

        fn connection_lost(&mut self, reason: Failure) {
            self.lost = Some(reason.to_string());
        }
    }

    #[test]
    fn any_chunking_gives_the_same_output() {
        let input = b"one\ntwo\nbye\n";
        let mut outputs = Vec::new();
        for cut in 1..=input.len() {
            let mut shout = Shout::default();
            let transport = FakeTransport::connect(&mut shout);
            for chunk in input.chunks(cut) {
                shout.data_received(chunk);
            }
            assert!(transport.disconnecting(), "chunks of {cut}");
            outputs.push(transport.written());
        }
        assert!(outputs.iter().all(|output| output == b"ONE\nTWO\n"));
    }

    #[test]
    fn the_protocol_hears_why_it_was_lost() {
        let mut shout = Shout::default();
        let _transport = FakeTransport::connect(&mut shout);
        shout.connection_lost(Failure::new(ConnectionDone));
        assert_eq!(
            shout.lost.as_deref(),
            Some("the connection was closed cleanly")
        );
    }

    #[test]
    fn take_written_empties_the_record_and_abort_stops_writes() {
        let transport = FakeTransport::new();
        transport.write(b"abc");
        assert_eq!(transport.take_written(), b"abc");
        transport.abort_connection();
        transport.write(b"def");
        assert!(transport.written().is_empty());
        assert!(transport.aborted() && transport.disconnecting());
    }

    /// Counts to `rounds` with its peer: each side answers every number it
    /// hears with the next one, at once, from inside data_received.
    struct Counter {
        name: &'static str,
        transport: Option<Rc<dyn Transport>>,
        log: Rc<RefCell<Vec<String>>>,
        starts: bool,
        rounds: u32,
    }

    impl Protocol for Counter {
        fn connection_made(&mut self, transport: Rc<dyn Transport>) {
            if self.starts {
                transport.write(b"1");
            }
            self.transport = Some(transport);
        }

        fn data_received(&mut self, data: &[u8]) {
            let heard: u32 = std::str::from_utf8(data).unwrap().parse().unwrap();
            self.log
                .borrow_mut()
                .push(format!("{} heard {heard}", self.name));
            let Some(transport) = &self.transport else {
                return;
            };
            if heard >= self.rounds {
                transport.lose_connection();
                // Nothing written after the close is delivered.
                transport.write(b"999");
            } else {
                transport.write((heard + 1).to_string().as_bytes());
                self.log
                    .borrow_mut()
                    .push(format!("{} answered", self.name));
            }
        }

        fn connection_lost(&mut self, reason: Failure) {
            self.log
                .borrow_mut()
                .push(format!("{} lost: {reason}", self.name));
        }
    }

    #[test]
    fn a_loopback_pair_talks_synchronously_and_never_re_enters_a_protocol() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let counter = |name, starts| {
            Box::new(Counter {
                name,
                transport: None,
                log: log.clone(),
                starts,
                rounds: 4,
            })
        };
        // `a` writes in connection_made, before `b` has heard it is
        // connected: that first number waits for `b`'s connection_made.
        let pair = Loopback::connect(counter("a", true), counter("b", false));
        assert!(!pair.is_open());
        // `a` hears 2 inside `b`'s write (it was idle), but `b` hears 3
        // only after its own data_received has returned ("b answered"):
        // never inside itself. The same goes for each side's loss.
        assert_eq!(
            *log.borrow(),
            [
                "b heard 1",
                "a heard 2",
                "a answered",
                "b answered",
                "b heard 3",
                "a heard 4",
                "a lost: the connection was closed cleanly",
                "b answered",
                "b lost: the connection was closed cleanly",
            ]
        );
    }
}
