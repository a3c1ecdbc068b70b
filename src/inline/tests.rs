//! One test (or more) for every rule of the module's documentation. Timers
//! run on a fake clock; nothing here waits on real time, except the one
//! test of a wake from another thread, which is bounded.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::defer::tests::{Log, Oops};
use crate::defer::{deferred, succeed, CancelledError};
use crate::testing::{run_until, Clock};
use crate::OwnedReactor;

fn on_fake_clock() -> (Clock, OwnedReactor) {
    let clock = Clock::new();
    let reactor = Reactor::with_clock(&clock).unwrap();
    (clock, reactor)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A Deferred that `reactor` fires with `value` after `delay`.
fn later<T: 'static>(reactor: &Reactor, delay: Duration, value: T) -> Deferred<T> {
    let (d, trigger) = deferred();
    reactor.call_later(delay, move |_| trigger.callback(value));
    d
}

/// The outcome of `d`, once it has one, where the test can look.
fn watch<T: 'static>(d: Deferred<T>) -> Rc<RefCell<Option<Result<T, Failure>>>> {
    let seen = Rc::new(RefCell::new(None));
    let keep = Rc::clone(&seen);
    let _: Deferred<()> = d.add_both(move |outcome| {
        *keep.borrow_mut() = Some(outcome);
        Ok(())
    });
    seen
}

#[test]
fn awaiting_a_fired_deferred_resumes_at_once_and_spawn_runs_to_the_first_wait() {
    let (_clock, reactor) = on_fake_clock();
    let d = reactor.spawn(async {
        let one = succeed(1).await?;
        let two = async { 2 }.await;
        Ok::<_, Failure>(one + two)
    });
    // No turn of the loop: the task never had to wait.
    assert!(d.has_result());
    assert_eq!(run_until(&reactor, d, secs(1)).unwrap(), 3);
    assert_eq!(reactor.tasks().pending(), 0);
}

#[test]
fn an_awaited_deferred_gives_its_value_later_and_the_task_deferred_fires() {
    let (clock, reactor) = on_fake_clock();
    let log = Log::default();
    let said = log.clone();
    let handle = reactor.clone();
    let d = reactor.spawn(async move {
        said.say("first");
        let n = later(&handle, secs(5), 2).await?;
        said.say(format!("got {n}"));
        Ok::<_, Failure>(n * 10)
    });
    assert_eq!(log.lines(), ["first"]);
    assert!(!d.has_result());
    assert_eq!(reactor.tasks().pending(), 1);
    let seen = watch(d);
    clock.advance(secs(4));
    assert_eq!(log.lines(), ["first"]);
    clock.advance(secs(1));
    assert_eq!(
        log.lines(),
        ["first", "got 2"],
        "advance runs the woken task"
    );
    assert_eq!(seen.borrow_mut().take().unwrap().unwrap(), 20);
    assert_eq!(reactor.tasks().pending(), 0);
}

#[test]
fn a_failure_arrives_as_err_and_question_mark_fails_the_task() {
    let (clock, reactor) = on_fake_clock();
    let handle = reactor.clone();
    let d = reactor.spawn(async move {
        let (d, trigger) = deferred::<u32>();
        handle.call_later(secs(1), move |_| trigger.errback(Oops("uh oh")));
        let n = d.await?;
        Ok::<u32, Failure>(n)
    });
    let seen = watch(d);
    clock.advance(secs(1));
    let failure = seen.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.check::<Oops>());
    assert_eq!(failure.to_string(), "uh oh");
}

#[test]
fn a_panic_in_a_task_fails_its_deferred_and_the_reactor_goes_on() {
    let (clock, reactor) = on_fake_clock();
    let handle = reactor.clone();
    let d = reactor.spawn(async move {
        later(&handle, secs(1), ()).await?;
        if handle.is_running() || !handle.is_running() {
            panic!("the task broke");
        }
        Ok::<(), Failure>(())
    });
    let seen = watch(d);
    // A task may also end by handing over a Deferred to wait for.
    let handle = reactor.clone();
    let other = watch(reactor.spawn(async move { later(&handle, secs(2), 7) }));
    clock.advance(secs(1));
    let failure = seen.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.check::<Panicked>());
    assert!(failure.to_string().contains("the task broke"), "{failure}");
    clock.advance(secs(1));
    assert_eq!(other.borrow_mut().take().unwrap().unwrap(), 7);
}

