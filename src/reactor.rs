//! The reactor: one loop that waits for everything at once (Parts 3 and 4).
//!
//! Chapter 2's select client had a loop that waited on sockets and, in the
//! same breath, did the poetry. This module is that loop with the poetry
//! taken out: it waits (in the kernel, through [`mio::Poll`]) until a socket
//! is ready or a timer is due, then calls whoever asked to be told. It knows
//! nothing about what the callbacks do.
//!
//! One turn of the loop:
//!
//! 1. wait until an event arrives or the next timer is due;
//! 2. call the readers and writers whose sockets are ready;
//! 3. call the timers that are due (those scheduled during this step wait
//!    for the next turn, so a zero-delay call never runs inside its caller
//!    and a timer that reschedules itself cannot starve the sockets);
//! 4. run what other threads handed over through a [`Remote`];
//! 5. poll the tasks that were woken (the futures run by `spawn`, Part 17).
//!
//! [`Reactor::stop`] ends [`Reactor::run`] when the current turn is over.
//!
//! # Who owns what
//!
//! [`Reactor::new`] gives you an [`OwnedReactor`]: the reactor's owner. It
//! derefs to a [`Reactor`], a cheap handle (an `Rc`) that you clone into
//! whatever needs it. Nothing is global. Every callback is also handed
//! `&Reactor`, so most closures never need to capture one.
//!
//! Dropping the owner shuts the reactor down, whoever else holds a handle:
//! every socket is closed, every protocol, factory and pending call is
//! dropped. That is what breaks the circle a factory makes when it keeps a
//! handle to stop the reactor with (reactor → listener → factory → handle →
//! reactor): counting handles could not tell that handle from yours.
//! [`Reactor::shutdown`] does the same on purpose, and the end of
//! [`Reactor::run`] does it too. A handle that outlives the shutdown still
//! works, but only to say no: it schedules nothing and registers nothing.
//!
//! The loop never holds a borrow of its own state while user code runs: it
//! takes the callback (or a clone of the descriptor's `Rc`) out first. That
//! is what lets a callback schedule, cancel, stop, add or remove readers,
//! itself included.
//!
//! # Panics
//!
//! A panic in a callback is caught, reported through `tracing` at the error
//! level with its message and where it happened, and the loop goes on. This
//! is the Rust form of Part 3's lesson that an exception in one callback
//! does not bring the reactor down. A panic inside `do_read` or `do_write`
//! also disconnects that descriptor, as Twisted does with an exception.
//! User code that runs when the reactor lets go of something (a `Drop` of a
//! descriptor, a protocol, a factory or a closure) is guarded the same way.
//!
//! # Where this differs from Twisted, and why
//!
//! - [`Reactor::stop`] on a reactor that is not running logs a warning
//!   instead of failing: stop is usually the last thing a callback does, and
//!   there is nothing useful its caller could do with an error.
//! - [`Reactor::call_when_running`] on a running reactor schedules the call
//!   for the next turn instead of calling it at once, so that no callback
//!   ever runs inside another.
//! - Descriptors are registered with mio, which waits *edge-triggered*: it
//!   reports a socket when it becomes ready, not while it stays ready. A
//!   `do_read` must therefore read until the socket would block, exactly as
//!   chapter 2's loop does.
//! - When `run` ends, descriptors still registered are disconnected (their
//!   `connection_lost` hears that the reactor stopped) and pending timers are
//!   dropped without running, so that nothing is left behind holding the
//!   reactor alive.

use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::io;
use std::ops::Deref;
use std::os::fd::RawFd;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::defer::Deferred;
use crate::failure::Failure;
use crate::inline::Tasks;
use crate::log::{self, PanicReport};
use crate::testing::Clock;

// ANCHOR: descriptor_traits
/// Something with a file descriptor that the reactor can watch (Part 4).
///
/// The reactor keeps an `Rc` of each registered descriptor and calls it
/// through `&self`, so a descriptor keeps its changing state in `Cell`s or
/// `RefCell`s, and its owner can still look at it after the run.
pub trait FileDescriptor {
    /// The file descriptor to watch. It must stay open while registered.
    fn fileno(&self) -> RawFd;

    /// The connection is over: `reason` says whether it ended cleanly. The
    /// reactor has already stopped watching the descriptor.
    fn connection_lost(&self, reactor: &Reactor, reason: Disconnect);

    /// A short name for diagnostics, such as `poetry`.
    fn log_prefix(&self) -> String {
        "-".to_string()
    }
}

/// A descriptor that wants to hear when it can be read from.
pub trait ReadDescriptor: FileDescriptor {
    /// The descriptor is readable: read until the socket would block.
    /// Returning a [`Disconnect`] tells the reactor the connection is over;
    /// the reactor then stops watching it and calls `connection_lost`.
    fn do_read(&self, reactor: &Reactor) -> Option<Disconnect>;
}

/// A descriptor that wants to hear when it can be written to.
pub trait WriteDescriptor: FileDescriptor {
    /// The descriptor is writable: write what is waiting, until the socket
    /// would block. Returning a [`Disconnect`] works as for reading.
    fn do_write(&self, reactor: &Reactor) -> Option<Disconnect>;
}
// ANCHOR_END: descriptor_traits

// ANCHOR: disconnect
/// Why a connection ended: Twisted's `CONNECTION_DONE` and `CONNECTION_LOST`.
#[derive(Debug)]
pub enum Disconnect {
    /// The other side closed the connection cleanly.
    Done,
    /// The connection failed, and this is why.
    Lost(io::Error),
}
// ANCHOR_END: disconnect

