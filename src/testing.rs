//! Part 15 (met first in Part 5's tests): a fake transport, for testing a
//! protocol without a socket.
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
use std::rc::Rc;

use crate::protocol::{Protocol, Transport};

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
}
