//! Part 15: the series' tests of its poetry client and server, on the test
//! kit (`mini_twisted::testing`), in one process: a real listening port on
//! 127.0.0.1 and real sockets, but no child process, and the reactor's
//! timers on a fake clock, so that nothing here waits for a timer.
//!
//! As the series' test does, this file carries its own small copies of a
//! poetry server and a poetry client: what is tested is the kit, and the
//! way a test of asynchronous code is written, not a particular program.
//! (tests/part08_clients.rs tests the real client against real servers.)
//!
//! Every wait is bounded: [`run_until`] gives up after [`BOUND`] of real
//! time with a `TimedOut` failure, which fails the test with a message
//! instead of hanging it.

use std::any::type_name;
use std::cell::RefCell;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::Duration;

use mini_twisted::protocol::{ClientFactory, Factory, Protocol, Transport};
use mini_twisted::tcp::{ConnectError, ConnectionDone, Connector, ListeningPort};
use mini_twisted::testing::{
    assert_clean, assert_failure, check_clean, run_until, Clock, TimedOut,
};
use mini_twisted::{deferred, Deferred, Failure, OwnedReactor, Reactor, Trigger};

// ANCHOR: poem
/// The poem the server serves: text beyond ASCII, and no newline at the
/// end, so that a client that changed a byte anywhere would be caught.
const TEST_POEM: &str = "Only a test, nothing more.\n\
                         A naïve verse, sent to be compared…";

/// How long any one wait may take, in real time, before the test fails.
const BOUND: Duration = Duration::from_secs(10);
// ANCHOR_END: poem

// ---------------------------------------------------------------------------
// A poetry server: the poem, then the close.
// ---------------------------------------------------------------------------

// ANCHOR: server
struct PoetryServerProtocol {
    poem: Rc<str>,
}

impl Protocol for PoetryServerProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        // A Rust string is UTF-8 already: its bytes are the encoded poem.
        transport.write(self.poem.as_bytes());
        transport.lose_connection();
    }
}

struct PoetryServerFactory {
    poem: Rc<str>,
}

impl Factory for PoetryServerFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(PoetryServerProtocol {
            poem: Rc::clone(&self.poem),
        })
    }
}
// ANCHOR_END: server

// ---------------------------------------------------------------------------
// A poetry client: a Deferred of the poem.
// ---------------------------------------------------------------------------

// ANCHOR: client
/// The trigger of one download's Deferred, until it is used.
type Pending = Rc<RefCell<Option<Trigger<String>>>>;

struct PoetryClientProtocol {
    poem: Vec<u8>,
    pending: Pending,
}

impl Protocol for PoetryClientProtocol {
    fn data_received(&mut self, data: &[u8]) {
        // Bytes, not text: a read may end inside a character.
        self.poem.extend_from_slice(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        let Some(trigger) = self.pending.borrow_mut().take() else {
            return;
        };
        if !reason.check::<ConnectionDone>() {
            return trigger.errback(reason);
        }
        // Decoded strictly: a poem that is not UTF-8 is a failure here, not
        // a poem with replacement characters in it.
        match String::from_utf8(std::mem::take(&mut self.poem)) {
            Ok(poem) => trigger.callback(poem),
            Err(error) => trigger.errback(Failure::new(error)),
        }
    }
}

struct PoetryClientFactory {
    pending: Pending,
}

impl Factory for PoetryClientFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(PoetryClientProtocol {
            poem: Vec::new(),
            pending: Rc::clone(&self.pending),
        })
    }
}

impl ClientFactory for PoetryClientFactory {
    fn client_connection_failed(&self, _connector: &Connector, reason: Failure) {
        if let Some(trigger) = self.pending.borrow_mut().take() {
            trigger.errback(reason);
        }
    }
}

/// The poem at `host:port`, or the failure that prevented it.
fn get_poetry(reactor: &Reactor, host: &str, port: u16) -> Deferred<String> {
    let (poem, trigger) = deferred();
    let factory = PoetryClientFactory {
        pending: Rc::new(RefCell::new(Some(trigger))),
    };
    reactor.connect_tcp(host, port, Rc::new(factory));
    poem
}
// ANCHOR_END: client

// ---------------------------------------------------------------------------
// Set up and tear down, once per test.
// ---------------------------------------------------------------------------

// ANCHOR: fixture
/// What each test starts with: a reactor on a fake clock, and a poetry
/// server listening on a port the system chose.
struct PoetryTestCase {
    clock: Clock,
    reactor: OwnedReactor,
    port: ListeningPort,
    portnum: u16,
}

/// A server of [`TEST_POEM`].
fn set_up() -> PoetryTestCase {
    set_up_serving(|_| {
        Rc::new(PoetryServerFactory {
            poem: Rc::from(TEST_POEM),
        })
    })
}

/// A server whose factory `make` builds, for the reactor it is given.
fn set_up_serving(make: impl FnOnce(&Reactor) -> Rc<dyn Factory>) -> PoetryTestCase {
    let clock = Clock::new();
    let reactor = Reactor::with_clock(&clock).expect("a reactor");
    let factory = make(&reactor);
    let port = reactor
        .listen_tcp(0, factory, "127.0.0.1")
        .expect("listen on a free port");
    let portnum = port.host().port();
    PoetryTestCase {
        clock,
        reactor,
        port,
        portnum,
    }
}

