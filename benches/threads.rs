//! Part 20's benchmark: what a thread costs, the unit of the Erlang client
//! in Rust (`get-poetry-actors`), where Erlang would spawn a process.
//!
//! Three runs, on std alone:
//!
//! 1. **Spawn and join.** 10,000 threads, one after the other, each
//!    spawned and joined at once: the time a worker costs before it does
//!    anything.
//! 2. **Parked.** 10,000 threads alive at once, each blocked on a channel
//!    as a worker blocked on its socket is. What the process's memory grew
//!    by, per thread, read from `/proc/self/status`: resident memory
//!    (`VmRSS`, pages really used) and address space (`VmSize`, reserved
//!    for the stacks, mostly never touched). Beside it the kernel's own
//!    per-thread stack, from `KernelStack` in `/proc/meminfo`: memory of
//!    the whole machine, which other programs may move a little, so take
//!    it as an estimate.
//! 3. **Ping-pong.** Two threads pass a number back and forth over two
//!    `mpsc` channels, 100,000 times: a message that wakes a blocked
//!    thread, and the switch to it, per hop.
//!
//! Each timed run is repeated three times and the fastest is kept.
//! Erlang is not run here; chapter 20 sets these figures beside what the
//! Erlang documentation gives for a process.
//!
//! ```text
//! cargo bench --bench threads
//! ```
//!
//! It prints a report, then one last line starting `RESULT ` with
//! `key=value` pairs for scripts to compare runs.

use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const THREADS: usize = 10_000;
const HOPS: usize = 100_000;
const ROUNDS: usize = 3;

/// A field of a `/proc` file in kB (`VmRSS:   1234 kB`).
fn proc_kb(file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// The fastest of [`ROUNDS`] runs of `run`.
fn fastest(run: impl Fn() -> std::io::Result<Duration>) -> std::io::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        best = best.min(run()?);
    }
    Ok(best)
}

fn spawn_and_join() -> std::io::Result<Duration> {
    let start = Instant::now();
    for _ in 0..THREADS {
        thread::Builder::new()
            .spawn(|| ())?
            .join()
            .map_err(|_| std::io::Error::other("a thread panicked"))?;
    }
    Ok(start.elapsed() / THREADS as u32)
}

/// Memory per parked thread, in kB: (resident, address space, kernel stack).
fn parked() -> std::io::Result<(f64, f64, f64)> {
    let rss = || proc_kb("/proc/self/status", "VmRSS:").unwrap_or(0);
    let size = || proc_kb("/proc/self/status", "VmSize:").unwrap_or(0);
    let kernel = || proc_kb("/proc/meminfo", "KernelStack:").unwrap_or(0);
    let before = (rss(), size(), kernel());

    let (ready, all_ready) = mpsc::channel();
    let mut releases = Vec::with_capacity(THREADS);
    let mut threads = Vec::with_capacity(THREADS);
    for _ in 0..THREADS {
        let (release, wait) = mpsc::channel::<()>();
        let ready = ready.clone();
        threads.push(thread::Builder::new().spawn(move || {
            let _ = ready.send(());
            // Blocked here, as a worker in its read.
            let _ = wait.recv();
        })?);
        releases.push(release);
    }
    for _ in 0..THREADS {
        all_ready
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| std::io::Error::other("a thread never started"))?;
    }
    let during = (rss(), size(), kernel());

    drop(releases);
    for thread in threads {
        let _ = thread.join();
    }
    let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / THREADS as f64;
    Ok((
        per(before.0, during.0),
        per(before.1, during.1),
        per(before.2, during.2),
    ))
}

fn ping_pong() -> std::io::Result<Duration> {
    let (to_other, from_main) = mpsc::channel::<usize>();
    let (to_main, from_other) = mpsc::channel::<usize>();
    let other = thread::Builder::new().spawn(move || {
        for n in from_main {
            if to_main.send(n + 1).is_err() {
                break;
            }
        }
    })?;
    let start = Instant::now();
    let mut n = 0;
    for _ in 0..HOPS / 2 {
        to_other.send(n).map_err(std::io::Error::other)?;
        n = from_other.recv().map_err(std::io::Error::other)?;
    }
    let elapsed = start.elapsed();
    drop(to_other);
    let _ = other.join();
    if n != HOPS / 2 {
        return Err(std::io::Error::other("a number was lost on the way"));
    }
    Ok(elapsed / HOPS as u32)
}

fn run() -> std::io::Result<()> {
    println!("What a thread costs ({THREADS} threads; fastest of {ROUNDS} timed runs)");
    let spawn = fastest(spawn_and_join)?;
    println!("  spawn and join one thread:   {:>8.1} µs", micros(spawn));
    let (rss, size, kernel) = parked()?;
    println!("  per parked thread, resident: {rss:>8.1} kB");
    println!("  per parked thread, reserved: {size:>8.1} kB of address space");
    println!("  per parked thread, kernel:   {kernel:>8.1} kB (its kernel stack, estimated)");
    let hop = fastest(ping_pong)?;
    println!(
        "  one message to a blocked thread, and the switch: {:.1} µs",
        micros(hop)
    );
    println!(
        "RESULT spawn_join_us={:.2} parked_rss_kb={rss:.1} parked_vm_kb={size:.1} \
         parked_kernel_kb={kernel:.1} hop_us={:.2}",
        micros(spawn),
        micros(hop)
    );
    Ok(())
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn main() -> ExitCode {
    // cargo passes `--bench`; there is nothing to choose.
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("threads: {error}");
            ExitCode::FAILURE
        }
    }
}
