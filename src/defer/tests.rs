//! One test (or more) for every rule in the module's documentation.

use super::*;
use std::cell::{Cell, RefCell};
use std::io;

thread_local! {
    /// What `report_unhandled` said on this thread.
    pub(crate) static UNHANDLED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// What was reported unhandled on this thread since the last call. Shared
/// with the tests of the DeferredList and of tasks, as are [`Log`] and
/// [`Oops`].
pub(crate) fn unhandled() -> Vec<String> {
    UNHANDLED.with(|seen| seen.take())
}

/// A log that stages (or tasks) write to, to check what ran in which order.
#[derive(Clone, Default)]
pub(crate) struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub(crate) fn say(&self, line: impl Into<String>) {
        self.0.borrow_mut().push(line.into());
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// An error of the tests' own, shown as its text.
#[derive(Debug)]
pub(crate) struct Oops(pub(crate) &'static str);

impl fmt::Display for Oops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Error for Oops {}

#[test]
fn callbacks_run_in_order_when_fired_and_each_gets_the_last_value() {
    let log = Log::default();
    let (d, trigger) = deferred::<u32>();
    let (a, b) = (log.clone(), log.clone());
    let _d = d
        .add_callback(move |n| {
            a.say(format!("first got {n}"));
            Ok(n + 1)
        })
        .add_callback(move |n: u32| {
            b.say(format!("second got {n}"));
            Ok(format!("{n}!"))
        });
    assert!(log.lines().is_empty(), "nothing runs before the fire");
    trigger.callback(1);
    assert_eq!(log.lines(), ["first got 1", "second got 2"]);
}

#[test]
fn a_failure_skips_callbacks_to_the_next_errback() {
    let log = Log::default();
    let (d, trigger) = deferred::<u32>();
    let (a, b) = (log.clone(), log.clone());
    let _d = d
        .add_callback(move |n| {
            a.say("callback ran");
            Ok(n)
        })
        .add_errback(move |failure| {
            b.say(format!("errback got {failure}"));
            Ok(0)
        });
    trigger.errback(Oops("I have failed."));
    assert_eq!(log.lines(), ["errback got I have failed."]);
    assert!(unhandled().is_empty());
}

#[test]
fn a_returned_failure_or_a_panic_goes_to_the_next_errback() {
    for panics in [false, true] {
        let log = Log::default();
        let (d, trigger) = deferred::<u32>();
        let (a, b) = (log.clone(), log.clone());
        let _d = d
            .add_callback(move |_| -> Result<u32, Failure> {
                if panics {
                    panic!("oops");
                }
                Err(Oops("oops"))?
            })
            .add_callback(move |n: u32| {
                a.say("skipped callback ran");
                Ok(n)
            })
            .add_errback(move |failure| {
                b.say(format!("{}", failure.check::<Panicked>()));
                Ok(7)
            });
        trigger.callback(1);
        assert_eq!(log.lines(), [panics.to_string()]);
    }
}

#[test]
fn an_errback_that_returns_a_value_recovers_onto_the_callback_side() {
    let log = Log::default();
    let (d, trigger) = deferred::<String>();
    let (a, b) = (log.clone(), log.clone());
    let _d = d
        .add_errback(move |failure| {
            a.say(format!("handled: {failure}"));
            Ok("recovered".to_string())
        })
        .add_callbacks(
            move |text: String| {
                b.say(format!("callback got {text}"));
                Ok(())
            },
            Err,
        );
    trigger.errback(io::Error::other("no poem"));
    assert_eq!(log.lines(), ["handled: no poem", "callback got recovered"]);
}

#[test]
fn add_both_sees_values_and_failures_alike() {
    for fail_it in [false, true] {
        let seen = Rc::new(RefCell::new(String::new()));
        let (d, trigger) = deferred::<u32>();
        let record = seen.clone();
        let _d = d.add_both(move |result| {
            *record.borrow_mut() = match result {
                Ok(n) => format!("value {n}"),
                Err(failure) => format!("failure {failure}"),
            };
            Ok(())
        });
        if fail_it {
            trigger.errback(Oops("bad"));
        } else {
            trigger.callback(3);
        }
        let expected = if fail_it { "failure bad" } else { "value 3" };
        assert_eq!(*seen.borrow(), expected);
    }
}

#[test]
fn callbacks_added_after_the_fire_run_at_once() {
    let log = Log::default();
    let (d, trigger) = deferred::<u32>();
    trigger.callback(0);
    let a = log.clone();
    let d = d.add_callback(move |n| {
        a.say(format!("callback_1 got {n}"));
        Ok(n + 1)
    });
    assert_eq!(log.lines(), ["callback_1 got 0"]);
    let b = log.clone();
    let _d = d.add_callback(move |n| {
        b.say(format!("callback_2 got {n}"));
        Ok(n + 1)
    });
    assert_eq!(log.lines(), ["callback_1 got 0", "callback_2 got 1"]);
}

#[test]
fn a_returned_deferred_pauses_the_chain_until_it_fires() {
    let log = Log::default();
    let (inner, inner_trigger) = deferred::<u32>();
    let inner = RefCell::new(Some(inner));
    let (d, trigger) = deferred::<u32>();
    let (a, b) = (log.clone(), log.clone());
    let _d = d
        .add_callback(move |n| {
            a.say(format!("outer got {n}"));
            inner.borrow_mut().take().expect("called once")
        })
        .add_callback(move |n: u32| {
            b.say(format!("after inner: {n}"));
            Ok(())
        });
    trigger.callback(1);
    assert_eq!(log.lines(), ["outer got 1"], "the chain waits");
    inner_trigger.callback(2);
    assert_eq!(log.lines(), ["outer got 1", "after inner: 2"]);
}

#[test]
fn an_inner_failure_continues_the_outer_errbacks_at_any_depth() {
    let seen = Rc::new(RefCell::new(String::new()));
    let (deepest, deepest_trigger) = deferred::<u32>();
    let (d, trigger) = deferred::<u32>();
    let record = seen.clone();
    let _d = d
        .add_callback(move |_| {
            // Three levels: outer → middle → deepest.
            succeed(()).add_callback(move |()| deepest)
        })
        .add_callbacks(
            |_: u32| Ok(()),
            move |failure| {
                *record.borrow_mut() = failure.to_string();
                Ok(())
            },
        );
    trigger.callback(0);
    assert!(seen.borrow().is_empty());
    deepest_trigger.errback(Oops("deep trouble"));
    assert_eq!(*seen.borrow(), "deep trouble");
    assert!(unhandled().is_empty());
}

#[test]
fn pause_holds_even_a_fired_chain_until_unpaused() {
    let log = Log::default();
    let (d, trigger) = deferred::<u32>();
    d.pause();
    trigger.callback(0);
    let a = log.clone();
    let d = d.add_callback(move |n| {
        a.say(format!("callback_1 got {n}"));
        Ok(n + 1)
    });
    assert!(log.lines().is_empty());
    d.pause(); // twice: needs two unpauses
    d.unpause();
    assert!(log.lines().is_empty());
    d.unpause();
    assert_eq!(log.lines(), ["callback_1 got 0"]);
    assert!(d.has_result());
}

#[test]
fn succeed_fail_and_maybe_deferred_give_fired_deferreds() {
    let log = Log::default();
    let a = log.clone();
    let _d = succeed(5).add_callback(move |n| {
        a.say(format!("succeed {n}"));
        Ok(())
    });
    let b = log.clone();
    let _d = fail::<u32>(Oops("no")).add_errback(move |failure| {
        b.say(format!("fail {failure}"));
        Ok(0)
    });
    let c = log.clone();
    let _d = maybe_deferred(|| Ok::<_, Failure>(8)).add_callback(move |n| {
        c.say(format!("value {n}"));
        Ok(())
    });
    let (later, later_trigger) = deferred::<u32>();
    let e = log.clone();
    let _d = maybe_deferred(move || later).add_callback(move |n| {
        e.say(format!("later {n}"));
        Ok(())
    });
    let f = log.clone();
    let _d =
        maybe_deferred(|| -> Result<u32, Failure> { panic!("boom") }).add_errback(move |failure| {
            f.say(format!("panic {}", failure.check::<Panicked>()));
            Ok(0)
        });
    later_trigger.callback(9);
    assert_eq!(
        log.lines(),
        ["succeed 5", "fail no", "value 8", "panic true", "later 9"]
    );
}

#[test]
fn a_failure_left_at_the_end_is_reported_when_the_chain_is_dropped() {
    unhandled();
    let (d, trigger) = deferred::<u32>();
    let d = d.add_callback(|_| -> Result<u32, Failure> { Err(Oops("oops"))? });
    trigger.callback(1);
    assert!(unhandled().is_empty(), "an errback could still be added");
    drop(d);
    assert_eq!(unhandled(), ["oops"]);
}

#[test]
fn a_failure_fired_after_the_chain_is_gone_is_reported_at_once() {
    unhandled();
    let (d, trigger) = deferred::<u32>();
    drop(d);
    trigger.errback(Oops("nobody listens"));
    assert_eq!(unhandled(), ["nobody listens"]);
}

#[test]
fn a_handled_failure_is_never_reported() {
    unhandled();
    let (d, trigger) = deferred::<u32>();
    let d = d.add_errback(|_| Ok(0));
    trigger.errback(Oops("handled"));
    drop(d);
    let (d, trigger) = deferred::<u32>();
    drop(d);
    trigger.callback(1);
    assert!(unhandled().is_empty());
}

#[test]
fn a_stage_may_fire_another_deferred_and_extend_it() {
    let hits = Rc::new(Cell::new(0));
    let (second, second_trigger) = deferred::<u32>();
    let count = hits.clone();
    let second = second.add_callback(move |n| {
        count.set(count.get() + n);
        Ok(())
    });
    let (first, first_trigger) = deferred::<u32>();
    let _first = first.add_callback(move |n| {
        second_trigger.callback(n * 10);
        Ok(second)
    });
    first_trigger.callback(4);
    assert_eq!(hits.get(), 40);
}

#[test]
fn a_callback_returning_its_own_chain_fails_instead_of_hanging() {
    // The only way to reach its own chain is through shared state.
    type Slot = Rc<RefCell<Option<Deferred<u32>>>>;
    let slot: Slot = Rc::default();
    let (d, trigger) = deferred::<u32>();
    let inside = slot.clone();
    let d = d.add_callback(move |_| inside.borrow_mut().take().expect("the chain"));
    let seen = Rc::new(RefCell::new(String::new()));
    let record = seen.clone();
    let d = d.add_errback(move |failure| {
        *record.borrow_mut() = failure.to_string();
        Ok(0)
    });
    // Hand the chain to its own first stage: a cycle.
    let (same, _) = (Deferred::<u32>::from_core(Rc::clone(&d.core)), ());
    *slot.borrow_mut() = Some(same);
    trigger.callback(1);
    assert_eq!(*seen.borrow(), "a callback returned its own Deferred");
    slot.borrow_mut().take();
}

#[test]
fn a_hundred_thousand_deferreds_waiting_on_each_other_do_not_grow_the_stack() {
    // Level k's callback returns level k-1, which is itself still waiting:
    // when the deepest fires, every level resumes, one after the other.
    const DEPTH: usize = 100_000;
    let (deepest, trigger) = deferred::<usize>();
    let mut current = deepest;
    for _ in 0..DEPTH {
        let (outer, outer_trigger) = deferred::<usize>();
        let inner = current;
        current = outer.add_callback(move |_| inner.add_callback(|n| Ok(n + 1)));
        outer_trigger.callback(0);
    }
    let total = Rc::new(Cell::new(0));
    let seen = total.clone();
    let _d = current.add_callback(move |n| {
        seen.set(n);
        Ok(())
    });
    trigger.callback(0);
    assert_eq!(total.get(), DEPTH);
}

#[test]
fn a_hundred_thousand_deferreds_waiting_on_each_other_are_dropped_without_growing_the_stack() {
    // The same chains, never fired: the deepest one's trigger is dropped
    // (a timer that will never run, at a shutdown). Each level's waiting
    // stage holds the level above, so dropping one drops the next: that
    // must be a loop too, not one nested `drop` per level.
    struct Dropped(Rc<Cell<usize>>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    const DEPTH: usize = 100_000;
    let dropped = Rc::new(Cell::new(0));
    let (deepest, trigger) = deferred::<usize>();
    let mut current = deepest;
    for _ in 0..DEPTH {
        let (outer, outer_trigger) = deferred::<usize>();
        let inner = current;
        let guard = Dropped(Rc::clone(&dropped));
        current = outer.add_callback(move |_| {
            inner.add_callback(move |n| {
                let _held = &guard;
                Ok(n + 1)
            })
        });
        outer_trigger.callback(0);
    }
    drop(current);
    assert_eq!(dropped.get(), 0, "the deepest trigger keeps them all");
    drop(trigger);
    assert_eq!(dropped.get(), DEPTH, "all gone by the time drop returns");
}

#[test]
fn a_chain_resumed_by_a_stage_resumes_before_that_stage_returns() {
    // Firing is synchronous even when the fired Deferred is one another
    // chain waits on: the waiting chain has carried on by the time
    // `callback` returns.
    let log = Log::default();
    let (inner, inner_trigger) = deferred::<u32>();
    let (outer, outer_trigger) = deferred::<u32>();
    let a = log.clone();
    let _outer = outer.add_callback(move |_| inner).add_callback(move |n| {
        a.say(format!("outer resumed with {n}"));
        Ok(())
    });
    outer_trigger.callback(0);
    let (other, other_trigger) = deferred::<()>();
    let b = log.clone();
    let _other = other.add_callback(move |()| {
        inner_trigger.callback(5);
        b.say("after firing inner");
        Ok(())
    });
    other_trigger.callback(());
    assert_eq!(log.lines(), ["outer resumed with 5", "after firing inner"]);
}

// ---------------------------------------------------------------------------
// Cancelling (Part 19): one test per rule of the module's documentation.
// ---------------------------------------------------------------------------

/// The outcome a chain ends with, as text, once it has one.
type Seen = Rc<RefCell<Option<String>>>;

/// Records the outcome `d` ends with. The chain's end is handed back, to
/// be held: a chain nobody holds is gone, and cannot be cancelled.
fn outcome_of<T: fmt::Debug + 'static>(d: Deferred<T>) -> (Seen, Deferred<()>) {
    let seen = Rc::new(RefCell::new(None));
    let record = seen.clone();
    let tail = d.add_both(move |outcome| {
        *record.borrow_mut() = Some(match outcome {
            Ok(value) => format!("value {value:?}"),
            Err(failure) if failure.check::<CancelledError>() => "cancelled".to_string(),
            Err(failure) => format!("failure {failure}"),
        });
        Ok(())
    });
    (seen, tail)
}

#[test]
fn cancel_calls_the_canceller_once_then_fails_with_cancelled_error() {
    let calls = Rc::new(Cell::new(0));
    let counted = calls.clone();
    let (d, _producer) = deferred_with_canceller::<u32>(move |_trigger| {
        counted.set(counted.get() + 1);
    });
    let handle = d.canceller();
    let (seen, _tail) = outcome_of(d);
    handle.cancel();
    assert_eq!(calls.get(), 1);
    assert_eq!(seen.borrow().as_deref(), Some("cancelled"));
    // Twice: the Deferred has fired, so the second does nothing.
    handle.cancel();
    assert_eq!(calls.get(), 1);
    assert!(unhandled().is_empty());
}

#[test]
fn without_a_canceller_cancel_still_fails_the_chain() {
    let (d, _producer) = deferred::<u32>();
    let handle = d.canceller();
    let (seen, _tail) = outcome_of(d);
    handle.cancel();
    assert_eq!(seen.borrow().as_deref(), Some("cancelled"));
}

#[test]
fn the_canceller_runs_before_the_errback_and_may_fire_a_value_or_a_failure() {
    let log = Log::default();
    let said = log.clone();
    let (d, _producer) = deferred_with_canceller::<&str>(move |trigger| {
        said.say("canceller");
        trigger.callback("from the canceller");
    });
    let (a, b) = (log.clone(), log.clone());
    let d = d.add_callbacks(
        move |value| {
            a.say(format!("callback got {value}"));
            Ok(())
        },
        move |failure| {
            b.say(format!("errback got {failure}"));
            Ok(())
        },
    );
    d.cancel();
    assert_eq!(
        log.lines(),
        ["canceller", "callback got from the canceller"]
    );

    let (d, _producer) = deferred_with_canceller::<u32>(|trigger| trigger.errback(Oops("error!")));
    let handle = d.canceller();
    let (seen, _tail) = outcome_of(d);
    handle.cancel();
    assert_eq!(seen.borrow().as_deref(), Some("failure error!"));
}

#[test]
fn cancel_after_the_fire_does_nothing_and_never_calls_the_canceller() {
    let called = Rc::new(Cell::new(false));
    let flag = called.clone();
    let (d, producer) = deferred_with_canceller::<&str>(move |_| flag.set(true));
    let handle = d.canceller();
    let (seen, _tail) = outcome_of(d);
    producer.callback("result");
    handle.cancel();
    assert!(!called.get());
    assert_eq!(seen.borrow().as_deref(), Some("value \"result\""));
}

#[test]
fn the_producers_fire_after_a_cancel_is_ignored() {
    let (d, producer) = deferred::<&str>();
    let handle = d.canceller();
    let (seen, _tail) = outcome_of(d);
    handle.cancel();
    producer.callback("too late");
    assert_eq!(seen.borrow().as_deref(), Some("cancelled"));
    // A failure fired late is ignored too: not reported as unhandled.
    let (d, producer) = deferred::<&str>();
    d.cancel();
    let _handled = d.add_errback(|_| Ok("handled"));
    producer.errback(Oops("late failure"));
    assert!(unhandled().is_empty());
}

#[test]
fn a_trigger_the_canceller_keeps_is_ignored_when_it_fires_later() {
    let kept = Rc::new(RefCell::new(None));
    let keep = kept.clone();
    let (d, _producer) = deferred_with_canceller::<u32>(move |trigger| {
        *keep.borrow_mut() = Some(trigger);
    });
    let handle = d.canceller();
    let (seen, _tail) = outcome_of(d);
    handle.cancel();
    assert_eq!(seen.borrow().as_deref(), Some("cancelled"));
    let trigger = kept.borrow_mut().take().expect("the canceller kept it");
    trigger.callback(7);
    assert_eq!(seen.borrow().as_deref(), Some("cancelled"));
}

#[test]
fn cancelling_a_chain_that_waits_cancels_the_inner_deferred_not_the_outer() {
    // The series' defer-cancel-12.
    let log = Log::default();
    let said = log.clone();
    let (inner, _inner_producer) = deferred_with_canceller::<&str>(move |_| {
        said.say("inner canceller");
    });
    let said = log.clone();
    let (outer, outer_producer) = deferred_with_canceller::<&str>(move |_| {
        said.say("outer canceller");
    });
    let said = log.clone();
    let outer = outer
        .add_callback(move |_| inner)
        .add_errback(move |failure| {
            said.say(format!(
                "outer errback got CancelledError: {}",
                failure.check::<CancelledError>()
            ));
            Ok("recovered")
        });
    outer_producer.callback("first");
    assert!(outer.has_fired() && !outer.has_result(), "waiting on inner");
    outer.cancel();
    assert_eq!(
        log.lines(),
        ["inner canceller", "outer errback got CancelledError: true"]
    );
    assert!(outer.has_result());
}

#[test]
fn a_cancel_passes_down_through_any_depth_of_waiting_chains() {
    let (deepest, _producer) = deferred::<u32>();
    let mut current = deepest;
    for _ in 0..10_000 {
        let (outer, trigger) = deferred::<u32>();
        let inner = current;
        current = outer.add_callback(move |_| inner);
        trigger.callback(0);
    }
    let handle = current.canceller();
    let (seen, _tail) = outcome_of(current);
    handle.cancel();
    assert_eq!(seen.borrow().as_deref(), Some("cancelled"));
}

#[test]
fn a_chain_waiting_on_a_deferred_that_can_never_fire_is_ended_by_cancel() {
    let (outer, trigger) = deferred::<u32>();
    let outer = outer.add_callback(|_| {
        // The inner's trigger is dropped here: it can never fire.
        let (inner, _) = deferred::<u32>();
        inner
    });
    trigger.callback(0);
    let handle = outer.canceller();
    let (seen, _tail) = outcome_of(outer);
    assert_eq!(*seen.borrow(), None);
    handle.cancel();
    assert_eq!(seen.borrow().as_deref(), Some("cancelled"));
}

#[test]
fn a_paused_chain_that_has_fired_ignores_cancel() {
    let (d, producer) = deferred_with_canceller::<u32>(|_| panic!("not called"));
    d.pause();
    producer.callback(1);
    d.cancel();
    let (seen, tail) = outcome_of(d);
    assert_eq!(*seen.borrow(), None, "still paused");
    tail.unpause();
    assert_eq!(seen.borrow().as_deref(), Some("value 1"));
}

#[test]
fn a_canceller_that_panics_fails_the_chain_with_the_panic() {
    let (d, _producer) = deferred_with_canceller::<u32>(|_| panic!("the canceller broke"));
    let handle = d.canceller();
    let (seen, _tail) = outcome_of(d);
    handle.cancel();
    let seen = seen.borrow().clone().expect("fired");
    assert!(seen.contains("the canceller broke"), "{seen}");
}

#[test]
fn a_canceller_that_panics_after_firing_is_not_silent() {
    // The chain has its outcome (the canceller's), so the panic cannot
    // be it: it is reported instead, as a failure nobody can handle.
    let (d, _producer) = deferred_with_canceller::<u32>(|trigger| {
        trigger.callback(5);
        panic!("the canceller broke after firing");
    });
    let handle = d.canceller();
    let (seen, _tail) = outcome_of(d);
    handle.cancel();
    assert_eq!(seen.borrow().as_deref(), Some("value 5"));
    let reports = unhandled();
    assert!(
        reports
            .iter()
            .any(|r| r.contains("the canceller broke after firing")),
        "{reports:?}"
    );
}

#[test]
fn the_canceller_is_dropped_when_the_deferred_fires() {
    // The canceller holds the producer's trigger: a circle, which the fire
    // must break.
    struct Dropped(Rc<Cell<bool>>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let slot: Rc<RefCell<Option<Trigger<u32>>>> = Rc::default();
    let (guard, held) = (Dropped(dropped.clone()), slot.clone());
    let (d, producer) = deferred_with_canceller::<u32>(move |_| {
        let _ = (&guard, &held);
    });
    *slot.borrow_mut() = Some(producer);
    let (seen, _tail) = outcome_of(d);
    assert!(!dropped.get());
    let producer = slot.borrow_mut().take().expect("kept");
    producer.callback(3);
    assert!(dropped.get(), "the canceller went with the fire");
    assert_eq!(seen.borrow().as_deref(), Some("value 3"));
}

#[test]
fn a_cancelled_deferred_nobody_handles_is_reported() {
    // The series' defer-cancel-1. The report comes when nobody can handle
    // the failure any more: the chain gone, and the trigger too (useless
    // since the cancel, but it still holds the Deferred).
    let (d, producer) = deferred::<u32>();
    let d = d.add_callback(|n| Ok(n + 1));
    d.cancel();
    drop(d);
    assert!(unhandled().is_empty());
    drop(producer);
    let reports = unhandled();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("cancelled"), "{reports:?}");
}

#[test]
fn debug_shows_the_state_not_an_address() {
    let (d, trigger) = deferred::<u32>();
    assert_eq!(
        format!("{d:?}"),
        "Deferred { fired: false, holds: \"nothing\", stages: 0 }"
    );
    assert!(format!("{trigger:?}").starts_with("Trigger of Deferred { fired: false"));
    trigger.callback(1);
    assert!(format!("{d:?}").contains("fired: true"));
}
