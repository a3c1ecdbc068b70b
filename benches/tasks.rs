//! Part 17's benchmark: what a spawned task and a wake-up cost on our
//! reactor, beside the same on tokio's current-thread runtime, and the
//! nearest the series' Twisted comes to each.
//!
//! Chapter 17 claims the reactor is a fine executor: a task is a boxed
//! future and a Deferred, a wake-up is a push onto a queue. This program
//! puts numbers on that, in four runs, each done by both executors in the
//! same process, one after the other:
//!
//! 1. **Spawn.** 200,000 tasks that finish at their first poll. Ours:
//!    `reactor.spawn`, which polls at once and fires the task's Deferred.
//!    Tokio: `spawn_local` on a `LocalSet` (the form for futures that are
//!    not `Send`, like ours), run until all have finished.
//! 2. **Spawn and wait once.** 200,000 tasks that each wait for one
//!    result fired later, all fired in one go: a spawn, a park, a wake and
//!    a second poll each. Ours await a Deferred; tokio's a oneshot
//!    channel.
//! 3. **Ping-pong.** Two tasks hand a number back and forth 200,000
//!    times, a fresh one-shot result for each hop: a wake-up of another
//!    task, per hop. Ours through Deferreds, tokio's through oneshots.
//! 4. **Yield.** One task wakes itself and returns `Pending`, 200,000
//!    times: the bare cost of a wake and a poll. Ours: a `poll_fn` that
//!    wakes its own waker; the task step polls it again at once, up to
//!    its budget, then the loop takes a turn. Tokio: `yield_now`, which
//!    on purpose lets tokio look at its sockets (a system call) before
//!    the task runs again: the two are not the same work, and the figure
//!    says more about that choice than about speed.
//!
//! The Twisted column comes from `benches/tasks_twisted.py`, run by
//! `python3` as a child process after the Rust runs (killed if it takes
//! longer than `TWISTED_LIMIT`), which prints its own best of three, per
//! operation, as `key=value` lines: 1. an `inlineCallbacks` function that
//! returns at once; 2. one that waits on a Deferred, all of them fired in
//! one go; 3. two such functions handing the number over a fresh Deferred
//! per hop; 4. one that gives the reactor a turn with
//! `deferLater(reactor, 0, ...)`. A Deferred runs its callbacks when it is
//! fired, on the caller's stack, so 1 to 3 go through no scheduler at all,
//! where ours and tokio's queue the task and poll it later; and 4 is a whole
//! turn of Twisted's loop (timers, then a non-blocking `epoll_wait`), like
//! tokio's `yield_now` and unlike ours. The column needs `python3` with
//! Twisted (`pip install twisted`); without it (when
//! `python3 -c "import twisted"` fails), it is skipped, with a note.
//!
//! Each run is repeated three times per executor, alternating, and the
//! fastest is kept (the others were disturbed); per-operation figures are
//! wall time divided by the count, on one thread. Every run checks its own
//! result (every task finished, every number came back) and is bounded by
//! a count and a time limit.
//!
//! Run it with (benchmarks build with the release profile):
//!
//! ```text
//! cargo bench --bench tasks
//! ```
//!
//! It prints a report, then one last line starting `RESULT ` with
//! `key=value` pairs for scripts to compare runs.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error;
use std::future::poll_fn;
use std::process::{Command, ExitCode, Stdio};
use std::rc::Rc;
use std::sync::mpsc::RecvTimeoutError;
use std::task::Poll;
use std::time::{Duration, Instant};

use mini_twisted::defer::{deferred, Trigger};
use mini_twisted::poetry::line_reader;
use mini_twisted::{Failure, Reactor};

// The children's guard and the check for Twisted, shared with the other
// benchmarks that run programs.
mod common;
use common::{decimal, keep_stderr, python_has_twisted, taken, Guard};

type BenchResult<T> = Result<T, Box<dyn Error>>;

const TASKS: usize = 200_000;
const HOPS: usize = 200_000;
const YIELDS: usize = 200_000;
const ROUNDS: usize = 3;
/// Any run still going after this long is broken: stop it and say so.
const SAFETY_LIMIT: Duration = Duration::from_secs(30);
/// How long the Twisted script may take for its four runs, three rounds
/// each, before it is killed (it takes about a tenth of that).
const TWISTED_LIMIT: Duration = Duration::from_secs(180);

fn main() -> ExitCode {
    mini_twisted::log::init();
    match run_benchmark() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tasks benchmark: {error}");
            ExitCode::FAILURE
        }
    }
}

/// One measurement: its name, the count, and the best time of each side.
struct Measured {
    key: &'static str,
    what: &'static str,
    count: usize,
    ours: Duration,
    tokio: Duration,
}

