//! Part 17: a Deferred is a Future, and the reactor is the executor.
//!
//! Twisted's `inlineCallbacks` lets a generator `yield` a Deferred and be
//! resumed with its result, so that a chain of callbacks reads as one
//! function from top to bottom. Rust has the same idea built into the
//! language: an `async` block is compiled into a state machine that can
//! stop at each `.await` and be resumed later. Two pieces join the two
//! worlds:
//!
//! - **A Deferred can be awaited.** `Deferred<T>` implements
//!   [`IntoFuture`], so `d.await` gives `Result<T, Failure>`: the value, or
//!   the failure as an ordinary `Err` that `match` or `?` can handle. The
//!   await adds one stage to the chain, which puts the outcome where the
//!   future will find it and wakes the task. A Deferred that has already
//!   fired resumes the task at once, without a turn of the loop (the
//!   series' "yield a plain value").
//! - **The reactor runs `async` blocks.** [`Reactor::spawn`] takes a
//!   future and gives back a `Deferred` for its outcome. The future returns
//!   what a callback returns (an [`Outcome`]): `Ok(value)` fires the
//!   Deferred with the value, `Err(failure)` fails it (so `?` inside the
//!   block fails the task, as a raised exception fails an
//!   `inlineCallbacks` generator), and a `Deferred` makes it wait for that
//!   one. A panic fails it too. `spawn` polls the future once at once, as
//!   `inlineCallbacks` runs the generator to its first `yield`; after that
//!   the future runs whenever it is woken, on the reactor's thread, in the
//!   loop's step for tasks. There is no other executor.
//!
//! # Waking
//!
//! A future that cannot go on returns `Pending`, having kept the
//! `std::task::Waker` it was given. When what it waits for happens, the
//! waker puts the task on the reactor's *ready queue*, and the loop polls
//! it in its task step, which comes after the turn's sockets, timers and
//! calls from other threads. The rules:
//!
//! - A task woken many times before it runs is polled once: the waker
//!   remembers that the task is queued.
//! - A task runs in the task step, never inside the code that woke it. A
//!   Deferred fired from a protocol's `connection_lost` does not resume the
//!   task inside `connection_lost`, with the transport in the middle of its
//!   work; it resumes it a moment later, from the loop. Twisted's
//!   `inlineCallbacks` differs here: it resumes the generator inside the
//!   `callback` that fired the Deferred. Both orders are correct, but only
//!   this one keeps a task from re-entering a transport that is busy.
//! - A task woken during the task step (by another task, or by itself) is
//!   polled in the same step, without going back to the kernel, until the
//!   step has polled [`TASK_BUDGET`] tasks; after that, on the next turn.
//!   Two tasks that hand work to each other need no system call per hop,
//!   and a task that keeps waking itself cannot starve the sockets. A
//!   task is never polled inside its own poll, even by a fake clock it
//!   advances itself: it runs again when that poll is over.
//! - A wake costs no system call when it comes from the reactor's own
//!   thread, or while the loop is busy anyway: the loop checks the queue
//!   before it waits. Only a wake that may find the loop asleep in the
//!   kernel (from another thread) pokes it through the `mio::Waker`.
//!   (The rule of the `async-io` crate's reactor.)
//! - When the reactor shuts down, every task still pending is dropped
//!   (its future, and all it holds), and its Deferred fails with
//!   [`ReactorStopped`]: a task never ends in silence. A wake that comes
//!   later is ignored. A task that shuts the reactor down itself, from
//!   inside its poll, cannot be dropped there: it runs on to the end of
//!   that poll, and its Deferred fires with what it returned, or, if it
//!   waits for something, it is dropped and fails when the poll is over.
//!
//! # Cancelling a task (Part 19)
//!
//! Dropping the Deferred that `spawn` returned does not stop the task: the
//! Deferred is a result, and nobody wanting it is no reason to stop
//! working. [`Deferred::cancel`] on it does: the task is told at the
//! `await` it is parked on, which gives `Err` with a
//! [`CancelledError`](crate::defer::CancelledError), because that Deferred
//! is cancelled in turn (and its own canceller, a timer's or a
//! connection's, stops the work). The task's Deferred itself fails with
//! `CancelledError` at once, as any cancelled Deferred does; what the task
//! returns afterwards is ignored (a panic, though, is reported as an
//! unhandled error: it is never silent). A task that is not parked on a
//! Deferred when the cancel comes (it is queued to run, or waits on some
//! other kind of future) is told at the next Deferred it has to wait for.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake};
use std::time::Duration;