/// A future that counts its polls and is pending until told otherwise.
struct Counted {
    polls: Rc<Cell<usize>>,
    waker: Rc<RefCell<Option<std::task::Waker>>>,
    done: Rc<Cell<bool>>,
}

impl Future for Counted {
    type Output = Result<(), Failure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls.set(self.polls.get() + 1);
        *self.waker.borrow_mut() = Some(cx.waker().clone());
        if self.done.get() {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }
}

/// A `Counted` future, and its poll count, last waker and "done" switch.
type CountedParts = (
    Counted,
    Rc<Cell<usize>>,
    Rc<RefCell<Option<std::task::Waker>>>,
    Rc<Cell<bool>>,
);

fn counted() -> CountedParts {
    let future = Counted {
        polls: Rc::default(),
        waker: Rc::default(),
        done: Rc::default(),
    };
    let (polls, waker, done) = (
        Rc::clone(&future.polls),
        Rc::clone(&future.waker),
        Rc::clone(&future.done),
    );
    (future, polls, waker, done)
}

#[test]
fn a_task_woken_many_times_before_it_runs_is_polled_once() {
    let (_clock, reactor) = on_fake_clock();
    let (future, polls, waker, done) = counted();
    let d = reactor.spawn(future);
    assert_eq!(polls.get(), 1, "the first poll, at spawn");
    let w = waker.borrow().clone().unwrap();
    w.wake_by_ref();
    w.wake_by_ref();
    let another = w.clone();
    another.wake();
    assert_eq!(polls.get(), 1, "a wake never polls on the spot");
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(polls.get(), 2, "three wakes, one poll");
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(polls.get(), 2, "no wake, no poll");
    done.set(true);
    w.wake_by_ref();
    reactor.iterate(Duration::ZERO).unwrap();
    assert!(d.has_result());
    // A wake after the end finds nobody, and does no harm.
    w.wake_by_ref();
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(polls.get(), 3);
}

#[test]
fn a_task_that_wakes_itself_gets_the_budget_of_a_turn_and_cannot_starve_the_loop() {
    let (_clock, reactor) = on_fake_clock();
    let polls = Rc::new(Cell::new(0));
    let counted = Rc::clone(&polls);
    let _d = reactor.spawn(std::future::poll_fn(move |cx| {
        counted.set(counted.get() + 1);
        cx.waker().wake_by_ref();
        Poll::<Result<(), Failure>>::Pending
    }));
    assert_eq!(polls.get(), 1);
    let timers = Rc::new(Cell::new(0));
    for turn in 1..4 {
        let ran = Rc::clone(&timers);
        reactor.call_later(Duration::ZERO, move |_| ran.set(ran.get() + 1));
        reactor.iterate(Duration::ZERO).unwrap();
        assert_eq!(polls.get(), 1 + turn * TASK_BUDGET);
        assert_eq!(timers.get(), turn, "the timers still run");
    }
}

#[test]
fn tasks_that_wake_each_other_do_so_within_one_step() {
    // A hands a number to B and B back to A, each through a fresh
    // Deferred: fifty hops take one turn, not fifty.
    let (_clock, reactor) = on_fake_clock();
    type Mailbox = Rc<RefCell<Option<Trigger<u32>>>>;
    let (to_a, to_b): (Mailbox, Mailbox) = (Rc::default(), Rc::default());
    let side = |mine: Mailbox, theirs: Mailbox, starts: bool| async move {
        let mut n = 0;
        if starts {
            let (d, trigger) = deferred();
            *mine.borrow_mut() = Some(trigger);
            n = d.await?;
        }
        while n < 50 {
            let (d, trigger) = deferred();
            *mine.borrow_mut() = Some(trigger);
            let other = theirs.borrow_mut().take().expect("the other waits");
            other.callback(n + 1);
            n = d.await?;
        }
        if let Some(other) = theirs.borrow_mut().take() {
            other.callback(n);
        }
        Ok::<u32, Failure>(n)
    };
    let a = watch(reactor.spawn(side(Rc::clone(&to_a), Rc::clone(&to_b), true)));
    let b = watch(reactor.spawn(side(to_b, to_a, false)));
    reactor.iterate(Duration::ZERO).unwrap();
    assert!(a.borrow().is_some() && b.borrow().is_some());
}

