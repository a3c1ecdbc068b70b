//! Part 15: the test kit. What a test of asynchronous code needs so that it
//! neither sleeps nor races (met first in Part 5's tests, for the fake
//! transport):
//!
//! - [`FakeTransport`], for testing a protocol without a socket, and
//!   [`Loopback`], two protocols joined in memory: delivering at once
//!   ([`Loopback::connect`]), or a turn of a reactor at a time
//!   ([`Loopback::connect_on`]), so that a test can watch a conversation
//!   round by round;
//! - [`Clock`], a fake clock for a reactor's timers, which moves only when
//!   the test says [`advance`](Clock::advance);
//! - [`run_until`], which turns the reactor until a Deferred fires, within
//!   a bound, and [`run_until_true`], until a condition holds; [`success_result_of`] and [`failure_result_of`] for a
//!   Deferred that has already fired, and [`assert_failure`] for one that
//!   must fail with a given error;
//! - [`check_clean`] and [`assert_clean`], which fail a test that leaves
//!   timers pending or sockets open, and name them (trial's "dirty
//!   reactor").
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
//!
//! And a timer, tested without waiting for it:
//!
//! ```
//! use mini_twisted::testing::Clock;
//! use mini_twisted::Reactor;
//! use std::cell::Cell;
//! use std::rc::Rc;
//! use std::time::Duration;
//!
//! let clock = Clock::new();
//! let reactor = Reactor::with_clock(&clock).unwrap();
//! let rang = Rc::new(Cell::new(false));
//! let bell = Rc::clone(&rang);
//! reactor.call_later(Duration::from_secs(3600), move |_| bell.set(true));
//! clock.advance(Duration::from_secs(3599));
//! assert!(!rang.get());
//! clock.advance(Duration::from_secs(1));
//! assert!(rang.get());
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::defer::Deferred;
use crate::failure::Failure;
use crate::protocol::{Event, Protocol, ProtocolCell, Transport};
use crate::reactor::{Reactor, WeakReactor};
use crate::tcp::{ConnectionAborted, ConnectionDone};

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

// ---------------------------------------------------------------------------
// A fake clock.
// ---------------------------------------------------------------------------

// ANCHOR: clock
/// A clock for tests: it starts at the moment it is made and moves only
/// when [`advance`](Clock::advance) moves it. Give it to a reactor with
/// [`Reactor::with_clock`]; that reactor's `call_later` then counts on
/// this clock, and its timers run inside `advance`, never by waiting.
///
/// `advance` follows Twisted's `task.Clock.advance`: the clock first
/// jumps the whole way, then every call due by the new time runs, in
/// deadline order, calls due at the same moment in the order they were
/// scheduled. A call that a running timer schedules is due from the new
/// time, so it runs in the same `advance` only if its delay is zero; to
/// step through time as a real clock would, call `advance` once per step,
/// or [`pump`](Clock::pump). (A timer that keeps rescheduling itself with
/// a zero delay would keep `advance` running, as it would Twisted's; so
/// would a task that keeps waking itself, since `advance` also runs the
/// tasks its timers wake, until none is left.)
#[derive(Clone)]
pub struct Clock {
    inner: Rc<ClockInner>,
}

struct ClockInner {
    start: Instant,
    now: Cell<Instant>,
    /// The reactors that read this clock, weakly: a clock kept by a test
    /// must not keep a reactor alive.
    reactors: RefCell<Vec<WeakReactor>>,
}

impl Clock {
    /// A clock at the present moment, which will not move by itself.
    pub fn new() -> Clock {
        let start = Instant::now();
        Clock {
            inner: Rc::new(ClockInner {
                start,
                now: Cell::new(start),
                reactors: RefCell::default(),
            }),
        }
    }

    /// The clock's time.
    pub fn now(&self) -> Instant {
        self.inner.now.get()
    }

    /// How far the clock has moved since it was made (Twisted's
    /// `seconds()`, counted from zero).
    pub fn elapsed(&self) -> Duration {
        self.now() - self.inner.start
    }

    /// Moves the clock on by `by`, then runs every call that is due, on
    /// every reactor that reads this clock, and every task they wake
    /// (Part 17), as a Twisted generator resumes inside `advance`.
    ///
    /// Panics, failing the test, if `by` would take the clock beyond what
    /// an `Instant` can hold (`Duration::MAX`, say): quietly not moving
    /// would make the test check something else than it says.
    #[track_caller]
    pub fn advance(&self, by: Duration) {
        let now = self.now();
        let Some(later) = now.checked_add(by) else {
            panic!("advance({by:?}) would take the clock past the end of Instant");
        };
        self.inner.now.set(later);
        let reactors: Vec<Reactor> = self
            .inner
            .reactors
            .borrow()
            .iter()
            .filter_map(WeakReactor::upgrade)
            .collect();
        for reactor in reactors {
            // The timers may wake tasks, which may schedule zero-delay
            // calls, which are due too: until neither has anything to do.
            loop {
                reactor.run_all_due_timers();
                if !reactor.run_ready_tasks() {
                    break;
                }
            }
        }
    }

    /// Advances by each of `steps` in turn (Twisted's `Clock.pump`).
    pub fn pump(&self, steps: &[Duration]) {
        for &step in steps {
            self.advance(step);
        }
    }