use crate::defer::{deferred_with_canceller, CancelHandle, Deferred, Outcome, Panicked, Trigger};
use crate::failure::Failure;
use crate::log;
use crate::reactor::{drop_caught, Reactor};

// ---------------------------------------------------------------------------
// Awaiting a Deferred.
// ---------------------------------------------------------------------------

// ANCHOR: into_future
impl<T: 'static> IntoFuture for Deferred<T> {
    type Output = Result<T, Failure>;
    type IntoFuture = DeferredFuture<T>;

    /// Adds the stage that hands the outcome to the future and wakes
    /// whoever awaits it. On a fired Deferred, that stage runs now, and
    /// the first poll finds the outcome waiting.
    fn into_future(self) -> DeferredFuture<T> {
        let slot = Rc::new(RefCell::new(Slot::Waiting(None)));
        let weak = Rc::downgrade(&slot);
        let chain = self.add_both(move |outcome| {
            let Some(slot) = weak.upgrade() else {
                // Nobody awaits it any more: a failure stays on the chain,
                // to be reported as unhandled.
                return outcome.map(drop);
            };
            let waiting = slot.replace(Slot::Ready(outcome));
            if let Slot::Waiting(Some(waker)) = waiting {
                waker.wake();
            }
            Ok(())
        });
        DeferredFuture { slot, chain }
    }
}

/// The future of an awaited Deferred: see [`IntoFuture for Deferred`].
///
/// [`IntoFuture for Deferred`]: struct.Deferred.html#impl-IntoFuture-for-Deferred<T>
pub struct DeferredFuture<T> {
    slot: Rc<RefCell<Slot<T>>>,
    /// The end of the chain, whose last stage fills the slot: kept to pass
    /// a cancel of the task on to it.
    chain: Deferred<()>,
}

/// Where the outcome meets the future.
enum Slot<T> {
    /// Not fired yet; the waker of the last poll, if polled.
    Waiting(Option<std::task::Waker>),
    /// Fired: the outcome, until the poll takes it.
    Ready(Result<T, Failure>),
    /// The outcome has been taken.
    Done,
}

impl<T> Future for DeferredFuture<T> {
    type Output = Result<T, Failure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.borrow_mut();
        match std::mem::replace(&mut *slot, Slot::Done) {
            Slot::Ready(outcome) => Poll::Ready(outcome),
            Slot::Waiting(waker) => {
                // Keep the newest waker; cloning is skipped when it is the same.
                let waker = match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => waker,
                    _ => cx.waker().clone(),
                };
                *slot = Slot::Waiting(Some(waker));
                drop(slot);
                parked_on(self.chain.canceller());
                Poll::Pending
            }
            // Polled again after it gave its outcome: there is nothing
            // more to give, ever.
            Slot::Done => Poll::Pending,
        }
    }
}
// ANCHOR_END: into_future

impl<T> fmt::Debug for DeferredFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeferredFuture({:?})", self.chain)
    }
}

thread_local! {
    /// The Deferreds that the task being polled has parked on, gathered by
    /// `DeferredFuture::poll` for a cancel to reach. `None` outside a poll
    /// of one of our tasks (a DeferredFuture polled by anyone else is not
    /// a task of ours to cancel).
    static PARKED: RefCell<Option<Vec<CancelHandle>>> = const { RefCell::new(None) };
}

fn parked_on(handle: CancelHandle) {
    PARKED.with(|parked| {
        if let Some(parked) = parked.borrow_mut().as_mut() {
            parked.push(handle);
        }
    });
}

// ---------------------------------------------------------------------------
// Tasks.
// ---------------------------------------------------------------------------

/// The reactor's stopped before the task finished: the task was dropped,
/// and this is the failure its Deferred fires with.
#[derive(Debug)]
pub struct ReactorStopped;

impl fmt::Display for ReactorStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the reactor stopped before the task finished")
    }
}

impl std::error::Error for ReactorStopped {}