#[test]
fn a_task_never_runs_inside_the_callback_that_fired_its_deferred() {
    // The callback stands for a protocol's connection_lost: while it runs,
    // the flag is up, and the task must not see it up.
    let (clock, reactor) = on_fake_clock();
    let inside = Rc::new(Cell::new(false));
    let (d, trigger) = deferred::<()>();
    let flag = Rc::clone(&inside);
    reactor.call_later(secs(1), move |_| {
        flag.set(true);
        trigger.callback(());
        flag.set(false);
    });
    let flag = Rc::clone(&inside);
    let saw = Rc::new(Cell::new(None));
    let seen = Rc::clone(&saw);
    let _task = reactor.spawn(async move {
        d.await?;
        seen.set(Some(flag.get()));
        Ok::<(), Failure>(())
    });
    clock.advance(secs(1));
    assert_eq!(saw.get(), Some(false));
}

#[test]
fn two_tasks_interleave_on_timers() {
    // The series' inline-callbacks-2, on a fake clock.
    let (clock, reactor) = on_fake_clock();
    let log = Log::default();
    let (said, handle) = (log.clone(), reactor.clone());
    let one = reactor.spawn(async move {
        said.say("one first");
        later(&handle, secs(2), ()).await?;
        said.say("one second");
        later(&handle, secs(2), ()).await?;
        said.say("one third");
        Ok::<u32, Failure>(1)
    });
    let (said, handle) = (log.clone(), reactor.clone());
    let two = reactor.spawn(async move {
        said.say("two first");
        later(&handle, secs(3), ()).await?;
        said.say("two second");
        later(&handle, secs(3), ()).await?;
        said.say("two third");
        Err::<u32, Failure>(Failure::new(Oops("uh oh")))
    });
    let (one, two) = (watch(one), watch(two));
    clock.pump(&[secs(1); 6]);
    assert_eq!(
        log.lines(),
        [
            "one first",
            "two first",
            "one second",
            "two second",
            "one third",
            "two third"
        ]
    );
    assert_eq!(one.borrow_mut().take().unwrap().unwrap(), 1u32);
    assert_eq!(
        two.borrow_mut().take().unwrap().unwrap_err().to_string(),
        "uh oh"
    );
}

#[test]
fn a_task_spawned_inside_a_task_starts_at_once_and_both_finish() {
    let (clock, reactor) = on_fake_clock();
    let log = Log::default();
    let (said, handle) = (log.clone(), reactor.clone());
    let outer = reactor.spawn(async move {
        said.say("outer starts");
        let inner_said = said.clone();
        let inner_handle = handle.clone();
        let inner = handle.spawn(async move {
            inner_said.say("inner starts");
            later(&inner_handle, secs(1), 5).await
        });
        said.say("outer goes on");
        let n = inner.await?;
        said.say(format!("outer got {n}"));
        Ok::<_, Failure>(n)
    });
    let seen = watch(outer);
    assert_eq!(
        log.lines(),
        ["outer starts", "inner starts", "outer goes on"]
    );
    clock.advance(secs(1));
    assert_eq!(seen.borrow_mut().take().unwrap().unwrap(), 5);
    assert_eq!(log.lines().last().unwrap(), "outer got 5");
}

#[test]
fn a_wake_from_the_loops_own_thread_needs_no_system_call() {
    let (clock, reactor) = on_fake_clock();
    let handle = reactor.clone();
    let seen = watch(reactor.spawn(async move { later(&handle, secs(1), 1).await }));
    clock.advance(secs(1));
    reactor.iterate(Duration::ZERO).unwrap();
    assert!(seen.borrow().is_some());
    assert_eq!(reactor.tasks().pokes(), 0);
}