    /// Called by [`Reactor::with_clock`].
    pub(crate) fn attach(&self, reactor: WeakReactor) {
        let mut reactors = self.inner.reactors.borrow_mut();
        reactors.retain(|known| known.upgrade().is_some());
        reactors.push(reactor);
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}
// ANCHOR_END: clock

// ---------------------------------------------------------------------------
// Deferreds in tests.
// ---------------------------------------------------------------------------

/// The outcome of `deferred`, kept where a test can look at it.
fn watch<T: 'static>(deferred: Deferred<T>) -> Rc<RefCell<Option<Result<T, Failure>>>> {
    let outcome = Rc::new(RefCell::new(None));
    let keep = Rc::clone(&outcome);
    // The chain ends here with `()`: the outcome, failure or not, has been
    // taken, so nothing is reported as unhandled.
    let _: Deferred<()> = deferred.add_both(move |result| {
        *keep.borrow_mut() = Some(result);
        Ok(())
    });
    outcome
}

// ANCHOR: run_until
/// Turns `reactor` until `deferred` fires, and gives its outcome: the
/// value, or the failure it fired with. If it has not fired within
/// `timeout` (real time: the bound on the test), the outcome is a
/// [`TimedOut`] failure that says what was awaited. The reactor must not
/// be running (this is a loop of its own, through [`Reactor::iterate`]).
///
/// It takes the Deferred: once it has timed out, there is nothing left to
/// wait on. To time out and then go on waiting, wait on the condition
/// instead, with [`run_until_true`].
#[track_caller]
pub fn run_until<T: 'static>(
    reactor: &Reactor,
    deferred: Deferred<T>,
    timeout: Duration,
) -> Result<T, Failure> {
    let called_at = std::panic::Location::caller();
    let outcome = watch(deferred);
    let fired = turn_until(reactor, || outcome.borrow().is_some(), timeout)?;
    let result = outcome.borrow_mut().take();
    match result {
        Some(result) if fired => result,
        _ => Err(Failure::new(TimedOut {
            awaited: format!("a {} to fire", std::any::type_name::<Deferred<T>>()),
            at: called_at.to_string(),
            after: timeout,
        })),
    }
}
// ANCHOR_END: run_until

/// Turns `reactor` until `condition` holds (checked before each turn), or
/// gives a [`TimedOut`] failure after `timeout` of real time. For what no
/// Deferred reports: "the server has accepted", "the log has a line".
#[track_caller]
pub fn run_until_true(
    reactor: &Reactor,
    condition: impl FnMut() -> bool,
    timeout: Duration,
) -> Result<(), Failure> {
    let called_at = std::panic::Location::caller();
    if turn_until(reactor, condition, timeout)? {
        return Ok(());
    }
    Err(Failure::new(TimedOut {
        awaited: "the condition to hold".to_string(),
        at: called_at.to_string(),
        after: timeout,
    }))
}

/// The loop of every wait in the kit: turns `reactor` until `condition`
/// holds (true) or `timeout` of real time has passed (false). The turns
/// are short, so that what a timer on a fake clock did (which does not
/// wake the loop) is seen soon after.
fn turn_until(
    reactor: &Reactor,
    mut condition: impl FnMut() -> bool,
    timeout: Duration,
) -> Result<bool, Failure> {
    let deadline = Instant::now() + timeout;
    while !condition() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        reactor
            .iterate(left.min(Duration::from_millis(10)))
            .map_err(Failure::new)?;
    }
    Ok(true)
}

/// [`run_until`] gave up: the Deferred had not fired in time.
#[derive(Debug)]
pub struct TimedOut {
    /// What was awaited, as the end of a sentence.
    awaited: String,
    /// Where the wait was asked for: `file:line:column`.
    at: String,
    after: Duration,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting, at {}, for {}",
            self.after, self.at, self.awaited
        )
    }
}

impl Error for TimedOut {}

/// The value of a Deferred that has already succeeded (Twisted's
/// `successResultOf`). Panics, failing the test, if it has not fired or
/// failed.
#[track_caller]
pub fn success_result_of<T: 'static>(deferred: Deferred<T>) -> T {
    match watch(deferred).take() {
        Some(Ok(value)) => value,
        Some(Err(failure)) => panic!("the Deferred failed: {}", failure.report()),
        None => panic!("the Deferred has not fired"),
    }
}

/// The failure of a Deferred that has already failed with an `E` (Twisted's
/// `failureResultOf`). Panics, failing the test, if it has not fired,
/// succeeded, or failed with something else.
#[track_caller]
pub fn failure_result_of<E: Error + 'static, T: 'static>(deferred: Deferred<T>) -> Failure {
    match watch(deferred).take() {
        Some(Err(failure)) if failure.check::<E>() => failure,
        Some(Err(failure)) => panic!(
            "expected a failure of {}, got: {}",
            std::any::type_name::<E>(),
            failure.report()
        ),
        Some(Ok(_)) => panic!(
            "expected a failure of {}, but the Deferred succeeded",
            std::any::type_name::<E>()
        ),
        None => panic!("the Deferred has not fired"),
    }
}

// ANCHOR: assert_failure
/// A Deferred that succeeds with the failure when `deferred` fails with an
/// `E`, and fails with [`WrongOutcome`] when it succeeds or fails with
/// something else (Twisted's `assertFailure`): the asynchronous form of
/// "this must fail with that error".
pub fn assert_failure<E: Error + 'static, T: 'static>(deferred: Deferred<T>) -> Deferred<Failure> {
    let expected = std::any::type_name::<E>();
    deferred.add_both(move |result| match result {
        Err(failure) if failure.check::<E>() => Ok(failure),
        Err(failure) => Err(Failure::new(WrongOutcome {
            expected,
            got: failure.to_string(),
        })),
        Ok(_) => Err(Failure::new(WrongOutcome {
            expected,
            got: "a success".to_string(),
        })),
    })
}
// ANCHOR_END: assert_failure

