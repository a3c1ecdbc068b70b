//! The TCP transport through real sockets on 127.0.0.1. The reactor runs on
//! the test's thread; clients written with the standard library run on
//! other threads and tell the reactor when they are done through a
//! `Remote`, or the test turns the reactor with `iterate` until what it
//! waits for has happened. Every run is bounded by a timer that stops the
//! reactor (real time: the bound on a broken test); a test never waits for
//! a timer to come due, and the transport's own timers are tested on a
//! fake clock.

use super::*;
use crate::failure::Failure;
use crate::protocol::{ClientFactory, Factory, Protocol, Transport};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream as StdStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

/// The longest any test lets the reactor run.
const LIMIT: Duration = Duration::from_secs(30);

/// Stops the reactor after `LIMIT`, and says so if that is what ended it.
fn run_bounded(reactor: &Reactor) -> bool {
    let timed_out = Rc::new(Cell::new(false));
    let flag = timed_out.clone();
    let guard = reactor.call_later(LIMIT, move |reactor| {
        flag.set(true);
        reactor.stop();
    });
    reactor.run().expect("the reactor runs");
    guard.cancel();
    assert!(!timed_out.get(), "the test ran out of time");
    true
}

/// Counts `n` finished client threads, then stops the reactor.
fn stop_after(reactor: &Reactor, n: usize) -> impl Fn() + Send + Clone + 'static {
    let remote = reactor.remote();
    let done = Arc::new(AtomicUsize::new(0));
    move || {
        if done.fetch_add(1, Ordering::SeqCst) + 1 == n {
            let _ = remote.call(|reactor| reactor.stop());
        }
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn connect(port: u16) -> StdStream {
    let stream = StdStream::connect(("127.0.0.1", port)).expect("connects");
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream
}

fn read_all(mut stream: StdStream) -> Vec<u8> {
    let mut got = Vec::new();
    stream.read_to_end(&mut got).expect("reads to the end");
    got
}

/// What the server's protocols saw, shared by all of them.
#[derive(Default)]
struct Seen {
    made: Cell<usize>,
    received: RefCell<Vec<u8>>,
    lost: RefCell<Vec<String>>,
    lost_cleanly: Cell<usize>,
    lost_broken: Cell<usize>,
    lost_aborted: Cell<usize>,
}

impl Seen {
    fn record_loss(&self, reason: &Failure) {
        if reason.check::<ConnectionDone>() {
            self.lost_cleanly.set(self.lost_cleanly.get() + 1);
        }
        if reason.check::<ConnectionLost>() {
            self.lost_broken.set(self.lost_broken.get() + 1);
        }
        if reason.check::<ConnectionAborted>() {
            self.lost_aborted.set(self.lost_aborted.get() + 1);
        }
        self.lost.borrow_mut().push(reason.to_string());
    }
}

/// A server that writes `payload` in `pieces` writes, then (if `close`)
/// loses the connection; it records what happens to each connection.
struct Sender {
    payload: Rc<Vec<u8>>,
    pieces: usize,
    close: bool,
    seen: Rc<Seen>,
}

struct SenderProtocol {
    payload: Rc<Vec<u8>>,
    pieces: usize,
    close: bool,
    seen: Rc<Seen>,
}

impl Factory for Sender {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(SenderProtocol {
            payload: self.payload.clone(),
            pieces: self.pieces,
            close: self.close,
            seen: self.seen.clone(),
        })
    }
}

impl Protocol for SenderProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.seen.made.set(self.seen.made.get() + 1);
        let size = self.payload.len().div_ceil(self.pieces).max(1);
        for piece in self.payload.chunks(size) {
            transport.write(piece);
        }
        if self.close {
            transport.lose_connection();
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        self.seen.received.borrow_mut().extend_from_slice(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        self.seen.record_loss(&reason);
    }
}

/// Listens on a free port of 127.0.0.1 with `factory`; the port.
fn listen(reactor: &Reactor, factory: impl IntoFactory) -> u16 {
    let port = reactor.listen_tcp(0, factory, "127.0.0.1");
    port.expect("listens").host().port()
}

fn serve(reactor: &Reactor, payload: Vec<u8>, pieces: usize, close: bool) -> (u16, Rc<Seen>) {
    let seen = Rc::new(Seen::default());
    let factory = Rc::new(Sender {
        payload: Rc::new(payload),
        pieces,
        close,
        seen: seen.clone(),
    });
    (listen(reactor, factory), seen)
}

#[test]
fn listening_on_port_zero_reports_the_real_port() {
    let reactor = Reactor::new().unwrap();
    let (port, _) = serve(&reactor, b"hi".to_vec(), 1, true);
    assert_ne!(port, 0);
    let listening = reactor.listen_tcp(
        port,
        Rc::new(Sender {
            payload: Rc::new(Vec::new()),
            pieces: 1,
            close: true,
            seen: Rc::default(),
        }),
        "127.0.0.1",
    );
    let error = listening.err().expect("the port is taken");
    assert_eq!(error.error.kind(), io::ErrorKind::AddrInUse);
    assert!(error.to_string().starts_with("cannot listen on 127.0.0.1:"));
}