impl PoetryTestCase {
    /// Closes the port, waits (bounded) for the close to be done, and
    /// fails the test if anything is left: a pending call, an open socket.
    #[track_caller]
    fn tear_down(self) {
        let closed = self.port.stop_listening();
        run_until(&self.reactor, closed, BOUND).expect("the port closes");
        assert_clean(&self.reactor);
    }
}
// ANCHOR_END: fixture

// ---------------------------------------------------------------------------
// The series' two tests.
// ---------------------------------------------------------------------------

// ANCHOR: test_client
/// The series' `test_client`: the client gets the poem, exactly.
#[test]
fn the_client_gets_the_exact_poem() {
    let case = set_up();
    let poem = get_poetry(&case.reactor, "127.0.0.1", case.portnum);
    let poem = run_until(&case.reactor, poem, BOUND).expect("the poem");
    assert_eq!(poem, TEST_POEM);
    case.tear_down();
}
// ANCHOR_END: test_client

// ANCHOR: test_failure
/// The series' `test_failure`: a port where nothing listens gives the
/// connect error, not a poem.
#[test]
fn a_closed_port_fails_with_a_connect_error() {
    let case = set_up();
    // A port that was free a moment ago, and is closed again.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);

    let poem = get_poetry(&case.reactor, "127.0.0.1", closed_port);
    let failure = run_until(
        &case.reactor,
        assert_failure::<ConnectError, _>(poem),
        BOUND,
    )
    .expect("a ConnectError");
    // Twisted would raise ConnectionRefusedError, a kind of ConnectError;
    // ours is the one type, and says which kind it is.
    let error = failure.downcast_ref::<ConnectError>().unwrap();
    assert!(error.is_refused(), "{failure}");
    case.tear_down();
}
// ANCHOR_END: test_failure

// ---------------------------------------------------------------------------
// A server that takes an hour, on the fake clock.
// ---------------------------------------------------------------------------

/// An hour: far longer than any test could wait in real time.
const HOUR: Duration = Duration::from_secs(3600);

/// Serves the poem an hour after the client connects, by the reactor's
/// clock, and says through `accepted` when it has taken its first client.
struct LateServerFactory {
    reactor: Reactor,
    accepted: RefCell<Option<Trigger<()>>>,
}

struct LateServerProtocol {
    reactor: Reactor,
    accepted: Option<Trigger<()>>,
}

impl Factory for LateServerFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(LateServerProtocol {
            reactor: self.reactor.clone(),
            accepted: self.accepted.borrow_mut().take(),
        })
    }
}

impl Protocol for LateServerProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.reactor.call_later(HOUR, move |_| {
            transport.write(TEST_POEM.as_bytes());
            transport.lose_connection();
        });
        // The hour has begun: from here on the test knows what is pending.
        if let Some(accepted) = self.accepted.take() {
            accepted.callback(());
        }
    }
}

/// A late server, and the Deferred that fires when it has a client.
fn set_up_late() -> (PoetryTestCase, Deferred<()>) {
    let (accepted, trigger) = deferred();
    let case = set_up_serving(move |reactor| {
        Rc::new(LateServerFactory {
            reactor: reactor.clone(),
            accepted: RefCell::new(Some(trigger)),
        })
    });
    (case, accepted)
}

// ANCHOR: an_hour
/// The fake clock: an hour passes in one call, and the poem arrives.
#[test]
fn a_poem_an_hour_late_arrives_as_soon_as_the_clock_is_advanced() {
    let (case, accepted) = set_up_late();
    let poem = get_poetry(&case.reactor, "127.0.0.1", case.portnum);
    run_until(&case.reactor, accepted, BOUND).expect("the server has its client");
    case.clock.advance(HOUR);
    let poem = run_until(&case.reactor, poem, BOUND).expect("the poem");
    assert_eq!(poem, TEST_POEM);
    case.tear_down();
}
// ANCHOR_END: an_hour

// ANCHOR: timed_out
/// A wait that runs out fails with `TimedOut`, which names what it was
/// waiting for; the dirty-reactor check names what is still pending.
#[test]
fn a_wait_that_runs_out_is_a_timed_out_failure_naming_what_it_awaited() {
    let (case, accepted) = set_up_late();
    let poem = get_poetry(&case.reactor, "127.0.0.1", case.portnum);
    run_until(&case.reactor, accepted, BOUND).expect("the server has its client");

    // The fake clock does not move while the reactor waits: no wait in
    // real time brings the poem, so a short one is enough to see it fail.
    let failure = run_until(&case.reactor, poem, Duration::from_millis(50)).unwrap_err();
    assert!(failure.check::<TimedOut>(), "{failure}");
    assert!(
        failure
            .to_string()
            .contains(type_name::<Deferred<String>>()),
        "{failure}"
    );

    // Ended here, the test would leave the server's hour behind, named by
    // the function that scheduled it, and the connection's two sockets.
    let dirty = check_clean(&case.reactor, Duration::ZERO)
        .unwrap_err()
        .to_string();
    assert!(dirty.contains("a call due in 3600s"), "{dirty}");
    assert!(dirty.contains("LateServerProtocol"), "{dirty}");
    assert!(dirty.contains("watched for reading"), "{dirty}");

    // The hour passes; the server sends and closes, and the reactor is
    // clean again once both ends have closed.
    case.clock.advance(HOUR);
    case.tear_down();
}
// ANCHOR_END: timed_out
