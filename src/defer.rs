//! Parts 7 to 9, 13, 14, 18 and 19: the Deferred, a result that is not
//! there yet.
//!
//! Making a Deferred gives two handles:
//!
//! - the chain, [`Deferred<T>`], which whoever wants the result extends
//!   with callbacks and errbacks; each `add_*` takes the chain and gives it
//!   back, so a callback may change the type of the value it passes on;
//! - the [`Trigger<T>`], which the code that will produce the result keeps,
//!   and fires once with a value ([`Trigger::callback`]) or a failure
//!   ([`Trigger::errback`]).
//!
//! Firing takes the trigger by value, so firing twice does not compile:
//! Twisted's run-time `AlreadyCalledError` becomes a compile-time "use of
//! moved value" (`tests/ui/fire_twice.rs` keeps the compiler's word for it).
//!
//! # The rules (each one has a test below)
//!
//! - The chain is a list of pairs, a callback and an errback. Firing runs
//!   them in order, at once, on the caller's stack: a Deferred needs no
//!   reactor and makes nothing asynchronous by itself.
//! - Each stage gets the previous stage's outcome. A value goes to the next
//!   callback; a failure (returned, or a panic inside the stage) goes to
//!   the next errback. An errback that returns a value recovers: the next
//!   stage is a callback again.
//! - `add_callback` pairs the callback with an errback that passes the
//!   failure on; `add_errback` the other way round; `add_both` uses one
//!   function for both.
//! - A stage added to a Deferred that has already fired runs at once.
//! - A stage that returns another Deferred pauses this chain until that one
//!   fires; its outcome then continues this chain, at any depth.
//! - [`Deferred::pause`] holds the chain (even when fired) until as many
//!   [`Deferred::unpause`] calls.
//! - A failure still waiting at the end of the chain when the chain can no
//!   longer be extended (its last handle dropped, and the trigger used) is
//!   reported on stderr as "Unhandled error in Deferred". That is Rust's
//!   `Drop` standing in for Python's garbage collector.
//!
//! # Cancelling (Part 19)
//!
//! Whoever holds the chain may change their mind: [`Deferred::cancel`].
//! Cancelling asks the producer to stop; the producer says how, with the
//! canceller it gave [`deferred_with_canceller`].
//!
//! - On a Deferred that has not fired, `cancel` calls the canceller (once:
//!   it is taken), then fires the chain with [`CancelledError`], unless the
//!   canceller fired it itself (it is handed a trigger for that). With no
//!   canceller, only the `CancelledError`.
//! - Once the Deferred has fired, `cancel` does nothing and never calls the
//!   canceller; a second `cancel` is therefore a no-op too.
//! - A chain that has fired but waits on a Deferred one of its stages
//!   returned passes the cancel on to that one: the inner canceller runs,
//!   the outer's does not, and the outer goes on with the inner's outcome
//!   (its `CancelledError`, usually).
//! - After a cancel, the producer's own fire is ignored: the producer did
//!   not know, and must not be punished for it. (Twisted ignores one fire
//!   and raises on a second; here a trigger fires only once anyway.)
//! - A canceller that panics does not unwind out of `cancel`: the panic
//!   becomes the failure the chain fires with, as a panic in a stage does.
//!   If the chain has fired already (the canceller fired it, then
//!   panicked; a cancelled task panics later), the panic is reported as
//!   an unhandled error instead: it is never silently ignored.
//! - The canceller is dropped when the Deferred fires, so that the circle
//!   it usually closes (Deferred → canceller → connector → factory →
//!   trigger → Deferred) ends with the download.
//!
//! # Inside
//!
//! The handles are typed; the shared state behind them is not: values
//! travel as `Box<dyn Any>` between stages, and each stage downcasts to the
//! type its signature promised. The public API never shows an `Any`.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::marker::PhantomData;
use std::rc::{Rc, Weak};

use crate::failure::Failure;
use crate::log;
use crate::reactor::drop_caught;

type Value = Box<dyn Any>;
type Erased = Result<Value, Failure>;

/// What a stage produced: an outcome now, or another chain to wait for.
enum Next {
    Now(Erased),
    Wait(Rc<Core>),
}

