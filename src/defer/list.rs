//! Part 18: many Deferreds at once, waited for as one.
//!
//! A [`DeferredList`] takes a list of Deferreds (its *components*) and
//! gives back one Deferred that fires when they have all fired, or, if
//! asked, at the first success or the first failure. It is Twisted's
//! `DeferredList`, with its options made into the three ways to finish
//! building one, because each gives a different type of result:
//!
//! | Twisted                      | here                            | fires with                      |
//! |------------------------------|---------------------------------|---------------------------------|
//! | `DeferredList(ds)`           | [`DeferredList::all`]           | `Vec<Result<T, Failure>>`       |
//! | `fireOnOneCallback=True`     | [`DeferredList::first_success`] | `(T, index)`, or [`NoneSucceeded`] |
//! | `fireOnOneErrback=True`      | [`DeferredList::first_failure`] | `Vec<T>`, or [`FirstError`]      |
//! | `consumeErrors=True`         | [`DeferredList::consume_errors`] | (with any of the three)        |
//!
//! # The rules (each has a test)
//!
//! - Results are in the order of the input list, whatever order the
//!   components fire in.
//! - Components that fired already are fine: their outcomes count at once.
//!   A list with nothing to wait for fires at once (`all` and
//!   `first_failure` with `[]`, `first_success` with `NoneSucceeded`).
//! - The list adds one stage to the end of each component's chain, which
//!   takes the component's value. A component's failure is recorded (a
//!   clone: the same failure) and, unless errors are consumed, left on the
//!   component's chain too, where nobody can handle it any more, so it is
//!   reported as unhandled when that chain is dropped, as in Twisted.
//!   With `consume_errors` the stage handles it.
//! - A list that fires early (at a first success or a first failure)
//!   keeps nothing after: what it had recorded is dropped then, and the
//!   outcomes still to come are dropped as they come.
//! - Cancelling the list's Deferred cancels every component still pending.
//! - The list fires from its stage on the component that settles it, but
//!   its own stages run just after that stage, not inside it (still
//!   before the component's `callback` returns): a list of lists of lists
//!   fires without growing the stack. (A cancel still goes down through
//!   the lists' cancellers, one call inside the next.)
//!
//! # Where this differs from Twisted, and why
//!
//! - The list takes the components by value. In Twisted a component can
//!   still be extended after the list has it, and an errback added then
//!   handles its failure (the series' deferred-list-7). Here that does not
//!   compile (`tests/ui/errback_after_list.rs`): give a component its own
//!   errback *before* the list takes it, or let the list consume errors.
//! - With `first_success`, a list where every component failed fails with
//!   [`NoneSucceeded`], which holds the failures, instead of succeeding
//!   with the list of them: its result is a value or nothing, not one type
//!   or another. An empty list does the same at once, where Twisted's
//!   never fires: a Deferred that can never fire is a hang.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::rc::{Rc, Weak};

use super::{cancel, deferred_with_canceller, Core, Deferred, Trigger};
use crate::failure::Failure;

// ANCHOR: deferred_list
/// Many Deferreds, to be waited for as one: build it with
/// [`DeferredList::new`], then say how to wait with [`all`],
/// [`first_success`] or [`first_failure`].
///
/// [`all`]: DeferredList::all
/// [`first_success`]: DeferredList::first_success
/// [`first_failure`]: DeferredList::first_failure
#[must_use = "a DeferredList does nothing until `all`, `first_success` or `first_failure`"]
pub struct DeferredList<T> {
    components: Vec<Deferred<T>>,
    consume_errors: bool,
}
// ANCHOR_END: deferred_list

/// How the list fires: the rule for when it is done, and its trigger.
enum Finish<T> {
    All(Trigger<Vec<Result<T, Failure>>>),
    FirstSuccess(Trigger<(T, usize)>),
    FirstFailure(Trigger<Vec<T>>),
}

/// What the components' stages share: the results so far, and how many
/// components have not fired yet.
struct Collect<T> {
    results: Vec<Option<Result<T, Failure>>>,
    left: usize,
    /// Until the list fires.
    finish: Option<Finish<T>>,
}