impl fmt::Display for Disconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disconnect::Done => write!(f, "the connection was closed cleanly"),
            Disconnect::Lost(error) => write!(f, "the connection was lost: {error}"),
        }
    }
}

/// What can go wrong when running a reactor.
pub enum ReactorError {
    /// `run` was called while the reactor was already running.
    AlreadyRunning,
    /// `run` was called on a reactor that has already run and stopped.
    NotRestartable,
    /// The operating system refused the poller or the wait itself.
    Io(io::Error),
}

impl fmt::Display for ReactorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReactorError::AlreadyRunning => write!(f, "the reactor is already running"),
            ReactorError::NotRestartable => {
                write!(f, "the reactor has stopped and cannot be restarted")
            }
            ReactorError::Io(error) => write!(f, "the reactor failed: {error}"),
        }
    }
}

// `main` functions return `Result<(), ReactorError>`, and Rust prints the
// error of a failed `main` with `Debug`: make that read as a sentence.
impl fmt::Debug for ReactorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ReactorError {}

impl From<io::Error> for ReactorError {
    fn from(error: io::Error) -> Self {
        ReactorError::Io(error)
    }
}

type Callback = Box<dyn FnOnce(&Reactor)>;

/// Work to finish before the reactor stops (Part 16): it may hand back a
/// Deferred, and the reactor waits for it.
type ShutdownHook = Box<dyn FnOnce(&Reactor) -> Option<Deferred<()>>>;

/// How long `stop` waits for the before-shutdown hooks' Deferreds before
/// it stops anyway: a service that never finishes stopping must not keep
/// a server from ending.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);
type RemoteCallback = Box<dyn FnOnce(&Reactor) + Send>;

/// The token of the waker; descriptors use their file descriptor.
const WAKER: Token = Token(usize::MAX);

/// How many events one wait may return; more simply wait for the next turn.
const EVENTS_PER_TURN: usize = 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    NotStarted,
    Running,
    /// `stop` was called; the current turn is finishing.
    Stopping,
    /// The loop is over and what was left is being disconnected.
    ShuttingDown,
    Stopped,
}

/// A handle to a reactor: the event loop and everything waiting on it.
#[derive(Clone)]
pub struct Reactor {
    inner: Rc<Inner>,
}

// ANCHOR: owner
/// The owner of a reactor, as [`Reactor::new`] makes it. Use it as the
/// [`Reactor`] it derefs to; clone that to hand out handles. Dropping the
/// owner shuts the reactor down (see [`Reactor::shutdown`]), so a reactor
/// never outlives the code that made it, however many handles its own
/// factories and callbacks still hold.
pub struct OwnedReactor {
    handle: Reactor,
}

impl Deref for OwnedReactor {
    type Target = Reactor;

    fn deref(&self) -> &Reactor {
        &self.handle
    }
}

impl Drop for OwnedReactor {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}
// ANCHOR_END: owner

/// A [`Reactor`] handle that does not keep it alive.
#[derive(Clone)]
pub(crate) struct WeakReactor(Weak<Inner>);

impl WeakReactor {
    /// The reactor, if it still exists.
    pub(crate) fn upgrade(&self) -> Option<Reactor> {
        self.0.upgrade().map(|inner| Reactor { inner })
    }
}

struct Inner {
    poll: RefCell<Poll>,
    registry: Registry,
    state: Cell<State>,
    /// Calls waiting for `run` to start.
    startup: RefCell<VecDeque<Callback>>,
    timers: RefCell<BinaryHeap<Timer>>,
    /// Heap entries whose call was cancelled, to know when to sweep them.
    cancelled: Cell<usize>,
    next_seq: Cell<u64>,
    descriptors: RefCell<HashMap<RawFd, Registered>>,
    remote: Arc<RemoteQueue>,
    /// Turns of the loop so far, so tests can tell waiting from spinning.
    turns: Cell<u64>,
    /// A turn is in progress (inside `run`, or inside `iterate`): set and
    /// cleared by `turn`. Another loop may not start within it.
    in_turn: Cell<bool>,
    /// `shutdown` was asked for during an `iterate` turn: the turn ends
    /// first (a protocol method may be running), then the reactor shuts
    /// down. Set by `shutdown`, acted on by `iterate`.
    shutdown_after_turn: Cell<bool>,
    /// Where the time comes from: the system's clock, or a test's
    /// [`Clock`] that moves only when told (Part 15).
    clock: Option<Clock>,
    /// What must finish before the reactor stops, in the order added.
    before_shutdown: RefCell<Vec<ShutdownHook>>,
    /// Once `stop` has started the hooks: how many have not finished yet.
    draining: Cell<Option<usize>>,
    /// The futures run by `spawn` (Part 17), and those woken.
    tasks: Tasks,
}

/// The readers and writers watching one file descriptor.
#[derive(Default)]
struct Registered {
    reader: Option<Rc<dyn ReadDescriptor>>,
    writer: Option<Rc<dyn WriteDescriptor>>,
    /// The interest mio currently has for this descriptor, if any.
    interest: Option<Interest>,
}

impl Registered {
    /// Lets go of the object at `descriptor`, as reader and as writer.
    fn forget(&mut self, descriptor: *const ()) {
        if self.reader.as_ref().map(address) == Some(descriptor) {
            self.reader = None;
        }
        if self.writer.as_ref().map(address) == Some(descriptor) {
            self.writer = None;
        }
    }

    fn wanted(&self) -> Option<Interest> {
        match (self.reader.is_some(), self.writer.is_some()) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        }
    }
}

