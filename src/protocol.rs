//! Part 5: transports, protocols and factories, the three roles that sit on
//! top of the reactor.
//!
//! - A [`Transport`] is one connection seen from above: you can write to it
//!   and close it, and it never blocks. It has no `read`: data is pushed to
//!   you as it arrives.
//! - A [`Protocol`] is what to do with one connection's bytes. There is one
//!   protocol object per connection, so its fields are that connection's
//!   state (the poem so far, a task number).
//! - A [`Factory`] builds a protocol for each new connection, and holds what
//!   all of them share. A [`ClientFactory`] also hears about connections
//!   that failed or ended, which no protocol can report: a refused
//!   connection never had one.
//!
//! The TCP implementations live in [`crate::tcp`]; a fake transport for
//! tests lives in [`crate::testing`].
//!
//! # Who calls what, and when
//!
//! For every connection, in this order and never overlapping:
//! `build_protocol` once, `connection_made` once, `data_received` any number
//! of times (the bytes split into chunks however the network delivered
//! them), `connection_lost` once. No other protocol method runs while one is
//! running: the reactor has one thread, so a counter shared between
//! protocols needs a `Cell`, not a lock.
//!
//! # Sharing state without cycles
//!
//! In Twisted a protocol reaches its factory through `self.factory`. Here a
//! factory keeps what its protocols share in an `Rc` and hands each protocol
//! a clone in `build_protocol`. The arrows all point one way (factory to
//! state, protocol to state), so nothing keeps anything else alive in a
//! circle. A protocol that holds a [`crate::Reactor`] is fine too: when
//! `run` returns, the reactor lets go of every connection it still had, and
//! with them their protocols.

use std::net::SocketAddr;
use std::rc::Rc;

use crate::failure::Failure;
use crate::tcp::Connector;

// ANCHOR: transport
/// One connection, as its protocol sees it (Twisted's `ITransport`).
pub trait Transport {
    /// Sends `data`. Never blocks: what the socket cannot take now is kept
    /// and sent, in order, as soon as it can.
    fn write(&self, data: &[u8]);

    /// Sends several pieces, one after the other.
    fn write_sequence(&self, pieces: &[&[u8]]) {
        for piece in pieces {
            self.write(piece);
        }
    }

    /// Closes the connection once everything written has been sent.
    fn lose_connection(&self);

    /// Closes the connection now, dropping whatever was not sent yet.
    fn abort_connection(&self);

    /// The address of the other end.
    fn peer(&self) -> SocketAddr;

    /// The address of this end.
    fn host(&self) -> SocketAddr;
}
// ANCHOR_END: transport

// ANCHOR: protocol
/// What to do with one connection (Twisted's `Protocol`). Every method has
/// a default that does nothing, so a protocol writes only the ones it needs.
pub trait Protocol {
    /// The connection is up. Keep `transport` to write to it later.
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let _ = transport;
    }

    /// Some bytes arrived: any number, cut anywhere.
    fn data_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// The connection is over; `reason` says how. For a clean close it is a
    /// [`crate::tcp::ConnectionDone`].
    fn connection_lost(&mut self, reason: Failure) {
        let _ = reason;
    }
}
// ANCHOR_END: protocol

// ANCHOR: factory
/// Builds the protocol for each new connection (Twisted's `Factory`).
pub trait Factory {
    /// A connection to or from `addr` is up: make its protocol.
    fn build_protocol(&self, addr: SocketAddr) -> Box<dyn Protocol>;
}

/// A factory for outgoing connections (Twisted's `ClientFactory`). Its
/// extra methods do nothing by default.
pub trait ClientFactory: Factory {
    /// `connect_tcp` has started trying.
    fn started_connecting(&self, connector: &Connector) {
        let _ = connector;
    }

    /// The connection could not be made; no protocol was built.
    fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
        let _ = (connector, reason);
    }

    /// A connection that was made has ended (after its protocol heard
    /// `connection_lost`).
    fn client_connection_lost(&self, connector: &Connector, reason: Failure) {
        let _ = (connector, reason);
    }
}
// ANCHOR_END: factory