impl<T: 'static> DeferredList<T> {
    /// A list of `components`, results in this order.
    pub fn new(components: impl IntoIterator<Item = Deferred<T>>) -> DeferredList<T> {
        DeferredList {
            components: components.into_iter().collect(),
            consume_errors: false,
        }
    }

    /// Handle each component's failure once it is recorded (Twisted's
    /// `consumeErrors=True`), instead of leaving it on the component's
    /// chain to be reported as unhandled.
    pub fn consume_errors(mut self) -> DeferredList<T> {
        self.consume_errors = true;
        self
    }

    // ANCHOR: all
    /// Fires once every component has fired, with one entry per component,
    /// in the input order: `Ok(value)` or `Err(failure)`. Never fails
    /// (unless cancelled before the components could say so).
    pub fn all(self) -> Deferred<Vec<Result<T, Failure>>> {
        self.start(Finish::All)
    }
    // ANCHOR_END: all

    /// Fires at the first component that succeeds, with its value and its
    /// index; the others' values are dropped when they come. If none
    /// succeeds (or there are none), fails with [`NoneSucceeded`].
    pub fn first_success(self) -> Deferred<(T, usize)> {
        self.start(Finish::FirstSuccess)
    }

    /// Fails at the first component that fails, with a [`FirstError`]
    /// that says which; if none fails, fires with every value, in order.
    pub fn first_failure(self) -> Deferred<Vec<T>> {
        self.start(Finish::FirstFailure)
    }

    // ANCHOR: start
    fn start<R: 'static>(self, finish: impl FnOnce(Trigger<R>) -> Finish<T>) -> Deferred<R> {
        let DeferredList {
            components,
            consume_errors,
        } = self;
        // Weakly: a component nobody will fire must not be kept alive by
        // the list's canceller (it would be a circle through the stage
        // the list adds to it).
        let pending: Vec<Weak<Core>> = components
            .iter()
            .map(|component| Rc::downgrade(component.core()))
            .collect();
        let (list, trigger) = deferred_with_canceller(move |_trigger: Trigger<R>| {
            // Each cancelled component fires, and the list with the last.
            for component in pending.iter().filter_map(Weak::upgrade) {
                cancel(&component);
            }
        });
        let collect = Rc::new(RefCell::new(Collect {
            results: components.iter().map(|_| None).collect(),
            left: components.len(),
            finish: Some(finish(trigger)),
        }));
        for (index, component) in components.into_iter().enumerate() {
            let collect = Rc::clone(&collect);
            let _: Deferred<()> = component.add_both(move |outcome| {
                let left_on_chain = match &outcome {
                    Err(failure) if !consume_errors => Err(failure.clone()),
                    _ => Ok(()),
                };
                record(&collect, index, outcome);
                left_on_chain
            });
        }
        // Nothing to wait for: done now.
        if collect.borrow().left == 0 {
            finish_all(&collect);
        }
        list
    }
    // ANCHOR_END: start
}

// ANCHOR: record
/// Records one component's outcome and fires the list if that settles it.
/// The list's trigger is taken out before it fires, so the borrow of the
/// shared results has ended when the list's own stages run.
fn record<T: 'static>(collect: &RefCell<Collect<T>>, index: usize, outcome: Result<T, Failure>) {
    let mut state = collect.borrow_mut();
    state.left -= 1;
    let early = match (&state.finish, &outcome) {
        (Some(Finish::FirstSuccess(_)), Ok(_)) | (Some(Finish::FirstFailure(_)), Err(_)) => {
            state.finish.take()
        }
        _ => None,
    };
    // Fired early, the list has no more use for what it recorded: that
    // goes now (at the end of this function, outside the borrow), not
    // when the last component fires, which may be never.
    let _recorded = match early {
        Some(_) => std::mem::take(&mut state.results),
        None => Vec::new(),
    };
    match (early, outcome) {
        (Some(Finish::FirstSuccess(trigger)), Ok(value)) => {
            drop(state);
            trigger.fire_soon(Ok((value, index)));
        }
        (Some(Finish::FirstFailure(trigger)), Err(failure)) => {
            drop(state);
            trigger.fire_soon(Err(Failure::new(FirstError { index, failure })));
        }
        (_, outcome) => {
            // Once the list has fired early, later outcomes are not kept.
            if state.finish.is_some() {
                state.results[index] = Some(outcome);
            }
            let done = state.left == 0;
            drop(state);
            if done {
                finish_all(collect);
            }
        }
    }
}
// ANCHOR_END: record

/// Every component has fired: fire the list with what they gave, if it has
/// not fired early.
fn finish_all<T: 'static>(collect: &RefCell<Collect<T>>) {
    let (finish, results) = {
        let mut state = collect.borrow_mut();
        let results: Vec<Result<T, Failure>> =
            state.results.iter_mut().filter_map(Option::take).collect();
        (state.finish.take(), results)
    };
    match finish {
        Some(Finish::All(trigger)) => trigger.fire_soon(Ok(results)),
        Some(Finish::FirstSuccess(trigger)) => {
            trigger.fire_soon(Err(Failure::new(NoneSucceeded {
                failures: results.into_iter().filter_map(Result::err).collect(),
            })))
        }
        Some(Finish::FirstFailure(trigger)) => {
            // No failure came, or the list would have fired already.
            trigger.fire_soon(Ok(results.into_iter().filter_map(Result::ok).collect()))
        }
        None => {}
    }
}

// ANCHOR: errors
/// A list waiting for its first failure got one (Twisted's `FirstError`):
/// which component, and its failure.
#[derive(Debug)]
pub struct FirstError {
    /// The component's place in the input list, from 0.
    pub index: usize,
    /// Its failure (the same failure, not a copy).
    pub failure: Failure,
}

impl fmt::Display for FirstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "component #{} failed: {}", self.index, self.failure)
    }
}

impl Error for FirstError {}

/// A list waiting for its first success got none: every component failed,
/// or there were none.
#[derive(Debug)]
pub struct NoneSucceeded {
    /// The components' failures, in the input order.
    pub failures: Vec<Failure>,
}

impl fmt::Display for NoneSucceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.failures.len() {
            0 => write!(f, "no Deferred succeeded: the list was empty"),
            n => write!(f, "no Deferred succeeded: all {n} failed"),
        }
    }
}

impl Error for NoneSucceeded {}
// ANCHOR_END: errors

#[cfg(test)]
mod tests;