impl Reactor {
    /// A new reactor, not yet running, and you its owner.
    // `new` gives the owner rather than a handle, so that every program
    // still begins with `Reactor::new()` and the owner is the one value
    // it did not clone.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> io::Result<OwnedReactor> {
        Reactor::build(None)
    }

    /// A new reactor whose timers follow `clock`, a test's fake clock,
    /// instead of the system's: they run when [`Clock::advance`] moves the
    /// clock past their deadline, and never by themselves. Sockets work as
    /// usual (Part 15).
    pub fn with_clock(clock: &Clock) -> io::Result<OwnedReactor> {
        let reactor = Reactor::build(Some(clock.clone()))?;
        clock.attach(reactor.downgrade());
        Ok(reactor)
    }

    fn build(clock: Option<Clock>) -> io::Result<OwnedReactor> {
        log::install_panic_hook();
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        // One waker for the loop, shared by the calls from other threads
        // and the tasks' wakers (mio allows one per poller).
        let waker = Arc::new(Waker::new(&registry, WAKER)?);
        let handle = Reactor {
            inner: Rc::new(Inner {
                poll: RefCell::new(poll),
                registry,
                state: Cell::new(State::NotStarted),
                startup: RefCell::default(),
                timers: RefCell::default(),
                cancelled: Cell::new(0),
                next_seq: Cell::new(0),
                descriptors: RefCell::default(),
                remote: Arc::new(RemoteQueue {
                    calls: Mutex::default(),
                    waker: Arc::clone(&waker),
                    closed: AtomicBool::new(false),
                }),
                tasks: Tasks::new(waker),
                turns: Cell::new(0),
                in_turn: Cell::new(false),
                shutdown_after_turn: Cell::new(false),
                clock,
                before_shutdown: RefCell::default(),
                draining: Cell::new(None),
            }),
        };
        Ok(OwnedReactor { handle })
    }

    // ANCHOR: run
    /// Runs the loop until [`stop`](Reactor::stop) is called.
    ///
    /// A reactor runs once: calling `run` again after it stopped is
    /// [`ReactorError::NotRestartable`].
    pub fn run(&self) -> Result<(), ReactorError> {
        if self.inner.in_turn.get() {
            return Err(ReactorError::AlreadyRunning); // inside iterate's turn
        }
        match self.inner.state.get() {
            State::NotStarted => self.inner.state.set(State::Running),
            State::Running | State::Stopping => return Err(ReactorError::AlreadyRunning),
            State::ShuttingDown | State::Stopped => return Err(ReactorError::NotRestartable),
        }
        let startup: Vec<Callback> = self.inner.startup.take().into_iter().collect();
        for call in startup {
            self.guarded("a call_when_running callback", || call(self));
        }

        let mut events = Events::with_capacity(EVENTS_PER_TURN);
        let mut result = Ok(());
        while self.inner.state.get() == State::Running {
            if let Err(error) = self.turn(&mut events, None) {
                result = Err(ReactorError::Io(error));
                break;
            }
        }
        self.shut_down();
        result
    }

    /// One turn: wait (at most `limit`, if given), then dispatch I/O,
    /// timers, remote calls and woken tasks.
    fn turn(&self, events: &mut Events, limit: Option<Duration>) -> io::Result<()> {
        let _in_turn = Raised::set(&self.inner.in_turn);
        self.inner.turns.set(self.inner.turns.get() + 1);
        let timeout = match (self.time_until_next_timer(), limit) {
            (Some(timer), Some(limit)) => Some(timer.min(limit)),
            (timer, limit) => timer.or(limit),
        };
        // A task woken and not yet run means no waiting at all.
        let timeout = self.inner.tasks.going_to_sleep(timeout);
        let polled = self.inner.poll.borrow_mut().poll(events, timeout);
        self.inner.tasks.woke_up();
        match polled {
            Ok(()) => {}
            // A signal arrived while we waited: just start the turn again.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(error) => return Err(error),
        }
        let mut woken = false;
        for event in events.iter() {
            if event.token() == WAKER {
                woken = true;
            } else {
                self.dispatch(event);
            }
        }
        self.run_due_timers();
        if woken {
            self.run_remote_calls();
        }
        self.inner.tasks.run_ready();
        Ok(())
    }
    // ANCHOR_END: run

    /// Takes one turn of the loop without `run`, waiting at most `timeout`
    /// for something to happen (Twisted's `reactor.iterate`). Tests use it
    /// to let connections and timers make progress a step at a time, and
    /// then look. Only a reactor that has not started may iterate: inside
    /// `run` it would be a loop within the loop.
    pub fn iterate(&self, timeout: Duration) -> Result<(), ReactorError> {
        if self.inner.in_turn.get() {
            return Err(ReactorError::AlreadyRunning);
        }
        match self.inner.state.get() {
            State::NotStarted => {}
            State::Running | State::Stopping => return Err(ReactorError::AlreadyRunning),
            State::ShuttingDown | State::Stopped => return Err(ReactorError::NotRestartable),
        }
        let mut events = Events::with_capacity(EVENTS_PER_TURN);
        let turned = self.turn(&mut events, Some(timeout));
        if self.inner.shutdown_after_turn.replace(false) {
            self.shut_down();
        }
        turned.map_err(ReactorError::Io)
    }

    /// Closes everything the reactor holds, now: every descriptor hears
    /// `connection_lost` (the reactor stopped), and every pending call,
    /// descriptor, protocol and factory is dropped. Afterwards the reactor
    /// refuses new work. Inside `run` this is [`stop`](Reactor::stop): the
    /// end of `run` shuts down. Dropping the [`OwnedReactor`] calls this.
    pub fn shutdown(&self) {
        match self.inner.state.get() {
            // Inside iterate's turn: as soon as the turn is over.
            State::NotStarted if self.inner.in_turn.get() => {
                self.inner.shutdown_after_turn.set(true)
            }
            State::NotStarted => self.shut_down(),
            State::Running | State::Stopping => self.stop(),
            State::ShuttingDown | State::Stopped => {}
        }
    }

    // ANCHOR: stop
    /// Ends [`run`](Reactor::run) once the current turn is over, after the
    /// before-shutdown hooks (see [`Reactor::add_before_shutdown`]) have
    /// run and every Deferred they gave back has fired, or
    /// [`SHUTDOWN_LIMIT`] has passed. The loop goes on serving meanwhile,
    /// so that what is being stopped can finish.
    pub fn stop(&self) {
        match self.inner.state.get() {
            State::Running if self.inner.draining.get().is_some() => {}
            State::Running => self.drain(),
            State::Stopping | State::ShuttingDown => {}
            State::NotStarted | State::Stopped => {
                tracing::warn!("stop() called, but the reactor is not running")
            }
        }
    }

    /// Registers `hook` to run when the reactor is asked to stop, before it
    /// stops (Twisted's "before shutdown" trigger). If it returns a
    /// Deferred, the reactor waits for it. Hooks run in the order added,
    /// on the turn after `stop`; a hook added once the stop has begun is
    /// not run.
    pub fn add_before_shutdown(
        &self,
        hook: impl FnOnce(&Reactor) -> Option<Deferred<()>> + 'static,
    ) {
        if self.inner.draining.get().is_none() {
            self.inner.before_shutdown.borrow_mut().push(Box::new(hook));
        }
    }

    /// Starts the hooks, and stops once they have all finished.
    fn drain(&self) {
        let hooks = self.inner.before_shutdown.take();
        if hooks.is_empty() {
            self.inner.state.set(State::Stopping);
            return;
        }
        self.inner.draining.set(Some(hooks.len()));
        let reactor = self.downgrade();
        self.call_later(Duration::ZERO, move |this| {
            for hook in hooks {
                let done = reactor.clone();
                let finished = move |result: Result<(), Failure>| {
                    if let Err(failure) = result {
                        tracing::error!("a before-shutdown hook failed: {failure}");
                    }
                    if let Some(reactor) = done.upgrade() {
                        reactor.hook_finished();
                    }
                    Ok::<(), Failure>(())
                };
                match this.catching("a before-shutdown hook", || hook(this)) {
                    Some(Some(deferred)) => drop(deferred.add_both(finished)),
                    Some(None) | None => drop(finished(Ok(()))),
                }
            }
        });
        self.call_later(SHUTDOWN_LIMIT, |reactor| {
            if let Some(left) = reactor.inner.draining.get().filter(|&left| left > 0) {
                tracing::warn!(
                    "stopping although {left} before-shutdown hook(s) had not finished after {:?}",
                    SHUTDOWN_LIMIT
                );
                reactor.inner.state.set(State::Stopping);
            }
        });
    }

    /// One hook has finished; after the last, the loop stops.
    fn hook_finished(&self) {
        let Some(left) = self.inner.draining.get() else {
            return;
        };
        let left = left.saturating_sub(1);
        self.inner.draining.set(Some(left));
        if left == 0 && self.inner.state.get() == State::Running {
            self.inner.state.set(State::Stopping);
        }
    }
    // ANCHOR_END: stop

    /// Whether the reactor is inside [`run`](Reactor::run) and not stopping.
    pub fn is_running(&self) -> bool {
        self.inner.state.get() == State::Running
    }

    /// Calls `f` as soon as [`run`](Reactor::run) starts, in the order the
    /// calls were made; on a running reactor, on its next turn.
    pub fn call_when_running(&self, f: impl FnOnce(&Reactor) + 'static) {
        match self.inner.state.get() {
            State::NotStarted => self.inner.startup.borrow_mut().push_back(Box::new(f)),
            _ => {
                // On a reactor that is over, call_later drops it.
                self.call_later(Duration::ZERO, f);
            }
        }
    }

    // ANCHOR: call_later
    /// Calls `f` once `delay` has passed: not before, and as soon after as
    /// the loop gets to it. Calls due at the same moment run in the order
    /// they were scheduled; a zero delay means the next turn of the loop.
    pub fn call_later<F>(&self, delay: Duration, f: F) -> DelayedCall
    where
        F: FnOnce(&Reactor) + 'static,
    {
        let deadline = deadline_after(self.now(), delay);
        let seq = self.inner.next_seq.get();
        self.inner.next_seq.set(seq + 1);
        let call = Rc::new(TimerCall {
            f: RefCell::new(Some(Box::new(f))),
            state: Cell::new(CallState::Pending),
            // The closure's type names the function that scheduled it,
            // which is what a test wants to see about a timer left behind.
            what: std::any::type_name::<F>(),
        });
        if self.refuse_when_over().is_err() {
            // Nothing will ever run it: keeping it would only keep what it
            // captured (perhaps a handle to this reactor) alive for nothing.
            call.state.set(CallState::Cancelled);
            let f = call.f.borrow_mut().take();
            drop_caught("a call_later callback, dropped", f);
            return DelayedCall {
                call,
                reactor: Rc::downgrade(&self.inner),
            };
        }
        self.inner.timers.borrow_mut().push(Timer {
            deadline,
            seq,
            call: Rc::clone(&call),
        });
        DelayedCall {
            call,
            reactor: Rc::downgrade(&self.inner),
        }
    }
    // ANCHOR_END: call_later

    /// The time by the reactor's clock: the system's, or a test's fake.
    pub fn now(&self) -> Instant {
        match &self.inner.clock {
            Some(clock) => clock.now(),
            None => Instant::now(),
        }
    }

    /// How long the next wait may last: until the next live timer, or for
    /// ever when there is none. On a fake clock, waiting does not bring a
    /// timer closer: only a timer already due shortens the wait.
    fn time_until_next_timer(&self) -> Option<Duration> {
        let mut timers = self.inner.timers.borrow_mut();
        while let Some(timer) = timers.peek() {
            if timer.call.state.get() == CallState::Pending {
                let left = timer.deadline.saturating_duration_since(self.now());
                return match (&self.inner.clock, left.is_zero()) {
                    (Some(_), false) => None,
                    _ => Some(left),
                };
            }
            // Cancelled: forget it now rather than wake up for it later.
            timers.pop();
            self.inner
                .cancelled
                .set(self.inner.cancelled.get().saturating_sub(1));
        }
        None
    }

    /// Runs the timers that are due and were scheduled before this step.
    fn run_due_timers(&self) {
        self.run_timers_due(self.inner.next_seq.get());
    }

    /// Runs every timer due by the clock's time, in deadline order and
    /// among equal deadlines in the order they were scheduled, including
    /// those the timers schedule that are due too: what a fake clock's
    /// [`advance`](Clock::advance) does.
    pub(crate) fn run_all_due_timers(&self) {
        self.run_timers_due(u64::MAX);
    }

    /// Runs the timers due now that were scheduled before `first_new`.
    fn run_timers_due(&self, first_new: u64) {
        let now = self.now();
        loop {
            let timer = {
                let mut timers = self.inner.timers.borrow_mut();
                match timers.peek() {
                    Some(timer) if timer.deadline <= now && timer.seq < first_new => timers.pop(),
                    _ => None,
                }
            };
            let Some(timer) = timer else {
                self.shrink_timers();
                break;
            };
            if timer.call.state.get() == CallState::Cancelled {
                let cancelled = self.inner.cancelled.get();
                self.inner.cancelled.set(cancelled.saturating_sub(1));
                continue;
            }
            timer.call.state.set(CallState::Called);
            let f = timer.call.f.borrow_mut().take();
            if let Some(f) = f {
                self.guarded("a call_later callback", || f(self));
            }
        }
    }

    /// The calls still waiting to run, soonest first: their deadline and
    /// where they were scheduled (for [`crate::testing::check_clean`]).
    pub(crate) fn pending_calls(&self) -> Vec<(Instant, &'static str)> {
        let mut pending: Vec<(Instant, u64, &'static str)> = self
            .inner
            .timers
            .borrow()
            .iter()
            .filter(|timer| timer.call.state.get() == CallState::Pending)
            .map(|timer| (timer.deadline, timer.seq, timer.call.what))
            .collect();
        pending.sort_unstable_by_key(|&(deadline, seq, _)| (deadline, seq));
        pending
            .into_iter()
            .map(|(deadline, _, what)| (deadline, what))
            .collect()
    }

    /// Gives back the memory of a burst of timers once it has passed.
    fn shrink_timers(&self) {
        let mut timers = self.inner.timers.borrow_mut();
        if timers.capacity() > 1024 && timers.len() < timers.capacity() / 4 {
            let keep = timers.len() * 2;
            timers.shrink_to(keep);
        }
    }

    /// Drops cancelled timers from the heap once they are the majority, so
    /// that a program cancelling many long timeouts does not hoard memory.
    fn sweep_cancelled(&self) {
        let mut timers = self.inner.timers.borrow_mut();
        let cancelled = self.inner.cancelled.get();
        if cancelled > 64 && cancelled > timers.len() / 2 {
            timers.retain(|timer| timer.call.state.get() == CallState::Pending);
            self.inner.cancelled.set(0);
        }
    }

    /// The tasks that [`spawn`](Reactor::spawn) runs (Part 17).
    pub(crate) fn tasks(&self) -> &Tasks {
        &self.inner.tasks
    }

    /// Polls the tasks woken so far, as the loop's task step does; true if
    /// there were any. For a fake clock's `advance` (Part 15).
    pub(crate) fn run_ready_tasks(&self) -> bool {
        self.inner.tasks.run_ready()
    }

    /// A handle other threads can use to hand work to this loop.
    pub fn remote(&self) -> Remote {
        Remote {
            queue: Arc::clone(&self.inner.remote),
        }
    }

    fn run_remote_calls(&self) {
        for call in self.inner.remote.take() {
            self.guarded("a call from another thread", || call(self));
        }
    }

    /// Runs user code, catching and reporting a panic. True if it returned.
    fn guarded(&self, what: &str, f: impl FnOnce()) -> bool {
        self.catching(what, f).is_some()
    }

    /// A handle that does not keep the reactor alive, for objects the
    /// reactor itself owns (a connection that needs the reactor to
    /// schedule its own writes would otherwise hold it in a circle).
    pub(crate) fn downgrade(&self) -> WeakReactor {
        WeakReactor(Rc::downgrade(&self.inner))
    }

    /// Runs `f`, catching a panic and reporting it as `what panicked`.
    /// Returns `None` if `f` panicked.
    pub(crate) fn catching<T>(&self, what: &str, f: impl FnOnce() -> T) -> Option<T> {
        match log::catch_panic(f) {
            Ok(value) => Some(value),
            Err(report) => {
                report_panic(what, &report);
                None
            }
        }
    }

    /// The number of turns the loop has taken, for tests.
    #[cfg(test)]
    fn turns(&self) -> u64 {
        self.inner.turns.get()
    }
}