impl Measured {
    fn ns(time: Duration, count: usize) -> f64 {
        time.as_nanos() as f64 / count as f64
    }
}

fn run_benchmark() -> BenchResult<()> {
    println!("Tasks benchmark (Part 17)");
    println!("=========================");
    println!(
        "one thread; best of {ROUNDS} rounds each, alternating; tokio's current-thread runtime with a LocalSet"
    );
    println!();
    let runs: [(&str, &str, usize, Run, Run); 4] = [
        (
            "spawn",
            "spawn a task that finishes at once",
            TASKS,
            ours_spawn,
            tokio_spawn,
        ),
        (
            "spawn_wait",
            "spawn a task that waits once, then fire them all",
            TASKS,
            ours_spawn_wait,
            tokio_spawn_wait,
        ),
        (
            "pingpong",
            "one hop between two tasks",
            HOPS,
            ours_ping_pong,
            tokio_ping_pong,
        ),
        (
            "yield",
            "a task wakes itself and is polled again",
            YIELDS,
            ours_yield,
            tokio_yield,
        ),
    ];
    // Every count is the same, so the script is told one.
    const { assert!(TASKS == HOPS && HOPS == YIELDS) };
    let mut results = Vec::new();
    for (key, what, count, ours, tokio) in runs {
        let (mut best_ours, mut best_tokio) = (Duration::MAX, Duration::MAX);
        for _ in 0..ROUNDS {
            best_ours = best_ours.min(ours(count)?);
            best_tokio = best_tokio.min(tokio(count)?);
        }
        results.push(Measured {
            key,
            what,
            count,
            ours: best_ours,
            tokio: best_tokio,
        });
    }
    let twisted = run_twisted(TASKS)?;
    if twisted.is_none() {
        println!(
            "Twisted column skipped: `python3 -c \"import twisted\"` failed; \
             `pip install twisted` enables it"
        );
        println!();
    }
    println!(
        "{:<60} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "per operation (ns)", "ours", "tokio", "twisted", "/tokio", "/twisted"
    );
    let mut line = Vec::new();
    for m in &results {
        let (ours, tokio) = (
            Measured::ns(m.ours, m.count),
            Measured::ns(m.tokio, m.count),
        );
        let twisted = twisted
            .as_ref()
            .and_then(|figures| figures.get(m.key).copied());
        println!(
            "{:<60} {:>8.0} {:>8.0} {:>8} {:>9.2} {:>9}",
            format!("{} (x{})", m.what, m.count),
            ours,
            tokio,
            decimal(twisted, 0),
            ours / tokio,
            // Three decimals: ours is a small fraction of Python's.
            decimal(twisted.map(|twisted| ours / twisted), 3)
        );
        line.push(format!("{}_ours_ns={ours:.0}", m.key));
        line.push(format!("{}_tokio_ns={tokio:.0}", m.key));
        line.push(format!("{}_twisted_ns={}", m.key, decimal(twisted, 0)));
    }
    println!();
    println!("(ratios: ours / tokio and ours / twisted; below 1 means ours is cheaper)");
    if twisted.is_some() {
        println!(
            "(twisted: inlineCallbacks and Deferreds on CPython, its garbage collector on;\n \
             a fired Deferred resumes its waiter at once, with no scheduler between, and its\n \
             yield is deferLater(reactor, 0), a whole turn of the reactor, like tokio's\n \
             yield_now and unlike ours: not the same work)"
        );
    }
    println!("RESULT {}", line.join(" "));
    Ok(())
}

/// Runs `benches/tasks_twisted.py` with `count` operations a run and
/// reads its `key_ns=value` lines back, keyed as ours (`spawn`,
/// `spawn_wait`, `pingpong`, `yield`); `None` when Python has no Twisted.
///
/// # Errors
///
/// The script failed, printed less than four figures, or ran past
/// `TWISTED_LIMIT` (and was killed).
fn run_twisted(count: usize) -> Result<Option<HashMap<String, f64>>, String> {
    if !python_has_twisted() {
        return Ok(None);
    }
    let script = common::root().join("benches/tasks_twisted.py");
    let child = Command::new("python3")
        .arg(&script)
        .args([
            "--count",
            &count.to_string(),
            "--rounds",
            &ROUNDS.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot start python3 {}: {error}", script.display()))?;
    let mut guard = Guard(child);
    let lines = line_reader(guard.0.stdout.take());
    let complaints = keep_stderr(guard.0.stderr.take());
    let deadline = Instant::now() + TWISTED_LIMIT;
    let mut figures = HashMap::new();
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                let pair = line
                    .split_once('=')
                    .and_then(|(key, value)| Some((key.strip_suffix("_ns")?, value.parse().ok()?)));
                if let Some((key, value)) = pair {
                    figures.insert(key.to_string(), value);
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "tasks_twisted.py still running after {} s; killed",
                    TWISTED_LIMIT.as_secs()
                ))
            }
        }
    }
    let status = guard.wait_for(Duration::from_secs(5));
    if status != Some(0) || figures.len() != 4 {
        return Err(format!(
            "tasks_twisted.py ended with {status:?} and {} figures; it said {:?}",
            figures.len(),
            taken(&complaints)
        ));
    }
    Ok(Some(figures))
}

