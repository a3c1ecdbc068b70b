//! One test (or more) for every rule of the DeferredList.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::*;
use crate::defer::tests::unhandled;
use crate::defer::{deferred, succeed, CancelledError};

#[derive(Debug)]
struct Boom(&'static str);

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Error for Boom {}

/// Keeps the outcome of `d` where the test can look at it.
fn watch<T: 'static>(d: Deferred<T>) -> Rc<RefCell<Option<Result<T, Failure>>>> {
    let seen = Rc::new(RefCell::new(None));
    let keep = Rc::clone(&seen);
    let _: Deferred<()> = d.add_both(move |outcome| {
        *keep.borrow_mut() = Some(outcome);
        Ok(())
    });
    seen
}

/// `[Ok(..), Err(message)]`, to compare results in one line.
fn shown<T: fmt::Debug>(results: &[Result<T, Failure>]) -> Vec<String> {
    results
        .iter()
        .map(|result| match result {
            Ok(value) => format!("ok {value:?}"),
            Err(failure) => format!("err {failure}"),
        })
        .collect()
}

#[test]
fn an_empty_list_fires_at_once_with_nothing() {
    let seen = watch(DeferredList::<u32>::new([]).all());
    let results = seen.borrow_mut().take().expect("fired").expect("a value");
    assert!(results.is_empty());
    let seen = watch(DeferredList::<u32>::new([]).first_failure());
    assert_eq!(seen.borrow_mut().take().expect("fired").ok(), Some(vec![]));
}

#[test]
fn results_come_in_input_order_whatever_order_the_components_fire_in() {
    let (d1, t1) = deferred::<&str>();
    let (d2, t2) = deferred::<&str>();
    let (d3, t3) = deferred::<&str>();
    let seen = watch(DeferredList::new([d1, d2, d3]).all());
    t3.callback("three");
    t1.callback("one");
    assert!(seen.borrow().is_none(), "d2 has not fired");
    t2.callback("two");
    let results = seen.borrow_mut().take().expect("fired").expect("a value");
    assert_eq!(
        shown(&results),
        ["ok \"one\"", "ok \"two\"", "ok \"three\""]
    );
}

#[test]
fn components_that_fired_already_count_at_once() {
    let (d2, t2) = deferred::<u32>();
    let seen = watch(DeferredList::new([succeed(1), d2]).consume_errors().all());
    assert!(seen.borrow().is_none());
    t2.errback(Boom("z"));
    let results = seen.borrow_mut().take().expect("fired").expect("a value");
    assert_eq!(shown(&results), ["ok 1", "err z"]);
    assert!(unhandled().is_empty());
}

#[test]
fn a_failure_is_recorded_and_left_on_its_chain_unless_consumed() {
    // The series' deferred-list-6: the list records the failure, and the
    // component's chain still ends with it, where nobody can handle it.
    let (d1, t1) = deferred::<&str>();
    let (d2, t2) = deferred::<&str>();
    let seen = watch(DeferredList::new([d1, d2]).all());
    t1.callback("d1 result");
    t2.errback(Boom("d2 failure"));
    let results = seen.borrow_mut().take().expect("fired").expect("a value");
    assert_eq!(shown(&results), ["ok \"d1 result\"", "err d2 failure"]);
    let reports = unhandled();
    assert_eq!(reports, ["d2 failure"], "reported once, at once");

    // deferred-list-5: consumed, the same failure is recorded and nothing
    // is reported.
    let (d1, t1) = deferred::<&str>();
    let (d2, t2) = deferred::<&str>();
    let seen = watch(DeferredList::new([d1, d2]).consume_errors().all());
    t1.callback("d1 result");
    let failure = Failure::new(Boom("d2 failure"));
    t2.errback(failure.clone());
    let results = seen.borrow_mut().take().expect("fired").expect("a value");
    assert!(results[1].as_ref().unwrap_err().same(&failure));
    assert!(unhandled().is_empty());
}

#[test]
fn an_errback_added_before_the_list_took_the_component_handles_the_failure_first() {
    let (d1, t1) = deferred::<&str>();
    let d1 = d1.add_errback(|_| Ok("recovered"));
    let seen = watch(DeferredList::new([d1]).all());
    t1.errback(Boom("lost"));
    let results = seen.borrow_mut().take().expect("fired").expect("a value");
    assert_eq!(shown(&results), ["ok \"recovered\""]);
    assert!(unhandled().is_empty());
}

#[test]
fn first_success_fires_with_the_first_value_and_its_index() {
    let (d1, t1) = deferred::<&str>();
    let (d2, t2) = deferred::<&str>();
    let (d3, t3) = deferred::<&str>();
    let seen = watch(
        DeferredList::new([d1, d2, d3])
            .consume_errors()
            .first_success(),
    );
    t1.errback(Boom("no"));
    t3.callback("r3");
    let (value, index) = seen.borrow_mut().take().expect("fired").expect("a value");
    assert_eq!((value, index), ("r3", 2));
    // Later outcomes are dropped, failures consumed all the same.
    t2.errback(Boom("too late"));
    assert!(unhandled().is_empty());
}

#[test]
fn first_success_fails_with_every_failure_when_none_succeeds() {
    let (d1, t1) = deferred::<u32>();
    let (d2, t2) = deferred::<u32>();
    let seen = watch(DeferredList::new([d1, d2]).consume_errors().first_success());
    t2.errback(Boom("b"));
    t1.errback(Boom("a"));
    let failure = seen.borrow_mut().take().expect("fired").unwrap_err();
    let none = failure
        .downcast_ref::<NoneSucceeded>()
        .expect("NoneSucceeded");
    let messages: Vec<String> = none.failures.iter().map(|f| f.to_string()).collect();
    assert_eq!(messages, ["a", "b"], "in input order");
    // An empty list: at once (Twisted's would never fire).
    let seen = watch(DeferredList::<u32>::new([]).first_success());
    let failure = seen.borrow_mut().take().expect("fired").unwrap_err();
    assert!(failure.check::<NoneSucceeded>());
}

