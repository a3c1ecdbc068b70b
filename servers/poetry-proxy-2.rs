//! Part 14: Poetry Proxy 2.0. Always a Deferred.
//!
//! Proxy 1.0's `get_poem` answered in one of two shapes, and its protocol
//! needed `maybe_deferred` to make them one. This `get_poem` always returns
//! a Deferred: with the poem in the cache, one that has already fired
//! (`succeed`); without it, the fetch from upstream, which fires later.
//! Callers cannot tell the difference, and need not.
//!
//! A fetch that fails is logged here, with the upstream's address, and the
//! chain carries on with "no poem" (`None`), so that the protocol hangs up
//! without writing anything. Nothing is cached then, and the next client
//! makes the proxy ask the upstream again.
//!
//! Run it (from the repository root) in front of a fast server, then get
//! the poem through it twice:
//!
//! ```text
//! cargo run --bin fastpoetry -- --port 10001 poetry/fascination.txt
//! cargo run --bin poetry-proxy-2 -- --port 10000 10001
//! cargo run --bin get-poetry-4 -- 10000
//! ```

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;

use bytes::Bytes;
use clap::Parser;
use mini_twisted::defer::succeed;
use mini_twisted::poetry::Address;
use mini_twisted::protocol::{Factory, Protocol, Transport};
use mini_twisted::{Deferred, Reactor};

// The client half, shared with proxy 1.0: the poem's bytes as they came.
#[path = "poetry-proxy/upstream.rs"]
mod upstream;

use upstream::get_poetry;

// The command line and the start, the same for the three proxies.
#[path = "poetry-proxy/command.rs"]
mod command;

use command::ProxyArgs;

/// Poetry Proxy 2.0: serves the poem of another poetry server, fetched
/// once and kept.
#[derive(Parser)]
#[command(
    name = "poetry-proxy-2",
    override_usage = "poetry-proxy-2 [OPTIONS] [HOST:]PORT"
)]
struct Options {
    #[command(flatten)]
    proxy: ProxyArgs,
}

// ANCHOR: service
/// The upstream server, and the poem once it has come from there.
pub struct ProxyService {
    reactor: Reactor,
    upstream: Address,
    /// The first poem the upstream ended with a clean close; kept for the
    /// life of the process.
    poem: RefCell<Option<Bytes>>,
}

impl ProxyService {
    pub fn new(reactor: Reactor, upstream: Address) -> ProxyService {
        ProxyService {
            reactor,
            upstream,
            poem: RefCell::new(None),
        }
    }

    // ANCHOR: get_poem
    /// The poem, always as a Deferred: already fired with the cached poem,
    /// or the fetch from upstream, which fires with the poem, or with
    /// `None` once the failure that prevented it has been logged.
    pub fn get_poem(self: &Rc<Self>) -> Deferred<Option<Bytes>> {
        if let Some(poem) = self.poem.borrow().clone() {
            println!("Using cached poem.");
            return succeed(Some(poem));
        }
        println!("Fetching poem from server.");
        let service = Rc::clone(self);
        let upstream = self.upstream.clone();
        get_poetry(&self.reactor, &self.upstream.host, self.upstream.port)
            .add_callback(move |poem: Bytes| {
                service.set_poem(poem.clone());
                Ok(Some(poem))
            })
            .add_errback(move |failure| {
                tracing::warn!(%upstream, "cannot fetch the poem: {failure}");
                // Handled: the chain goes on, holding no poem.
                Ok(None)
            })
    }
    // ANCHOR_END: get_poem

    /// Keeps `poem` for every later client. Only a callback calls this, so
    /// a poem is kept only when the upstream closed cleanly; a refused
    /// connection or a reset keeps nothing. (An upstream that dies
    /// mid-poem can close cleanly too, and what it sent is kept: the raw
    /// poetry protocol cannot tell; Part 12's netstrings can.)
    fn set_poem(&self, poem: Bytes) {
        *self.poem.borrow_mut() = Some(poem);
    }
}
// ANCHOR_END: service

// ANCHOR: protocol
/// One client: write the poem, if there is one, then hang up.
struct PoetryProxyProtocol {
    service: Rc<ProxyService>,
}

impl Protocol for PoetryProxyProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let peer = transport.peer();
        let writer = Rc::clone(&transport);
        let _d = self
            .service
            .get_poem()
            .add_callback(move |poem: Option<Bytes>| {
                // No poem: the failure was logged upstream; write nothing.
                // If the client has gone meanwhile, this does nothing.
                if let Some(poem) = poem {
                    writer.write_bytes(poem);
                }
                Ok(())
            })
            .add_errback(move |failure| {
                tracing::warn!(%peer, "cannot serve the poem: {failure}");
                Ok(())
            })
            .add_both(move |_| {
                transport.lose_connection();
                Ok(())
            });
    }
}

/// Gives every client's protocol the one service.
struct PoetryProxyFactory {
    service: Rc<ProxyService>,
}

impl Factory for PoetryProxyFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(PoetryProxyProtocol {
            service: Rc::clone(&self.service),
        })
    }
}
// ANCHOR_END: protocol

// ANCHOR: main
fn main() -> ExitCode {
    let options = Options::parse();
    let upstream = options.proxy.upstream::<Options>();
    mini_twisted::log::init();
    command::serve(
        "poetry-proxy-2",
        &options.proxy,
        upstream,
        |reactor, upstream| {
            let service = Rc::new(ProxyService::new(reactor, upstream));
            Rc::new(PoetryProxyFactory { service })
        },
    )
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;
    use mini_twisted::testing::FakeTransport;
    use mini_twisted::OwnedReactor;

    /// A service whose cache already holds `poem`, and the reactor it
    /// would fetch on (which never runs: the upstream is never asked).
    fn cached(poem: &'static [u8]) -> (OwnedReactor, Rc<ProxyService>) {
        let reactor = Reactor::new().unwrap();
        let upstream = "10001".parse().unwrap();
        let service = Rc::new(ProxyService::new(reactor.clone(), upstream));
        service.set_poem(Bytes::from_static(poem));
        (reactor, service)
    }

    #[test]
    fn a_cached_poem_is_a_deferred_that_has_already_fired() {
        let (_reactor, service) = cached(b"kept");
        let d = service.get_poem();
        assert!(d.has_result());
        let seen = Rc::new(RefCell::new(None));
        let into = Rc::clone(&seen);
        let _d = d.add_callback(move |poem| {
            *into.borrow_mut() = poem;
            Ok(())
        });
        // The callback ran as it was added.
        assert_eq!(seen.borrow().as_deref(), Some(&b"kept"[..]));
    }

    #[test]
    fn a_client_gets_the_cached_poem_at_once_then_the_close() {
        let (_reactor, service) = cached(b"Roses are red\n");
        let factory = PoetryProxyFactory { service };
        for _ in 0..2 {
            let mut protocol = factory.build_protocol(FakeTransport::new().peer());
            let transport = FakeTransport::connect(protocol.as_mut());
            assert_eq!(transport.written(), b"Roses are red\n");
            assert!(transport.disconnecting() && !transport.aborted());
        }
    }
}