type Stage = Box<dyn FnOnce(Erased) -> Next>;

/// The producer's canceller, typed away: it is handed the chain's core, to
/// make a trigger of.
type Canceller = Box<dyn FnOnce(Rc<Core>)>;

/// The state both handles share.
pub(crate) struct Core {
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// The current outcome: `None` before firing, and while a stage runs
    /// or the chain waits for another Deferred.
    result: Option<Erased>,
    stages: VecDeque<Stage>,
    /// A stage is running: set and cleared by `run`.
    running: bool,
    /// How many `pause` calls are not yet matched by an `unpause`.
    paused: usize,
    /// Waiting for a Deferred that a stage returned: set by `run`, cleared
    /// when that Deferred fires (or by a cancel that finds it gone).
    waiting: bool,
    /// The chain has had its first outcome, from a trigger, the canceller
    /// or a cancel. Set once, never cleared. A fire that finds it set is
    /// ignored: only a cancel can lead there (each trigger fires once).
    fired: bool,
    /// The producer's answer to `cancel`, until the first outcome: taken
    /// by `cancel`, dropped by the fire.
    canceller: Option<Canceller>,
    /// The Deferred that this chain waits on while `waiting`, so that a
    /// cancel can reach it. Weak: that Deferred's last stage holds this
    /// chain, and a circle would keep both alive if it never fired.
    waiting_on: Weak<Core>,
}

impl Core {
    fn new() -> Rc<Core> {
        Rc::new(Core {
            state: RefCell::default(),
        })
    }

    fn push(self: &Rc<Self>, stage: Stage) {
        self.state.borrow_mut().stages.push_back(stage);
        run_and_resume(self);
    }

    // ANCHOR: fire
    /// The first outcome starts the chain; any later one (only a cancelled
    /// Deferred can get one) is dropped unseen, unless it is a panic,
    /// which is reported: a panic is never silent. The canceller, no
    /// longer needed, is dropped at the first.
    fn fire(self: &Rc<Self>, outcome: Erased) {
        self.settle(outcome);
        run_and_resume(self);
    }
    // ANCHOR_END: fire

    /// [`Core::fire`], except that when a chain is running on this thread
    /// (this is called from one of its stages), the chain it starts runs
    /// after that stage, in the loop that resumes waiting chains, instead
    /// of inside it. Still before the outermost fire returns. For firing
    /// from a stage to any depth without growing the stack: a
    /// `DeferredList` inside a list inside a list...
    fn fire_soon(self: &Rc<Self>, outcome: Erased) {
        self.settle(outcome);
        if RUNNING.with(Cell::get) > 0 {
            RESUMED.with(|queue| queue.borrow_mut().push_back(Rc::clone(self)));
        } else {
            run_and_resume(self);
        }
    }

    /// Takes `outcome` as the first, or drops it: the bookkeeping of a fire.
    fn settle(&self, outcome: Erased) {
        let (ignored, canceller) = {
            let mut state = self.state.borrow_mut();
            if state.fired {
                (Some(outcome), None)
            } else {
                state.fired = true;
                state.result = Some(outcome);
                (None, state.canceller.take())
            }
        };
        if let Some(Err(failure)) = &ignored {
            if failure.check::<Panicked>() {
                report_unhandled(failure);
            }
        }
        // Both may hold user values: dropped outside the borrow.
        drop_caught("dropping an outcome a cancelled Deferred ignored", ignored);
        drop_caught("dropping a canceller", canceller);
    }

    fn has_fired(&self) -> bool {
        self.state.borrow().fired
    }
}

thread_local! {
    /// Chains whose inner Deferred has just fired, waiting to carry on
    /// (and lists that have just fired, waiting to start: `fire_soon`).
    static RESUMED: RefCell<VecDeque<Rc<Core>>> = const { RefCell::new(VecDeque::new()) };
    /// How many `run_and_resume` loops are running on this thread: above
    /// zero, a chain queued on RESUMED is sure to be run before the
    /// outermost one returns. (Stages run under a panic guard, so the
    /// count is never left raised by an unwind.)
    static RUNNING: Cell<usize> = const { Cell::new(0) };
}