// ANCHOR: spawn
impl Reactor {
    /// Runs `future` on this reactor and gives back a Deferred for its
    /// outcome: the value of its `Ok`, the failure of its `Err` (or the
    /// outcome of the Deferred it returns). It fails, too, if the future
    /// panics or the reactor stops first. The future is polled once now,
    /// up to its first `await` that has to wait: a future that never waits
    /// gives back a Deferred that has already fired.
    pub fn spawn<F>(&self, future: F) -> Deferred<<F::Output as Outcome>::Value>
    where
        F: Future + 'static,
        F::Output: Outcome,
    {
        let tasks = self.tasks();
        let mut chain = None;
        let task = Rc::new_cyclic(|me: &Weak<TaskCell<F>>| {
            // The canceller holds the task weakly: the task holds the
            // trigger, and a strong link would be a circle.
            let me = me.clone();
            let (d, trigger) = deferred_with_canceller(move |_| {
                if let Some(task) = me.upgrade() {
                    task.cancel();
                }
            });
            chain = Some(d);
            TaskCell {
                future: RefCell::new(Some(Box::pin(future))),
                trigger: RefCell::new(Some(trigger)),
                parked: RefCell::default(),
                cancel_asked: Cell::new(false),
                waker: tasks.new_waker(),
            }
        });
        let key = task.waker.key;
        tasks.insert(key, Rc::clone(&task) as Rc<dyn Task>);
        tasks.after_poll(key, &*task, poll(&*task));
        // The task's trigger fires with what the future returned; this
        // first stage makes that the chain's outcome (a `Result` at once, a
        // Deferred when it fires, a cancel reaching it meanwhile).
        let chain: Deferred<F::Output> = chain.expect("new_cyclic ran the closure");
        chain.add_callback(|returned| returned)
    }
}
// ANCHOR_END: spawn