#[test]
fn a_slow_reader_delays_no_one_else() {
    const SIZE: usize = 10 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    let (port, seen) = serve(&reactor, pattern(SIZE), 1, true);
    let done = stop_after(&reactor, 2);
    let (fast_done, wait_for_fast) = mpsc::channel::<usize>();

    // The slow client takes a little, then stops reading until the fast
    // one has had everything.
    let slow = thread::spawn({
        let done = done.clone();
        move || {
            let mut stream = connect(port);
            let mut first = vec![0; 64 * 1024];
            stream.read_exact(&mut first).expect("a first bite");
            let fast_got = wait_for_fast
                .recv_timeout(LIMIT)
                .expect("the fast client finishes");
            let mut rest = read_all(stream);
            first.append(&mut rest);
            done();
            (fast_got, first)
        }
    });
    let fast = thread::spawn(move || {
        let stream = connect(port);
        let got = read_all(stream);
        let _ = fast_done.send(got.len());
        done();
        got
    });
    run_bounded(&reactor);

    let expected = pattern(SIZE);
    let fast = fast.join().unwrap();
    let (fast_len_while_slow_waited, slow) = slow.join().unwrap();
    assert_eq!(
        fast_len_while_slow_waited, SIZE,
        "the fast client got it all first"
    );
    assert!(fast == expected, "the fast client's bytes differ");
    assert!(slow == expected, "the slow client's bytes differ");
    assert_eq!(seen.lost_cleanly.get(), 2);
}

#[test]
fn lose_connection_delivers_every_buffered_byte() {
    const SIZE: usize = 4 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    // Many small writes, most of which must wait in the buffer.
    let (port, seen) = serve(&reactor, pattern(SIZE), 1000, true);
    let done = stop_after(&reactor, 1);
    let client = thread::spawn(move || {
        let stream = connect(port);
        thread::sleep(Duration::from_millis(50)); // let the buffer fill
        let got = read_all(stream);
        done();
        got
    });
    run_bounded(&reactor);
    assert!(client.join().unwrap() == pattern(SIZE));
    assert_eq!(*seen.lost.borrow(), ["the connection was closed cleanly"]);
}

#[test]
fn a_peer_that_resets_mid_write_loses_only_its_connection() {
    const SIZE: usize = 8 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    let (port, seen) = serve(&reactor, pattern(SIZE), 1, true);
    let done = stop_after(&reactor, 1);
    let client = thread::spawn(move || {
        let mut rude = connect(port);
        let mut bite = vec![0; 1024];
        rude.read_exact(&mut bite).expect("a first bite");
        // Linger zero: closing sends a reset instead of a goodbye.
        socket2::SockRef::from(&rude)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(rude);
        // The server still serves the next client in full.
        let got = read_all(connect(port));
        done();
        got
    });
    run_bounded(&reactor);
    assert!(client.join().unwrap() == pattern(SIZE));
    assert_eq!(seen.lost_broken.get(), 1, "{:?}", seen.lost.borrow());
    assert_eq!(seen.lost_cleanly.get(), 1, "{:?}", seen.lost.borrow());
}

#[test]
fn output_is_flushed_after_the_peer_stops_sending() {
    const SIZE: usize = 4 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    // No lose_connection: the connection ends when the client half-closes.
    let (port, seen) = serve(&reactor, pattern(SIZE), 10, false);
    let done = stop_after(&reactor, 1);
    let client = thread::spawn(move || {
        let mut stream = connect(port);
        stream.write_all(b"request").unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let got = read_all(stream);
        done();
        got
    });
    run_bounded(&reactor);
    assert!(client.join().unwrap() == pattern(SIZE));
    assert_eq!(*seen.received.borrow(), b"request");
    assert_eq!(seen.lost_cleanly.get(), 1);
}

/// How many client connections this process can afford to open, leaving
/// room for the server's side of each one.
fn affordable(wanted: usize) -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|soft| soft.parse::<usize>().ok())
        .unwrap_or(1024);
    let fit = soft.saturating_sub(100) / 2;
    if fit < wanted {
        eprintln!("only {fit} connections fit under the open-files limit of {soft}");
    }
    wanted.min(fit)
}

/// A client protocol that keeps what it receives and checks it at the end.
struct Checker {
    expected: Rc<Vec<u8>>,
    got: Vec<u8>,
    results: Rc<RefCell<Vec<bool>>>,
}

impl Protocol for Checker {
    fn data_received(&mut self, data: &[u8]) {
        self.got.extend_from_slice(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        let ok = reason.check::<ConnectionDone>() && self.got == *self.expected;
        self.results.borrow_mut().push(ok);
    }
}

/// A client factory for `Checker`s that stops the reactor after `total`
/// connections have ended, one way or another.
struct Checkers {
    expected: Rc<Vec<u8>>,
    total: usize,
    results: Rc<RefCell<Vec<bool>>>,
    failures: RefCell<Vec<Failure>>,
    built: Cell<usize>,
    started: Cell<usize>,
    lost: Cell<usize>,
    reactor: Reactor,
}

impl Checkers {
    fn new(reactor: &Reactor, expected: Vec<u8>, total: usize) -> Rc<Checkers> {
        Rc::new(Checkers {
            expected: Rc::new(expected),
            total,
            results: Rc::default(),
            failures: RefCell::default(),
            built: Cell::new(0),
            started: Cell::new(0),
            lost: Cell::new(0),
            reactor: reactor.clone(),
        })
    }

