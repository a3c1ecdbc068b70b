//! One test (or more) for every rule in the module's documentation.

use super::*;
use std::cell::{Cell, RefCell};
use std::io;

thread_local! {
    /// What `report_unhandled` said on this thread.
    pub(super) static UNHANDLED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn unhandled() -> Vec<String> {
    UNHANDLED.with(|seen| seen.take())
}

/// A log that stages write to, to check what ran in which order.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn say(&self, line: impl Into<String>) {
        self.0.borrow_mut().push(line.into());
    }

    fn lines(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

#[derive(Debug)]
struct Oops(&'static str);

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