/// [`assert_failure`]'s Deferred did not fail as it should have.
#[derive(Debug)]
pub struct WrongOutcome {
    expected: &'static str,
    got: String,
}

impl fmt::Display for WrongOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected a failure of {}, got {}",
            self.expected, self.got
        )
    }
}

impl Error for WrongOutcome {}

// ---------------------------------------------------------------------------
// A clean reactor at the end of a test.
// ---------------------------------------------------------------------------

// ANCHOR: clean
/// Checks that `reactor` holds nothing a test left behind: no call still
/// pending, no socket still watched, no spawned task unfinished. Connections that are closing (a
/// lingering close waiting for its peer's end) get up to `within` of real
/// time to finish first, the reactor turning meanwhile, as trial does
/// before it calls a reactor dirty.
pub fn check_clean(reactor: &Reactor, within: Duration) -> Result<(), DirtyReactor> {
    // A reactor that cannot turn (it is running) is judged as it is.
    let _ = turn_until(reactor, || left_behind(reactor).is_empty(), within);
    let left_behind = left_behind(reactor);
    if left_behind.is_empty() {
        Ok(())
    } else {
        Err(DirtyReactor { left_behind })
    }
}

/// [`check_clean`], failing the test (with the list) if the reactor is not
/// clean within a second.
#[track_caller]
pub fn assert_clean(reactor: &Reactor) {
    if let Err(dirty) = check_clean(reactor, Duration::from_secs(1)) {
        panic!("{dirty}");
    }
}

/// What a reactor still holds: each pending call, watched descriptor and
/// unfinished task.
fn left_behind(reactor: &Reactor) -> Vec<String> {
    let now = reactor.now();
    let mut found: Vec<String> = reactor
        .pending_calls()
        .into_iter()
        .map(|(deadline, what)| {
            let due = deadline.saturating_duration_since(now);
            format!("a call due in {due:?}, scheduled by {what}")
        })
        .collect();
    for reader in reactor.readers() {
        found.push(format!(
            "descriptor {} ({}), watched for reading",
            reader.fileno(),
            reader.log_prefix()
        ));
    }
    for writer in reactor.writers() {
        found.push(format!(
            "descriptor {} ({}), watched for writing",
            writer.fileno(),
            writer.log_prefix()
        ));
    }
    for future in reactor.tasks().pending_futures() {
        found.push(format!("a task not finished, running {future}"));
    }
    found
}
// ANCHOR_END: clean

/// A test left work in its reactor: what [`check_clean`] found.
#[derive(Debug)]
pub struct DirtyReactor {
    pub left_behind: Vec<String>,
}

impl fmt::Display for DirtyReactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the reactor is unclean; the test left behind:")?;
        for item in &self.left_behind {
            writeln!(f, "  {item}")?;
        }
        Ok(())
    }
}

impl Error for DirtyReactor {}

// ---------------------------------------------------------------------------
// Two protocols joined in memory.
// ---------------------------------------------------------------------------

/// Two protocols joined in memory, as if by a connection, in one of two
/// ways.
///
/// [`Loopback::connect`] delivers at once: what one side writes, the other
/// receives on the writer's own call stack, so a conversation of many
/// rounds runs to its end inside `connect`. [`Loopback::connect_on`]
/// delivers through a reactor instead: what is written (and a close)
/// arrives on the reactor's next turn, so that a test can watch the
/// conversation a turn at a time.
///
/// Either way a protocol is never re-entered: what arrives for a protocol
/// whose method is running waits until that method has returned.
///
/// `lose_connection` (either side) ends the connection for both with
/// [`ConnectionDone`], once what was written before it has arrived;
/// `abort_connection` drops what has not arrived yet, and tells the side
/// that aborted [`ConnectionAborted`] and the other [`ConnectionDone`]...
/// as a real peer would only see the connection close. Nothing written
/// after a close arrives.
pub struct Loopback {
    ends: [Rc<End>; 2],
}

/// One side of a [`Loopback`].
struct End {
    protocol: ProtocolCell,
    /// 0 for `a`, 1 for `b`: where this end sits in `Link::ends`.
    side: usize,
    link: Rc<Link>,
    address: SocketAddr,
    peer_address: SocketAddr,
}

/// What the two ends share. It holds the ends weakly: the [`Loopback`]
/// owns them, so dropping the pair drops both protocols, whatever is still
/// waiting for a turn of the reactor.
struct Link {
    ends: RefCell<[Weak<End>; 2]>,
    /// Neither protocol has heard the end yet.
    open: Cell<bool>,
    /// A close has been asked for: nothing more is written.
    closing: Cell<bool>,
    /// For [`Loopback::connect_on`]: the reactor that delivers, and what
    /// waits for its next turn, in the order it happened.
    reactor: Option<WeakReactor>,
    in_flight: RefCell<VecDeque<InFlight>>,
    /// A delivery is scheduled for the next turn.
    scheduled: Cell<bool>,
    /// A side aborted: what was on its way is dropped, not delivered.
    aborted: Cell<bool>,
}

/// Something a side did that the other has not heard yet.
enum InFlight {
    Data {
        to: usize,
        bytes: Vec<u8>,
    },
    Close {
        by: usize,
        mine: Failure,
        theirs: Failure,
    },
}

