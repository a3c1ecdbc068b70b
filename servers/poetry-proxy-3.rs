//! Part 19: Poetry Proxy 3.0. A client that leaves cancels its download.
//!
//! Proxy 2.0 fetches the poem from upstream for a client, and goes on
//! fetching it if the client leaves meanwhile: the poem then arrives for
//! nobody (it is cached, at least). This proxy changes its mind. Each
//! client's protocol keeps the Deferred of its poem, and when the client's
//! connection is lost it cancels it. If the poem came already, that does
//! nothing; if it is still on its way from upstream, the fetch's canceller
//! (in `poetry-proxy/upstream.rs`) prints `Canceling poem download.` and
//! hangs up on the upstream, which goes back to serving others.
//!
//! Run it (from the repository root) in front of a slow server, then start
//! a client and interrupt it with Ctrl-C before its poem comes:
//!
//! ```text
//! cargo run --bin slowpoetry -- --port 10001 poetry/fascination.txt
//! cargo run --bin poetry-proxy-3 -- --port 10000 10001
//! cargo run --bin get-poetry-4 -- 10000
//! ```

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;

use bytes::Bytes;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use mini_twisted::defer::{succeed, CancelledError};
use mini_twisted::poetry::{parse_port, Address, Checked};
use mini_twisted::protocol::{Factory, Protocol, Transport};
use mini_twisted::{Deferred, Failure, Reactor};

// The client half, shared with proxies 1.0 and 2.0; its Deferred has the
// canceller this proxy uses.
#[path = "poetry-proxy/upstream.rs"]
mod upstream;

use upstream::get_poetry;

/// Poetry Proxy 3.0: serves the poem of another poetry server, fetched
/// once and kept; a fetch whose client leaves is cancelled.
#[derive(Parser)]
#[command(
    name = "poetry-proxy-3",
    override_usage = "poetry-proxy-3 [OPTIONS] [HOST:]PORT"
)]
struct Options {
    /// The port to listen on [default: a free port chosen by the system]
    #[arg(long, default_value_t = 0, hide_default_value = true,
          value_parser = Checked(parse_port))]
    port: u16,

    /// The network interface to listen on
    #[arg(long, default_value = "localhost")]
    iface: String,

    /// The poetry server to fetch the poem from, as [host:]port (exactly
    /// one); the host defaults to 127.0.0.1
    #[arg(value_name = "[HOST:]PORT", value_parser = Checked(str::parse::<Address>))]
    upstream: Vec<Address>,
}

impl Options {
    /// The one upstream server, or a usage error (status 2).
    fn upstream(&self) -> Address {
        match self.upstream.as_slice() {
            [upstream] => upstream.clone(),
            _ => Options::command()
                .error(
                    ErrorKind::WrongNumberOfValues,
                    "Provide exactly one server address.",
                )
                .exit(),
        }
    }
}

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
    /// `None` when it failed (logged) or was cancelled (not a failure of
    /// the upstream: nothing to log).
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
            .add_errback(move |failure: Failure| {
                if !failure.check::<CancelledError>() {
                    tracing::warn!(%upstream, "cannot fetch the poem: {failure}");
                }
                Ok(None)
            })
    }
    // ANCHOR_END: get_poem

    /// Keeps `poem` for every later client. Only a callback calls this, so
    /// a poem is kept only when the upstream closed cleanly; a refused
    /// connection, a reset or a cancelled fetch keeps nothing.
    fn set_poem(&self, poem: Bytes) {
        *self.poem.borrow_mut() = Some(poem);
    }
}

// ANCHOR: protocol
/// One client: write the poem, if there is one, then hang up; if the
/// client hangs up first, cancel the poem.
struct PoetryProxyProtocol {
    service: Rc<ProxyService>,
    /// The poem's chain, from `connection_made` until `connection_lost`.
    deferred: Option<Deferred<()>>,
}

impl Protocol for PoetryProxyProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let peer = transport.peer();
        let writer = Rc::clone(&transport);
        let d = self
            .service
            .get_poem()
            .add_callback(move |poem: Option<Bytes>| {
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
        self.deferred = Some(d);
    }

    fn connection_lost(&mut self, _reason: Failure) {
        // After the poem was sent, the Deferred has fired and this does
        // nothing; before, it cancels the fetch.
        if let Some(d) = self.deferred.take() {
            d.cancel();
        }
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
            deferred: None,
        })
    }
}
// ANCHOR_END: protocol