// ---------------------------------------------------------------------------
// Descriptors (Part 4).
// ---------------------------------------------------------------------------

impl Reactor {
    // ANCHOR: add_reader
    /// Starts telling `reader` when its file descriptor can be read.
    pub fn add_reader(&self, reader: Rc<dyn ReadDescriptor>) -> io::Result<()> {
        self.refuse_when_over()?;
        let fd = reader.fileno();
        self.update(fd, |registered| registered.reader = Some(reader))
    }

    /// Stops telling `reader` about its file descriptor. Removing a reader
    /// that is not registered does nothing.
    pub fn remove_reader(&self, reader: &dyn ReadDescriptor) {
        let me = reader as *const dyn ReadDescriptor as *const ();
        let _ = self.update(reader.fileno(), |registered| {
            if registered.reader.as_ref().map(address) == Some(me) {
                registered.reader = None;
            }
        });
    }

    /// Every registered reader.
    pub fn readers(&self) -> Vec<Rc<dyn ReadDescriptor>> {
        let descriptors = self.inner.descriptors.borrow();
        descriptors
            .values()
            .filter_map(|registered| registered.reader.clone())
            .collect()
    }
    // ANCHOR_END: add_reader

    /// Starts telling `writer` when its file descriptor can be written.
    pub fn add_writer(&self, writer: Rc<dyn WriteDescriptor>) -> io::Result<()> {
        self.refuse_when_over()?;
        let fd = writer.fileno();
        self.update(fd, |registered| registered.writer = Some(writer))
    }