impl Loopback {
    /// Joins `a` (at 127.0.0.1:20000) and `b` (at 127.0.0.1:10000), then
    /// tells `a` and then `b` that the connection is made. What they write
    /// is delivered at once.
    pub fn connect(a: Box<dyn Protocol>, b: Box<dyn Protocol>) -> Loopback {
        Loopback::join(a, b, None)
    }

    /// Joins `a` and `b` as [`connect`](Loopback::connect) does, and tells
    /// both now that the connection is made; but what either writes from
    /// then on waits for a turn of `reactor`, which delivers it from a
    /// zero-delay call, and so does a close.
    ///
    /// One turn, [`Reactor::iterate`] with a zero timeout, delivers one
    /// round: all that was written before the turn began, in the order it
    /// was written (one side's writes back to back arriving together, as
    /// one read). What the protocols write while they hear it waits for the
    /// next turn. On a fake clock, [`Clock::advance`] runs every zero-delay
    /// call that comes due, those scheduled meanwhile included (Twisted's
    /// `Clock`), so it runs round after round until the conversation is
    /// quiet.
    ///
    /// The pair owns the protocols: keep it while the reactor turns.
    pub fn connect_on(reactor: &Reactor, a: Box<dyn Protocol>, b: Box<dyn Protocol>) -> Loopback {
        Loopback::join(a, b, Some(reactor.downgrade()))
    }

    fn join(a: Box<dyn Protocol>, b: Box<dyn Protocol>, reactor: Option<WeakReactor>) -> Loopback {
        let (at_a, at_b) = (
            SocketAddr::from(([127, 0, 0, 1], 20000)),
            SocketAddr::from(([127, 0, 0, 1], 10000)),
        );
        let link = Rc::new(Link {
            ends: RefCell::default(),
            open: Cell::new(true),
            closing: Cell::new(false),
            reactor,
            in_flight: RefCell::default(),
            scheduled: Cell::new(false),
            aborted: Cell::new(false),
        });
        let end = |side, protocol, address, peer_address| {
            Rc::new(End {
                protocol: ProtocolCell::new(protocol),
                side,
                link: Rc::clone(&link),
                address,
                peer_address,
            })
        };
        let ends = [end(0, a, at_a, at_b), end(1, b, at_b, at_a)];
        *link.ends.borrow_mut() = [Rc::downgrade(&ends[0]), Rc::downgrade(&ends[1])];
        for end in &ends {
            let transport = Rc::new(LoopbackTransport(Rc::downgrade(end)));
            drop(end.protocol.deliver(Event::Made(transport)));
        }
        Loopback { ends }
    }

    /// Is the connection still open? False once both protocols have heard
    /// that it ended.
    pub fn is_open(&self) -> bool {
        self.ends[0].link.open.get()
    }
}

impl Link {
    fn end(&self, side: usize) -> Option<Rc<End>> {
        self.ends.borrow()[side].upgrade()
    }

    /// `data`, written by `side`, for the other side: now, or queued for
    /// the reactor's next turn.
    fn write(self: &Rc<Self>, side: usize, data: &[u8]) {
        if self.closing.get() {
            return;
        }
        let to = 1 - side;
        if self.reactor.is_none() {
            if let Some(peer) = self.end(to) {
                drop(peer.protocol.data_received(data));
            }
            return;
        }
        {
            let mut in_flight = self.in_flight.borrow_mut();
            match in_flight.back_mut() {
                Some(InFlight::Data { to: last, bytes }) if *last == to => {
                    bytes.extend_from_slice(data)
                }
                _ => in_flight.push_back(InFlight::Data {
                    to,
                    bytes: data.to_vec(),
                }),
            }
        }
        self.schedule();
    }

    /// `side` ends the connection; each side will hear its own reason.
    fn close(self: &Rc<Self>, side: usize, mine: Failure, theirs: Failure, abort: bool) {
        if self.closing.replace(true) {
            return;
        }
        if self.reactor.is_none() {
            return self.end_both(side, mine, theirs);
        }
        let mut in_flight = self.in_flight.borrow_mut();
        if abort {
            // What was still on its way never arrives (there is nothing
            // else in flight: this is the first close).
            in_flight.clear();
            self.aborted.set(true);
        }
        in_flight.push_back(InFlight::Close {
            by: side,
            mine,
            theirs,
        });
        drop(in_flight);
        self.schedule();
    }

    /// Tells `by` and then the other side that the connection is over.
    fn end_both(&self, by: usize, mine: Failure, theirs: Failure) {
        self.open.set(false);
        // Each protocol comes back once it has heard: dropped here.
        if let Some(end) = self.end(by) {
            drop(end.protocol.deliver(Event::Lost(mine, None)));
        }
        if let Some(peer) = self.end(1 - by) {
            drop(peer.protocol.deliver(Event::Lost(theirs, None)));
        }
    }

    /// Asks the reactor for a turn, unless one is asked for already. The
    /// call holds the link weakly: a pending delivery keeps nothing alive.
    fn schedule(self: &Rc<Self>) {
        if self.scheduled.replace(true) {
            return;
        }
        let Some(reactor) = self.reactor.as_ref().and_then(WeakReactor::upgrade) else {
            return; // the reactor is gone: nothing will be delivered
        };
        let link = Rc::downgrade(self);
        reactor.call_later(Duration::ZERO, move |_| {
            if let Some(link) = link.upgrade() {
                link.deliver_round();
            }
        });
    }