/// A spawned future, typed away.
trait Task {
    /// Polls the future once; `Done` once it has ended.
    fn poll_once(&self, cx: &mut Context<'_>) -> Polled;
    /// The task's waker, and its state.
    fn waker(&self) -> &TaskWakerHandle;
    /// The list of what the task is parked on, emptied, to be filled by
    /// the next poll (its allocation is reused).
    fn unpark(&self) -> Vec<CancelHandle>;
    /// What the last poll parked on: kept for a cancel to reach, or
    /// cancelled at once if a cancel is waiting for it.
    fn park(&self, parked: Vec<CancelHandle>);
    /// Is the task in the middle of a poll?
    fn busy(&self) -> bool;
    /// The reactor is over: drop the future, fail the Deferred.
    fn abandon(&self);
    /// The future's type: for a test's report of what it left behind.
    fn what(&self) -> &'static str;
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Polled {
    Pending,
    Done,
}

struct TaskCell<F: Future> {
    /// `None` once it has ended (or been dropped).
    future: RefCell<Option<Pin<Box<F>>>>,
    /// Fired once, when the future ends; `None` after.
    trigger: RefCell<Option<Trigger<F::Output>>>,
    /// The Deferreds the last poll parked on: what a cancel reaches.
    parked: RefCell<Vec<CancelHandle>>,
    /// A cancel came while the task was parked on no Deferred: set by
    /// `cancel`, cleared when the next park is cancelled.
    cancel_asked: Cell<bool>,
    waker: TaskWakerHandle,
}

impl<F> TaskCell<F>
where
    F: Future + 'static,
    F::Output: 'static,
{
    /// The task's Deferred was cancelled: pass it on to the `await`. If
    /// the task is parked on nothing that still waits (it is queued to
    /// run, its Deferred has just fired), its next park gets the cancel.
    fn cancel(&self) {
        let pending: Vec<CancelHandle> = self
            .parked
            .take()
            .into_iter()
            .filter(CancelHandle::is_pending)
            .collect();
        if pending.is_empty() {
            self.cancel_asked.set(true);
        }
        for handle in pending {
            handle.cancel();
        }
    }

    fn fire(&self, outcome: Result<F::Output, Failure>) {
        let trigger = self.trigger.borrow_mut().take();
        if let Some(trigger) = trigger {
            trigger.fire(outcome);
        }
    }
}

impl<F> Task for TaskCell<F>
where
    F: Future + 'static,
    F::Output: 'static,
{
    // ANCHOR: poll_once
    fn poll_once(&self, cx: &mut Context<'_>) -> Polled {
        let polled = {
            let mut future = self.future.borrow_mut();
            let Some(running) = future.as_mut() else {
                return Polled::Done;
            };
            log::catch_panic(|| running.as_mut().poll(cx))
        };
        let outcome = match polled {
            Ok(Poll::Pending) => return Polled::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            // A panic ends the task, as an exception ends an
            // inlineCallbacks generator: its Deferred fails with it.
            Err(report) => Err(Failure::new(Panicked::from(report))),
        };
        // The future is over: drop it (and what it held) before the
        // Deferred's callbacks run, outside the borrow. The trigger is
        // taken first: the task has finished, even if the drop shuts the
        // reactor down (and so would abandon it).
        let trigger = self.trigger.borrow_mut().take();
        let future = self.future.borrow_mut().take();
        drop_caught("dropping a task's future", future);
        if let Some(trigger) = trigger {
            trigger.fire(outcome);
        }
        Polled::Done
    }
    // ANCHOR_END: poll_once

    fn waker(&self) -> &TaskWakerHandle {
        &self.waker
    }

    fn unpark(&self) -> Vec<CancelHandle> {
        let mut parked = self.parked.take();
        parked.clear();
        parked
    }

    fn park(&self, parked: Vec<CancelHandle>) {
        if self.cancel_asked.get() && !parked.is_empty() {
            // A cancel came while the task was not parked on a Deferred:
            // these are the first it parks on since.
            self.cancel_asked.set(false);
            for handle in parked {
                handle.cancel();
            }
        } else {
            *self.parked.borrow_mut() = parked;
        }
    }

    fn what(&self) -> &'static str {
        std::any::type_name::<F>()
    }

    fn busy(&self) -> bool {
        self.future.try_borrow_mut().is_err()
    }

    fn abandon(&self) {
        // A task that shut its own reactor down is in the middle of its
        // poll, its future borrowed: that poll ends first, and whoever made
        // it (`spawn`, `run_ready`) abandons the task then, if it is still
        // pending. A task that ended in that poll has fired already.
        let Ok(mut running) = self.future.try_borrow_mut() else {
            return;
        };
        let future = running.take();
        drop(running);
        drop_caught("dropping a task's future", future);
        self.parked.take();
        self.fire(Err(Failure::without_backtrace(ReactorStopped)));
    }
}

/// Polls `task` once, gathering the Deferreds it parks on. Saves and
/// restores what an outer poll gathered: `spawn` inside a task polls the
/// new task from inside the old one's poll.
fn poll(task: &dyn Task) -> Polled {
    let waker = task.waker();
    if task.busy() {
        // Woken and reached from inside its own poll (a fake clock that
        // the task advances runs the task step): not now. The poll in
        // progress puts it back on the queue when it is over.
        waker.missed.set(true);
        return Polled::Pending;
    }
    let mut cx = Context::from_waker(&waker.waker);
    // From here on, a wake queues the task again.
    waker.shared.queued.store(false, Ordering::Release);
    let outer = PARKED.with(|parked| parked.replace(Some(task.unpark())));
    let polled = task.poll_once(&mut cx);
    let parked = PARKED
        .with(|parked| parked.replace(outer))
        .unwrap_or_default();
    if polled == Polled::Pending {
        task.park(parked);
        if waker.missed.replace(false) {
            // Still marked as queued: no wake will put it back.
            waker.shared.queue.push(waker.key);
        }
    }
    polled
}

// ---------------------------------------------------------------------------
// The ready queue and the wakers.
// ---------------------------------------------------------------------------

/// A task's place in the table: its slot, and the generation of the slot,
/// so that the waker of a finished task never wakes the slot's next tenant.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Key {
    slot: usize,
    generation: u64,
}

/// What a task's `std::task::Waker` holds. It is `Send` and `Sync`: a
/// waker may be woken from any thread.
pub(crate) struct TaskWaker {
    key: Key,
    /// On the ready queue, not yet polled: set by a wake, cleared by the
    /// poll. Makes many wakes one poll.
    queued: AtomicBool,
    queue: Arc<ReadyQueue>,
}