    /// Stops telling `writer` about its file descriptor.
    pub fn remove_writer(&self, writer: &dyn WriteDescriptor) {
        let me = writer as *const dyn WriteDescriptor as *const ();
        let _ = self.update(writer.fileno(), |registered| {
            if registered.writer.as_ref().map(address) == Some(me) {
                registered.writer = None;
            }
        });
    }

    /// Every registered writer.
    pub fn writers(&self) -> Vec<Rc<dyn WriteDescriptor>> {
        let descriptors = self.inner.descriptors.borrow();
        descriptors
            .values()
            .filter_map(|registered| registered.writer.clone())
            .collect()
    }

    /// A reactor that has stopped will never wait again: watching a new
    /// descriptor would only keep it (and the reactor) alive for nothing.
    fn refuse_when_over(&self) -> io::Result<()> {
        match self.inner.state.get() {
            State::ShuttingDown | State::Stopped => {
                Err(io::Error::other("the reactor has stopped"))
            }
            _ => Ok(()),
        }
    }

    /// Changes who watches `fd` and tells mio what interest that leaves.
    /// Descriptors dropped from the table are dropped only after the table's
    /// borrow ends, since dropping them may run user code.
    fn update(&self, fd: RawFd, change: impl FnOnce(&mut Registered)) -> io::Result<()> {
        self.change_watchers(fd, change, false)
    }