    /// One turn's deliveries: what was on its way when the turn began.
    /// What the protocols write meanwhile waits for the next turn.
    fn deliver_round(&self) {
        self.scheduled.set(false);
        let round = self.in_flight.take();
        for item in round {
            match item {
                // An abort during this round drops what is left of it.
                InFlight::Data { .. } if self.aborted.get() => {}
                InFlight::Data { to, bytes } => {
                    if let Some(end) = self.end(to) {
                        drop(end.protocol.data_received(&bytes));
                    }
                }
                InFlight::Close { by, mine, theirs } => return self.end_both(by, mine, theirs),
            }
        }
    }
}

/// The transport a loopback protocol gets: it holds its end weakly, so a
/// protocol keeping its transport keeps nothing in a circle.
struct LoopbackTransport(Weak<End>);

impl Transport for LoopbackTransport {
    fn write(&self, data: &[u8]) {
        if let Some(end) = self.0.upgrade() {
            end.link.write(end.side, data);
        }
    }

    fn lose_connection(&self) {
        if let Some(end) = self.0.upgrade() {
            let done = || Failure::new(ConnectionDone);
            end.link.close(end.side, done(), done(), false);
        }
    }

    fn abort_connection(&self) {
        if let Some(end) = self.0.upgrade() {
            let (mine, theirs) = (
                Failure::new(ConnectionAborted),
                Failure::new(ConnectionDone),
            );
            end.link.close(end.side, mine, theirs, true);
        }
    }

    fn peer(&self) -> SocketAddr {
        self.0
            .upgrade()
            .map_or(([0, 0, 0, 0], 0).into(), |end| end.peer_address)
    }