type Run = fn(usize) -> BenchResult<Duration>;

/// Fails a run that went on past the safety limit.
fn check_time(started: Instant, what: &str) -> BenchResult<()> {
    if started.elapsed() > SAFETY_LIMIT {
        return Err(format!("{what} ran past {SAFETY_LIMIT:?}").into());
    }
    Ok(())
}

fn tokio_runtime() -> BenchResult<(tokio::runtime::Runtime, tokio::task::LocalSet)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok((runtime, tokio::task::LocalSet::new()))
}

// ---------------------------------------------------------------------------
// 1. Spawn.
// ---------------------------------------------------------------------------

fn ours_spawn(count: usize) -> BenchResult<Duration> {
    let reactor = Reactor::new()?;
    let done = Rc::new(Cell::new(0usize));
    let started = Instant::now();
    for _ in 0..count {
        let done = Rc::clone(&done);
        // The task's Deferred is dropped: nobody wants the `()`.
        drop(reactor.spawn(async move {
            done.set(done.get() + 1);
            Ok::<(), Failure>(())
        }));
    }
    let took = started.elapsed();
    if done.get() != count {
        return Err(format!("ours: {} of {count} tasks finished", done.get()).into());
    }
    Ok(took)
}

fn tokio_spawn(count: usize) -> BenchResult<Duration> {
    let (runtime, local) = tokio_runtime()?;
    let done = Rc::new(Cell::new(0usize));
    let finished = Rc::clone(&done);
    let took = local.block_on(&runtime, async move {
        let started = Instant::now();
        for _ in 0..count {
            let done = Rc::clone(&done);
            drop(tokio::task::spawn_local(async move {
                done.set(done.get() + 1);
            }));
        }
        while done.get() < count && started.elapsed() < SAFETY_LIMIT {
            tokio::task::yield_now().await;
        }
        started.elapsed()
    });
    if finished.get() != count {
        return Err(format!("tokio: {} of {count} tasks finished", finished.get()).into());
    }
    Ok(took)
}

// ---------------------------------------------------------------------------
// 2. Spawn and wait once.
// ---------------------------------------------------------------------------

fn ours_spawn_wait(count: usize) -> BenchResult<Duration> {
    let reactor = Reactor::new()?;
    let done = Rc::new(Cell::new(0usize));
    let started = Instant::now();
    let mut triggers: Vec<Trigger<usize>> = Vec::with_capacity(count);
    for _ in 0..count {
        let (d, trigger) = deferred::<usize>();
        triggers.push(trigger);
        let done = Rc::clone(&done);
        drop(reactor.spawn(async move {
            let n = d.await?;
            done.set(done.get() + n);
            Ok::<(), Failure>(())
        }));
    }
    for trigger in triggers {
        trigger.callback(1);
    }
    // Every task was woken; the loop's task step polls them.
    while done.get() < count {
        reactor.iterate(Duration::ZERO)?;
        check_time(started, "ours spawn_wait")?;
    }
    Ok(started.elapsed())
}

fn tokio_spawn_wait(count: usize) -> BenchResult<Duration> {
    let (runtime, local) = tokio_runtime()?;
    let done = Rc::new(Cell::new(0usize));
    let finished = Rc::clone(&done);
    let took = local.block_on(&runtime, async move {
        let started = Instant::now();
        let mut senders = Vec::with_capacity(count);
        for _ in 0..count {
            let (sender, receiver) = tokio::sync::oneshot::channel::<usize>();
            senders.push(sender);
            let done = Rc::clone(&done);
            drop(tokio::task::spawn_local(async move {
                if let Ok(n) = receiver.await {
                    done.set(done.get() + n);
                }
            }));
        }
        // Let every task park on its receiver first, as ours did at spawn.
        tokio::task::yield_now().await;
        for sender in senders {
            let _ = sender.send(1);
        }
        while done.get() < count && started.elapsed() < SAFETY_LIMIT {
            tokio::task::yield_now().await;
        }
        started.elapsed()
    });
    if finished.get() != count {
        return Err(format!("tokio: {} of {count} waits finished", finished.get()).into());
    }
    Ok(took)
}