    fn one_more_ended(&self) {
        let ended = self.lost.get() + self.failures.borrow().len();
        if ended == self.total {
            self.reactor.stop();
        }
    }
}

impl Factory for Checkers {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        self.built.set(self.built.get() + 1);
        Box::new(Checker {
            expected: self.expected.clone(),
            got: Vec::new(),
            results: self.results.clone(),
        })
    }
}

impl ClientFactory for Checkers {
    fn started_connecting(&self, _connector: &Connector) {
        self.started.set(self.started.get() + 1);
    }

    fn client_connection_failed(&self, _connector: &Connector, reason: Failure) {
        self.failures.borrow_mut().push(reason);
        self.one_more_ended();
    }

    fn client_connection_lost(&self, _connector: &Connector, _reason: Failure) {
        self.lost.set(self.lost.get() + 1);
        self.one_more_ended();
    }
}

#[test]
fn a_thousand_concurrent_clients_each_get_the_exact_bytes() {
    let clients = affordable(1000);
    let poem = pattern(3003);
    let reactor = Reactor::new().unwrap();
    let (port, seen) = serve(&reactor, poem.clone(), 3, true);
    let checkers = Checkers::new(&reactor, poem, clients);
    for _ in 0..clients {
        reactor.connect_tcp("127.0.0.1", port, checkers.clone());
    }
    run_bounded(&reactor);
    let results = checkers.results.borrow();
    assert!(
        checkers.failures.borrow().is_empty(),
        "{:?}",
        checkers.failures.borrow()
    );
    assert_eq!(results.len(), clients);
    assert!(
        results.iter().all(|&ok| ok),
        "some client got the wrong bytes"
    );
    assert_eq!(seen.lost_cleanly.get(), clients);
}

#[test]
fn a_refused_connection_reaches_the_factory_as_a_failure() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let reactor = Reactor::new().unwrap();
    let checkers = Checkers::new(&reactor, Vec::new(), 1);
    reactor.connect_tcp("127.0.0.1", port, checkers.clone());
    run_bounded(&reactor);
    let failures = checkers.failures.borrow();
    let error = failures[0]
        .downcast_ref::<ConnectError>()
        .expect("a ConnectError");
    assert!(error.is_refused() && !error.is_cancelled());
    assert_eq!(error.destination(), format!("127.0.0.1:{port}"));
    assert!(failures[0]
        .to_string()
        .starts_with("cannot connect to 127.0.0.1:"));
    assert_eq!((checkers.started.get(), checkers.built.get()), (1, 0));
}

#[test]
fn an_unknown_host_is_a_failure_too() {
    let reactor = Reactor::new().unwrap();
    let checkers = Checkers::new(&reactor, Vec::new(), 1);
    reactor.connect_tcp("no such host.invalid", 10000, checkers.clone());
    run_bounded(&reactor);
    assert!(checkers.failures.borrow()[0].check::<ConnectError>());
}

#[test]
fn a_cancelled_connect_is_a_failure_and_builds_nothing() {
    let reactor = Reactor::new().unwrap();
    let (port, _) = serve(&reactor, b"poem".to_vec(), 1, true);
    let checkers = Checkers::new(&reactor, b"poem".to_vec(), 1);
    let connector = reactor.connect_tcp("127.0.0.1", port, checkers.clone());
    connector.disconnect();
    connector.disconnect(); // twice is harmless
    run_bounded(&reactor);
    let failures = checkers.failures.borrow();
    assert_eq!(failures.len(), 1);
    let error = failures[0].downcast_ref::<ConnectError>().unwrap();
    assert!(error.is_cancelled(), "{error}");
    assert_eq!(checkers.built.get(), 0);
}

#[test]
fn a_client_connection_reports_peer_host_and_its_end() {
    struct Addresses(Rc<RefCell<Option<(SocketAddr, SocketAddr)>>>);
    impl Protocol for Addresses {
        fn connection_made(&mut self, transport: Rc<dyn Transport>) {
            *self.0.borrow_mut() = Some((transport.peer(), transport.host()));
        }
    }
    struct OneClient(Rc<RefCell<Option<(SocketAddr, SocketAddr)>>>, Reactor);
    impl Factory for OneClient {
        fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
            Box::new(Addresses(self.0.clone()))
        }
    }
    impl ClientFactory for OneClient {
        fn client_connection_lost(&self, connector: &Connector, reason: Failure) {
            assert!(reason.check::<ConnectionDone>(), "{reason}");
            assert!(connector.destination().starts_with("localhost:"));
            self.1.stop();
        }
    }
    let reactor = Reactor::new().unwrap();
    let (port, _) = serve(&reactor, b"x".to_vec(), 1, true);
    let addresses = Rc::default();
    reactor.connect_tcp(
        "localhost",
        port,
        Rc::new(OneClient(Rc::clone(&addresses), reactor.clone())),
    );
    run_bounded(&reactor);
    let (peer, host) = addresses.borrow().expect("connection_made ran");
    assert_eq!(peer, SocketAddr::from(([127, 0, 0, 1], port)));
    assert!(host.ip().is_loopback() && host.port() != port);
}