fn main() -> ExitCode {
    let options = Options::parse();
    let upstream = options.upstream();
    mini_twisted::log::init();
    let served = Reactor::new()
        .map_err(|error| error.to_string())
        .and_then(|reactor| {
            let service = Rc::new(ProxyService::new(reactor.clone(), upstream.clone()));
            let factory = Rc::new(PoetryProxyFactory { service });
            let port = reactor
                .listen_tcp(options.port, factory, &options.iface)
                .map_err(|error| error.to_string())?;
            println!("Proxying {upstream} on {}.", port.host());
            reactor.run().map_err(|error| error.to_string())
        });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("poetry-proxy-3: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mini_twisted::tcp::ConnectionDone;
    use mini_twisted::testing::{assert_clean, run_until_true, FakeTransport};
    use mini_twisted::OwnedReactor;
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::Duration;

    const LIMIT: Duration = Duration::from_secs(10);

    fn service(reactor: &OwnedReactor, upstream: u16) -> Rc<ProxyService> {
        let upstream = upstream.to_string().parse().unwrap();
        Rc::new(ProxyService::new((*reactor).clone(), upstream))
    }

    #[test]
    fn a_client_gets_the_cached_poem_and_leaving_after_it_cancels_nothing() {
        let reactor = Reactor::new().unwrap();
        let service = service(&reactor, 10001);
        service.set_poem(Bytes::from_static(b"Roses are red\n"));
        let factory = PoetryProxyFactory {
            service: Rc::clone(&service),
        };
        let mut protocol = factory.build_protocol(FakeTransport::new().peer());
        let transport = FakeTransport::connect(protocol.as_mut());
        assert_eq!(transport.written(), b"Roses are red\n");
        assert!(transport.disconnecting() && !transport.aborted());
        protocol.connection_lost(Failure::new(ConnectionDone));
        assert_eq!(
            service.poem.borrow().as_deref(),
            Some(&b"Roses are red\n"[..])
        );
        assert_clean(&reactor);
    }

    #[test]
    fn a_client_that_leaves_mid_fetch_cancels_it_and_the_upstream_is_let_go() {
        // An upstream that accepts and says nothing.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let reactor = Reactor::new().unwrap();
        let service = service(&reactor, listener.local_addr().unwrap().port());
        let factory = PoetryProxyFactory {
            service: Rc::clone(&service),
        };
        let mut protocol = factory.build_protocol(FakeTransport::new().peer());
        let transport = FakeTransport::connect(protocol.as_mut());
        let accepted = RefCell::new(None);
        run_until_true(
            &reactor,
            || {
                if let Ok((socket, _)) = listener.accept() {
                    *accepted.borrow_mut() = Some(socket);
                }
                accepted.borrow().is_some()
            },
            LIMIT,
        )
        .unwrap();
        // Let the proxy see its side of the connection come up too.
        reactor.iterate(Duration::from_millis(50)).unwrap();

        protocol.connection_lost(Failure::new(ConnectionDone));

        // The upstream sees the proxy hang up, and nothing was written to
        // the client, or kept.
        let mut upstream = accepted.into_inner().unwrap();
        upstream.set_nonblocking(false).unwrap();
        upstream.set_read_timeout(Some(LIMIT)).unwrap();
        let mut rest = Vec::new();
        let ended = {
            let reactor = &reactor;
            std::thread::scope(|scope| {
                let reader = scope.spawn(move || upstream.read_to_end(&mut rest).map(|_| rest));
                while !reader.is_finished() {
                    reactor.iterate(Duration::from_millis(10)).unwrap();
                }
                reader.join().unwrap()
            })
        };
        assert_eq!(ended.unwrap(), b"");
        assert!(transport.written().is_empty());
        assert!(service.poem.borrow().is_none());
        assert_clean(&reactor);
    }

    #[test]
    fn a_client_that_leaves_before_the_upstream_answers_stops_the_attempt() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let reactor = Reactor::new().unwrap();
        let service = service(&reactor, listener.local_addr().unwrap().port());
        let factory = PoetryProxyFactory {
            service: Rc::clone(&service),
        };
        let mut protocol = factory.build_protocol(FakeTransport::new().peer());
        let transport = FakeTransport::connect(protocol.as_mut());
        // Gone before the reactor has turned: the attempt is still on.
        protocol.connection_lost(Failure::new(ConnectionDone));
        assert_clean(&reactor);
        assert!(transport.written().is_empty());
        assert!(service.poem.borrow().is_none());
    }
}
