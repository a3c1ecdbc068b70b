//! Diagnostics: how the framework tells you what it caught (Part 3).
//!
//! Twisted logs an exception raised inside a callback and carries on. The
//! reactor does the same with a panic: [`catch_panic`] runs a callback and
//! turns a panic into a [`PanicReport`] (its message, where it happened,
//! and a backtrace when `RUST_BACKTRACE` asks for one), and the reactor
//! reports it through `tracing`.
//!
//! Every program calls [`init`] first thing. It prints those reports on
//! stderr (at the `warn` level unless `RUST_LOG` says otherwise, so the
//! programs' own output stays clean; `RUST_LOG=mini_twisted=debug` shows
//! more), and it makes a closed stdout end the program quietly: see
//! [`BROKEN_PIPE_EXIT`].

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::io::{IsTerminal, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, PoisonError};

use tracing_subscriber::EnvFilter;

/// Sends `tracing` output to stderr, filtered by `RUST_LOG` (default
/// `warn`), and installs the panic hook that ends the program quietly when
/// its output has nowhere to go. Calling it twice is harmless.
pub fn init() {
    install_panic_hook();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .try_init();
}

/// A panic caught inside a callback.
#[derive(Debug, Clone)]
pub struct PanicReport {
    /// What the panic said.
    pub message: String,
    /// `file:line:column` of the panic, when the panic hook saw it.
    pub location: Option<String>,
    /// The backtrace, when `RUST_BACKTRACE` asked for one.
    pub backtrace: Option<String>,
}

thread_local! {
    /// How many `catch_panic` calls are active on this thread.
    static CATCHING: Cell<usize> = const { Cell::new(0) };
    /// What the panic hook saw of the last panic we are catching.
    static SEEN: RefCell<Option<PanicReport>> = const { RefCell::new(None) };
}

/// The exit status of a program whose stdout (or stderr) was closed under
/// it: 128 + 13, what a shell reports for a command-line tool that
/// `SIGPIPE` stopped, which is what `cmd | head -1` does to `cat` or `grep`.
///
/// Rust ignores `SIGPIPE`, so that a write to a closed socket is an error
/// to handle rather than the death of a server. The price is that
/// `println!` to a closed pipe panics ("failed printing to stdout"), and a
/// panic inside a reactor callback is caught and the loop goes on, for
/// ever, with nobody to print to. The panic hook that [`init`] installs
/// sees that panic first, before anyone can catch it, and exits at once
/// with this status and no message: the reader has gone, so there is
/// nobody to tell.
pub const BROKEN_PIPE_EXIT: i32 = 141;

/// What must happen even when a closed stdout ends the program at once.
type Cleanup = Box<dyn Fn() + Send + Sync>;

static CLEANUPS: Mutex<Vec<Cleanup>> = Mutex::new(Vec::new());

/// Runs `cleanup` before a closed stdout ends the program (see
/// [`BROKEN_PIPE_EXIT`]): that exit skips every destructor, so a program
/// that started child processes registers here what stops them. It runs
/// inside the panic hook, so it must not print, and it must not wait for a
/// lock that the panicking code may hold (use `try_lock`).
pub fn on_quiet_exit(cleanup: impl Fn() + Send + Sync + 'static) {
    let mut cleanups = CLEANUPS.lock().unwrap_or_else(PoisonError::into_inner);
    cleanups.push(Box::new(cleanup));
}

/// The quiet exit itself: the cleanups that can run, then the exit.
fn exit_quietly() -> ! {
    if let Ok(cleanups) = CLEANUPS.try_lock() {
        for cleanup in cleanups.iter() {
            // A cleanup that panics must not stop the exit, or the others.
            let _ = panic::catch_unwind(AssertUnwindSafe(cleanup));
        }
    }
    std::process::exit(BROKEN_PIPE_EXIT);
}

/// Is this the panic of `print!`/`eprint!` on a closed pipe? The standard
/// library formats it as `failed printing to stdout: Broken pipe (os error
/// 32)`; the error code is the part that does not depend on wording.
fn is_broken_pipe(payload: &(dyn Any + Send)) -> bool {
    let message = message_of(payload);
    message.starts_with("failed printing to std") && message.contains("(os error 32)")
}