/// Runs `core`, then every chain that its run (or theirs) resumed, in a
/// loop rather than by recursion: a chain of a hundred thousand Deferreds,
/// each waiting on the next, resumes without growing the stack. Everything
/// still happens before this returns, so firing stays synchronous.
fn run_and_resume(core: &Rc<Core>) {
    RUNNING.with(|running| running.set(running.get() + 1));
    run(core);
    while let Some(next) = RESUMED.with(|queue| queue.borrow_mut().pop_front()) {
        run(&next);
    }
    RUNNING.with(|running| running.set(running.get() - 1));
}

// ANCHOR: run
/// Runs stages while there is an outcome to give them and nothing holds the
/// chain. No borrow of the state is held while a stage runs, so a stage may
/// add to other chains or fire other triggers.
fn run(core: &Rc<Core>) {
    loop {
        let (stage, input) = {
            let mut state = core.state.borrow_mut();
            if state.running || state.paused > 0 || state.waiting || state.result.is_none() {
                return;
            }
            let Some(stage) = state.stages.pop_front() else {
                return;
            };
            state.running = true;
            (stage, state.result.take().expect("checked above"))
        };
        // A panic in a stage is a failure like any other.
        let next = log::catch_panic(move || stage(input))
            .unwrap_or_else(|report| Next::Now(Err(Failure::new(Panicked::from(report)))));
        let mut state = core.state.borrow_mut();
        state.running = false;
        match next {
            Next::Now(outcome) => state.result = Some(outcome),
            Next::Wait(inner) if Rc::ptr_eq(&inner, core) => {
                state.result = Some(Err(Failure::new(ChainedToItself)));
            }
            Next::Wait(inner) => {
                // Pause until `inner` fires, then carry on with its outcome.
                state.waiting = true;
                state.waiting_on = Rc::downgrade(&inner);
                drop(state);
                let outer = Rc::clone(core);
                inner.push(Box::new(move |outcome| {
                    {
                        let mut state = outer.state.borrow_mut();
                        state.waiting = false;
                        state.waiting_on = Weak::new();
                        state.result = Some(outcome);
                    }
                    // Not `run(&outer)` here: that would nest one call per
                    // level of Deferreds waiting on Deferreds.
                    RESUMED.with(|queue| queue.borrow_mut().push_back(outer));
                    // The inner chain's outcome has moved on: leave it empty-handed.
                    Next::Now(Ok(Box::new(())))
                }));
                return;
            }
        }
    }
}
// ANCHOR_END: run

// ANCHOR: unhandled
impl Drop for Core {
    /// Nobody can add an errback any more: a failure left here is lost.
    fn drop(&mut self) {
        let state = self.state.get_mut();
        if let Some(Err(failure)) = state.result.take() {
            report_unhandled(&failure);
        }
        // The rest may hold other chains: see `drop_in_turn`.
        drop_in_turn(Leftovers::of(state));
    }
}

fn report_unhandled(failure: &Failure) {
    #[cfg(test)]
    tests::UNHANDLED.with(|seen| seen.borrow_mut().push(failure.to_string()));
    // Not `eprintln!`: this runs in `Drop`, and a closed stderr must not
    // turn a report into a panic (or, during unwinding, an abort).
    log::to_stderr(&format!(
        "Unhandled error in Deferred:\n\n{}",
        failure.report()
    ));
}
// ANCHOR_END: unhandled

/// What a dropped chain still held, which may hold other chains: a
/// waiting stage holds the chain that waits, a list's stage the list.
struct Leftovers {
    stages: VecDeque<Stage>,
    canceller: Option<Canceller>,
    result: Option<Erased>,
}

impl Leftovers {
    fn of(state: &mut State) -> Leftovers {
        Leftovers {
            stages: std::mem::take(&mut state.stages),
            canceller: state.canceller.take(),
            result: state.result.take(),
        }
    }
}

thread_local! {
    /// The leftovers of chains dropped while a drop is under way on this
    /// thread, for its loop to drop; `None` when none is under way.
    static DROPPING: RefCell<Option<Vec<Leftovers>>> = const { RefCell::new(None) };
}