/// A server protocol that panics when it hears `panic`, and echoes
/// anything else; or panics in connection_made when told to.
struct Fragile {
    panic_on_connect: Rc<Cell<bool>>,
}

struct FragileProtocol {
    transport: Option<Rc<dyn Transport>>,
}

impl Factory for Fragile {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        if self.panic_on_connect.replace(false) {
            panic!("build_protocol falls down");
        }
        Box::new(FragileProtocol { transport: None })
    }
}

impl Protocol for FragileProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        if data.starts_with(b"panic") {
            panic!("data_received falls down");
        }
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }
}

#[test]
fn a_panicking_protocol_or_factory_loses_only_its_own_connection() {
    let reactor = Reactor::new().unwrap();
    let panic_on_connect = Rc::new(Cell::new(true));
    let factory = Rc::new(Fragile {
        panic_on_connect: panic_on_connect.clone(),
    });
    let port = listen(&reactor, factory);
    let done = stop_after(&reactor, 1);
    let client = thread::spawn(move || {
        // The first client meets a panicking factory: its connection closes.
        let first = read_all(connect(port));
        let mut steady = connect(port);
        let mut doomed = connect(port);
        doomed.write_all(b"panic").unwrap();
        let doomed_got = read_all(doomed);
        // The other connection is still served.
        steady.write_all(b"still here").unwrap();
        let mut echo = [0; 10];
        steady.read_exact(&mut echo).unwrap();
        done();
        (first, doomed_got, echo)
    });
    run_bounded(&reactor);
    let (first, doomed, echo) = client.join().unwrap();
    assert!(first.is_empty() && doomed.is_empty());
    assert_eq!(&echo, b"still here");
    assert!(!panic_on_connect.get());
}

#[test]
fn stop_listening_leaves_open_connections_alone() {
    let reactor = Reactor::new().unwrap();
    let echo = Rc::new(Fragile {
        panic_on_connect: Rc::default(),
    });
    let port = reactor.listen_tcp(0, echo, "127.0.0.1").unwrap();
    let number = port.host().port();
    // Connected before the reactor runs: the kernel holds it in the backlog
    // until a turn accepts it, and the port closes once it has.
    let mut open = connect(number);
    iterate_until(&reactor, || reactor.readers().len() == 2);
    assert_eq!(reactor.readers().len(), 2, "the connection was accepted");
    drop(port.stop_listening());
    // The port is closed at once: new connections are refused.
    let refused = StdStream::connect(("127.0.0.1", number)).is_err();
    assert!(refused, "new connections were still accepted");
    let done = stop_after(&reactor, 1);
    let client = thread::spawn(move || {
        open.write_all(b"still here").unwrap();
        let mut echo = [0; 10];
        open.read_exact(&mut echo).unwrap();
        done();
        echo
    });
    run_bounded(&reactor);
    let echo = client.join().unwrap();
    assert_eq!(&echo, b"still here");
}

#[test]
fn abort_closes_at_once_and_the_protocol_hears_it_was_aborted() {
    // Far more than the kernel's buffers hold while the client is not reading.
    const SIZE: usize = 32 * 1024 * 1024;
    struct Aborter(Rc<Seen>, mpsc::Sender<()>);
    struct AborterProtocol(Rc<Seen>, mpsc::Sender<()>);
    impl Factory for Aborter {
        fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
            Box::new(AborterProtocol(self.0.clone(), self.1.clone()))
        }
    }
    impl Protocol for AborterProtocol {
        fn connection_made(&mut self, transport: Rc<dyn Transport>) {
            transport.write(&pattern(SIZE));
            transport.abort_connection();
            transport.write(b"ignored");
        }
        fn connection_lost(&mut self, reason: Failure) {
            self.0.record_loss(&reason);
            let _ = self.1.send(());
        }
    }
    let reactor = Reactor::new().unwrap();
    let seen = Rc::new(Seen::default());
    let (aborted, wait_for_abort) = mpsc::channel();
    let port = listen(&reactor, Rc::new(Aborter(seen.clone(), aborted)));
    let done = stop_after(&reactor, 1);
    let client = thread::spawn(move || {
        let mut stream = connect(port);
        // Read only once the server has given up on the connection.
        wait_for_abort
            .recv_timeout(LIMIT)
            .expect("the server aborts");
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got); // may end in a reset
        done();
        got.len()
    });
    run_bounded(&reactor);
    assert!(client.join().unwrap() < SIZE);
    // ConnectionAborted, not ConnectionLost or ConnectionDone: we cut it.
    assert_eq!(seen.lost_aborted.get(), 1, "{:?}", seen.lost.borrow());
    assert_eq!(seen.lost_broken.get() + seen.lost_cleanly.get(), 0);
    assert_eq!(*seen.lost.borrow(), ["the connection was aborted"]);
}

