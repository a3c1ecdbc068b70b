//! Part 14: Poetry Proxy 1.0. A server that is also a client.
//!
//! To its own clients the proxy is a poetry server: they connect, get a
//! poem and the close, as from `fastpoetry`. To find that poem it is a
//! client of another poetry server, the upstream, which it asks once: the
//! first poem whose connection the upstream closed cleanly is kept, byte
//! for byte, and every later client gets that one, without the upstream
//! being asked again. (An upstream that dies mid-poem can close cleanly
//! too, and its half poem is kept just the same: the raw poetry protocol
//! has no way to tell. Part 12's netstrings do.)
//!
//! So `get_poem` has two answers. With the poem in the cache it has the
//! poem now; without it, it has only a Deferred for the poem later. It says
//! which with a [`Poem`], and the protocol runs it through
//! `maybe_deferred`, which gives a Deferred either way: one that has
//! already fired, or one that will.
//!
//! Run it (from the repository root) in front of a fast server, then get
//! the poem through it twice:
//!
//! ```text
//! cargo run --bin fastpoetry -- --port 10001 poetry/fascination.txt
//! cargo run --bin poetry-proxy-1 -- --port 10000 10001
//! cargo run --bin get-poetry-4 -- 10000
//! ```

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;

use bytes::Bytes;
use clap::Parser;
use mini_twisted::defer::{fail, maybe_deferred, succeed, Outcome};
use mini_twisted::poetry::Address;
use mini_twisted::protocol::{Factory, Protocol, Transport};
use mini_twisted::{Deferred, Failure, Reactor};

// ANCHOR: reuse
// The client half, shared with proxy 2.0: client 4.0's get_poetry, but
// delivering the poem's bytes as they came.
#[path = "poetry-proxy/upstream.rs"]
mod upstream;

use upstream::get_poetry;
// ANCHOR_END: reuse

// The command line and the start, the same for the three proxies.
#[path = "poetry-proxy/command.rs"]
mod command;

use command::ProxyArgs;

/// Poetry Proxy 1.0: serves the poem of another poetry server, fetched
/// once and kept.
#[derive(Parser)]
#[command(
    name = "poetry-proxy-1",
    override_usage = "poetry-proxy-1 [OPTIONS] [HOST:]PORT"
)]
struct Options {
    #[command(flatten)]
    proxy: ProxyArgs,
}

// ANCHOR: poem
/// What `get_poem` has: the poem now, or a Deferred for it.
pub enum Poem {
    Cached(Bytes),
    Fetching(Deferred<Bytes>),
}

/// How `maybe_deferred` sees a `Poem`: as a Deferred either way, the cached
/// one already fired. (It is what lets a callback return a `Poem`, too.)
impl Outcome for Poem {
    type Value = Bytes;

    fn into_deferred(self) -> Deferred<Bytes> {
        match self {
            Poem::Cached(poem) => succeed(poem),
            Poem::Fetching(d) => d,
        }
    }

    fn from_value(poem: Bytes) -> Poem {
        Poem::Cached(poem)
    }

    fn from_failure(failure: Failure) -> Poem {
        Poem::Fetching(fail(failure))
    }
}
// ANCHOR_END: poem

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

    /// The cached poem, or a Deferred for a fresh one from upstream.
    pub fn get_poem(self: &Rc<Self>) -> Poem {
        if let Some(poem) = self.poem.borrow().clone() {
            println!("Using cached poem.");
            return Poem::Cached(poem);
        }
        println!("Fetching poem from server.");
        let service = Rc::clone(self);
        let fetched = get_poetry(&self.reactor, &self.upstream.host, self.upstream.port)
            .add_callback(move |poem: Bytes| {
                service.set_poem(poem.clone());
                Ok(poem)
            });
        Poem::Fetching(fetched)
    }

    /// Keeps `poem` for every later client. Only a callback calls this, so
    /// a poem is kept only when the upstream closed cleanly; a refused
    /// connection or a reset keeps nothing.
    fn set_poem(&self, poem: Bytes) {
        *self.poem.borrow_mut() = Some(poem);
    }
}
// ANCHOR_END: service

// ANCHOR: protocol
/// One client: whichever way the poem comes, write it, then hang up.
struct PoetryProxyProtocol {
    service: Rc<ProxyService>,
}

impl Protocol for PoetryProxyProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let service = Rc::clone(&self.service);
        let upstream = self.service.upstream.clone();
        let writer = Rc::clone(&transport);
        let _d = maybe_deferred(move || service.get_poem())
            .add_callback(move |poem: Bytes| {
                // A reference to the one poem, not a copy. If the client
                // has gone meanwhile, this does nothing.
                writer.write_bytes(poem);
                Ok(())
            })
            .add_both(move |outcome| {
                if let Err(failure) = outcome {
                    tracing::warn!(%upstream, "no poem to serve: {failure}");
                }
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
        "poetry-proxy-1",
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
    fn a_cached_poem_is_a_plain_value() {
        let (_reactor, service) = cached(b"kept");
        assert!(matches!(service.get_poem(), Poem::Cached(poem) if poem == "kept"));
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