/// Drops `leftovers`, and the leftovers of every chain that dropping them
/// drops, in a loop rather than by recursion: a hundred thousand chains
/// each waiting on the next, never fired, go without growing the stack.
/// All are gone by the time the first drop returns.
fn drop_in_turn(leftovers: Leftovers) {
    if leftovers.stages.is_empty() && leftovers.canceller.is_none() && leftovers.result.is_none() {
        return; // the usual end of a chain: nothing more to drop
    }
    let mut leftovers = Some(leftovers);
    let started = DROPPING.try_with(|dropping| {
        let mut dropping = dropping.borrow_mut();
        match dropping.as_mut() {
            // A drop further up this thread's stack will get to them.
            Some(queue) => {
                queue.extend(leftovers.take());
                false
            }
            None => {
                *dropping = Some(Vec::new());
                true
            }
        }
    });
    match started {
        Ok(false) => {}
        Ok(true) => {
            while let Some(next) = leftovers {
                drop_caught("dropping a Deferred", next);
                leftovers = DROPPING.with(|dropping| dropping.borrow_mut().as_mut()?.pop());
            }
            DROPPING.with(|dropping| dropping.borrow_mut().take());
        }
        // The thread is ending, its locals already gone: drop them here.
        Err(_) => drop(leftovers),
    }
}

// ---------------------------------------------------------------------------
// The two handles.
// ---------------------------------------------------------------------------

// ANCHOR: handles
/// A result that will arrive later: add callbacks and errbacks to it.
#[must_use = "a Deferred does nothing unless callbacks are added to it"]
pub struct Deferred<T> {
    core: Rc<Core>,
    value: PhantomData<T>,
}

/// The right to fire a Deferred, once.
#[must_use = "a Deferred whose trigger is dropped never fires"]
pub struct Trigger<T> {
    core: Rc<Core>,
    value: PhantomData<fn(T)>,
}

/// A new, unfired Deferred and its trigger (Twisted's `Deferred()`).
pub fn deferred<T: 'static>() -> (Deferred<T>, Trigger<T>) {
    let core = Core::new();
    let trigger = Trigger::from_core(Rc::clone(&core));
    (Deferred::from_core(core), trigger)
}
// ANCHOR_END: handles

// ANCHOR: with_canceller
/// A new, unfired Deferred whose producer knows how to stop (Twisted's
/// `Deferred(canceller)`). If the Deferred is cancelled before it fires,
/// `canceller` runs, once, with a trigger of its own: it may fire the
/// Deferred with whatever outcome it likes, or just stop the work (cancel
/// a timer, disconnect a connector) and drop the trigger, and then the
/// Deferred fails with [`CancelledError`]. Either way the producer's own
/// trigger is ignored from then on.
pub fn deferred_with_canceller<T: 'static>(
    canceller: impl FnOnce(Trigger<T>) + 'static,
) -> (Deferred<T>, Trigger<T>) {
    let (d, trigger) = deferred();
    d.core.state.borrow_mut().canceller =
        Some(Box::new(move |core| canceller(Trigger::from_core(core))));
    (d, trigger)
}
// ANCHOR_END: with_canceller

// ANCHOR: trigger
impl<T: 'static> Trigger<T> {
    fn from_core(core: Rc<Core>) -> Trigger<T> {
        Trigger {
            core,
            value: PhantomData,
        }
    }

    /// Fires the chain with a value: the first callback runs now.
    pub fn callback(self, value: T) {
        self.fire(Ok(value));
    }

    /// Fires the chain with a failure: the first errback runs now. Any
    /// error converts into a failure.
    pub fn errback(self, failure: impl Into<Failure>) {
        self.fire(Err(failure.into()));
    }

    /// Fires the chain with either.
    pub fn fire(self, result: Result<T, Failure>) {
        self.core.fire(result.map(|value| Box::new(value) as Value));
    }

    /// Fires the chain, but from inside a stage of another chain its
    /// stages run once that stage is over (see `Core::fire_soon`).
    pub(crate) fn fire_soon(self, result: Result<T, Failure>) {
        self.core
            .fire_soon(result.map(|value| Box::new(value) as Value));
    }
}
// ANCHOR_END: trigger