#[test]
fn connections_still_open_when_the_reactor_stops_hear_connection_lost() {
    let reactor = Reactor::new().unwrap();
    let (port, seen) = serve(&reactor, Vec::new(), 1, false);
    let _stream = connect(port);
    iterate_until(&reactor, || seen.made.get() == 1);
    assert_eq!(seen.made.get(), 1);
    // The connection is open when run starts, and when it stops.
    reactor.call_when_running(|reactor| reactor.stop());
    run_bounded(&reactor);
    assert_eq!(
        *seen.lost.borrow(),
        ["the connection was lost: the reactor stopped"]
    );
}

/// A client factory that cancels its own connection, either as soon as it
/// starts or from inside `build_protocol`, and records what it hears.
struct Canceller {
    in_build: bool,
    connector: RefCell<Option<Connector>>,
    heard: Rc<RefCell<Vec<String>>>,
}

struct Heard(Rc<RefCell<Vec<String>>>);

impl Protocol for Heard {
    fn connection_made(&mut self, _transport: Rc<dyn Transport>) {
        self.0.borrow_mut().push("made".into());
    }
}

impl Factory for Canceller {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        self.heard.borrow_mut().push("build".into());
        if let Some(connector) = self.connector.borrow_mut().take() {
            connector.disconnect();
        }
        Box::new(Heard(self.heard.clone()))
    }
}

impl ClientFactory for Canceller {
    fn started_connecting(&self, connector: &Connector) {
        if self.in_build {
            *self.connector.borrow_mut() = Some(connector.clone());
        } else {
            connector.disconnect();
        }
    }

    fn client_connection_failed(&self, _connector: &Connector, reason: Failure) {
        self.heard.borrow_mut().push(format!("failed: {reason}"));
    }

    fn client_connection_lost(&self, _connector: &Connector, reason: Failure) {
        self.heard.borrow_mut().push(format!("lost: {reason}"));
    }
}

#[test]
fn a_connection_cancelled_early_only_ever_fails() {
    for in_build in [false, true] {
        let reactor = Reactor::new().unwrap();
        let (port, seen) = serve(&reactor, b"poem".to_vec(), 1, false);
        let heard = Rc::new(RefCell::new(Vec::new()));
        let factory = Rc::new(Canceller {
            in_build,
            connector: RefCell::default(),
            heard: heard.clone(),
        });
        reactor.connect_tcp("127.0.0.1", port, factory);
        // Cancelled in build_protocol, the connection had reached the
        // server: it ends there when the client drops its socket unseen.
        let over = || {
            let failed = heard.borrow().iter().any(|line| line.starts_with("failed"));
            failed && (!in_build || seen.lost.borrow().len() == 1)
        };
        iterate_until(&reactor, over);
        // A few more turns, for a wrongly completed connection to show
        // itself: it would be made now, or lost at the shutdown.
        for _ in 0..5 {
            reactor.iterate(Duration::ZERO).unwrap();
        }
        drop(reactor);
        let heard = heard.borrow();
        let failed = format!("failed: the connection to 127.0.0.1:{port} was cancelled");
        let expected: Vec<String> = if in_build {
            vec!["build".into(), failed]
        } else {
            vec![failed]
        };
        assert_eq!(*heard, expected, "cancelled in build_protocol: {in_build}");
    }
}

#[test]
fn a_panic_in_a_later_read_burst_still_loses_the_connection() {
    // More than one burst of reads: the client sends far more than 64 reads.
    const SIZE: usize = 8 * 1024 * 1024;
    struct PanicLater {
        calls: usize,
        seen: Rc<Seen>,
    }
    impl Protocol for PanicLater {
        fn data_received(&mut self, _data: &[u8]) {
            self.calls += 1;
            if self.calls == 100 {
                panic!("falls down on the 100th chunk");
            }
            self.seen.made.set(self.calls);
        }
        fn connection_lost(&mut self, reason: Failure) {
            self.seen.record_loss(&reason);
        }
    }
    struct PanicLaterFactory(Rc<Seen>);
    impl Factory for PanicLaterFactory {
        fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
            Box::new(PanicLater {
                calls: 0,
                seen: self.0.clone(),
            })
        }
    }
    let reactor = Reactor::new().unwrap();
    let seen = Rc::new(Seen::default());
    let factory = Rc::new(PanicLaterFactory(seen.clone()));
    let port = listen(&reactor, factory);
    let done = stop_after(&reactor, 1);
    let client = thread::spawn(move || {
        let mut stream = connect(port);
        // Write everything at once, so that the server has a backlog to read.
        let _ = stream.write_all(&pattern(SIZE));
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest); // the server closes on us
        done();
    });
    run_bounded(&reactor);
    client.join().unwrap();
    assert_eq!(seen.made.get(), 99, "no chunk is delivered after the panic");
    assert_eq!(
        *seen.lost.borrow(),
        ["the connection was lost: do_read panicked"]
    );
}

// ---------------------------------------------------------------------------
// Hardening (issue 11): each of these failed before its fix.
// ---------------------------------------------------------------------------

