//! The proxies' client half: fetches the upstream's poem as bytes.
//!
//! It has client 4.0's shape (Part 8): a protocol that collects what
//! arrives, a factory that owns the trigger and fires it once, and a
//! `get_poetry` that returns the Deferred. The difference is what it
//! delivers. Client 4.0 prints its poems, so it decodes them as UTF-8; a
//! proxy only passes a poem on, so it keeps the bytes as they came, and a
//! poem in any encoding reaches the proxy's clients unchanged.
//!
//! Not a program of its own: each proxy compiles it in with
//! `#[path = "poetry-proxy/upstream.rs"] mod upstream;`.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use mini_twisted::protocol::{ClientFactory, Factory, Protocol};
use mini_twisted::tcp::{ConnectionDone, Connector};
use mini_twisted::{deferred, Deferred, Failure, Reactor, Trigger};

// ANCHOR: upstream
/// The trigger of one fetch's Deferred, until it is used.
type Pending = Rc<RefCell<Option<Trigger<Bytes>>>>;

/// Collects the upstream's bytes, and fires when the connection ends.
struct UpstreamProtocol {
    poem: Vec<u8>,
    pending: Pending,
}

impl Protocol for UpstreamProtocol {
    fn data_received(&mut self, data: &[u8]) {
        self.poem.extend_from_slice(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        // Take the trigger out: whoever fires it is the last to hold it.
        let Some(trigger) = self.pending.borrow_mut().take() else {
            return;
        };
        // A clean close is taken as the end of the poem (a server that
        // died mid-poem can close cleanly too); a reset cut it short.
        if reason.check::<ConnectionDone>() {
            // The Vec's buffer becomes the Bytes: no copy, no decoding.
            trigger.callback(Bytes::from(std::mem::take(&mut self.poem)));
        } else {
            trigger.errback(reason);
        }
    }
}

/// Owns the fetch's trigger; fails it if the connection never happens.
struct UpstreamFactory {
    pending: Pending,
}

impl Factory for UpstreamFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(UpstreamProtocol {
            poem: Vec::new(),
            pending: Rc::clone(&self.pending),
        })
    }
}

impl ClientFactory for UpstreamFactory {
    fn client_connection_failed(&self, _connector: &Connector, reason: Failure) {
        if let Some(trigger) = self.pending.borrow_mut().take() {
            trigger.errback(reason);
        }
    }
}

/// Fetches the poem of `host:port`, byte for byte. The Deferred fires with
/// the bytes, or with the failure that prevented them (a refused
/// connection, a reset).
pub fn get_poetry(reactor: &Reactor, host: &str, port: u16) -> Deferred<Bytes> {
    let (d, trigger) = deferred();
    let factory = UpstreamFactory {
        pending: Rc::new(RefCell::new(Some(trigger))),
    };
    reactor.connect_tcp(host, port, Rc::new(factory));
    d
}
// ANCHOR_END: upstream