// ANCHOR: outcome
/// What a callback or errback may return: a `Result` (the outcome now) or
/// another `Deferred` (the outcome later).
pub trait Outcome: 'static {
    /// The type of the value that goes on down the chain.
    type Value: 'static;

    /// The outcome as a Deferred, already fired for a `Result`.
    fn into_deferred(self) -> Deferred<Self::Value>;

    /// This kind of outcome, holding `value`.
    fn from_value(value: Self::Value) -> Self;

    /// This kind of outcome, holding `failure`.
    fn from_failure(failure: Failure) -> Self;
}
// ANCHOR_END: outcome

impl<U: 'static> Outcome for Result<U, Failure> {
    type Value = U;

    fn into_deferred(self) -> Deferred<U> {
        let core = Core::new();
        {
            let mut state = core.state.borrow_mut();
            state.fired = true;
            state.result = Some(self.map(|value| Box::new(value) as Value));
        }
        Deferred::from_core(core)
    }

    fn from_value(value: U) -> Self {
        Ok(value)
    }

    fn from_failure(failure: Failure) -> Self {
        Err(failure)
    }
}

impl<U: 'static> Outcome for Deferred<U> {
    type Value = U;

    fn into_deferred(self) -> Deferred<U> {
        self
    }

    fn from_value(value: U) -> Self {
        succeed(value)
    }

    fn from_failure(failure: Failure) -> Self {
        fail(failure)
    }
}

/// Turns what a stage returned into the chain's next step. A `Result` is
/// taken as it is; a Deferred that already holds its outcome is unwrapped
/// too, so that only a Deferred still to fire makes the chain wait.
fn next_of<R: Outcome>(returned: R) -> Next {
    let core = returned.into_deferred().core;
    let ready = {
        let mut state = core.state.borrow_mut();
        let idle = !state.running && state.paused == 0 && !state.waiting;
        if idle && state.stages.is_empty() {
            state.result.take()
        } else {
            None
        }
    };
    match ready {
        Some(outcome) => Next::Now(outcome),
        None => Next::Wait(core),
    }
}

/// The value a stage was promised. The typed API guarantees the type; a
/// mismatch would be a bug in this module, reported as a failure.
fn take<T: 'static>(value: Value) -> Result<T, Failure> {
    value
        .downcast::<T>()
        .map(|value| *value)
        .map_err(|_| Failure::new(WrongType(std::any::type_name::<T>())))
}

