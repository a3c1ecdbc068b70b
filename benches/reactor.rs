//! Part 4's benchmark: what the reactor costs when it waits, when it holds
//! many sockets, and when it holds a million timers.
//!
//! Part 4 claims a reactor waits "in the kernel" and costs nothing while
//! nothing happens, and that a socket which stays quiet costs nothing
//! either. This program puts numbers on those claims:
//!
//! 1. **Idle.** 10,000 registered sockets that never receive a byte and
//!    10,000 timers an hour away; the reactor runs for 5 s. How much CPU
//!    does it burn? The goal is none that can be measured (0.00–0.01 s).
//! 2. **Scale.** One pair of sockets plays ping-pong with a single byte,
//!    each arrival sending the next, while 10, 100, 1,000 and 10,000 idle
//!    sockets are registered beside them. The cost per event should not
//!    depend on how many sockets are quiet: the goal is a flat line, within
//!    20% from the smallest size to the largest.
//! 3. **Timers.** A million timers spread over 100 ms, each counting
//!    itself; the last one stops the reactor. How long does scheduling take,
//!    how long until all have fired, and what is that per timer?
//!
//! Everything runs on Unix socket pairs inside this process: no network, no
//! servers. Every run is bounded by a count and by a time limit.
//!
//! Run it with (benchmarks build with the release profile):
//!
//! ```text
//! cargo bench --bench reactor
//! ```
//!
//! It prints a report, then one last line starting `RESULT ` with
//! `key=value` pairs for scripts to compare runs. It exits with a failure
//! if a run could not be verified (a timer that never fired, an idle socket
//! that the reactor called anyway).
//!
//! Timings belong here and never in tests: a test that checks a duration
//! fails on a busy machine for reasons that have nothing to do with the
//! code. The tests check what happens; this program measures how fast.
//!
//! It reads `/proc`, so it runs on Linux only.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, ExitCode};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mini_twisted::reactor::{Disconnect, FileDescriptor, Reactor, ReadDescriptor};

type BenchResult<T> = Result<T, Box<dyn Error>>;

/// Idle sockets in the idle run, and the largest size of the scale run.
const MOST_IDLE_SOCKETS: usize = 10_000;
const IDLE_TIMERS: usize = 10_000;
const IDLE_RUN: Duration = Duration::from_secs(5);
const IDLE_CPU_GOAL_SECONDS: f64 = 0.01;

const SCALE_SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
const SCALE_REPEATS: usize = 3;
/// Events played before the clock starts, so that caches, the allocator and
/// the CPU's frequency have settled.
const WARM_UP_EVENTS: u64 = 20_000;
const MEASURED_EVENTS: u64 = 200_000;
const MEASURED_TIME_LIMIT: Duration = Duration::from_secs(3);
const SCALE_FLATNESS_GOAL: f64 = 0.20;

const TIMERS: u64 = 1_000_000;
const TIMER_SPREAD_MICROS: u64 = 100_000;
/// A prime: `i * STRIDE % TIMER_SPREAD_MICROS` visits every microsecond of
/// the spread in a scrambled order, so the heap sees deadlines out of order,
/// as it would with real timeouts, yet every run schedules the same ones.
const TIMER_STRIDE: u64 = 7_919;

/// Any run that is still going after this long is broken: stop it and say so.
const SAFETY_LIMIT: Duration = Duration::from_secs(30);

/// Descriptors open besides the idle sockets: stdio, the poller, the
/// reactor's waker, the ping-pong pair, and whatever cargo passed down.
const SPARE_DESCRIPTORS: usize = 64;