    /// `update`, except that when `closing` and nobody is left watching,
    /// the kernel is not told: the caller closes the descriptor at once,
    /// which takes it out of the poller by itself.
    fn change_watchers(
        &self,
        fd: RawFd,
        change: impl FnOnce(&mut Registered),
        closing: bool,
    ) -> io::Result<()> {
        let mut descriptors = self.inner.descriptors.borrow_mut();
        let mut registered = descriptors.remove(&fd).unwrap_or_default();
        let before = (registered.reader.clone(), registered.writer.clone());
        change(&mut registered);
        let result = match closing && registered.wanted().is_none() {
            true => Ok(()),
            false => self.reregister(fd, &mut registered),
        };
        if registered.reader.is_some() || registered.writer.is_some() {
            descriptors.insert(fd, registered);
        }
        drop(descriptors);
        drop_caught("dropping a descriptor", before);
        result
    }

    fn reregister(&self, fd: RawFd, registered: &mut Registered) -> io::Result<()> {
        let registry = &self.inner.registry;
        let wanted = registered.wanted();
        if wanted == registered.interest {
            return Ok(());
        }
        let result = match (registered.interest, wanted) {
            (None, Some(interest)) => {
                registry.register(&mut SourceFd(&fd), Token(token(fd)), interest)
            }
            (Some(_), Some(interest)) => {
                match registry.reregister(&mut SourceFd(&fd), Token(token(fd)), interest) {
                    // The kernel forgot the descriptor (it was closed and
                    // its number reused): register it afresh.
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {
                        registry.register(&mut SourceFd(&fd), Token(token(fd)), interest)
                    }
                    other => other,
                }
            }
            (Some(_), None) => {
                // The descriptor may already be closed, and then the kernel
                // has forgotten it on its own: nothing left to undo.
                let _ = registry.deregister(&mut SourceFd(&fd));
                Ok(())
            }
            (None, None) => Ok(()),
        };
        match result {
            Ok(()) => registered.interest = wanted,
            Err(_) => {
                // Keep the table honest: nothing that failed to register
                // stays listed.
                if registered.interest.is_none() {
                    registered.reader = None;
                    registered.writer = None;
                }
            }
        }
        result
    }

    // ANCHOR: dispatch
    /// Tells the reader and the writer of a ready descriptor. Each is
    /// cloned out of the table first, so it may change the table freely.
    fn dispatch(&self, event: &mio::event::Event) {
        let fd = event.token().0 as RawFd;
        let problem = event.is_error();
        if event.is_readable() || event.is_read_closed() || problem {
            if let Some(reader) = self.reader_of(fd) {
                // Log lines written meanwhile name the descriptor (Part 16).
                let _system = log::System::enter(|| reader.log_prefix());
                let outcome = self.call_descriptor("do_read", || reader.do_read(self));
                if let Some(reason) = outcome {
                    self.forget(fd, address(&reader));
                    self.guarded("connection_lost", || reader.connection_lost(self, reason));
                }
                // Perhaps the last reference, if it left the table.
                drop_caught("dropping a descriptor", reader);
            }
        }
        if event.is_writable() || event.is_write_closed() || problem {
            if let Some(writer) = self.writer_of(fd) {
                let _system = log::System::enter(|| writer.log_prefix());
                let outcome = self.call_descriptor("do_write", || writer.do_write(self));
                if let Some(reason) = outcome {
                    self.forget(fd, address(&writer));
                    self.guarded("connection_lost", || writer.connection_lost(self, reason));
                }
                drop_caught("dropping a descriptor", writer);
            }
        }
    }
    // ANCHOR_END: dispatch