    fn host(&self) -> SocketAddr {
        self.0
            .upgrade()
            .map_or(([0, 0, 0, 0], 0).into(), |end| end.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Counts to `rounds` with its peer: each side answers every number it
    /// hears with the next one, at once, from inside data_received.
    struct Counter {
        name: &'static str,
        transport: Option<Rc<dyn Transport>>,
        log: Rc<RefCell<Vec<String>>>,
        starts: bool,
        rounds: u32,
    }

    impl Protocol for Counter {
        fn connection_made(&mut self, transport: Rc<dyn Transport>) {
            if self.starts {
                transport.write(b"1");
            }
            self.transport = Some(transport);
        }

        fn data_received(&mut self, data: &[u8]) {
            let heard: u32 = std::str::from_utf8(data).unwrap().parse().unwrap();
            self.log
                .borrow_mut()
                .push(format!("{} heard {heard}", self.name));
            let Some(transport) = &self.transport else {
                return;
            };
            if heard >= self.rounds {
                transport.lose_connection();
                // Nothing written after the close is delivered.
                transport.write(b"999");
            } else {
                transport.write((heard + 1).to_string().as_bytes());
                self.log
                    .borrow_mut()
                    .push(format!("{} answered", self.name));
            }
        }

        fn connection_lost(&mut self, reason: Failure) {
            self.log
                .borrow_mut()
                .push(format!("{} lost: {reason}", self.name));
        }
    }

    // -- The fake clock --------------------------------------------------

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A reactor on a fresh fake clock, and a log its calls write to.
    fn on_fake_clock() -> (Clock, crate::OwnedReactor, Rc<RefCell<Vec<String>>>) {
        let clock = Clock::new();
        let reactor = Reactor::with_clock(&clock).unwrap();
        (clock, reactor, Rc::default())
    }

    fn note(log: &Rc<RefCell<Vec<String>>>, what: impl Into<String>) {
        log.borrow_mut().push(what.into());
    }

    #[test]
    fn advance_runs_what_is_due_in_deadline_then_scheduling_order() {
        let (clock, reactor, log) = on_fake_clock();
        for (delay, name) in [(3, "c"), (1, "a"), (2, "b1"), (2, "b2"), (9, "late")] {
            let log = Rc::clone(&log);
            reactor.call_later(secs(delay), move |_| note(&log, name));
        }
        clock.advance(secs(1) - Duration::from_nanos(1));
        assert!(log.borrow().is_empty(), "nothing is due before its time");
        clock.advance(secs(2) + Duration::from_nanos(1));
        assert_eq!(*log.borrow(), ["a", "b1", "b2", "c"]);
        assert_eq!(clock.elapsed(), secs(3));
        clock.advance(secs(6));
        assert_eq!(log.borrow().last().map(String::as_str), Some("late"));
    }

    #[test]
    fn a_call_scheduled_during_advance_counts_from_the_new_time() {
        let (clock, reactor, log) = on_fake_clock();
        let inner = Rc::clone(&log);
        reactor.call_later(secs(1), move |reactor| {
            note(&inner, "first");
            let now = Rc::clone(&inner);
            reactor.call_later(Duration::ZERO, move |_| note(&now, "zero delay"));
            let later = Rc::clone(&inner);
            reactor.call_later(secs(1), move |_| note(&later, "one more second"));
        });
        // As Twisted's Clock: the clock jumps to 5 s first, so the zero
        // delay call is due and runs, and the 1 s call is due at 6 s.
        clock.advance(secs(5));
        assert_eq!(*log.borrow(), ["first", "zero delay"]);
        clock.advance(secs(1));
        assert_eq!(*log.borrow(), ["first", "zero delay", "one more second"]);
    }

    #[test]
    fn pump_steps_through_time_and_cancelled_calls_never_run() {
        let (clock, reactor, log) = on_fake_clock();
        fn tick(reactor: &Reactor, log: Rc<RefCell<Vec<String>>>, left: u32) {
            note(&log, format!("tick {left}"));
            if left > 1 {
                reactor.call_later(secs(1), move |reactor| tick(reactor, log, left - 1));
            }
        }
        let ticks = Rc::clone(&log);
        reactor.call_later(secs(1), move |reactor| tick(reactor, ticks, 3));
        let doomed = Rc::clone(&log);
        let call = reactor.call_later(secs(2), move |_| note(&doomed, "cancelled"));
        assert!(call.cancel());
        clock.pump(&[secs(1), secs(1), secs(1), secs(1)]);
        assert_eq!(*log.borrow(), ["tick 3", "tick 2", "tick 1"]);
    }

    #[test]
    fn a_fake_clock_does_not_move_while_the_reactor_waits() {
        let (clock, reactor, log) = on_fake_clock();
        let rang = Rc::clone(&log);
        reactor.call_later(Duration::from_millis(1), move |_| note(&rang, "rang"));
        // However long it waits, the timer is not due: the clock did not move.
        reactor.iterate(Duration::from_millis(20)).unwrap();
        assert!(log.borrow().is_empty());
        clock.advance(Duration::from_millis(1));
        assert_eq!(*log.borrow(), ["rang"]);
    }

    // -- Deferreds ----------------------------------------------------------

    #[derive(Debug)]
    struct Refused;

    impl fmt::Display for Refused {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("refused")
        }
    }

    impl Error for Refused {}

    #[test]
    fn run_until_gives_the_outcome_of_a_deferred_a_timer_fires() {
        let (clock, reactor, _) = on_fake_clock();
        let (later, trigger) = crate::deferred::<&str>();
        reactor.call_later(secs(60), move |_| trigger.callback("a minute later"));
        // Nothing fires on its own: the bound is what ends the wait.
        let timeout = Duration::from_millis(30);
        let failure = run_until(&reactor, later, timeout).unwrap_err();
        assert!(failure.check::<TimedOut>());
        assert!(failure.to_string().contains("Deferred<&str>"), "{failure}");

        let (later, trigger) = crate::deferred::<&str>();
        reactor.call_later(secs(60), move |_| trigger.callback("a minute later"));
        clock.advance(secs(60));
        assert_eq!(
            run_until(&reactor, later, timeout).unwrap(),
            "a minute later"
        );
    }

    #[test]
    fn run_until_true_waits_for_a_condition_and_names_the_line_that_waited() {
        let (clock, reactor, log) = on_fake_clock();
        let rang = Rc::clone(&log);
        reactor.call_later(secs(5), move |_| note(&rang, "rang"));
        let bound = Duration::from_millis(20);
        let failure = run_until_true(&reactor, || !log.borrow().is_empty(), bound).unwrap_err();
        assert!(failure.check::<TimedOut>());
        let line = line!() - 2;
        assert!(
            failure
                .to_string()
                .contains(&format!("src/testing.rs:{line}:")),
            "{failure}"
        );
        assert!(
            failure.to_string().ends_with("for the condition to hold"),
            "{failure}"
        );
        clock.advance(secs(5));
        run_until_true(&reactor, || !log.borrow().is_empty(), bound).unwrap();
    }

    #[test]
    fn result_of_helpers_take_a_fired_deferreds_outcome() {
        assert_eq!(success_result_of(crate::defer::succeed(7)), 7);
        let failure = failure_result_of::<Refused, u8>(crate::defer::fail(Refused));
        assert_eq!(failure.to_string(), "refused");
        let unfired = std::panic::catch_unwind(|| {
            let (deferred, _trigger) = crate::deferred::<u8>();
            success_result_of(deferred)
        });
        assert!(unfired.is_err());
    }

    #[test]
    fn assert_failure_turns_the_expected_failure_into_a_success() {
        let expected = assert_failure::<Refused, u8>(crate::defer::fail(Refused));
        assert_eq!(success_result_of(expected).to_string(), "refused");
        let succeeded = assert_failure::<Refused, u8>(crate::defer::succeed(1));
        let failure = failure_result_of::<WrongOutcome, _>(succeeded);
        assert!(failure.to_string().ends_with("got a success"), "{failure}");
        let other = assert_failure::<Refused, u8>(crate::defer::fail(TimedOut {
            awaited: "x".to_string(),
            at: String::new(),
            after: Duration::ZERO,
        }));
        failure_result_of::<WrongOutcome, _>(other);
    }

    // -- A clean reactor ----------------------------------------------------

    #[test]
    fn check_clean_names_what_a_test_left_behind() {
        let (clock, reactor, _) = on_fake_clock();
        assert!(check_clean(&reactor, Duration::ZERO).is_ok());
        let forgotten = reactor.call_later(secs(10), |_| {});
        let factory: Rc<dyn crate::protocol::Factory> = Rc::new(Nobody);
        let port = reactor.listen_tcp(0, factory, "127.0.0.1").unwrap();
        let dirty = check_clean(&reactor, Duration::from_millis(20)).unwrap_err();
        let report = dirty.to_string();
        assert_eq!(dirty.left_behind.len(), 2, "{report}");
        assert!(report.contains("a call due in 10s"), "{report}");
        assert!(
            report.contains("check_clean_names_what_a_test_left_behind"),
            "the call is named by where it was scheduled: {report}"
        );
        assert!(report.contains("watched for reading"), "{report}");

        forgotten.cancel();
        success_result_of(port.stop_listening());
        assert!(check_clean(&reactor, Duration::ZERO).is_ok());
        clock.advance(secs(10));
    }

    /// A factory for a port nobody connects to.
    struct Nobody;

    impl crate::protocol::Factory for Nobody {
        fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
            Box::new(Shout::default())
        }
    }