/// A task's waker and its key, for the task to keep.
struct TaskWakerHandle {
    key: Key,
    shared: Arc<TaskWaker>,
    /// `shared` as a `std::task::Waker`, made once: every poll lends it.
    waker: std::task::Waker,
    /// The task was taken off the queue while it was being polled, and
    /// not polled: `poll` queues it again when its poll is over.
    missed: Cell<bool>,
}

// ANCHOR: wake
impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Already queued: the one poll to come will see what changed.
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        self.queue.push(self.key);
    }
}
// ANCHOR_END: wake

/// How many tasks one task step polls, at most, before the loop goes back
/// to its sockets and timers: the first batch (the tasks woken before the
/// step) always runs whole; further batches only while under the budget.
pub const TASK_BUDGET: usize = 128;

/// The tasks woken and not yet polled, shared with every waker.
pub(crate) struct ReadyQueue {
    ready: Mutex<Vec<Key>>,
    /// The loop is waiting in the kernel, or about to: a wake must poke
    /// it through `waker`. Set and cleared by the loop around its wait.
    sleeping: AtomicBool,
    /// The reactor has shut down: wakes are ignored. Set once.
    closed: AtomicBool,
    waker: Arc<mio::Waker>,
    /// How many wakes had to poke the loop, for tests.
    pokes: AtomicUsize,
}

impl ReadyQueue {
    fn lock(&self) -> MutexGuard<'_, Vec<Key>> {
        // A push is one step: a panic elsewhere cannot leave it half done.
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ANCHOR: push
    fn push(&self, key: Key) {
        {
            let mut ready = self.lock();
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            ready.push(key);
        }
        // Read after the push: if the loop went to sleep before it, the
        // loop sees this flag; if after, the loop sees the push (it looks
        // at the queue after raising the flag), and waits no longer.
        if self.sleeping.load(Ordering::SeqCst) {
            self.pokes.fetch_add(1, Ordering::Relaxed);
            let _ = self.waker.wake();
        }
    }
    // ANCHOR_END: push
}

/// The reactor's tasks: the spawned futures not yet finished, and the
/// queue of those woken. Part of the reactor (one per reactor).
pub(crate) struct Tasks {
    table: RefCell<Vec<Entry>>,
    /// The batch being polled, swapped with the queue's list so that
    /// neither allocates again.
    batch: RefCell<Vec<Key>>,
    /// Slots free for reuse.
    free: RefCell<Vec<usize>>,
    next_generation: Cell<u64>,
    queue: Arc<ReadyQueue>,
}

struct Entry {
    generation: u64,
    task: Option<Rc<dyn Task>>,
}

impl Tasks {
    pub(crate) fn new(waker: Arc<mio::Waker>) -> Tasks {
        Tasks {
            table: RefCell::default(),
            batch: RefCell::default(),
            free: RefCell::default(),
            next_generation: Cell::new(0),
            queue: Arc::new(ReadyQueue {
                ready: Mutex::default(),
                sleeping: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                waker,
                pokes: AtomicUsize::new(0),
            }),
        }
    }