#[test]
fn a_client_that_speaks_first_still_gets_the_whole_reply() {
    // A reply bigger than the kernel's buffers, and a small one that the
    // server writes and closes on at once, in connection_made.
    for size in [1_000_000, 3_000] {
        let reactor = Reactor::new().unwrap();
        let (port, seen) = serve(&reactor, pattern(size), 1, true);
        let done = stop_after(&reactor, 1);
        let client = thread::spawn(move || {
            let mut stream = connect(port);
            stream.write_all(b"hello\n").unwrap();
            // Let the server close before we start reading.
            thread::sleep(Duration::from_millis(100));
            let mut got = Vec::new();
            let outcome = stream.read_to_end(&mut got);
            done();
            (outcome.map_err(|e| e.to_string()), got)
        });
        run_bounded(&reactor);
        let (outcome, got) = client.join().unwrap();
        assert_eq!(outcome.map(|_| got.len()), Ok(size), "size {size}");
        assert!(got == pattern(size), "size {size}: the bytes differ");
        assert_eq!(seen.lost_cleanly.get(), 1, "{:?}", seen.lost.borrow());
    }
}

/// Counts the protocols built and dropped, and holds a reactor handle the
/// way a factory that stops the reactor does: a circle through the reactor.
struct Counted {
    reactor: Reactor,
    built: Rc<Cell<usize>>,
    dropped: Rc<Cell<usize>>,
}

struct CountedProtocol(Rc<Cell<usize>>);

impl Drop for CountedProtocol {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

impl Protocol for CountedProtocol {}

impl Factory for Counted {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        let _ = &self.reactor;
        self.built.set(self.built.get() + 1);
        Box::new(CountedProtocol(self.dropped.clone()))
    }
}

#[test]
fn dropping_the_reactor_closes_every_socket_and_frees_every_protocol() {
    const CLIENTS: usize = 5;
    let (built, dropped) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let reactor = Reactor::new().unwrap();
    let factory = Rc::new(Counted {
        reactor: reactor.clone(),
        built: built.clone(),
        dropped: dropped.clone(),
    });
    let factory_alive = Rc::downgrade(&factory);
    let port = listen(&reactor, factory);
    let clients: Vec<StdStream> = (0..CLIENTS).map(|_| connect(port)).collect();
    // The reactor never runs: it only takes turns until every client has
    // its protocol.
    let deadline = std::time::Instant::now() + LIMIT;
    while built.get() < CLIENTS && std::time::Instant::now() < deadline {
        reactor.iterate(Duration::from_millis(10)).unwrap();
    }
    assert_eq!(built.get(), CLIENTS);
    assert_eq!(dropped.get(), 0);

    drop(reactor);

    assert_eq!(dropped.get(), CLIENTS, "every protocol is freed");
    assert!(factory_alive.upgrade().is_none(), "the factory is freed");
    let refused = StdStream::connect(("127.0.0.1", port));
    assert!(refused.is_err(), "the port still accepts connections");
    for mut client in clients {
        let mut rest = Vec::new();
        // End of file or a reset: either way, closed.
        let _ = client.read_to_end(&mut rest);
        assert!(rest.is_empty());
    }
}

#[test]
fn factories_may_be_trait_objects() {
    let reactor = Reactor::new().unwrap();
    let seen = Rc::new(Seen::default());
    let server: Rc<dyn Factory> = Rc::new(Sender {
        payload: Rc::new(b"a poem".to_vec()),
        pieces: 1,
        close: true,
        seen: seen.clone(),
    });
    let port = listen(&reactor, server);
    let checkers = Checkers::new(&reactor, b"a poem".to_vec(), 1);
    let client: Rc<dyn ClientFactory> = checkers.clone();
    reactor.connect_tcp("127.0.0.1", port, client);
    run_bounded(&reactor);
    assert_eq!(*checkers.results.borrow(), [true]);
}

/// Hears a request, and answers it from a Deferred's callback that writes
/// to the same transport and closes it, all inside `data_received`.
struct DeferredEcho;

impl Factory for DeferredEcho {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(DeferredEchoProtocol(None))
    }
}

struct DeferredEchoProtocol(Option<Rc<dyn Transport>>);

impl Protocol for DeferredEchoProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.0 = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let Some(transport) = self.0.clone() else {
            return;
        };
        let (d, trigger) = crate::defer::deferred::<Vec<u8>>();
        let _d = d.add_callback(move |request: Vec<u8>| {
            transport.write(b"you said: ");
            transport.write_bytes(Bytes::from(request));
            transport.lose_connection();
            transport.write(b"!");
            Ok(())
        });
        trigger.callback(data.to_vec());
    }
}

#[test]
fn a_deferred_fired_inside_data_received_may_write_and_close_the_same_transport() {
    let reactor = Reactor::new().unwrap();
    let port = listen(&reactor, Rc::new(DeferredEcho));
    let done = stop_after(&reactor, 1);
    let client = thread::spawn(move || {
        let mut stream = connect(port);
        stream.write_all(b"hello").unwrap();
        let got = read_all(stream);
        done();
        got
    });
    run_bounded(&reactor);
    assert_eq!(client.join().unwrap(), b"you said: hello!");
}

