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
//! A protocol is never re-entered, either. Its method may do things that
//! would call the same protocol again: fire a Deferred whose callback closes
//! this very transport, or write to an in-memory peer that answers at once.
//! Whatever such code delivers to the busy protocol waits, in order, until
//! the running method returns. [`ProtocolCell`] keeps that promise, once,
//! for every transport.
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

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;

use crate::failure::Failure;
use crate::reactor::Raised;
use crate::tcp::Connector;

// ANCHOR: transport
/// One connection, as its protocol sees it (Twisted's `ITransport`).
pub trait Transport {
    /// Sends `data`. Never blocks: what the socket cannot take now is kept
    /// and sent, in order, as soon as it can.
    fn write(&self, data: &[u8]);

    /// Sends bytes that are shared, not copied: a poem held once in memory
    /// and written to a thousand slow readers stays one poem, because what
    /// waits to be sent is a reference to it. A transport that cannot share
    /// (a fake one, say) may copy; the TCP transport never does.
    fn write_bytes(&self, data: Bytes) {
        self.write(&data);
    }

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

    /// The name the log gives this factory's connections (Part 16): its
    /// type's name, without the path of modules it lives in.
    fn log_prefix(&self) -> String {
        short_type_name(std::any::type_name::<Self>()).to_string()
    }
}

/// `PoetryFactory` for `fastpoetry::PoetryFactory` (and for
/// `fastpoetry::PoetryFactory<T>`): what a log line needs of a type's name.
pub fn short_type_name(full: &'static str) -> &'static str {
    let without_generics = full.split('<').next().unwrap_or(full);
    without_generics
        .rsplit("::")
        .next()
        .unwrap_or(without_generics)
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

// ---------------------------------------------------------------------------
// Delivering to a protocol without ever re-entering it.
// ---------------------------------------------------------------------------

/// What runs right after a protocol has heard `connection_lost`: telling
/// a client factory that its connection ended, in that order.
pub(crate) type AfterLost = Box<dyn FnOnce()>;

/// Something that happens to a connection, for its protocol to hear.
pub(crate) enum Event {
    Made(Rc<dyn Transport>),
    Data(Bytes),
    Lost(Failure, Option<AfterLost>),
}

/// Holds one connection's protocol and delivers events to it, one at a
/// time. An event that arrives while the protocol is busy (its own method
/// caused it), or before it has heard `Made`, is queued and delivered, in
/// order, as soon as it may be. `Lost` is accepted once; after it, events
/// are ignored.
///
/// No borrow of the cell's state is held while the protocol runs except
/// the one of the protocol itself, and that one is never taken twice,
/// because `busy` turns a second delivery into a queued one.
pub(crate) struct ProtocolCell {
    /// `None` once `connection_lost` is being delivered.
    protocol: RefCell<Option<Box<dyn Protocol>>>,
    /// A method of the protocol is running. Set and cleared by `call`
    /// and `handle` (cleared on unwinding too, by a guard).
    busy: Cell<bool>,
    /// `connection_made` has been called: until then, other events wait.
    /// Set as the call starts, so that a panic in it still lets the
    /// protocol hear `connection_lost`.
    made: Cell<bool>,
    /// `Lost` has been accepted, delivered or queued: nothing else is.
    lost: Cell<bool>,
    /// Events that arrived while busy, or before `Made`.
    queued: RefCell<VecDeque<Event>>,
    /// The protocol while its `connection_lost` runs, and after, if that
    /// panicked. Kept here, not on the stack, so that its `Drop` never runs
    /// while a panic unwinds (a second panic there would abort).
    dying: RefCell<Option<Box<dyn Protocol>>>,
    /// The `AfterLost` of a `connection_lost` that panicked, still to run.
    after_lost: RefCell<Option<AfterLost>>,
}

impl ProtocolCell {
    pub(crate) fn new(protocol: Box<dyn Protocol>) -> ProtocolCell {
        ProtocolCell {
            protocol: RefCell::new(Some(protocol)),
            busy: Cell::new(false),
            made: Cell::new(false),
            lost: Cell::new(false),
            queued: RefCell::default(),
            dying: RefCell::default(),
            after_lost: RefCell::default(),
        }
    }

    /// Is a method of the protocol running right now?
    pub(crate) fn is_busy(&self) -> bool {
        self.busy.get()
    }

    /// Has `Lost` been accepted (delivered, or queued behind a method)?
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.get()
    }

    /// Delivers `event` now or, if the protocol is busy, once it is not.
    /// Returns the protocol if this delivered `Lost`, for the caller to
    /// drop where a panic in its `Drop` is caught.
    pub(crate) fn deliver(&self, event: Event) -> Option<Box<dyn Protocol>> {
        if self.lost.get() {
            return None;
        }
        let first = matches!(event, Event::Made(_));
        if matches!(event, Event::Lost(..)) {
            self.lost.set(true);
        }
        if self.busy.get() || !(first || self.made.get()) {
            self.queued.borrow_mut().push_back(event);
            return None;
        }
        let lost = self.handle(event);
        lost.or_else(|| self.drain())
    }

    /// Delivers bytes that are only borrowed: straight through when the
    /// protocol is idle (no copy), copied into the queue when it is busy.
    /// Returns the protocol as `deliver` does.
    pub(crate) fn data_received(&self, data: &[u8]) -> Option<Box<dyn Protocol>> {
        if self.lost.get() {
            return None;
        }
        if self.busy.get() || !self.made.get() {
            let event = Event::Data(Bytes::copy_from_slice(data));
            self.queued.borrow_mut().push_back(event);
            return None;
        }
        self.call(|protocol| protocol.data_received(data));
        self.drain()
    }

    /// What a `connection_lost` that panicked left behind: the `AfterLost`
    /// still to run, and the protocol to drop. The owner calls this once
    /// the panic is caught.
    pub(crate) fn leftovers(&self) -> (Option<AfterLost>, Option<Box<dyn Protocol>>) {
        (self.after_lost.take(), self.dying.take())
    }

    /// Delivers what was queued while busy, until the queue is empty.
    fn drain(&self) -> Option<Box<dyn Protocol>> {
        loop {
            let next = self.queued.borrow_mut().pop_front();
            let event = next?;
            if let Some(protocol) = self.handle(event) {
                return Some(protocol);
            }
        }
    }

    fn handle(&self, event: Event) -> Option<Box<dyn Protocol>> {
        match event {
            Event::Made(transport) => {
                self.made.set(true);
                self.call(|protocol| protocol.connection_made(transport));
            }
            Event::Data(data) => self.call(|protocol| protocol.data_received(&data)),
            Event::Lost(reason, after) => {
                self.queued.borrow_mut().clear();
                let protocol = self.protocol.borrow_mut().take();
                *self.dying.borrow_mut() = protocol;
                *self.after_lost.borrow_mut() = after;
                {
                    let _busy = Raised::set(&self.busy);
                    if let Some(protocol) = self.dying.borrow_mut().as_mut() {
                        protocol.connection_lost(reason);
                    }
                }
                if let Some(after) = self.after_lost.take() {
                    after();
                }
                return self.dying.take();
            }
        }
        None
    }

    /// Calls the protocol with `busy` set.
    fn call(&self, f: impl FnOnce(&mut dyn Protocol)) {
        let _busy = Raised::set(&self.busy);
        // Not re-entered (busy guards it), so this borrow never collides.
        if let Some(protocol) = self.protocol.borrow_mut().as_mut() {
            f(protocol.as_mut());
        }
    }
}