#[test]
fn a_wake_from_another_thread_wakes_a_sleeping_loop() {
    // The loop sleeps with nothing to wait for but the wake: on a fake
    // clock no timer can end the wait, only the limit, which is the bound
    // on a broken test.
    const LIMIT: Duration = Duration::from_secs(30);
    let (_clock, reactor) = on_fake_clock();
    let (future, polls, waker, done) = counted();
    let d = reactor.spawn(future);
    done.set(true);
    let w = waker.borrow().clone().unwrap();
    let waking = thread::spawn(move || {
        // Give the loop a moment to fall asleep; either order is correct.
        thread::sleep(Duration::from_millis(50));
        w.wake();
    });
    let started = Instant::now();
    while !d.has_result() && started.elapsed() < LIMIT {
        reactor.iterate(LIMIT).unwrap();
    }
    waking.join().unwrap();
    assert!(d.has_result(), "the wake never reached the loop");
    assert!(started.elapsed() < LIMIT, "the loop slept through the wake");
    assert_eq!(polls.get(), 2);
}

#[test]
fn shutting_down_drops_every_pending_task_and_fails_its_deferred() {
    struct Dropped(Rc<Cell<bool>>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let (_clock, reactor) = on_fake_clock();
    let dropped = Rc::new(Cell::new(false));
    let guard = Dropped(Rc::clone(&dropped));
    let (never, trigger) = deferred::<()>();
    let d = reactor.spawn(async move {
        let _guard = guard;
        never.await
    });
    let seen = watch(d);
    reactor.shutdown();
    assert!(dropped.get(), "the future and what it held are gone");
    let failure = seen.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.check::<ReactorStopped>());
    // The producer fires later: nobody is there, and nothing breaks.
    trigger.callback(());
    // A task spawned on a reactor that is over runs to its first wait,
    // then fails the same way.
    let (never, _keep) = deferred::<()>();
    let ran = Rc::new(Cell::new(false));
    let flag = Rc::clone(&ran);
    let late = watch(reactor.spawn(async move {
        flag.set(true);
        never.await
    }));
    assert!(ran.get());
    assert!(late
        .borrow_mut()
        .take()
        .unwrap()
        .unwrap_err()
        .check::<ReactorStopped>());
}

#[test]
fn dropping_the_reactor_drops_its_tasks_and_a_late_wake_is_ignored() {
    let (_clock, reactor) = on_fake_clock();
    let (future, _polls, waker, _done) = counted();
    let seen = watch(reactor.spawn(future));
    let w = waker.borrow_mut().take().unwrap();
    drop(reactor);
    assert!(seen
        .borrow_mut()
        .take()
        .unwrap()
        .unwrap_err()
        .check::<ReactorStopped>());
    w.wake();
}

#[test]
fn dropping_the_spawned_deferred_does_not_cancel_the_task() {
    let (clock, reactor) = on_fake_clock();
    let log = Log::default();
    let (said, handle) = (log.clone(), reactor.clone());
    drop(reactor.spawn(async move {
        let n = later(&handle, secs(1), 1).await?;
        said.say(format!("finished with {n}"));
        Ok::<(), Failure>(())
    }));
    clock.advance(secs(1));
    assert_eq!(log.lines(), ["finished with 1"]);
}