    #[test]
    fn a_loopback_pair_talks_synchronously_and_never_re_enters_a_protocol() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let counter = |name, starts| {
            Box::new(Counter {
                name,
                transport: None,
                log: log.clone(),
                starts,
                rounds: 4,
            })
        };
        // `a` writes in connection_made, before `b` has heard it is
        // connected: that first number waits for `b`'s connection_made.
        let pair = Loopback::connect(counter("a", true), counter("b", false));
        assert!(!pair.is_open());
        // `a` hears 2 inside `b`'s write (it was idle), but `b` hears 3
        // only after its own data_received has returned ("b answered"):
        // never inside itself. The same goes for each side's loss.
        assert_eq!(
            *log.borrow(),
            [
                "b heard 1",
                "a heard 2",
                "a answered",
                "b answered",
                "b heard 3",
                "a heard 4",
                "a lost: the connection was closed cleanly",
                "b answered",
                "b lost: the connection was closed cleanly",
            ]
        );
    }

    // -- A loopback pair on a reactor ------------------------------------

    type Log = Rc<RefCell<Vec<String>>>;
    type Slot = Rc<RefCell<Option<Rc<dyn Transport>>>>;

    /// Notes what it hears, hangs up when it hears `bye` and aborts when it
    /// hears `abort`, and leaves its transport where the test can write.
    struct Chat {
        name: &'static str,
        log: Log,
        slot: Slot,
        /// Also holds on to the reactor, as a protocol that schedules
        /// its own timers would.
        _reactor: Option<Reactor>,
        _alive: Rc<()>,
    }

    impl Protocol for Chat {
        fn connection_made(&mut self, transport: Rc<dyn Transport>) {
            note(&self.log, format!("{} made", self.name));
            *self.slot.borrow_mut() = Some(transport);
        }

        fn data_received(&mut self, data: &[u8]) {
            let heard = String::from_utf8_lossy(data).into_owned();
            note(&self.log, format!("{} heard {heard}", self.name));
            let Some(transport) = self.slot.borrow().clone() else {
                return;
            };
            match data {
                b"bye" => transport.lose_connection(),
                b"abort" => transport.abort_connection(),
                _ => {}
            }
        }

        fn connection_lost(&mut self, reason: Failure) {
            note(&self.log, format!("{} lost: {reason}", self.name));
        }
    }

    fn chat(name: &'static str, log: &Log) -> (Box<Chat>, Slot) {
        let slot = Slot::default();
        let chat = Chat {
            name,
            log: Rc::clone(log),
            slot: Rc::clone(&slot),
            _reactor: None,
            _alive: Rc::new(()),
        };
        (Box::new(chat), slot)
    }

    /// The transport a `Chat` left in its slot.
    fn transport(slot: &Slot) -> Rc<dyn Transport> {
        slot.borrow().clone().expect("connection_made ran")
    }

    /// One turn of the reactor, and what the log gained in it.
    fn turn(reactor: &Reactor, log: &Log) -> Vec<String> {
        let before = log.borrow().len();
        reactor.iterate(Duration::ZERO).unwrap();
        log.borrow()[before..].to_vec()
    }

    fn counters(log: &Log) -> (Box<Counter>, Box<Counter>) {
        let counter = |name, starts| {
            Box::new(Counter {
                name,
                transport: None,
                log: Rc::clone(log),
                starts,
                rounds: 4,
            })
        };
        (counter("a", true), counter("b", false))
    }

    #[test]
    fn a_pair_on_a_reactor_delivers_one_round_per_turn() {
        let (_clock, reactor, log) = on_fake_clock();
        let (a, b) = counters(&log);
        let pair = Loopback::connect_on(&reactor, a, b);
        // `a` wrote in connection_made; nothing has arrived yet.
        assert!(log.borrow().is_empty());
        // Each answer, written while its side hears, waits for the next
        // turn; so does the close, and nothing written after it arrives.
        assert_eq!(turn(&reactor, &log), ["b heard 1", "b answered"]);
        assert_eq!(turn(&reactor, &log), ["a heard 2", "a answered"]);
        assert_eq!(turn(&reactor, &log), ["b heard 3", "b answered"]);
        assert_eq!(turn(&reactor, &log), ["a heard 4"]);
        assert!(pair.is_open(), "the close has not arrived yet");
        assert_eq!(
            turn(&reactor, &log),
            [
                "a lost: the connection was closed cleanly",
                "b lost: the connection was closed cleanly",
            ]
        );
        assert!(!pair.is_open());
        assert!(turn(&reactor, &log).is_empty());
        assert!(reactor.pending_calls().is_empty());
    }

    #[test]
    fn a_round_delivers_in_the_order_written_and_back_to_back_writes_together() {
        let (_clock, reactor, log) = on_fake_clock();
        let ((a, at_a), (b, at_b)) = (chat("a", &log), chat("b", &log));
        let _pair = Loopback::connect_on(&reactor, a, b);
        assert_eq!(*log.borrow(), ["a made", "b made"]);
        let (to_b, to_a) = (transport(&at_a), transport(&at_b));
        to_b.write(b"x");
        to_a.write(b"y");
        to_b.write(b"z1");
        to_b.write(b"z2");
        assert_eq!(
            turn(&reactor, &log),
            ["b heard x", "a heard y", "b heard z1z2"]
        );
    }

    #[test]
    fn advancing_a_fake_clock_runs_the_whole_conversation() {
        let (clock, reactor, log) = on_fake_clock();
        let (a, b) = counters(&log);
        let pair = Loopback::connect_on(&reactor, a, b);
        // Each round schedules the next with a zero delay, which is due
        // at once: one advance runs them all, as Twisted's Clock would.
        clock.advance(Duration::ZERO);
        assert!(!pair.is_open());
        assert_eq!(log.borrow().len(), 9, "{:?}", log.borrow());
        assert_eq!(log.borrow()[8], "b lost: the connection was closed cleanly");
    }

    #[test]
    fn a_close_arrives_after_what_was_written_before_it_and_nothing_after() {
        let (_clock, reactor, log) = on_fake_clock();
        let ((a, at_a), (b, at_b)) = (chat("a", &log), chat("b", &log));
        let pair = Loopback::connect_on(&reactor, a, b);
        log.borrow_mut().clear();
        let (to_b, to_a) = (transport(&at_a), transport(&at_b));
        to_b.write(b"last words");
        to_b.lose_connection();
        to_b.write(b"after the close");
        to_a.write(b"an answer too late");
        to_b.abort_connection(); // too late to change how it ends
        assert_eq!(
            turn(&reactor, &log),
            [
                "b heard last words",
                "a lost: the connection was closed cleanly",
                "b lost: the connection was closed cleanly",
            ]
        );
        assert!(!pair.is_open());
        to_a.write(b"anyone?");
        assert!(turn(&reactor, &log).is_empty());
    }

    #[test]
    fn an_abort_drops_what_has_not_arrived_even_within_its_round() {
        let (_clock, reactor, log) = on_fake_clock();
        let ((a, at_a), (b, at_b)) = (chat("a", &log), chat("b", &log));
        let _pair = Loopback::connect_on(&reactor, a, b);
        log.borrow_mut().clear();
        let (to_b, to_a) = (transport(&at_a), transport(&at_b));
        // `b` aborts as it hears the first delivery of the round: the
        // second, on its way to `a`, never arrives.
        to_b.write(b"abort");
        to_a.write(b"lost on the way");
        assert_eq!(turn(&reactor, &log), ["b heard abort"]);
        assert_eq!(
            turn(&reactor, &log),
            [
                "b lost: the connection was aborted",
                "a lost: the connection was closed cleanly",
            ]
        );
    }

    #[test]
    fn a_delivery_inside_a_nested_advance_waits_for_the_busy_protocol() {
        /// Hears `ping`, answers `pong`, then advances the clock from
        /// inside data_received: the answer's answer comes due then.
        struct Impatient(Log, Clock, Option<Rc<dyn Transport>>);
        impl Protocol for Impatient {
            fn connection_made(&mut self, transport: Rc<dyn Transport>) {
                self.2 = Some(transport);
            }
            fn data_received(&mut self, data: &[u8]) {
                let heard = String::from_utf8_lossy(data).into_owned();
                note(&self.0, format!("b heard {heard}"));
                if let (Some(transport), b"ping") = (&self.2, data) {
                    transport.write(b"pong");
                    self.1.advance(Duration::ZERO);
                }
                note(&self.0, format!("b returns from {heard}"));
            }
        }
        /// Says `ping`, and answers `pong` with `again`.
        struct Pinger(Log, Option<Rc<dyn Transport>>);
        impl Protocol for Pinger {
            fn connection_made(&mut self, transport: Rc<dyn Transport>) {
                transport.write(b"ping");
                self.1 = Some(transport);
            }
            fn data_received(&mut self, data: &[u8]) {
                note(
                    &self.0,
                    format!("a heard {}", String::from_utf8_lossy(data)),
                );
                if let (Some(transport), b"pong") = (&self.1, data) {
                    transport.write(b"again");
                }
            }
        }
        let (clock, reactor, log) = on_fake_clock();
        let pinger = Pinger(Rc::clone(&log), None);
        let impatient = Impatient(Rc::clone(&log), clock.clone(), None);
        let _pair = Loopback::connect_on(&reactor, Box::new(pinger), Box::new(impatient));
        reactor.iterate(Duration::ZERO).unwrap();
        // `again` came due inside b's own data_received, and arrived only
        // after that had returned.
        assert_eq!(
            *log.borrow(),
            [
                "b heard ping",
                "a heard pong",
                "b returns from ping",
                "b heard again",
                "b returns from again",
            ]
        );
    }

    #[test]
    fn nothing_keeps_a_pairs_protocols_alive_once_the_pair_is_dropped() {
        for pair_first in [true, false] {
            let (_clock, reactor, log) = on_fake_clock();
            let ((mut a, at_a), (mut b, _at_b)) = (chat("a", &log), chat("b", &log));
            a._reactor = Some(reactor.clone());
            b._reactor = Some(reactor.clone());
            let alive = [Rc::downgrade(&a._alive), Rc::downgrade(&b._alive)];
            let weak_reactor = reactor.downgrade();
            let pair = Loopback::connect_on(&reactor, a, b);
            // A delivery waits in the reactor, and each protocol holds
            // its transport and a handle to the reactor.
            transport(&at_a).write(b"pending");
            drop(at_a);
            if pair_first {
                drop(pair);
                assert!(alive.iter().all(|p| p.upgrade().is_none()), "freed at once");
                // The pending delivery finds nobody, and says nothing.
                reactor.iterate(Duration::ZERO).unwrap();
                drop(reactor);
            } else {
                drop(reactor);
                drop(pair);
            }
            assert!(alive.iter().all(|p| p.upgrade().is_none()), "{pair_first}");
            assert!(weak_reactor.upgrade().is_none(), "{pair_first}");
            assert!(!log.borrow().iter().any(|line| line.contains("heard")));
        }
    }
}