    /// A waker for a task about to be inserted.
    fn new_waker(&self) -> TaskWakerHandle {
        let generation = self.next_generation.get();
        self.next_generation.set(generation + 1);
        let slot = self
            .free
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| self.table.borrow().len());
        let key = Key { slot, generation };
        let shared = Arc::new(TaskWaker {
            key,
            queued: AtomicBool::new(false),
            queue: Arc::clone(&self.queue),
        });
        TaskWakerHandle {
            key,
            waker: std::task::Waker::from(Arc::clone(&shared)),
            shared,
            missed: Cell::new(false),
        }
    }

    fn insert(&self, key: Key, task: Rc<dyn Task>) {
        let mut table = self.table.borrow_mut();
        if key.slot == table.len() {
            table.push(Entry {
                generation: key.generation,
                task: Some(task),
            });
        } else {
            table[key.slot] = Entry {
                generation: key.generation,
                task: Some(task),
            };
        }
    }

    /// Takes a finished task out of the table. Dropping it may run user
    /// code (what its Deferred's stages captured): not under the borrow.
    fn remove(&self, key: Key) {
        let task = {
            let mut table = self.table.borrow_mut();
            match table.get_mut(key.slot) {
                Some(entry) if entry.generation == key.generation => entry.task.take(),
                _ => None,
            }
        };
        if task.is_some() {
            self.free.borrow_mut().push(key.slot);
        }
        drop_caught("dropping a task", task);
    }

    /// The reactor has shut down: no task will be woken again.
    fn is_closed(&self) -> bool {
        self.queue.closed.load(Ordering::Acquire)
    }

    fn get(&self, key: Key) -> Option<Rc<dyn Task>> {
        let table = self.table.borrow();
        table
            .get(key.slot)
            .filter(|entry| entry.generation == key.generation)
            .and_then(|entry| entry.task.clone())
    }

    // ANCHOR: run_ready
    /// The loop's task step: polls every task woken before it began, then
    /// those woken meanwhile, batch after batch, until none is left or
    /// [`TASK_BUDGET`] polls are done. True if any task was polled.
    pub(crate) fn run_ready(&self) -> bool {
        let mut polled = 0;
        while polled < TASK_BUDGET {
            let mut batch = self.batch.take();
            std::mem::swap(&mut batch, &mut *self.queue.lock());
            if batch.is_empty() {
                break;
            }
            for &key in &batch {
                polled += 1;
                let Some(task) = self.get(key) else {
                    continue; // finished already: a late wake
                };
                self.after_poll(key, &*task, poll(&*task));
            }
            batch.clear();
            *self.batch.borrow_mut() = batch;
        }
        polled > 0
    }

    /// What follows a poll of the task at `key`: a finished task leaves
    /// the table; a pending one stays, unless the reactor has shut down
    /// (on a reactor that was over already, or because the task shut it
    /// down while it ran): nothing will ever wake it, and the shutdown
    /// could not drop a future in the middle of its poll, so it is
    /// abandoned now.
    fn after_poll(&self, key: Key, task: &dyn Task, polled: Polled) {
        match polled {
            Polled::Done => self.remove(key),
            Polled::Pending if self.is_closed() => {
                self.remove(key);
                task.abandon();
            }
            Polled::Pending => {}
        }
    }
    // ANCHOR_END: run_ready

    /// Called by the loop before it waits for at most `timeout`: the wait
    /// it may really take. From here until [`Tasks::woke_up`], a wake
    /// pokes the loop.
    pub(crate) fn going_to_sleep(&self, timeout: Option<Duration>) -> Option<Duration> {
        if timeout == Some(Duration::ZERO) {
            return timeout;
        }
        self.queue.sleeping.store(true, Ordering::SeqCst);
        if self.queue.lock().is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        }
    }

    /// Called by the loop when its wait is over.
    pub(crate) fn woke_up(&self) {
        self.queue.sleeping.store(false, Ordering::SeqCst);
    }

    /// How many tasks have not finished.
    pub(crate) fn pending(&self) -> usize {
        self.table
            .borrow()
            .iter()
            .filter(|entry| entry.task.is_some())
            .count()
    }

    /// The types of the futures of the tasks that have not finished (an
    /// `async` block's names the function it is in).
    pub(crate) fn pending_futures(&self) -> Vec<&'static str> {
        self.table
            .borrow()
            .iter()
            .filter_map(|entry| entry.task.as_ref().map(|task| task.what()))
            .collect()
    }

    /// How many wakes have had to poke the loop through the mio waker.
    #[cfg(test)]
    pub(crate) fn pokes(&self) -> usize {
        self.queue.pokes.load(Ordering::Relaxed)
    }

    /// The reactor is shutting down: no wake counts from now on, and every
    /// task still pending is dropped, its Deferred failed with
    /// [`ReactorStopped`]. (A task that its own errbacks spawn meanwhile
    /// is abandoned by `spawn`, which sees the queue closed.)
    pub(crate) fn shut_down(&self) {
        {
            let mut ready = self.queue.lock();
            self.queue.closed.store(true, Ordering::Release);
            ready.clear();
        }
        let left: Vec<Rc<dyn Task>> = self
            .table
            .borrow_mut()
            .drain(..)
            .filter_map(|entry| entry.task)
            .collect();
        self.free.borrow_mut().clear();
        for task in left {
            task.abandon();
            drop_caught("dropping a task", task);
        }
    }
}

#[cfg(test)]
mod tests;