// ---------------------------------------------------------------------------
// 3. Ping-pong.
// ---------------------------------------------------------------------------

/// Where one side leaves the trigger of the Deferred the other awaits.
type Mailbox = Rc<RefCell<Option<Trigger<usize>>>>;

fn ours_ping_pong(hops: usize) -> BenchResult<Duration> {
    let reactor = Reactor::new()?;
    let (to_a, to_b): (Mailbox, Mailbox) = (Rc::default(), Rc::default());
    // Each side makes the Deferred it will await and posts its trigger;
    // the other side fires it with the count, then waits for its own.
    let side = |mine: Mailbox, theirs: Mailbox, starts: bool| {
        async move {
            let mut n = 0;
            if starts {
                let (d, trigger) = deferred::<usize>();
                *mine.borrow_mut() = Some(trigger);
                n = d.await?;
            }
            while n < hops {
                let (d, trigger) = deferred::<usize>();
                *mine.borrow_mut() = Some(trigger);
                let theirs_now = theirs.borrow_mut().take();
                match theirs_now {
                    Some(other) => other.callback(n + 1),
                    None => return Err(Failure::new(std::io::Error::other("no mailbox"))),
                }
                n = d.await?;
            }
            // Release the other side's last wait.
            if let Some(other) = theirs.borrow_mut().take() {
                other.callback(hops);
            }
            Ok::<usize, Failure>(n)
        }
    };
    let started = Instant::now();
    let a = reactor.spawn(side(Rc::clone(&to_a), Rc::clone(&to_b), true));
    let b = reactor.spawn(side(to_b, to_a, false));
    let finished = Rc::new(Cell::new(0));
    for d in [a, b] {
        let finished = Rc::clone(&finished);
        drop(d.add_callback(move |_| {
            finished.set(finished.get() + 1);
            Ok(())
        }));
    }
    while finished.get() < 2 {
        reactor.iterate(Duration::ZERO)?;
        check_time(started, "ours ping-pong")?;
    }
    Ok(started.elapsed())
}

fn tokio_ping_pong(hops: usize) -> BenchResult<Duration> {
    use tokio::sync::oneshot;
    type Box_ = Rc<RefCell<Option<oneshot::Sender<usize>>>>;
    let (runtime, local) = tokio_runtime()?;
    let took = local.block_on(&runtime, async move {
        let (to_a, to_b): (Box_, Box_) = (Rc::default(), Rc::default());
        let side = |mine: Box_, theirs: Box_, starts: bool| async move {
            let mut n = 0;
            if starts {
                let (sender, receiver) = oneshot::channel();
                *mine.borrow_mut() = Some(sender);
                n = receiver.await.unwrap_or(hops);
            }
            while n < hops {
                let (sender, receiver) = oneshot::channel();
                *mine.borrow_mut() = Some(sender);
                let theirs_now = theirs.borrow_mut().take();
                if let Some(other) = theirs_now {
                    let _ = other.send(n + 1);
                }
                n = receiver.await.unwrap_or(hops);
            }
            if let Some(other) = theirs.borrow_mut().take() {
                let _ = other.send(hops);
            }
            n
        };
        let started = Instant::now();
        let a = tokio::task::spawn_local(side(Rc::clone(&to_a), Rc::clone(&to_b), true));
        let b = tokio::task::spawn_local(side(to_b, to_a, false));
        let _ = (a.await, b.await);
        started.elapsed()
    });
    Ok(took)
}

// ---------------------------------------------------------------------------
// 4. Yield.
// ---------------------------------------------------------------------------

fn ours_yield(yields: usize) -> BenchResult<Duration> {
    let reactor = Reactor::new()?;
    let polls = Rc::new(Cell::new(0usize));
    let counted = Rc::clone(&polls);
    let started = Instant::now();
    let d = reactor.spawn(poll_fn(move |cx| {
        counted.set(counted.get() + 1);
        if counted.get() > yields {
            Poll::Ready(Ok::<(), Failure>(()))
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }));
    while !d.has_result() {
        reactor.iterate(Duration::ZERO)?;
        check_time(started, "ours yield")?;
    }
    Ok(started.elapsed())
}

fn tokio_yield(yields: usize) -> BenchResult<Duration> {
    let (runtime, local) = tokio_runtime()?;
    let took = local.block_on(&runtime, async move {
        let started = Instant::now();
        let task = tokio::task::spawn_local(async move {
            for _ in 0..yields {
                tokio::task::yield_now().await;
            }
        });
        let _ = task.await;
        started.elapsed()
    });
    Ok(took)
}