#[test]
fn cancelling_the_spawned_deferred_cancels_the_await_the_task_is_parked_on() {
    let (clock, reactor) = on_fake_clock();
    let log = Log::default();
    let (said, handle) = (log.clone(), reactor.clone());
    // The awaited Deferred's canceller stops its timer, as a well-made
    // producer's does.
    let d = reactor.spawn(async move {
        let timer: Rc<RefCell<Option<crate::reactor::DelayedCall>>> = Rc::default();
        let stop = Rc::clone(&timer);
        let (d, trigger) = deferred_with_canceller::<u32>(move |_| {
            if let Some(call) = stop.borrow_mut().take() {
                call.cancel();
            }
        });
        *timer.borrow_mut() = Some(handle.call_later(secs(5), move |_| trigger.callback(5)));
        match d.await {
            Ok(n) => said.say(format!("got {n}")),
            Err(failure) => said.say(format!("cancelled: {}", failure.check::<CancelledError>())),
        }
        Ok::<_, Failure>("the task's own result")
    });
    let handle = d.canceller();
    let seen = watch(d);
    handle.cancel();
    // The task's Deferred fails at once, as any cancelled Deferred does.
    let failure = seen.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.check::<CancelledError>());
    assert!(log.lines().is_empty(), "the task is told on its next run");
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(log.lines(), ["cancelled: true"]);
    assert!(reactor.pending_calls().is_empty(), "the timer was stopped");
    clock.advance(secs(5));
    assert_eq!(log.lines(), ["cancelled: true"]);
    assert_eq!(reactor.tasks().pending(), 0);
}

#[test]
fn a_cancel_that_finds_the_task_queued_reaches_its_next_await() {
    let (clock, reactor) = on_fake_clock();
    let log = Log::default();
    let (said, handle) = (log.clone(), reactor.clone());
    let (first, first_trigger) = deferred::<u32>();
    let d = reactor.spawn(async move {
        let n = first.await?;
        said.say(format!("first gave {n}"));
        match later(&handle, secs(5), 2).await {
            Ok(n) => said.say(format!("second gave {n}")),
            Err(failure) => said.say(format!("second: {failure}")),
        }
        Ok::<(), Failure>(())
    });
    // The first await's Deferred fires: the task is queued, not parked on
    // anything that still waits.
    first_trigger.callback(1);
    let handle = d.canceller();
    let seen = watch(d);
    handle.cancel();
    assert!(seen.borrow().as_ref().unwrap().is_err(), "failed at once");
    // Its next run parks on the second await, which the cancel reaches at
    // once; the run after (in the same task step) hears it.
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(
        log.lines(),
        ["first gave 1", "second: the Deferred was cancelled"]
    );
    clock.advance(secs(5));
    assert_eq!(log.lines().len(), 2);
}

#[test]
fn an_await_given_up_leaves_a_failure_to_be_reported() {
    // A task dropped while parked (its reactor shut down) no longer awaits
    // its Deferred: a failure fired into it later is nobody's, and stays
    // on the chain, to be reported as unhandled.
    let (_clock, reactor) = on_fake_clock();
    let (d, trigger) = deferred::<u32>();
    let _task = reactor.spawn(async move { d.await });
    drop(reactor);
    trigger.errback(Oops("nobody is listening"));
    let reports = crate::defer::tests::UNHANDLED.with(|seen| seen.take());
    assert!(
        reports.contains(&"nobody is listening".to_string()),
        "{reports:?}"
    );
}

#[test]
fn check_clean_names_a_task_left_unfinished() {
    let (_clock, reactor) = on_fake_clock();
    let (never, _trigger) = deferred::<()>();
    let _d = reactor.spawn(async move { never.await });
    let dirty = crate::testing::check_clean(&reactor, Duration::ZERO).unwrap_err();
    let report = dirty.to_string();
    assert!(report.contains("a task not finished"), "{report}");
    assert!(
        report.contains("check_clean_names_a_task_left_unfinished"),
        "named by the function its async block is in: {report}"
    );
}

#[test]
fn a_task_that_shuts_its_reactor_down_ends_with_what_it_returns() {
    // Shutting down drops every pending task, but the task that asked is
    // in the middle of its poll: it runs on to its end, and its Deferred
    // fires with what it returned. The others fail as usual.
    let (clock, reactor) = on_fake_clock();
    let (d, _never) = deferred::<u32>();
    let other = watch(reactor.spawn(async move { d.await }));
    let handle = reactor.clone();
    let asked = watch(reactor.spawn(async move {
        later(&handle, secs(1), ()).await?;
        handle.shutdown();
        Ok::<u32, Failure>(5)
    }));
    clock.advance(secs(1));
    assert_eq!(asked.borrow_mut().take().unwrap().unwrap(), 5);
    let failure = other.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.check::<ReactorStopped>(), "{failure}");
    assert_eq!(reactor.tasks().pending(), 0);
}

