//! The proxies' client half: fetches the upstream's poem as bytes.
//!
//! It has client 4.0's shape (Part 8): a protocol that collects what
//! arrives, a factory that owns the trigger and fires it once, and a
//! `get_poetry` that returns the Deferred. The difference is what it
//! delivers. Client 4.0 prints its poems, so it decodes them as UTF-8; a
//! proxy only passes a poem on, so it keeps the bytes as they came, and a
//! poem in any encoding reaches the proxy's clients unchanged.
//!
//! The Deferred can be cancelled (Part 19): its canceller says so, drops
//! the trigger, and hangs up on the upstream. Proxies 1.0 and 2.0 never
//! cancel; proxy 3.0 does when its client leaves before the poem came.
//!
//! Not a program of its own: each proxy compiles it in with
//! `#[path = "poetry-proxy/upstream.rs"] mod upstream;`.

use std::cell::{OnceCell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use mini_twisted::protocol::{ClientFactory, Factory, Protocol, Transport};
use mini_twisted::tcp::{ConnectionDone, Connector};
use mini_twisted::{deferred_with_canceller, Deferred, Failure, Reactor, Trigger};

// ANCHOR: upstream
/// What the pieces of one fetch share.
#[derive(Default)]
struct Fetch {
    /// The trigger of the fetch's Deferred, until it is used.
    trigger: RefCell<Option<Trigger<Bytes>>>,
    /// The connection to the upstream while it is up, for the canceller.
    transport: RefCell<Option<Rc<dyn Transport>>>,
}

/// Collects the upstream's bytes, and fires when the connection ends.
struct UpstreamProtocol {
    poem: Vec<u8>,
    fetch: Rc<Fetch>,
}

impl Protocol for UpstreamProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        *self.fetch.transport.borrow_mut() = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.poem.extend_from_slice(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        self.fetch.transport.borrow_mut().take();
        // Take the trigger out: whoever fires it is the last to hold it.
        let Some(trigger) = self.fetch.trigger.borrow_mut().take() else {
            return; // cancelled
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
    fetch: Rc<Fetch>,
}

impl Factory for UpstreamFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(UpstreamProtocol {
            poem: Vec::new(),
            fetch: Rc::clone(&self.fetch),
        })
    }
}

impl ClientFactory for UpstreamFactory {
    fn client_connection_failed(&self, _connector: &Connector, reason: Failure) {
        if let Some(trigger) = self.fetch.trigger.borrow_mut().take() {
            trigger.errback(reason);
        }
    }
}

/// Fetches the poem of `host:port`, byte for byte. The Deferred fires with
/// the bytes, or with the failure that prevented them (a refused
/// connection, a reset); cancelled, it stops the fetch and fails with
/// `CancelledError`.
pub fn get_poetry(reactor: &Reactor, host: &str, port: u16) -> Deferred<Bytes> {
    let fetch = Rc::new(Fetch::default());
    // Known once connect_tcp returns, after the canceller is made.
    let connector: Rc<OnceCell<Connector>> = Rc::default();
    let (d, trigger) = deferred_with_canceller({
        let (fetch, connector) = (Rc::clone(&fetch), Rc::clone(&connector));
        move |_cancelled: Trigger<Bytes>| fetch.cancel(connector.get())
    });
    *fetch.trigger.borrow_mut() = Some(trigger);
    let factory = UpstreamFactory { fetch };
    let _ = connector.set(reactor.connect_tcp(host, port, Rc::new(factory)));
    d
}
// ANCHOR_END: upstream

// ANCHOR: cancel
impl Fetch {
    /// The canceller's work. The Deferred fails with `CancelledError` once
    /// this returns (the canceller's own trigger goes unfired).
    fn cancel(&self, connector: Option<&Connector>) {
        println!("Canceling poem download.");
        // What has arrived is not the poem: nobody may fire with it now.
        drop(self.trigger.borrow_mut().take());
        let transport = self.transport.borrow_mut().take();
        match (transport, connector) {
            // Connected: hang up at once. `connector.disconnect()` would
            // close politely, lingering (Part 11): reading and throwing
            // away what the upstream still sends, for up to five seconds,
            // while the upstream goes on sending a poem nobody wants.
            (Some(transport), _) => transport.abort_connection(),
            // Still connecting: stop trying.
            (None, Some(connector)) => connector.disconnect(),
            (None, None) => {}
        }
    }
}
// ANCHOR_END: cancel