#[test]
fn write_bytes_queues_the_callers_bytes_without_copying_them() {
    let poem = Bytes::from(pattern(1000));
    let mut outgoing = Outgoing::default();
    outgoing.push_copy(b"head ");
    outgoing.push_shared(poem.slice(10..));
    outgoing.push_copy(b" tail");
    // The shared chunk is a view into the poem's own buffer.
    assert_eq!(outgoing.chunks.len(), 2);
    assert_eq!(outgoing.chunks[1].as_ptr(), poem[10..].as_ptr());
    assert_eq!(outgoing.len, 5 + 990 + 5);
    outgoing.advance(7);
    assert_eq!(outgoing.chunks.len(), 1);
    assert_eq!(outgoing.chunks[0].as_ptr(), poem[12..].as_ptr());
    outgoing.advance(988);
    assert!(outgoing.chunks.is_empty());
    assert_eq!(&outgoing.tail[..], b" tail");
}

#[test]
fn a_lingering_close_gives_up_on_a_peer_that_keeps_sending() {
    const FLOOD: usize = 256 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    let (port, seen) = serve(&reactor, b"short".to_vec(), 1, true);
    let done = stop_after(&reactor, 1);
    let client = thread::spawn(move || {
        let mut stream = connect(port);
        let mut got = [0; 5];
        stream.read_exact(&mut got).unwrap();
        // Far more than the lingering close throws away, and than the
        // kernel's buffers on both sides hold.
        let flood = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < FLOOD {
            match stream.write(&flood) {
                Ok(n) => sent += n,
                Err(_) => break, // the server closed on us: what we wanted
            }
        }
        done();
        (got, sent)
    });
    run_bounded(&reactor);
    let (got, sent) = client.join().unwrap();
    assert_eq!(&got, b"short");
    assert!(sent < FLOOD, "the server kept reading for ever");
    assert_eq!(seen.lost_cleanly.get(), 1);
}

#[test]
fn a_lingering_close_gives_up_on_a_silent_peer_after_linger_time() {
    // On a fake clock: the five seconds pass in a call, not in a wait.
    let clock = crate::testing::Clock::new();
    let reactor = Reactor::with_clock(&clock).unwrap();
    let (port, seen) = serve(&reactor, b"short".to_vec(), 1, true);
    // A peer that never closes its side, nor says anything.
    let mut client = connect(port);
    // The protocol hears the end as the lingering close begins.
    iterate_until(&reactor, || seen.lost.borrow().len() == 1);
    let lingering = || reactor.readers().len() == 2; // the port, and it
    assert!(lingering(), "the close did not linger");
    clock.advance(LINGER_TIME - Duration::from_millis(1));
    assert!(lingering(), "gave up before its time");
    clock.advance(Duration::from_millis(1));
    assert_eq!(reactor.readers().len(), 1, "still lingering");
    assert!(reactor.pending_calls().is_empty());
    // The reply got through, with its end.
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"short");
    assert_eq!(*seen.lost.borrow(), ["the connection was closed cleanly"]);
}

#[test]
fn a_protocol_whose_connection_lost_panics_hears_the_end_only_once() {
    struct Twice(Rc<Cell<usize>>);
    impl Protocol for Twice {
        fn connection_made(&mut self, transport: Rc<dyn Transport>) {
            transport.write(b"bye");
            transport.lose_connection();
        }
        fn connection_lost(&mut self, _reason: Failure) {
            self.0.set(self.0.get() + 1);
            panic!("connection_lost falls down");
        }
    }
    struct TwiceFactory(Rc<Cell<usize>>);
    impl Factory for TwiceFactory {
        fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
            Box::new(Twice(self.0.clone()))
        }
    }
    let reactor = Reactor::new().unwrap();
    let calls = Rc::new(Cell::new(0));
    let port = listen(&reactor, Rc::new(TwiceFactory(calls.clone())));
    let done = stop_after(&reactor, 1);
    let client = thread::spawn(move || {
        let mut stream = connect(port);
        stream.write_all(b"hi").unwrap(); // so that the close lingers
        let got = read_all(stream); // then our close ends the linger
        done();
        got
    });
    run_bounded(&reactor);
    assert_eq!(client.join().unwrap(), b"bye");
    assert_eq!(calls.get(), 1);
}

// ---------------------------------------------------------------------------
// From the review of the hardening: each failed before its fix.
// ---------------------------------------------------------------------------

/// Takes turns until `done` says so, bounded.
fn iterate_until(reactor: &Reactor, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + LIMIT;
    while !done() && std::time::Instant::now() < deadline {
        if reactor.iterate(Duration::from_millis(10)).is_err() {
            return;
        }
    }
}

type Log = Rc<RefCell<Vec<String>>>;