// ANCHOR: add_callbacks
impl<T: 'static> Deferred<T> {
    fn from_core(core: Rc<Core>) -> Deferred<T> {
        Deferred {
            core,
            value: PhantomData,
        }
    }

    /// Adds a pair: `on_value` runs if the chain holds a value at this
    /// point, `on_failure` if it holds a failure. Both return the same kind
    /// of outcome, whose value the next stage gets.
    pub fn add_callbacks<R, F, G>(self, on_value: F, on_failure: G) -> Deferred<R::Value>
    where
        R: Outcome,
        F: FnOnce(T) -> R + 'static,
        G: FnOnce(Failure) -> R + 'static,
    {
        self.core.push(Box::new(move |outcome| match outcome {
            Ok(value) => match take::<T>(value) {
                Ok(value) => next_of(on_value(value)),
                Err(failure) => Next::Now(Err(failure)),
            },
            Err(failure) => next_of(on_failure(failure)),
        }));
        Deferred::from_core(self.core)
    }

    /// Adds a callback; a failure passes it by to the next errback.
    pub fn add_callback<R, F>(self, on_value: F) -> Deferred<R::Value>
    where
        R: Outcome,
        F: FnOnce(T) -> R + 'static,
    {
        self.add_callbacks(on_value, R::from_failure)
    }

    /// Adds an errback; a value passes it by to the next callback. To
    /// recover, return `Ok(value)`; to pass the failure on, return `Err`.
    pub fn add_errback<R, G>(self, on_failure: G) -> Deferred<T>
    where
        R: Outcome<Value = T>,
        G: FnOnce(Failure) -> R + 'static,
    {
        self.add_callbacks(R::from_value, on_failure)
    }

    /// Adds one function for both sides, like `finally`: it gets the value
    /// or the failure as a `Result`.
    pub fn add_both<R, F>(self, on_either: F) -> Deferred<R::Value>
    where
        R: Outcome,
        F: FnOnce(Result<T, Failure>) -> R + 'static,
    {
        self.core.push(Box::new(move |outcome| {
            let result = outcome.and_then(take::<T>);
            next_of(on_either(result))
        }));
        Deferred::from_core(self.core)
    }
    // ANCHOR_END: add_callbacks

    // ANCHOR: pause
    /// Holds the chain: nothing more runs until [`Deferred::unpause`].
    pub fn pause(&self) {
        self.core.state.borrow_mut().paused += 1;
    }

    /// Releases one `pause`; after the last, the chain carries on at once.
    pub fn unpause(&self) {
        {
            let mut state = self.core.state.borrow_mut();
            state.paused = state.paused.saturating_sub(1);
        }
        run_and_resume(&self.core);
    }
    // ANCHOR_END: pause

    /// Has the chain an outcome yet (fired, and not waiting on another
    /// Deferred)?
    pub fn has_result(&self) -> bool {
        self.core.state.borrow().result.is_some()
    }

    /// Has the chain had its first outcome (Twisted's `called`)? True from
    /// the fire on, even while a stage runs or the chain waits on another
    /// Deferred.
    pub fn has_fired(&self) -> bool {
        self.core.has_fired()
    }

    // ANCHOR: cancel
    /// Asks for this Deferred's result no longer (the rules are in the
    /// module's documentation): an unfired Deferred calls its canceller and
    /// fails with [`CancelledError`] unless the canceller fired it; a
    /// fired one that waits on an inner Deferred cancels that one; any
    /// other fired one is left alone.
    pub fn cancel(&self) {
        cancel(&self.core);
    }
    // ANCHOR_END: cancel

    /// A handle that can cancel this Deferred later, without holding it:
    /// for a timeout, or for whoever must be able to cancel a chain that
    /// has been handed on (to a list, or to an `await`).
    pub fn canceller(&self) -> CancelHandle {
        CancelHandle(Rc::downgrade(&self.core))
    }

    pub(crate) fn core(&self) -> &Rc<Core> {
        &self.core
    }
}

/// Cancels a Deferred that may since have been dropped: see
/// [`Deferred::canceller`].
#[derive(Clone)]
pub struct CancelHandle(Weak<Core>);

impl CancelHandle {
    /// [`Deferred::cancel`], if the Deferred still exists; a Deferred that
    /// is gone has nobody left to tell.
    pub fn cancel(&self) {
        if let Some(core) = self.0.upgrade() {
            cancel(&core);
        }
    }

    /// Whether the Deferred still waits for an outcome (it has not fired,
    /// or it waits on a Deferred a stage returned): whether a cancel would
    /// reach anyone.
    pub fn is_pending(&self) -> bool {
        self.0.upgrade().is_some_and(|core| {
            let state = core.state.borrow();
            !state.fired || state.waiting
        })
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.upgrade() {
            Some(core) => write!(f, "CancelHandle({core:?})"),
            None => write!(f, "CancelHandle(gone)"),
        }
    }
}

// ANCHOR: cancel_rules
/// What a cancel does to `core`, found under one borrow and done after it.
enum Cancel {
    /// Not fired yet: call the canceller, if there is one.
    Unfired(Option<Canceller>),
    /// Fired, but waiting on this inner Deferred: cancel that one instead.
    Inner(Rc<Core>),
    /// Fired, waiting on a Deferred that is gone (dropped unfired, so it
    /// can never fire): end the wait here with `CancelledError`.
    InnerGone,
    /// Fired and not waiting: too late, nothing to do.
    Nothing,
}