    fn reader_of(&self, fd: RawFd) -> Option<Rc<dyn ReadDescriptor>> {
        let descriptors = self.inner.descriptors.borrow();
        descriptors.get(&fd).and_then(|r| r.reader.clone())
    }

    fn writer_of(&self, fd: RawFd) -> Option<Rc<dyn WriteDescriptor>> {
        let descriptors = self.inner.descriptors.borrow();
        descriptors.get(&fd).and_then(|r| r.writer.clone())
    }

    /// Calls `do_read` or `do_write`; a panic there loses the connection.
    fn call_descriptor(
        &self,
        what: &str,
        f: impl FnOnce() -> Option<Disconnect>,
    ) -> Option<Disconnect> {
        let mut outcome = None;
        let returned = self.guarded(what, || outcome = f());
        if returned {
            outcome
        } else {
            Some(Disconnect::Lost(io::Error::other(format!(
                "{what} panicked"
            ))))
        }
    }

    /// Stops watching `fd` on behalf of the object at `descriptor`, for
    /// reading and for writing, as Twisted does before `connectionLost`.
    /// Only that object: if it already left and another took its file
    /// descriptor number, the newcomer stays.
    fn forget(&self, fd: RawFd, descriptor: *const ()) {
        let _ = self.update(fd, |registered| registered.forget(descriptor));
    }

    /// Stops watching `fd` on behalf of the object at `descriptor`, which
    /// is about to close it, at once. Closing a descriptor takes it out of
    /// the poller by itself, so the system call that would say so first is
    /// skipped: at tens of thousands of connections a second, that call is
    /// worth saving. Only for descriptors nobody else holds open (a `dup`
    /// would keep the registration alive).
    pub(crate) fn forget_before_close(&self, fd: RawFd, descriptor: *const ()) {
        let _ = self.change_watchers(fd, |registered| registered.forget(descriptor), true);
    }

    /// The end of `run`, or [`shutdown`](Reactor::shutdown): disconnect what
    /// is still registered (each object hears once), drop what is still
    /// scheduled, and refuse to run again. The kernel is not told to stop
    /// watching each descriptor: the loop will never wait again, and
    /// closing the poller forgets them all at once, which matters with
    /// thousands of connections.
    fn shut_down(&self) {
        self.inner.state.set(State::ShuttingDown);
        // Other threads hear at once that nothing they send will run.
        self.inner.remote.close();
        let stopped = || Disconnect::Lost(io::Error::other("the reactor stopped"));
        // What a connection_lost registers or schedules now is refused (the
        // state says so), so one pass empties the table.
        let left: Vec<Registered> = self
            .inner
            .descriptors
            .borrow_mut()
            .drain()
            .map(|(_, registered)| registered)
            .collect();
        for Registered { reader, writer, .. } in left {
            if let Some(reader) = &reader {
                self.guarded("connection_lost", || {
                    reader.connection_lost(self, stopped())
                });
            }
            if let Some(writer) = &writer {
                if reader.as_ref().map(address) != Some(address(writer)) {
                    self.guarded("connection_lost", || {
                        writer.connection_lost(self, stopped())
                    });
                }
            }
            drop_caught("dropping a descriptor", (reader, writer));
        }
        // Each pending call's closure is dropped on its own, so that one
        // whose captures panic in `Drop` does not keep the others alive.
        let timers = std::mem::take(&mut *self.inner.timers.borrow_mut());
        for timer in timers.into_vec() {
            timer.call.state.set(CallState::Cancelled);
            let f = timer.call.f.borrow_mut().take();
            drop_caught("dropping a call_later callback", f);
        }
        self.inner.cancelled.set(0);
        for call in self.inner.startup.take() {
            drop_caught("dropping a call_when_running callback", call);
        }
        for hook in self.inner.before_shutdown.take() {
            drop_caught("dropping a before-shutdown hook", hook);
        }
        for call in self.inner.remote.take() {
            drop_caught("dropping a call from another thread", call);
        }
        // Last: the connections' ends above may have woken tasks, which
        // will never run now (Part 17).
        self.inner.tasks.shut_down();
        self.inner.state.set(State::Stopped);
    }
}

/// When a call `delay` after `now` is due. A delay too long for the clock
/// (`Duration::MAX`, say) means "never", as far as anyone will see: it is
/// clamped to a deadline centuries away instead of overflowing, which would
/// panic.
fn deadline_after(now: Instant, delay: Duration) -> Instant {
    const NEVER: Duration = Duration::from_secs(1 << 32); // about 136 years
    now.checked_add(delay.min(NEVER))
        .or_else(|| now.checked_add(Duration::from_secs(1 << 20)))
        .unwrap_or(now)
}

/// Drops `value` under the panic guard, reporting a panic in its `Drop`
/// as `what panicked`. The framework lets go of user code all the time (a
/// descriptor that left the table, a protocol, a closure that will never
/// run, a task's future, a value a Deferred no longer needs), and a user's
/// `Drop` may panic like any callback.
pub(crate) fn drop_caught<T>(what: &str, value: T) {
    if let Err(report) = log::catch_panic(move || drop(value)) {
        report_panic(what, &report);
    }
}

