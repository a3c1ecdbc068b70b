//! One test per rule the reactor promises (see the module's docs).
//!
//! Timers are tested on a fake [`Clock`] (Part 15), which moves only when
//! a test advances it, so that no test waits for a timer to come due; the
//! loop's turns are driven with zero delays, `iterate`, or a stop from the
//! callback that ends the work. One test keeps a real timer on purpose:
//! that an idle loop sleeps in the kernel until the next real deadline.

use super::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;

/// What the callbacks of a test did, in order.
type Log = Rc<RefCell<Vec<String>>>;

fn new_log() -> Log {
    Rc::default()
}

fn note(log: &Log, what: impl Into<String>) {
    log.borrow_mut().push(what.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// Stops the reactor after ten seconds, so that a broken test fails
/// instead of hanging; the test fails when the guard is dropped. (A panic
/// in the timer itself would be caught by the reactor, and fail nothing.)
/// The tests stop their reactors long before.
#[must_use = "the test fails when the guard is dropped, if the net caught it"]
fn safety_net(reactor: &Reactor) -> Net {
    let tripped = Rc::new(Cell::new(false));
    let flag = Rc::clone(&tripped);
    reactor.call_later(Duration::from_secs(10), move |reactor| {
        flag.set(true);
        reactor.stop();
    });
    Net(tripped)
}

struct Net(Rc<Cell<bool>>);

impl Drop for Net {
    fn drop(&mut self) {
        if self.0.get() && !std::thread::panicking() {
            panic!("the test did not stop its reactor in time");
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A reactor whose timers follow a fresh fake clock.
fn on_fake_clock() -> (Clock, OwnedReactor) {
    let clock = Clock::new();
    let reactor = Reactor::with_clock(&clock).unwrap();
    (clock, reactor)
}

/// Takes turns until `done` says so, for at most ten seconds of real time
/// (the bound on a broken test, not a wait the test counts on).
fn iterate_until(reactor: &Reactor, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() && Instant::now() < deadline {
        reactor.iterate(ms(10)).unwrap();
    }
    assert!(done(), "the test's condition never came true");
}

#[test]
fn timers_fire_in_deadline_order_and_ties_in_scheduling_order() {
    let (clock, reactor) = on_fake_clock();
    let log = new_log();
    for (delay, name) in [(30, "c"), (10, "a1"), (20, "b"), (10, "a2"), (0, "zero")] {
        let log = log.clone();
        reactor.call_later(ms(delay), move |_| note(&log, name));
    }
    clock.advance(ms(9));
    assert_eq!(entries(&log), ["zero"], "nothing runs before it is due");
    // All the rest come due at once: the order is the deadlines', not
    // the order of scheduling, and among equal deadlines the scheduling's.
    clock.advance(ms(21));
    assert_eq!(entries(&log), ["zero", "a1", "a2", "b", "c"]);
}

#[test]
fn a_zero_delay_call_runs_on_the_next_turn_never_inside_its_caller() {
    let reactor = Reactor::new().unwrap();
    let log = new_log();
    let inner_log = log.clone();
    reactor.call_when_running(move |reactor| {
        let log = inner_log.clone();
        let turn = reactor.turns();
        reactor.call_later(Duration::ZERO, move |reactor| {
            note(
                &log,
                format!("zero ran on a later turn: {}", reactor.turns() > turn),
            );
            reactor.stop();
        });
        note(&inner_log, "caller returned");
    });
    let _net = safety_net(&reactor);
    reactor.run().unwrap();
    assert_eq!(
        entries(&log),
        ["caller returned", "zero ran on a later turn: true"]
    );
}

#[test]
fn a_timer_that_reschedules_itself_at_zero_delay_does_not_starve_the_loop() {
    /// Runs again on the next turn, up to a thousand times: the cap turns
    /// a loop that starves into a wrong count instead of a hang.
    fn again(reactor: &Reactor, count: Rc<Cell<u32>>) {
        count.set(count.get() + 1);
        if count.get() < 1000 {
            reactor.call_later(Duration::ZERO, move |reactor| again(reactor, count));
        }
    }
    // On a fake clock, which stands still, a call scheduled with a zero
    // delay is due at once, inside the very step that scheduled it: only
    // the rule of the step keeps it for the next turn. (The system's clock
    // moves on while a step runs, which would hide a broken rule.)
    let (_clock, reactor) = on_fake_clock();
    let count = Rc::new(Cell::new(0));
    again(&reactor, count.clone());
    let other = Rc::new(Cell::new(false));
    let flag = other.clone();
    reactor.call_later(Duration::ZERO, move |_| flag.set(true));
    for turn in 1..=5 {
        reactor.iterate(Duration::ZERO).unwrap();
        // Had the loop run the rescheduled call in the same step, the
        // first turn would have run all thousand.
        assert_eq!(count.get(), turn + 1, "one call on each turn");
        assert!(other.get(), "the other call had its turn");
    }
}

#[test]
fn a_cancelled_call_never_runs() {
    let (clock, reactor) = on_fake_clock();
    let log = new_log();
    let doomed = {
        let log = log.clone();
        reactor.call_later(ms(10), move |_| note(&log, "doomed ran"))
    };
    assert!(doomed.active());
    assert!(doomed.cancel());
    assert!(!doomed.active());
    assert!(!doomed.cancel(), "a second cancel is too late");

    // Cancelling from inside another callback.
    let later = {
        let log = log.clone();
        reactor.call_later(ms(20), move |_| note(&log, "later ran"))
    };
    reactor.call_later(ms(10), move |_| {
        assert!(later.cancel());
    });
    let log2 = log.clone();
    let ran = reactor.call_later(ms(5), move |_| note(&log2, "ran"));
    clock.advance(ms(30));
    assert_eq!(entries(&log), ["ran"]);
    assert!(!ran.active());
    assert!(!ran.cancel(), "cancelling a call that ran is too late");
}

#[test]
fn cancelling_drops_the_closure_at_once() {
    let reactor = Reactor::new().unwrap();
    let captured = Rc::new(());
    let copy = captured.clone();
    let call = reactor.call_later(Duration::from_secs(3600), move |_| drop(copy));
    assert_eq!(Rc::strong_count(&captured), 2);
    call.cancel();
    assert_eq!(Rc::strong_count(&captured), 1);
}

#[test]
fn many_cancelled_timers_are_swept_from_the_heap() {
    let reactor = Reactor::new().unwrap();
    let calls: Vec<DelayedCall> = (0..1000)
        .map(|_| reactor.call_later(Duration::from_secs(3600), |_| {}))
        .collect();
    for call in &calls[..900] {
        call.cancel();
    }
    assert!(reactor.inner.timers.borrow().len() < 1000);
    assert!(calls[950].active());
}

#[test]
fn stop_ends_run_after_the_current_turn() {
    let reactor = Reactor::new().unwrap();
    let log = new_log();
    let (a, b) = (log.clone(), log.clone());
    reactor.call_later(Duration::ZERO, move |reactor| {
        note(&a, "first stops");
        reactor.stop();
        assert!(!reactor.is_running());
        // Due on the next turn, which never comes.
        let c = a.clone();
        reactor.call_later(Duration::ZERO, move |_| note(&c, "too late"));
    });
    // Due in the same step as the stop: still runs, the turn is not over.
    reactor.call_later(Duration::ZERO, move |_| note(&b, "second still runs"));
    let _net = safety_net(&reactor);
    reactor.run().unwrap();
    assert_eq!(entries(&log), ["first stops", "second still runs"]);
}

#[test]
fn a_stopped_reactor_refuses_to_run_again() {
    let reactor = Reactor::new().unwrap();
    reactor.call_when_running(|reactor| reactor.stop());
    reactor.run().unwrap();
    let error = reactor.run().unwrap_err();
    assert!(matches!(error, ReactorError::NotRestartable));
    assert_eq!(
        error.to_string(),
        "the reactor has stopped and cannot be restarted"
    );
}

#[test]
fn run_inside_run_is_refused() {
    let reactor = Reactor::new().unwrap();
    let answer = Rc::new(RefCell::new(None));
    let slot = answer.clone();
    reactor.call_when_running(move |reactor| {
        *slot.borrow_mut() = Some(reactor.run().map_err(|e| e.to_string()));
        reactor.stop();
    });
    reactor.run().unwrap();
    assert_eq!(
        *answer.borrow(),
        Some(Err("the reactor is already running".to_string()))
    );
}

#[test]
fn stop_when_not_running_is_harmless() {
    let reactor = Reactor::new().unwrap();
    reactor.stop();
    // Still startable: the stop before run was ignored.
    reactor.call_when_running(|reactor| reactor.stop());
    reactor.run().unwrap();
}

#[test]
fn call_when_running_calls_run_in_order_and_later_ones_next_turn() {
    let reactor = Reactor::new().unwrap();
    let log = new_log();
    let (a, b) = (log.clone(), log.clone());
    reactor.call_when_running(move |reactor| {
        note(&a, "first");
        let again = a.clone();
        reactor.call_when_running(move |reactor| {
            note(&again, "while running");
            reactor.stop();
        });
        note(&a, "first returns");
    });
    reactor.call_when_running(move |_| note(&b, "second"));
    let _net = safety_net(&reactor);
    reactor.run().unwrap();
    assert_eq!(
        entries(&log),
        ["first", "first returns", "second", "while running"]
    );
}

#[test]
fn an_idle_reactor_would_sleep_in_the_kernel_until_its_next_timer() {
    // What keeps an idle loop from spinning is how long each turn asks the
    // kernel to wait: until the next deadline by the system's clock. That
    // is checked here without waiting for it, by asking the loop.
    let reactor = Reactor::new().unwrap();
    let (quiet, _peer) = UnixStream::pair().unwrap();
    let reader = Rc::new(Reader::new(quiet, new_log()));
    reactor.add_reader(reader).unwrap();
    assert_eq!(
        reactor.time_until_next_timer(),
        None,
        "with no timer, it waits for I/O alone"
    );
    let hour = Duration::from_secs(3600);
    reactor.call_later(hour, |_| {});
    let wait = reactor.time_until_next_timer().expect("a timer is pending");
    // Not a measurement: a bound far from anything a slow machine could
    // reach, against a loop that would ask for no wait at all.
    assert!(wait > hour / 2 && wait <= hour, "{wait:?}");
    // And a turn with nothing ready is one turn, however long it waited.
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(reactor.turns(), 1);
}

// ---------------------------------------------------------------------------
// Descriptors.
// ---------------------------------------------------------------------------

/// A reader that notes what it reads and how its connection ended.
struct Reader {
    socket: RefCell<Option<UnixStream>>,
    fd: RawFd,
    log: Log,
    /// Stop the reactor when the connection ends.
    stop_at_end: bool,
}

impl Reader {
    fn new(socket: UnixStream, log: Log) -> Reader {
        socket.set_nonblocking(true).unwrap();
        Reader {
            fd: socket.as_raw_fd(),
            socket: RefCell::new(Some(socket)),
            log,
            stop_at_end: true,
        }
    }
}

impl FileDescriptor for Reader {
    fn fileno(&self) -> RawFd {
        self.fd
    }

    fn connection_lost(&self, reactor: &Reactor, reason: Disconnect) {
        // The reactor has stopped watching us before it tells us.
        let listed = reactor
            .readers()
            .iter()
            .any(|reader| address(reader) == self as *const Reader as *const ());
        note(
            &self.log,
            format!("lost ({reason}), still listed: {listed}"),
        );
        self.socket.borrow_mut().take();
        if self.stop_at_end {
            reactor.stop();
        }
    }

    fn log_prefix(&self) -> String {
        "test".to_string()
    }
}

impl ReadDescriptor for Reader {
    fn do_read(&self, _reactor: &Reactor) -> Option<Disconnect> {
        let mut socket = self.socket.borrow_mut();
        let socket = socket.as_mut()?;
        let mut buffer = [0; 64];
        loop {
            match socket.read(&mut buffer) {
                Ok(0) => return Some(Disconnect::Done),
                Ok(n) => note(
                    &self.log,
                    format!("read {:?}", String::from_utf8_lossy(&buffer[..n])),
                ),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return None,
                Err(error) => return Some(Disconnect::Lost(error)),
            }
        }
    }
}

#[test]
fn a_reader_hears_its_data_then_a_clean_end() {
    let reactor = Reactor::new().unwrap();
    let log = new_log();
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let reader = Rc::new(Reader::new(ours, log.clone()));
    reactor.add_reader(reader.clone()).unwrap();
    assert_eq!(reactor.readers().len(), 1);
    assert_eq!(reactor.readers()[0].log_prefix(), "test");
    theirs.write_all(b"hello").unwrap();
    drop(theirs);
    let _net = safety_net(&reactor);
    reactor.run().unwrap();
    assert_eq!(
        entries(&log),
        [
            "read \"hello\"",
            "lost (the connection was closed cleanly), still listed: false"
        ]
    );
    assert!(reactor.readers().is_empty());
}

#[test]
fn a_reset_by_the_peer_reaches_connection_lost_with_the_reason() {
    // Closing a socket with unread data in it makes the kernel answer with
    // a reset instead of a clean close.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (&client).write_all(b"never read").unwrap();
    // Wait (bounded) until the bytes are in the server's socket, unread.
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    server.peek(&mut [0; 1]).unwrap();
    drop(server);

    struct TcpReader(TcpStream, Log);
    impl FileDescriptor for TcpReader {
        fn fileno(&self) -> RawFd {
            self.0.as_raw_fd()
        }
        fn connection_lost(&self, reactor: &Reactor, reason: Disconnect) {
            let kind = match &reason {
                Disconnect::Lost(error) => format!("{:?}", error.kind()),
                Disconnect::Done => "clean".to_string(),
            };
            note(&self.1, kind);
            reactor.stop();
        }
    }
    impl ReadDescriptor for TcpReader {
        fn do_read(&self, _: &Reactor) -> Option<Disconnect> {
            let mut buffer = [0; 64];
            loop {
                match (&self.0).read(&mut buffer) {
                    Ok(0) => return Some(Disconnect::Done),
                    Ok(_) => {}
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => return None,
                    Err(error) => return Some(Disconnect::Lost(error)),
                }
            }
        }
    }

    client.set_nonblocking(true).unwrap();
    let log = new_log();
    let reactor = Reactor::new().unwrap();
    reactor
        .add_reader(Rc::new(TcpReader(client, log.clone())))
        .unwrap();
    let _net = safety_net(&reactor);
    reactor.run().unwrap();
    assert_eq!(entries(&log), ["ConnectionReset"]);
}

/// A reader that, on its first read, removes itself and adds another.
struct Replacer {
    me: Reader,
    next: RefCell<Option<Rc<Reader>>>,
}

impl FileDescriptor for Replacer {
    fn fileno(&self) -> RawFd {
        self.me.fileno()
    }
    fn connection_lost(&self, reactor: &Reactor, reason: Disconnect) {
        self.me.connection_lost(reactor, reason);
    }
}

impl ReadDescriptor for Replacer {
    fn do_read(&self, reactor: &Reactor) -> Option<Disconnect> {
        let outcome = self.me.do_read(reactor);
        reactor.remove_reader(self);
        reactor.remove_reader(self); // twice is harmless
        if let Some(next) = self.next.borrow_mut().take() {
            reactor.add_reader(next).unwrap();
        }
        note(&self.me.log, format!("replaced, outcome {outcome:?}"));
        None
    }
}

#[test]
fn a_reader_may_remove_itself_and_add_another_without_missing_an_event() {
    let reactor = Reactor::new().unwrap();
    let log = new_log();
    let (first, mut first_peer) = UnixStream::pair().unwrap();
    let (second, mut second_peer) = UnixStream::pair().unwrap();
    let mut next = Reader::new(second, log.clone());
    next.stop_at_end = true;
    let replacer = Rc::new(Replacer {
        me: Reader::new(first, log.clone()),
        next: RefCell::new(Some(Rc::new(next))),
    });
    reactor.add_reader(replacer).unwrap();
    // The second socket has data before its reader is even registered:
    // registering must still report it.
    second_peer.write_all(b"two").unwrap();
    drop(second_peer);
    first_peer.write_all(b"one").unwrap();
    let _net = safety_net(&reactor);
    reactor.run().unwrap();
    assert_eq!(
        entries(&log),
        [
            "read \"one\"",
            "replaced, outcome None",
            "read \"two\"",
            "lost (the connection was closed cleanly), still listed: false",
        ]
    );
    drop(first_peer);
}

/// A reader that panics on its first read.
struct Panicky(Reader);

impl FileDescriptor for Panicky {
    fn fileno(&self) -> RawFd {
        self.0.fileno()
    }
    fn connection_lost(&self, reactor: &Reactor, reason: Disconnect) {
        self.0.connection_lost(reactor, reason);
    }
}

impl ReadDescriptor for Panicky {
    fn do_read(&self, _: &Reactor) -> Option<Disconnect> {
        panic!("cannot read today");
    }
}

#[test]
fn a_panic_in_do_read_loses_that_connection_only() {
    let reactor = Reactor::new().unwrap();
    let log = new_log();
    let (bad, mut bad_peer) = UnixStream::pair().unwrap();
    let (good, mut good_peer) = UnixStream::pair().unwrap();
    let mut bad = Reader::new(bad, log.clone());
    bad.stop_at_end = false;
    reactor.add_reader(Rc::new(Panicky(bad))).unwrap();
    reactor
        .add_reader(Rc::new(Reader::new(good, log.clone())))
        .unwrap();
    bad_peer.write_all(b"x").unwrap();
    good_peer.write_all(b"fine").unwrap();
    drop(good_peer);
    let _net = safety_net(&reactor);
    reactor.run().unwrap();
    let log = entries(&log);
    assert!(
        log.contains(
            &"lost (the connection was lost: do_read panicked), still listed: false".into()
        ),
        "{log:?}"
    );
    assert!(log.contains(&"read \"fine\"".into()), "{log:?}");
}

#[test]
fn descriptors_left_at_the_end_hear_that_the_reactor_stopped() {
    let reactor = Reactor::new().unwrap();
    let log = new_log();
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let mut reader = Reader::new(ours, log.clone());
    reader.stop_at_end = false;
    reactor.add_reader(Rc::new(reader)).unwrap();
    reactor.call_later(Duration::ZERO, |reactor| reactor.stop());
    let _net = safety_net(&reactor);
    reactor.run().unwrap();
    assert_eq!(
        entries(&log),
        ["lost (the connection was lost: the reactor stopped), still listed: false"]
    );
}

/// A writer that writes a greeting once, then stops writing.
struct Greeter {
    socket: UnixStream,
    log: Log,
}

impl FileDescriptor for Greeter {
    fn fileno(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
    fn connection_lost(&self, _: &Reactor, reason: Disconnect) {
        note(&self.log, format!("writer lost: {reason}"));
    }
}

impl WriteDescriptor for Greeter {
    fn do_write(&self, reactor: &Reactor) -> Option<Disconnect> {
        (&self.socket).write_all(b"hi").unwrap();
        reactor.remove_writer(self);
        note(&self.log, "wrote");
        None
    }
}

#[test]
fn a_writer_is_told_when_it_can_write_and_may_stop_writing() {
    let reactor = Reactor::new().unwrap();
    let log = new_log();
    let (ours, theirs) = UnixStream::pair().unwrap();
    // The same socket is read by one object and written by another.
    let reader = Rc::new(Reader::new(theirs, log.clone()));
    reactor.add_reader(reader).unwrap();
    let greeter = Rc::new(Greeter {
        socket: ours,
        log: log.clone(),
    });
    reactor.add_writer(greeter.clone()).unwrap();
    assert_eq!(reactor.writers().len(), 1);
    iterate_until(&reactor, || log.borrow().len() >= 2);
    let log = entries(&log);
    assert_eq!(log[..2], ["wrote", "read \"hi\""], "{log:?}");
    assert!(reactor.writers().is_empty());
}

// ---------------------------------------------------------------------------
// Panics and other threads.
// ---------------------------------------------------------------------------

/// Collects what `tracing` prints while `f` runs.
fn traced(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_panic_in_a_callback_is_reported_with_its_location_and_the_loop_goes_on() {
    let log = new_log();
    let after = log.clone();
    let output = traced(|| {
        let reactor = Reactor::new().unwrap();
        reactor.call_when_running(|_| panic!("I fall down."));
        reactor.call_when_running(move |reactor| {
            note(&after, "But I get up again.");
            reactor.call_later(Duration::ZERO, |_| panic!("and again"));
            // Due in the same step, after the panic: the step goes on.
            reactor.call_later(Duration::ZERO, |reactor| reactor.stop());
        });
        let _net = safety_net(&reactor);
        reactor.run().unwrap();
    });
    assert_eq!(entries(&log), ["But I get up again."]);
    assert!(output.contains("ERROR"), "{output}");
    assert!(output.contains("I fall down."), "{output}");
    assert!(output.contains("and again"), "{output}");
    assert!(output.contains("src/reactor/tests.rs:"), "{output}");
}

#[test]
fn another_thread_can_hand_work_to_the_loop() {
    let reactor = Reactor::new().unwrap();
    let remote = reactor.remote();
    let (sender, receiver) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let (answer, wait) = mpsc::channel();
        remote
            .call(move |reactor| {
                sender.send(reactor.is_running()).unwrap();
                reactor.stop();
                answer.send(()).unwrap();
            })
            .unwrap();
        wait.recv_timeout(Duration::from_secs(10)).unwrap();
        remote
    });
    let _net = safety_net(&reactor);
    reactor.run().unwrap();
    assert!(receiver.recv().unwrap(), "ran on the running loop");
    let remote = worker.join().unwrap();
    drop(reactor);
    assert!(remote.call(|_| {}).is_err(), "the reactor is gone");
}

#[test]
fn a_stopped_reactor_refuses_new_descriptors() {
    let reactor = Reactor::new().unwrap();
    reactor.call_when_running(|reactor| reactor.stop());
    reactor.run().unwrap();
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let error = reactor
        .add_reader(Rc::new(Reader::new(ours, new_log())))
        .unwrap_err();
    assert_eq!(error.to_string(), "the reactor has stopped");
    assert!(reactor.readers().is_empty());
}

// ---------------------------------------------------------------------------
// Hardening (issue 11): each of these failed (or did not compile) before
// its fix.
// ---------------------------------------------------------------------------

#[test]
fn an_enormous_delay_is_accepted_and_never_fires() {
    let (clock, reactor) = on_fake_clock();
    let log = new_log();
    let never = {
        let log = log.clone();
        reactor.call_later(Duration::MAX, move |_| note(&log, "fired"))
    };
    // A century later, it is still pending.
    clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
    assert!(entries(&log).is_empty());
    assert!(never.active());
    reactor.shutdown();
    // The shutdown dropped it without running it.
    assert!(!never.active());

    // On the system's clock, a turn works out how long it may wait for
    // such a deadline without overflowing.
    let reactor = Reactor::new().unwrap();
    let never = reactor.call_later(Duration::MAX, |_| panic!("fired"));
    reactor.iterate(Duration::ZERO).unwrap();
    assert!(never.active());
}

/// Panics when dropped, like a careless user type.
struct PanicsOnDrop(&'static str);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

#[test]
fn a_drop_that_panics_is_caught_wherever_the_reactor_lets_go() {
    let output = traced(|| {
        let reactor = Reactor::new().unwrap();
        // A cancelled call, a call still pending at shutdown, a startup
        // call never run, and a reader that leaves the table.
        let doomed = PanicsOnDrop("cancelled call");
        let cancelled = reactor.call_later(ms(1), move |_| drop(doomed));
        assert!(cancelled.cancel());
        let pending = PanicsOnDrop("pending call");
        reactor.call_later(Duration::from_secs(3600), move |_| drop(pending));
        let (ours, theirs) = UnixStream::pair().unwrap();
        struct Doomed(UnixStream, #[allow(dead_code)] PanicsOnDrop);
        impl FileDescriptor for Doomed {
            fn fileno(&self) -> RawFd {
                self.0.as_raw_fd()
            }
            fn connection_lost(&self, _reactor: &Reactor, _reason: Disconnect) {}
        }
        impl ReadDescriptor for Doomed {
            fn do_read(&self, reactor: &Reactor) -> Option<Disconnect> {
                reactor.remove_reader(self);
                // Its work is the test's: the shutdown comes next.
                reactor.stop();
                None
            }
        }
        let reader = Rc::new(Doomed(ours, PanicsOnDrop("descriptor")));
        reactor.add_reader(reader).unwrap();
        (&theirs).write_all(b"x").unwrap();
        let _net = safety_net(&reactor);
        reactor.run().unwrap();
        drop(theirs);
        // After the shutdown: a call that can never run is dropped at once.
        let late = PanicsOnDrop("late call");
        reactor.call_later(ms(1), move |_| drop(late));
        reactor.call_when_running(|_| {});
    });
    for what in ["cancelled call", "pending call", "descriptor", "late call"] {
        assert!(output.contains(what), "{what} not reported: {output}");
    }
}

#[test]
fn dropping_the_owner_shuts_down_even_with_handles_in_its_own_callbacks() {
    let log = new_log();
    let weak = {
        let reactor = Reactor::new().unwrap();
        // A cycle: the reactor holds a call that holds a handle to it.
        let handle = reactor.clone();
        let lost = log.clone();
        reactor.call_later(Duration::from_secs(3600), move |_| {
            let _ = &handle;
            note(&lost, "ran");
        });
        let (ours, _theirs) = UnixStream::pair().unwrap();
        reactor
            .add_reader(Rc::new(Reader::new(ours, log.clone())))
            .unwrap();
        Rc::downgrade(&reactor.inner)
        // The owner is dropped here, having never run.
    };
    assert!(weak.upgrade().is_none(), "the reactor outlived its owner");
    assert_eq!(
        entries(&log),
        ["lost (the connection was lost: the reactor stopped), still listed: false"]
    );
}

#[test]
fn a_handle_that_outlives_the_owner_refuses_work() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.clone();
    let remote = reactor.remote();
    drop(reactor);
    let log = new_log();
    let call = {
        let log = log.clone();
        handle.call_later(ms(1), move |_| note(&log, "ran"))
    };
    assert!(!call.active());
    assert!(matches!(handle.run(), Err(ReactorError::NotRestartable)));
    assert!(remote.call(|_| {}).is_err());
    let (ours, _theirs) = UnixStream::pair().unwrap();
    assert!(handle.add_reader(Rc::new(Reader::new(ours, log))).is_err());
}

#[test]
fn iterate_takes_one_turn_at_a_time() {
    let reactor = Reactor::new().unwrap();
    let log = new_log();
    for name in ["first", "second"] {
        let log = log.clone();
        reactor.call_later(Duration::ZERO, move |_| note(&log, name));
    }
    reactor.iterate(ms(100)).unwrap();
    assert_eq!(entries(&log), ["first", "second"]);
    // A wait is bounded by the timeout when nothing is due.
    reactor.iterate(ms(1)).unwrap();
    // iterate inside run is a loop within the loop: refused.
    let refused = log.clone();
    reactor.call_when_running(move |reactor| {
        let inner = reactor.iterate(ms(1));
        note(&refused, format!("{:?}", inner.err()));
        reactor.stop();
    });
    let _net = safety_net(&reactor);
    reactor.run().unwrap();
    assert_eq!(entries(&log)[2], "Some(the reactor is already running)");
}