pub(crate) fn cancel(core: &Rc<Core>) {
    // A loop, not recursion: chains may wait on chains to any depth.
    let mut core = Rc::clone(core);
    loop {
        let step = {
            let mut state = core.state.borrow_mut();
            if !state.fired {
                Cancel::Unfired(state.canceller.take())
            } else if state.waiting {
                match state.waiting_on.upgrade() {
                    Some(inner) => Cancel::Inner(inner),
                    None => Cancel::InnerGone,
                }
            } else {
                Cancel::Nothing
            }
        };
        match step {
            Cancel::Unfired(canceller) => {
                if let Some(canceller) = canceller {
                    let me = Rc::clone(&core);
                    if let Err(report) = log::catch_panic(move || canceller(me)) {
                        core.fire(Err(Failure::new(Panicked::from(report))));
                    }
                }
                // Unless the canceller fired it (then this is ignored).
                core.fire(Err(Failure::without_backtrace(CancelledError)));
                return;
            }
            Cancel::Inner(inner) => core = inner,
            Cancel::InnerGone => {
                {
                    let mut state = core.state.borrow_mut();
                    state.waiting = false;
                    state.result = Some(Err(Failure::without_backtrace(CancelledError)));
                }
                run_and_resume(&core);
                return;
            }
            Cancel::Nothing => return,
        }
    }
}
// ANCHOR_END: cancel_rules

/// What a Deferred looks like from outside: whether it fired, whether it
/// has its outcome now, and what holds it.
impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(state) = self.state.try_borrow() else {
            return write!(f, "Deferred {{ running }}");
        };
        let mut out = f.debug_struct("Deferred");
        out.field("fired", &state.fired);
        match &state.result {
            Some(Ok(_)) => out.field("holds", &"a value"),
            Some(Err(failure)) => out.field("holds", failure),
            None => out.field("holds", &"nothing"),
        };
        if state.paused > 0 {
            out.field("paused", &state.paused);
        }
        if state.waiting {
            out.field("waiting", &true);
        }
        out.field("stages", &state.stages.len()).finish()
    }
}

impl<T> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.core, f)
    }
}

impl<T> fmt::Debug for Trigger<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Trigger of {:?}", &*self.core)
    }
}

// ANCHOR: shortcuts
/// A Deferred that already holds `value` (Twisted's `succeed`).
pub fn succeed<T: 'static>(value: T) -> Deferred<T> {
    Ok::<T, Failure>(value).into_deferred()
}

/// A Deferred that already holds `failure` (Twisted's `fail`).
pub fn fail<T: 'static>(failure: impl Into<Failure>) -> Deferred<T> {
    Err::<T, Failure>(failure.into()).into_deferred()
}

/// Calls `f` and gives back a Deferred whatever it returned: a `Result`
/// becomes a fired Deferred, a Deferred is given back as it is, and a
/// panic becomes a failed Deferred (Twisted's `maybeDeferred`).
pub fn maybe_deferred<R, F>(f: F) -> Deferred<R::Value>
where
    R: Outcome,
    F: FnOnce() -> R,
{
    match log::catch_panic(f) {
        Ok(returned) => returned.into_deferred(),
        Err(report) => fail(Panicked::from(report)),
    }
}
// ANCHOR_END: shortcuts

// ---------------------------------------------------------------------------
// The errors this module makes.
// ---------------------------------------------------------------------------

/// A callback or errback panicked; the chain goes on with this failure.
#[derive(Debug)]
pub struct Panicked {
    pub message: String,
    pub location: Option<String>,
}

impl From<log::PanicReport> for Panicked {
    fn from(report: log::PanicReport) -> Panicked {
        Panicked {
            message: report.message,
            location: report.location,
        }
    }
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{} (a panic at {location})", self.message),
            None => write!(f, "{} (a panic)", self.message),
        }
    }
}

impl Error for Panicked {}

// ANCHOR: cancelled_error
/// The Deferred was cancelled before it had a result (Twisted's
/// `CancelledError`).
#[derive(Debug)]
pub struct CancelledError;

impl fmt::Display for CancelledError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the Deferred was cancelled")
    }
}

impl Error for CancelledError {}
// ANCHOR_END: cancelled_error

/// A stage returned the very Deferred it belongs to: it would wait forever.
#[derive(Debug)]
pub struct ChainedToItself;

impl fmt::Display for ChainedToItself {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a callback returned its own Deferred")
    }
}

impl Error for ChainedToItself {}

#[derive(Debug)]
struct WrongType(&'static str);

impl fmt::Display for WrongType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a Deferred stage expected a {}", self.0)
    }
}

impl Error for WrongType {}

mod list;

pub use list::{DeferredList, FirstError, NoneSucceeded};

#[cfg(test)]
pub(crate) mod tests;