#[test]
fn a_task_that_shuts_its_reactor_down_and_waits_fails_with_reactor_stopped() {
    // Once from the task step, once from spawn's first poll.
    let (clock, reactor) = on_fake_clock();
    let handle = reactor.clone();
    let stepped = watch(reactor.spawn(async move {
        later(&handle, secs(1), ()).await?;
        handle.shutdown();
        let (d, _never) = deferred::<u32>();
        d.await
    }));
    clock.advance(secs(1));
    let failure = stepped.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.check::<ReactorStopped>(), "{failure}");

    let (_clock, reactor) = on_fake_clock();
    let handle = reactor.clone();
    let first = watch(reactor.spawn(async move {
        handle.shutdown();
        let (d, _never) = deferred::<u32>();
        d.await
    }));
    let failure = first.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.check::<ReactorStopped>(), "{failure}");
    assert_eq!(reactor.tasks().pending(), 0);
}

#[test]
fn a_finished_task_keeps_its_outcome_when_dropping_its_future_shuts_the_reactor_down() {
    // The future is dropped before the task's Deferred fires. If that
    // drop shuts the reactor down (the future held its owner, say), the
    // task has finished all the same: its Deferred gets its value, not
    // ReactorStopped.
    struct ShutsDown(Reactor);
    impl Drop for ShutsDown {
        fn drop(&mut self) {
            self.0.shutdown();
        }
    }
    let (_clock, reactor) = on_fake_clock();
    let guard = ShutsDown(reactor.clone());
    // poll_fn keeps its closure, and so the guard, until it is dropped.
    let seen = watch(reactor.spawn(std::future::poll_fn(move |_| {
        let _held = &guard;
        Poll::Ready(Ok::<_, Failure>(7))
    })));
    assert!(reactor.tasks().is_closed(), "the drop shut it down");
    assert_eq!(seen.borrow_mut().take().unwrap().unwrap(), 7);
}

#[test]
fn a_task_woken_inside_its_own_poll_is_not_polled_inside_it() {
    // A test may drive a fake clock from inside a task. When that wakes
    // the task itself, `advance` must not poll it there (it is in the
    // middle of its poll): it runs again once this poll is over, in the
    // same task step.
    let (clock, reactor) = on_fake_clock();
    let (handle, inner_clock) = (reactor.clone(), clock.clone());
    let seen = watch(reactor.spawn(async move {
        later(&handle, secs(1), ()).await?;
        let mut second = std::pin::pin!(later(&handle, secs(1), 5).into_future());
        // Parked on `second`, without giving the poll up.
        std::future::poll_fn(|cx| {
            assert!(second.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        // Fires `second`, which wakes this very task.
        inner_clock.advance(secs(1));
        second.await
    }));
    clock.advance(secs(1));
    assert_eq!(seen.borrow_mut().take().expect("fired").unwrap(), 5);
    assert_eq!(reactor.tasks().pending(), 0);
}

#[test]
fn a_task_that_panics_after_its_deferred_was_cancelled_is_not_silent() {
    // What a cancelled task returns is ignored; a panic is not a return,
    // and its Deferred has already fired: it is reported as unhandled.
    let (_clock, reactor) = on_fake_clock();
    let d = reactor.spawn(async move {
        let (never, _trigger) = deferred::<()>();
        let _ = never.await;
        if true {
            panic!("the task broke after its cancel");
        }
        Ok::<(), Failure>(())
    });
    let handle = d.canceller();
    let seen = watch(d);
    handle.cancel();
    assert!(seen
        .borrow_mut()
        .take()
        .unwrap()
        .unwrap_err()
        .check::<CancelledError>());
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(reactor.tasks().pending(), 0);
    let reports = crate::defer::tests::UNHANDLED.with(|seen| seen.take());
    assert!(
        reports
            .iter()
            .any(|r| r.contains("the task broke after its cancel")),
        "{reports:?}"
    );
}