/// Reports a caught panic through `tracing`, or straight to stderr when no
/// subscriber listens, so that a panic is never silent.
fn report_panic(what: &str, report: &PanicReport) {
    let location = report.location.as_deref().unwrap_or("an unknown place");
    if tracing::enabled!(tracing::Level::ERROR) {
        tracing::error!("{what} panicked at {location}: {}", report.message);
        if let Some(backtrace) = &report.backtrace {
            tracing::error!("backtrace of that panic:\n{backtrace}");
        }
    } else {
        log::to_stderr(&format!(
            "{what} panicked at {location}: {}\n",
            report.message
        ));
        if let Some(backtrace) = &report.backtrace {
            log::to_stderr(&format!("{backtrace}\n"));
        }
    }
}

/// Raises a flag, and lowers it when dropped: when the code it covers
/// returns, or when it panics and the stack unwinds. A turn in progress
/// and a protocol method running are flags of this kind.
pub(crate) struct Raised<'a>(&'a Cell<bool>);

impl<'a> Raised<'a> {
    pub(crate) fn set(flag: &'a Cell<bool>) -> Raised<'a> {
        flag.set(true);
        Raised(flag)
    }
}

impl Drop for Raised<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Where a registered descriptor lives: its identity. Only the address
/// counts: the vtable half of a `dyn` pointer may differ between codegen
/// units.
fn address<T: ?Sized>(descriptor: &Rc<T>) -> *const () {
    Rc::as_ptr(descriptor) as *const ()
}

fn token(fd: RawFd) -> usize {
    // File descriptors are never negative once open; a negative one would
    // fail to register anyway, and must not collide with the waker's token.
    usize::try_from(fd).unwrap_or(usize::MAX - 1)
}

// ---------------------------------------------------------------------------
// Timers.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CallState {
    Pending,
    Called,
    Cancelled,
}

struct TimerCall {
    f: RefCell<Option<Callback>>,
    state: Cell<CallState>,
    /// Where it was scheduled: the closure's type name.
    what: &'static str,
}

/// An entry of the timer heap, ordered so that the earliest deadline, and
/// among equal deadlines the earliest scheduled, comes out first.
struct Timer {
    deadline: Instant,
    seq: u64,
    call: Rc<TimerCall>,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}

impl Eq for Timer {}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // BinaryHeap is a max-heap: reverse, so the smallest comes first.
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

// ANCHOR: delayed_call
/// A call scheduled with [`Reactor::call_later`].
pub struct DelayedCall {
    call: Rc<TimerCall>,
    reactor: Weak<Inner>,
}

impl DelayedCall {
    /// Whether the call is still waiting to run.
    pub fn active(&self) -> bool {
        self.call.state.get() == CallState::Pending
    }

    /// Makes sure the call never runs. Returns false if it was too late:
    /// the call already ran or was already cancelled.
    pub fn cancel(&self) -> bool {
        if !self.active() {
            return false;
        }
        self.call.state.set(CallState::Cancelled);
        // Drop the closure now: what it captured is freed at once.
        let f = self.call.f.borrow_mut().take();
        drop_caught("dropping a cancelled call", f);
        if let Some(inner) = self.reactor.upgrade() {
            inner.cancelled.set(inner.cancelled.get() + 1);
            Reactor { inner }.sweep_cancelled();
        }
        true
    }
}
// ANCHOR_END: delayed_call

// ---------------------------------------------------------------------------
// Waking the loop from another thread.
// ---------------------------------------------------------------------------

struct RemoteQueue {
    calls: Mutex<Vec<RemoteCallback>>,
    waker: Arc<Waker>,
    closed: AtomicBool,
}

impl RemoteQueue {
    /// Everything handed over so far. A thread that panicked while holding
    /// the lock cannot have left the queue half changed (a push is one
    /// step), so a poisoned lock is used as it is.
    fn take(&self) -> Vec<RemoteCallback> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RemoteCallback>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses calls from now on (the ones already queued are taken and
    /// dropped by the shutdown).
    fn close(&self) {
        let _calls = self.lock();
        self.closed.store(true, Ordering::Release);
    }
}

/// A handle that other threads use to run code on the reactor's thread.
/// It is `Send` and `Sync`, unlike the reactor itself.
#[derive(Clone)]
pub struct Remote {
    queue: Arc<RemoteQueue>,
}

/// The reactor a [`Remote`] points to is gone: the call will never run.
#[derive(Debug)]
pub struct ReactorGone;

impl fmt::Display for ReactorGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the reactor is gone")
    }
}

impl std::error::Error for ReactorGone {}

impl Remote {
    /// Runs `f` on the reactor's thread during its next turn.
    pub fn call(&self, f: impl FnOnce(&Reactor) + Send + 'static) -> Result<(), ReactorGone> {
        {
            // Checked under the lock that `close` takes: a call either
            // goes in before the queue closes, and is dropped with it, or
            // is refused. None is accepted and then forgotten.
            let mut calls = self.queue.lock();
            if self.queue.closed.load(Ordering::Acquire) {
                return Err(ReactorGone);
            }
            calls.push(Box::new(f));
        }
        self.queue.waker.wake().map_err(|_| ReactorGone)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.remote.closed.store(true, Ordering::Release);
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("state", &self.inner.state.get())
            .field("timers", &self.inner.timers.borrow().len())
            .field("descriptors", &self.inner.descriptors.borrow().len())
            .field("tasks", &self.inner.tasks.pending())
            .finish()
    }
}

#[cfg(test)]
mod tests;