#[test]
fn first_failure_fails_with_the_index_and_the_failure() {
    let (d1, t1) = deferred::<u32>();
    let (d2, t2) = deferred::<u32>();
    let (d3, t3) = deferred::<u32>();
    let seen = watch(
        DeferredList::new([d1, d2, d3])
            .consume_errors()
            .first_failure(),
    );
    t1.callback(1);
    t3.errback(Boom("boom3"));
    let failure = seen.borrow_mut().take().expect("fired").unwrap_err();
    let first = failure.downcast_ref::<FirstError>().expect("FirstError");
    assert_eq!(first.index, 2);
    assert_eq!(first.failure.to_string(), "boom3");
    assert_eq!(failure.to_string(), "component #2 failed: boom3");
    t2.callback(2);
    assert!(unhandled().is_empty());
}

#[test]
fn a_list_that_fired_early_lets_go_of_the_values_it_had_recorded() {
    // The values recorded before the first failure are no use once the
    // list has failed: they go then, not when the last component fires
    // (which may be never).
    struct Dropped(Rc<Cell<usize>>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let dropped = Rc::new(Cell::new(0));
    let (d1, t1) = deferred::<Dropped>();
    let (d2, t2) = deferred::<Dropped>();
    let (d3, _t3) = deferred::<Dropped>();
    let seen = watch(
        DeferredList::new([d1, d2, d3])
            .consume_errors()
            .first_failure(),
    );
    t1.callback(Dropped(Rc::clone(&dropped)));
    assert_eq!(dropped.get(), 0, "kept while the list may need it");
    t2.errback(Boom("boom2"));
    assert!(seen.borrow().as_ref().expect("fired").is_err());
    assert_eq!(dropped.get(), 1, "let go when the list failed");
}

#[test]
fn first_failure_gives_every_value_when_nothing_fails() {
    let (d1, t1) = deferred::<u32>();
    let (d2, t2) = deferred::<u32>();
    let seen = watch(DeferredList::new([d1, d2]).first_failure());
    t2.callback(20);
    t1.callback(10);
    assert_eq!(
        seen.borrow_mut().take().expect("fired").ok(),
        Some(vec![10, 20])
    );
}

#[test]
fn cancelling_the_list_cancels_every_component_still_pending() {
    let cancelled = Rc::new(Cell::new(0));
    let (d1, t1) = deferred_with_canceller::<u32>(|_| panic!("d1 had fired"));
    let count = Rc::clone(&cancelled);
    let (d2, _t2) = deferred_with_canceller::<u32>(move |_| count.set(count.get() + 1));
    let count = Rc::clone(&cancelled);
    let (d3, _t3) = deferred_with_canceller::<u32>(move |_| count.set(count.get() + 1));
    t1.callback(1);
    let list = DeferredList::new([d1, d2, d3]).consume_errors().all();
    let handle = list.canceller();
    let seen = watch(list);
    handle.cancel();
    assert_eq!(cancelled.get(), 2);
    // Every component fired, so the list did, with what they said.
    let results = seen.borrow_mut().take().expect("fired").expect("a value");
    assert!(results[0].is_ok());
    assert!(results[1].as_ref().unwrap_err().check::<CancelledError>());
    assert!(results[2].as_ref().unwrap_err().check::<CancelledError>());
    // Cancelling again does nothing.
    handle.cancel();
    assert_eq!(cancelled.get(), 2);
}

#[test]
fn a_list_lets_go_of_a_component_that_can_never_fire() {
    struct Dropped(Rc<Cell<bool>>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let (d1, t1) = deferred::<Dropped>();
    let list = DeferredList::new([d1]).all();
    let collected = Rc::new(Cell::new(false));
    let flag = Rc::clone(&collected);
    let list = list.add_callback(move |results| {
        flag.set(!results.is_empty());
        Ok(())
    });
    t1.callback(Dropped(Rc::clone(&dropped)));
    assert!(collected.get());
    drop(list);
    assert!(dropped.get(), "the value went with the list");

    // A component whose trigger is dropped unfired: nothing keeps the
    // list's state alive through it.
    let (d2, t2) = deferred::<u32>();
    let list = DeferredList::new([d2]).all();
    let weak = Rc::downgrade(list.core());
    drop(t2);
    drop(list);
    assert!(weak.upgrade().is_none(), "no circle outlives the list");
}

#[test]
fn a_hundred_thousand_lists_each_of_the_next_fire_without_growing_the_stack() {
    // A list fires from its stage on its last component; were its own
    // stages run there, inside that stage, list k's would run inside list
    // k-1's, and a debug build would overflow its stack at a few hundred
    // levels. The list's trigger fires "soon" instead: its stages run
    // after the component's stage, in the loop that resumes waiting
    // chains, still before the first trigger's `callback` returns.
    const DEPTH: usize = 100_000;
    let (first, trigger) = deferred::<u32>();
    let mut current = first;
    for _ in 0..DEPTH {
        current = DeferredList::new([current])
            .first_failure()
            .add_callback(|mut values: Vec<u32>| Ok(values.pop().unwrap_or_default()));
    }
    let seen = watch(current);
    trigger.callback(5);
    assert_eq!(seen.borrow_mut().take().expect("fired").ok(), Some(5));
}