#[test]
fn a_shutdown_or_a_nested_turn_inside_data_received_still_ends_the_protocol_once() {
    struct Inside(Log, Reactor, bool);
    impl Protocol for Inside {
        fn data_received(&mut self, _data: &[u8]) {
            self.0.borrow_mut().push("data".into());
            match self.2 {
                true => self.1.shutdown(),
                false => {
                    let nested = self.1.iterate(Duration::from_millis(1));
                    self.0.borrow_mut().push(format!("{:?}", nested.err()));
                }
            }
        }
        fn connection_lost(&mut self, reason: Failure) {
            self.0.borrow_mut().push(format!("lost: {reason}"));
        }
    }
    struct InsideFactory(Log, Reactor, bool);
    impl Factory for InsideFactory {
        fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
            Box::new(Inside(self.0.clone(), self.1.clone(), self.2))
        }
    }
    for shut in [true, false] {
        let reactor = Reactor::new().unwrap();
        let log: Log = Rc::default();
        let factory = Rc::new(InsideFactory(log.clone(), reactor.clone(), shut));
        let port = listen(&reactor, factory);
        let mut client = connect(port);
        client.write_all(b"x").unwrap();
        if !shut {
            client.shutdown(Shutdown::Write).unwrap();
        }
        let lost = || log.borrow().iter().any(|line| line.starts_with("lost"));
        iterate_until(&reactor, lost);
        drop(reactor);
        let log = log.borrow();
        let expected: &[&str] = match shut {
            true => &["data", "lost: the connection was lost: the reactor stopped"],
            false => &[
                "data",
                "Some(the reactor is already running)",
                "lost: the connection was closed cleanly",
            ],
        };
        assert_eq!(*log, expected, "shutdown inside: {shut}");
    }
}

/// Panics where it is told to, and records what it hears and its drop.
struct Clumsy {
    log: Log,
    in_made: bool,
    in_lost: bool,
    in_drop: bool,
}

impl Protocol for Clumsy {
    fn connection_made(&mut self, _transport: Rc<dyn Transport>) {
        if self.in_made {
            panic!("connection_made falls down");
        }
    }
    fn connection_lost(&mut self, reason: Failure) {
        self.log.borrow_mut().push(format!("lost: {reason}"));
        if self.in_lost {
            panic!("connection_lost falls down");
        }
    }
}

impl Drop for Clumsy {
    fn drop(&mut self) {
        self.log.borrow_mut().push("dropped".into());
        if self.in_drop {
            panic!("drop falls down");
        }
    }
}

/// The first protocol is clumsy in the given ways; the later ones say so.
struct ClumsyFactory(Log, [bool; 3], Cell<usize>);

impl Factory for ClumsyFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        self.2.set(self.2.get() + 1);
        if self.2.get() > 1 {
            self.0.borrow_mut().push("next client served".into());
            return Box::new(Heard(Rc::default()));
        }
        let [in_made, in_lost, in_drop] = self.1;
        Box::new(Clumsy {
            log: self.0.clone(),
            in_made,
            in_lost,
            in_drop,
        })
    }
}

#[test]
fn a_protocol_that_panics_on_the_way_in_or_out_still_hears_the_end_and_harms_no_one() {
    // [in connection_made, in connection_lost, in Drop]: a panic in
    // connection_lost while Drop also panics would abort the process.
    for clumsy in [
        [true, false, false],
        [true, false, true],
        [false, true, true],
    ] {
        let reactor = Reactor::new().unwrap();
        let log: Log = Rc::default();
        let port = listen(
            &reactor,
            Rc::new(ClumsyFactory(log.clone(), clumsy, Cell::new(0))),
        );
        drop(connect(port));
        iterate_until(&reactor, || log.borrow().iter().any(|l| l == "dropped"));
        let _next = connect(port);
        iterate_until(&reactor, || log.borrow().len() == 3);
        let log = log.borrow();
        assert_eq!(log.len(), 3, "{clumsy:?}: {log:?}");
        assert!(log[0].starts_with("lost: "), "{clumsy:?}: {log:?}");
        assert_eq!(log[1..], ["dropped", "next client served"], "{clumsy:?}");
    }
}

#[test]
fn factories_that_keep_their_own_port_or_connector_are_freed_with_the_reactor() {
    struct Keeper {
        port: RefCell<Option<ListeningPort>>,
        connector: RefCell<Option<Connector>>,
        _reactor: Reactor,
    }
    impl Factory for Keeper {
        fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
            Box::new(Heard(Rc::default()))
        }
    }
    impl ClientFactory for Keeper {
        fn started_connecting(&self, connector: &Connector) {
            *self.connector.borrow_mut() = Some(connector.clone());
        }
    }
    let reactor = Reactor::new().unwrap();
    let keeper = |reactor: &Reactor| {
        Rc::new(Keeper {
            port: RefCell::default(),
            connector: RefCell::default(),
            _reactor: reactor.clone(),
        })
    };
    let (server, client) = (keeper(&reactor), keeper(&reactor));
    let port = reactor.listen_tcp(0, server.clone(), "127.0.0.1").unwrap();
    let number = port.host().port();
    *server.port.borrow_mut() = Some(port);
    reactor.connect_tcp("127.0.0.1", number, client.clone());
    let weak = (Rc::downgrade(&server), Rc::downgrade(&client));
    drop((server, client));
    drop(reactor);
    let (server, client) = weak;
    assert!(
        server.upgrade().is_none(),
        "the server's factory outlived the reactor"
    );
    assert!(
        client.upgrade().is_none(),
        "the client's factory outlived the reactor"
    );
}