fn main() -> ExitCode {
    mini_twisted::log::init();
    match run_benchmark() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("reactor benchmark: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the three measurements and prints the report. Returns whether every
/// run could be verified.
fn run_benchmark() -> BenchResult<bool> {
    println!("Reactor benchmark (Part 4)");
    println!("==========================");
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("machine: {cpus} CPUs; this benchmark uses one thread");
    let clock = CpuClock::find();
    println!("CPU time: {}", clock.source);
    let most = most_idle_sockets()?;
    println!();

    let idle = measure_idle(most, &clock)?;
    println!();

    let sizes: Vec<usize> = SCALE_SIZES.iter().map(|&n| n.min(most)).collect();
    let scale = measure_scale(&sizes)?;
    println!();

    let timers = measure_timers(&clock)?;
    println!();

    let verified = idle.verified && scale.verified && timers.verified;
    if !verified {
        eprintln!("reactor benchmark: some runs could not be verified; see above");
    }
    let mut result = vec![
        format!("fd_limit={}", limit_text(open_files_limit())),
        format!("clk_tck={}", clock.ticks_per_second),
        format!("idle_sockets={most}"),
        format!("idle_timers={IDLE_TIMERS}"),
        format!("idle_cpu_s={:.2}", idle.cpu_seconds),
        format!("idle_wait_cpu_s={:.2}", idle.wait_seconds),
        format!("idle_shutdown_cpu_s={:.2}", idle.shutdown_seconds),
        format!("idle_wall_s={:.3}", idle.wall.as_secs_f64()),
        format!("idle_sleeps={}", idle.sleeps),
        "scale_layout=pairs_both_ends".to_string(),
    ];
    for (size, nanos) in &scale.medians {
        result.push(format!("scale_ns_n{size}={nanos:.0}"));
    }
    result.extend([
        format!("scale_ratio={:.3}", scale.ratio),
        format!("timers={TIMERS}"),
        format!("timers_fired={}", timers.fired),
        format!("timers_schedule_ms={:.1}", millis(timers.schedule)),
        format!("timers_fire_ms={:.1}", millis(timers.fire)),
        format!("timers_ns_per_timer={:.0}", timers.nanos_per_timer),
        format!("timers_shutdown_ms={:.1}", millis(timers.shutdown)),
        format!("verified={verified}"),
    ]);
    println!("RESULT {}", result.join(" "));
    Ok(verified)
}

// ---------------------------------------------------------------------------
// 1. Idle.
// ---------------------------------------------------------------------------

struct IdleResult {
    /// CPU seconds across `run()`, from ticks: the figure the goal is about.
    cpu_seconds: f64,
    wait_seconds: f64,
    shutdown_seconds: f64,
    wall: Duration,
    sleeps: u64,
    verified: bool,
}

fn measure_idle(sockets: usize, clock: &CpuClock) -> BenchResult<IdleResult> {
    println!(
        "1. Idle: {} quiet sockets ({} Unix socket pairs, both ends registered)",
        grouped(sockets),
        grouped(sockets / 2),
    );
    println!(
        "   and {} timers an hour away; the reactor stops itself after {} s.",
        grouped(IDLE_TIMERS),
        IDLE_RUN.as_secs()
    );
    let reactor = Reactor::new()?;
    let woken = Rc::new(Cell::new(0));
    // Held until after the measurement: closing 10,000 sockets is the
    // benchmark's business, not the reactor's.
    let idle = register_idle_sockets(&reactor, sockets, &woken)?;
    for _ in 0..IDLE_TIMERS {
        reactor.call_later(Duration::from_secs(3600), |_| {});
    }

    // Samples taken inside the loop split the run into the wait itself and
    // the shutdown, where `run` disconnects every registered socket.
    let waiting_from = Rc::new(RefCell::new(None));
    let waiting_to = Rc::new(RefCell::new(None));
    let from = Rc::clone(&waiting_from);
    reactor.call_when_running(move |_| *from.borrow_mut() = Some(CpuSample::now()));
    let to = Rc::clone(&waiting_to);
    reactor.call_later(IDLE_RUN, move |reactor| {
        reactor.stop();
        *to.borrow_mut() = Some(CpuSample::now());
    });

    let before = CpuSample::now()?;
    let started = Instant::now();
    reactor.run()?;
    let wall = started.elapsed();
    let after = CpuSample::now()?;
    drop(idle);

    let (Some(waiting_from), Some(waiting_to)) = (waiting_from.take(), waiting_to.take()) else {
        return Err("the idle run ended without its samples".into());
    };
    let (waiting_from, waiting_to) = (waiting_from?, waiting_to?);

    let whole = after.since(&before);
    let waiting = waiting_to.since(&waiting_from);
    let shutdown = after.since(&waiting_to);
    let verdict = |spent: &CpuSpent| {
        if clock.seconds(spent.ticks) <= IDLE_CPU_GOAL_SECONDS {
            "met"
        } else {
            "NOT met"
        }
    };
    println!(
        "   wall time across run()        {:>9.3} s",
        wall.as_secs_f64()
    );
    println!(
        "   CPU time across run()         {:>9.2} s   ({} ticks{})   goal 0.00–{:.2} s: {}",
        clock.seconds(whole.ticks),
        whole.ticks,
        clock.precise(&whole),
        IDLE_CPU_GOAL_SECONDS,
        verdict(&whole)
    );
    println!(
        "     of which the {} s wait        {:>9.2} s   ({} ticks{})   goal 0.00–{:.2} s: {}",
        IDLE_RUN.as_secs(),
        clock.seconds(waiting.ticks),
        waiting.ticks,
        clock.precise(&waiting),
        IDLE_CPU_GOAL_SECONDS,
        verdict(&waiting)
    );
    println!(
        "     of which the shutdown       {:>9.2} s   ({} ticks{})   disconnecting {} sockets",
        clock.seconds(shutdown.ticks),
        shutdown.ticks,
        clock.precise(&shutdown),
        grouped(sockets)
    );
    println!(
        "   times the loop went to sleep  {:>9}     (voluntary context switches during the wait)",
        waiting.sleeps
    );
    println!(
        "   idle sockets reported ready   {:>9}     (none was ever sent a byte)",
        woken.get()
    );
    Ok(IdleResult {
        cpu_seconds: clock.seconds(whole.ticks),
        wait_seconds: clock.seconds(waiting.ticks),
        shutdown_seconds: clock.seconds(shutdown.ticks),
        wall,
        sleeps: waiting.sleeps,
        verified: woken.get() == 0,
    })
}

/// A registered socket that is never sent anything.
struct IdleSocket {
    socket: UnixStream,
    /// How many idle sockets the reactor called anyway: it should be none.
    woken: Rc<Cell<u64>>,
}

impl FileDescriptor for IdleSocket {
    fn fileno(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    fn connection_lost(&self, _reactor: &Reactor, _reason: Disconnect) {}

    fn log_prefix(&self) -> String {
        "idle".to_string()
    }
}

impl ReadDescriptor for IdleSocket {
    fn do_read(&self, _reactor: &Reactor) -> Option<Disconnect> {
        self.woken.set(self.woken.get() + 1);
        drain(&self.socket).err()
    }
}

/// Registers `count` idle sockets: `count / 2` pairs with both ends
/// registered. Both ends rather than one end of `count` pairs, because that
/// needs half the descriptors: 10,000 sockets fit under a limit of 20,000
/// open files, 10,000 pairs would not. The sockets close when the caller
/// drops what this returns.
fn register_idle_sockets(
    reactor: &Reactor,
    count: usize,
    woken: &Rc<Cell<u64>>,
) -> io::Result<Vec<Rc<IdleSocket>>> {
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count / 2 {
        let (a, b) = UnixStream::pair()?;
        for socket in [a, b] {
            socket.set_nonblocking(true)?;
            let idle = Rc::new(IdleSocket {
                socket,
                woken: Rc::clone(woken),
            });
            reactor.add_reader(idle.clone())?;
            sockets.push(idle);
        }
    }
    Ok(sockets)
}

// ---------------------------------------------------------------------------
// 2. Scale.
// ---------------------------------------------------------------------------

struct ScaleResult {
    /// The median nanoseconds per event, for each number of idle sockets.
    medians: Vec<(usize, f64)>,
    /// The median at the largest size over the median at the smallest.
    ratio: f64,
    verified: bool,
}

fn measure_scale(sizes: &[usize]) -> BenchResult<ScaleResult> {
    println!("2. Scale: one Unix socket pair plays ping-pong with one byte beside N idle");
    println!("   sockets (N/2 pairs, both ends registered). Each arrival sends the byte");
    println!(
        "   back: {} events of warm-up, then {} events or {} s, whichever comes first;",
        grouped(WARM_UP_EVENTS as usize),
        grouped(MEASURED_EVENTS as usize),
        MEASURED_TIME_LIMIT.as_secs()
    );
    println!(
        "   a fresh reactor each game, {SCALE_REPEATS} rounds through all N, the median reported."
    );
    println!();
    println!(
        "   {:>8}   {:>12}   {:>26}   {:>13}",
        "N idle", "ns per event", "runs (ns per event)", "fewest events"
    );
    // Each round plays every size in turn, so that a slow moment on a busy
    // machine spreads over all the sizes instead of landing on one of them.
    let mut games: Vec<Vec<Game>> = sizes.iter().map(|_| Vec::new()).collect();
    for _ in 0..SCALE_REPEATS {
        for (runs, &size) in games.iter_mut().zip(sizes) {
            runs.push(play_ping_pong(size)?);
        }
    }
    let mut medians = Vec::new();
    let mut verified = true;
    for (runs, &size) in games.iter().zip(sizes) {
        verified &= runs.iter().all(|run| run.verified);
        let mut nanos: Vec<f64> = runs.iter().map(|run| run.nanos_per_event).collect();
        nanos.sort_by(f64::total_cmp);
        let median = nanos[nanos.len() / 2];
        let each: Vec<String> = runs
            .iter()
            .map(|run| format!("{:.0}", run.nanos_per_event))
            .collect();
        let fewest = runs.iter().map(|run| run.events).min().unwrap_or(0);
        println!(
            "   {:>8}   {:>12.0}   {:>26}   {:>13}",
            grouped(size),
            median,
            each.join(" "),
            grouped(fewest as usize)
        );
        medians.push((size, median));
    }
    let ratio = match (medians.first(), medians.last()) {
        (Some((_, smallest)), Some((_, largest))) => largest / smallest,
        _ => f64::NAN,
    };
    let (smallest, largest) = (sizes[0], sizes[sizes.len() - 1]);
    let met = (ratio - 1.0).abs() <= SCALE_FLATNESS_GOAL;
    println!();
    println!(
        "   N = {} over N = {}: {:.3}   goal within {:.0}% of 1: {}",
        grouped(largest),
        grouped(smallest),
        ratio,
        SCALE_FLATNESS_GOAL * 100.0,
        if met { "met" } else { "NOT met" }
    );
    Ok(ScaleResult {
        medians,
        ratio,
        verified,
    })
}

/// The state of one ping-pong game, shared by both players.
struct Rally {
    events: Cell<u64>,
    clock_started: Cell<Option<(Instant, u64)>>,
    clock_stopped: Cell<Option<(Instant, u64)>>,
}

impl Rally {
    /// Stops the clock (once) and the reactor.
    fn finish(&self, reactor: &Reactor) {
        if self.clock_stopped.get().is_none() {
            self.clock_stopped
                .set(Some((Instant::now(), self.events.get())));
        }
        reactor.stop();
    }
}

/// One end of the ping-pong pair: every byte that arrives is sent back.
struct Player {
    socket: UnixStream,
    rally: Rc<Rally>,
}

impl FileDescriptor for Player {
    fn fileno(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    fn connection_lost(&self, _reactor: &Reactor, _reason: Disconnect) {}

    fn log_prefix(&self) -> String {
        "ping-pong".to_string()
    }
}

impl ReadDescriptor for Player {
    fn do_read(&self, reactor: &Reactor) -> Option<Disconnect> {
        if let Err(reason) = drain(&self.socket) {
            return Some(reason);
        }
        let rally = &self.rally;
        let events = rally.events.get() + 1;
        rally.events.set(events);
        if events == WARM_UP_EVENTS {
            rally.clock_started.set(Some((Instant::now(), events)));
            let rally = Rc::clone(rally);
            reactor.call_later(MEASURED_TIME_LIMIT, move |reactor| rally.finish(reactor));
        }
        if events == WARM_UP_EVENTS + MEASURED_EVENTS {
            rally.finish(reactor);
            return None;
        }
        match (&self.socket).write(b"x") {
            Ok(1) => None,
            Ok(_) => Some(Disconnect::Lost(io::Error::other("the byte was not sent"))),
            Err(error) => Some(Disconnect::Lost(error)),
        }
    }
}

struct Game {
    nanos_per_event: f64,
    /// Events measured, warm-up excluded.
    events: u64,
    /// Whether no idle socket was called during the game.
    verified: bool,
}

fn play_ping_pong(idle: usize) -> BenchResult<Game> {
    let reactor = Reactor::new()?;
    let woken = Rc::new(Cell::new(0));
    let _idle = register_idle_sockets(&reactor, idle, &woken)?;

    let rally = Rc::new(Rally {
        events: Cell::new(0),
        clock_started: Cell::new(None),
        clock_stopped: Cell::new(None),
    });
    let player = |socket: UnixStream| -> io::Result<Rc<Player>> {
        socket.set_nonblocking(true)?;
        Ok(Rc::new(Player {
            socket,
            rally: Rc::clone(&rally),
        }))
    };
    let (a, b) = UnixStream::pair()?;
    let (ping, pong) = (player(a)?, player(b)?);
    reactor.add_reader(ping.clone())?;
    reactor.add_reader(pong)?;
    // The first byte; from here on the players keep it moving. Sent after
    // registering, so that its arrival is an edge the reactor sees.
    (&ping.socket).write_all(b"x")?;
    let safety = Rc::clone(&rally);
    reactor.call_later(SAFETY_LIMIT, move |reactor| safety.finish(reactor));
    reactor.run()?;

    let (Some((started, first)), Some((stopped, last))) =
        (rally.clock_started.get(), rally.clock_stopped.get())
    else {
        return Err(format!(
            "the ping-pong beside {idle} idle sockets stopped after {} events, \
             before its warm-up was over",
            rally.events.get()
        )
        .into());
    };
    let events = last - first;
    if events == 0 {
        return Err(format!("the ping-pong beside {idle} idle sockets measured no events").into());
    }
    let nanos_per_event = stopped.duration_since(started).as_nanos() as f64 / events as f64;
    let stray = woken.get();
    if stray > 0 {
        eprintln!("   {stray} idle sockets were reported ready beside the ping-pong");
    }
    Ok(Game {
        nanos_per_event,
        events,
        verified: stray == 0,
    })
}

// ---------------------------------------------------------------------------
// 3. Timers.
// ---------------------------------------------------------------------------

struct TimerResult {
    fired: u64,
    schedule: Duration,
    fire: Duration,
    nanos_per_timer: f64,
    /// From the last timer firing to `run` returning.
    shutdown: Duration,
    verified: bool,
}

/// What the million timers share: how many have fired, and when the last did.
struct Tally {
    fired: Cell<u64>,
    last: Cell<Option<Instant>>,
}

fn measure_timers(clock: &CpuClock) -> BenchResult<TimerResult> {
    println!(
        "3. Timers: {} timers, delays spread over 0–{} ms, each counting itself;",
        grouped(TIMERS as usize),
        TIMER_SPREAD_MICROS / 1000
    );
    println!("   the one that brings the count to the total stops the reactor.");
    let reactor = Reactor::new()?;
    let tally = Rc::new(Tally {
        fired: Cell::new(0),
        last: Cell::new(None),
    });
    reactor.call_later(SAFETY_LIMIT, |reactor| reactor.stop());

    let before = CpuSample::now()?;
    let started = Instant::now();
    for i in 0..TIMERS {
        let delay = Duration::from_micros(i * TIMER_STRIDE % TIMER_SPREAD_MICROS);
        let tally = Rc::clone(&tally);
        reactor.call_later(delay, move |reactor| {
            let fired = tally.fired.get() + 1;
            tally.fired.set(fired);
            if fired == TIMERS {
                tally.last.set(Some(Instant::now()));
                reactor.stop();
            }
        });
    }
    let scheduled = Instant::now();
    reactor.run()?;
    let returned = Instant::now();
    let after = CpuSample::now()?;

    let fired = tally.fired.get();
    let Some(last) = tally.last.get() else {
        println!(
            "   only {} of {} timers fired within {} s",
            grouped(fired as usize),
            grouped(TIMERS as usize),
            SAFETY_LIMIT.as_secs()
        );
        return Ok(TimerResult {
            fired,
            schedule: scheduled - started,
            fire: SAFETY_LIMIT,
            nanos_per_timer: f64::NAN,
            shutdown: Duration::ZERO,
            verified: false,
        });
    };
    let schedule = scheduled - started;
    let fire = last - scheduled;
    let total = last - started;
    let nanos_per_timer = total.as_nanos() as f64 / TIMERS as f64;
    let cpu = after.since(&before);
    println!(
        "   scheduling                    {:>9.1} ms",
        millis(schedule)
    );
    println!(
        "   from then until all fired     {:>9.1} ms   (the last deadline is {} ms after its scheduling)",
        millis(fire),
        TIMER_SPREAD_MICROS / 1000
    );
    println!("   total                         {:>9.1} ms", millis(total));
    // Every deadline is at most the spread after `scheduled`: whatever the
    // firing took beyond that, the timers ran behind their deadlines.
    let behind = fire.saturating_sub(Duration::from_micros(TIMER_SPREAD_MICROS));
    if !behind.is_zero() {
        println!(
            "   the last timers ran late by   {:>9.1} ms   or more: the work, not the clock, set the pace",
            millis(behind)
        );
    }
    println!("   per timer                     {nanos_per_timer:>9.0} ns   (total over the count)");
    // Not part of the figures above, and not always free: when `run` ends it
    // drops the timer heap, empty now but still a million entries wide.
    // Depending on where glibc put that block, freeing it may first merge
    // the two million small blocks the fired timers left behind
    // (`malloc_consolidate` in a profile), which has been seen to take half
    // a second.
    println!(
        "   last timer to run() returning {:>9.1} ms   (the reactor shutting down)",
        millis(returned - last)
    );
    println!(
        "   CPU, scheduling to return     {:>9.2} s    ({} ticks{}) in {:.1} ms of wall time",
        clock.seconds(cpu.ticks),
        cpu.ticks,
        clock.precise(&cpu),
        millis(returned - started)
    );
    println!(
        "   timers fired                  {:>9}     {}",
        grouped(fired as usize),
        if fired == TIMERS {
            "all of them"
        } else {
            "NOT all of them"
        }
    );
    Ok(TimerResult {
        fired,
        schedule,
        fire,
        nanos_per_timer,
        shutdown: returned - last,
        verified: fired == TIMERS,
    })
}

// ---------------------------------------------------------------------------
// Sockets.
// ---------------------------------------------------------------------------

/// Reads until the socket would block: the reactor waits edge-triggered, so
/// it will not report again data that is already waiting.
fn drain(mut socket: &UnixStream) -> Result<(), Disconnect> {
    let mut buffer = [0; 64];
    loop {
        match socket.read(&mut buffer) {
            Ok(0) => return Err(Disconnect::Done),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(Disconnect::Lost(error)),
        }
    }
}

// ---------------------------------------------------------------------------
// What the kernel tells us about this process.
// ---------------------------------------------------------------------------

/// The soft limit on open files, from `/proc/self/limits`: `None` when
/// unlimited, an error when the file cannot be read or understood.
fn open_files_limit() -> io::Result<Option<usize>> {
    let limits = fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .ok_or_else(|| io::Error::other("no \"Max open files\" line"))?;
    // The columns are the soft limit, the hard limit, and the unit.
    match line.split_whitespace().next() {
        Some("unlimited") => Ok(None),
        Some(soft) => soft.parse().map(Some).map_err(io::Error::other),
        None => Err(io::Error::other("an empty \"Max open files\" line")),
    }
}

fn limit_text(limit: io::Result<Option<usize>>) -> String {
    match limit {
        Ok(Some(limit)) => limit.to_string(),
        Ok(None) => "unlimited".to_string(),
        Err(_) => "unknown".to_string(),
    }
}

/// How many idle sockets the largest runs may open: the planned number, or
/// fewer, with a message, when the open-file limit does not allow it.
fn most_idle_sockets() -> BenchResult<usize> {
    let needed = MOST_IDLE_SOCKETS + SPARE_DESCRIPTORS;
    let limit = match open_files_limit() {
        Ok(Some(limit)) => limit,
        Ok(None) => {
            println!("open files: no limit");
            return Ok(MOST_IDLE_SOCKETS);
        }
        Err(error) => {
            println!("open files: cannot read the limit ({error}); trying the full sizes");
            return Ok(MOST_IDLE_SOCKETS);
        }
    };
    if limit >= needed {
        println!(
            "open files: soft limit {limit}, enough for {} idle sockets and {SPARE_DESCRIPTORS} more",
            grouped(MOST_IDLE_SOCKETS)
        );
        return Ok(MOST_IDLE_SOCKETS);
    }
    // Whole pairs only: both ends of each pair are registered.
    let most = limit.saturating_sub(SPARE_DESCRIPTORS) / 2 * 2;
    if most < SCALE_SIZES[0] {
        return Err(format!(
            "the open-file limit is {limit}: too low even for {} idle sockets; raise it with `ulimit -n {needed}`",
            SCALE_SIZES[0]
        )
        .into());
    }
    println!(
        "open files: soft limit {limit} is below the {needed} needed for {} idle sockets;",
        grouped(MOST_IDLE_SOCKETS)
    );
    println!(
        "            the largest runs use {} instead (`ulimit -n {needed}` restores the full size)",
        grouped(most)
    );
    Ok(most)
}

/// How this process's CPU time is counted, and how to turn ticks into seconds.
struct CpuClock {
    ticks_per_second: u64,
    /// Where `ticks_per_second` came from, for the report.
    source: String,
}

impl CpuClock {
    fn find() -> CpuClock {
        let asked = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse::<u64>().ok())
            .filter(|&ticks| ticks > 0);
        let precision = if read_schedstat().is_some() {
            ", and nanoseconds from /proc/self/schedstat"
        } else {
            ""
        };
        match asked {
            Some(ticks) => CpuClock {
                ticks_per_second: ticks,
                source: format!(
                    "utime + stime from /proc/self/stat, {ticks} ticks a second (getconf CLK_TCK){precision}"
                ),
            },
            None => CpuClock {
                ticks_per_second: 100,
                source: format!(
                    "utime + stime from /proc/self/stat, assuming 100 ticks a second (getconf failed){precision}"
                ),
            },
        }
    }

    fn seconds(&self, ticks: u64) -> f64 {
        ticks as f64 / self.ticks_per_second as f64
    }

    /// The nanosecond reading of `spent`, when the kernel offers one: a
    /// tick is 10 ms, too coarse to tell 0.1 ms from 9 ms.
    fn precise(&self, spent: &CpuSpent) -> String {
        match spent.nanos {
            Some(nanos) => format!("; {:.3} ms", nanos as f64 / 1e6),
            _ => String::new(),
        }
    }
}

/// This process's CPU time and sleeps at one moment.
struct CpuSample {
    ticks: u64,
    nanos: Option<u64>,
    sleeps: u64,
}

/// The difference between two [`CpuSample`]s.
struct CpuSpent {
    ticks: u64,
    nanos: Option<u64>,
    sleeps: u64,
}

impl CpuSample {
    fn now() -> io::Result<CpuSample> {
        let stat = fs::read_to_string("/proc/self/stat")?;
        // Field 2, the program's name in parentheses, may hold spaces: count
        // the fields from the last `)`, after which field 3 comes.
        let (_, rest) = stat
            .rsplit_once(')')
            .ok_or_else(|| io::Error::other("/proc/self/stat has no name field"))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |number: usize| -> io::Result<u64> {
            fields
                .get(number - 3)
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| io::Error::other(format!("/proc/self/stat has no field {number}")))
        };
        let ticks = field(14)? + field(15)?; // utime + stime

        // Every time the loop blocks in the kernel, the process gives up the
        // CPU of its own accord: counting those counts the loop's sleeps.
        let status = fs::read_to_string("/proc/self/status")?;
        let sleeps = status
            .lines()
            .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|count| count.trim().parse().ok())
            .ok_or_else(|| io::Error::other("/proc/self/status has no voluntary_ctxt_switches"))?;

        Ok(CpuSample {
            ticks,
            nanos: read_schedstat(),
            sleeps,
        })
    }

    fn since(&self, earlier: &CpuSample) -> CpuSpent {
        CpuSpent {
            ticks: self.ticks.saturating_sub(earlier.ticks),
            nanos: self
                .nanos
                .zip(earlier.nanos)
                .map(|(now, then)| now.saturating_sub(then)),
            sleeps: self.sleeps.saturating_sub(earlier.sleeps),
        }
    }
}

/// The CPU time of this thread in nanoseconds (the first field of
/// `/proc/self/schedstat`), on kernels that keep it. The benchmark runs on
/// one thread, so that is the process's time too.
fn read_schedstat() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

// ---------------------------------------------------------------------------
// Formatting.
// ---------------------------------------------------------------------------

/// `10000` as `10,000`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