/// Installs, once per process, the panic hook every program shares:
///
/// - a panic of `println!` on a closed stdout (or stderr) ends the program
///   at once with [`BROKEN_PIPE_EXIT`];
/// - while [`catch_panic`] is running, it records where a panic happened
///   instead of printing it (the location is only known to the panic
///   hook, not to the code that catches the panic: that is why we need a
///   hook at all);
/// - anywhere else, panics are printed by the hook that was there before.
pub fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if is_broken_pipe(info.payload()) {
                exit_quietly();
            }
            let catching = CATCHING.try_with(Cell::get).unwrap_or(0) > 0;
            if !catching {
                previous(info);
                return;
            }
            let backtrace = Backtrace::capture();
            let report = PanicReport {
                message: message_of(info.payload()),
                location: info.location().map(ToString::to_string),
                backtrace: (backtrace.status() == BacktraceStatus::Captured)
                    .then(|| backtrace.to_string()),
            };
            let _ = SEEN.try_with(|seen| *seen.borrow_mut() = Some(report));
        }));
    });
}

/// Runs `f`; if it panics, returns what the panic said and where.
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, PanicReport> {
    install_panic_hook();
    CATCHING.with(|depth| depth.set(depth.get() + 1));
    // Unwind safety: after a panic the callback's own state may be half
    // changed, as it would be after an exception in Python; the reactor's
    // state is not, because no borrow of it is held while user code runs.
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|depth| depth.set(depth.get() - 1));
    result.map_err(|payload| {
        let seen = SEEN.with(|seen| seen.borrow_mut().take());
        seen.unwrap_or_else(|| PanicReport {
            // Another hook replaced ours: the payload still has the message.
            message: message_of(payload.as_ref()),
            location: None,
            backtrace: None,
        })
    })
}

/// Writes `text` to stderr, ignoring failure. The framework reports what
/// it caught with this rather than `eprintln!`, which panics when stderr is
/// closed, and a panic while a panic unwinds (in a `Drop`) aborts.
pub(crate) fn to_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The text of a panic: `panic!` gives a `&str` or a `String`.
fn message_of(payload: &(dyn Any + Send)) -> String {
    match payload.downcast_ref::<&str>() {
        Some(text) => text.to_string(),
        None => payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "(no message)".to_string()),
    }
}

/// Is `place` (`file:line:column`, as a backtrace prints it) a file of this
/// project? The backtrace prints a path under the current directory as
/// `./…` and any other as an absolute path, so both are made absolute and
/// compared with where the project was built; and the file must exist,
/// because a library built elsewhere may name its own `./…` paths.
fn is_ours(place: &str) -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = place.split(':').next().unwrap_or(place);
    let path = match file.strip_prefix("./") {
        Some(relative) => match std::env::current_dir() {
            Ok(here) => here.join(relative),
            Err(_) => return false,
        },
        None => PathBuf::from(file),
    };
    path.starts_with(root) && !path.starts_with(root.join("target")) && path.is_file()
}

/// Rewrites a backtrace as one entry per frame, `function` then `at
/// file:line`, innermost first. Unless `full`, only this project's frames
/// are kept (those whose file is inside the project), and each run of
/// frames left out is counted on a line of its own. Used by the demos that
/// show who called whom (Parts 3, 5 and 8) and by [`Failure::report`].
///
/// [`Failure::report`]: crate::failure::Failure::report
pub fn describe_stack(backtrace: &Backtrace, full: bool) -> String {
    let text = backtrace.to_string();
    let mut out = String::new();
    let mut skipped = 0;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        // A frame is `  3: path::to::function`, maybe followed by `at file:line`.
        let Some((number, name)) = line.trim_start().split_once(": ") else {
            continue;
        };
        if number.parse::<usize>().is_err() {
            continue;
        }
        let place = match lines.peek() {
            Some(next) if next.trim_start().starts_with("at ") => {
                lines.next().map(|at| at.trim_start()[3..].to_string())
            }
            _ => None,
        };
        let ours = place.as_deref().is_some_and(is_ours);
        if !full && !ours {
            skipped += 1;
            continue;
        }
        if skipped > 0 {
            out.push_str(&format!(
                "    ({skipped} frames from outside this project)\n"
            ));
            skipped = 0;
        }
        match place {
            Some(place) => out.push_str(&format!("  {name}\n      at {place}\n")),
            None => out.push_str(&format!("  {name}\n")),
        }
    }
    if skipped > 0 {
        out.push_str(&format!(
            "    ({skipped} frames from outside this project)\n"
        ));
    }
    out
}
