//! Diagnostics: how the framework tells you what it caught (Part 3).
//!
//! Twisted logs an exception raised inside a callback and carries on. The
//! reactor does the same with a panic: [`catch_panic`] runs a callback and
//! turns a panic into a [`PanicReport`] (its message, where it happened,
//! and a backtrace when `RUST_BACKTRACE` asks for one), and the reactor
//! reports it through `tracing`.
//!
//! Programs call [`init`] first thing, to print those reports on stderr.
//! The level is `warn` unless `RUST_LOG` says otherwise, so the programs'
//! own output stays clean; `RUST_LOG=mini_twisted=debug` shows more.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::io::IsTerminal;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use tracing_subscriber::EnvFilter;

/// Sends `tracing` output to stderr, filtered by `RUST_LOG` (default
/// `warn`). Calling it twice is harmless.
pub fn init() {
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

/// Installs, once per process, a panic hook that records where a panic
/// happened while [`catch_panic`] is running, instead of printing it.
/// Anywhere else, panics are printed by the hook that was there before.
///
/// The location is only known to the panic hook, not to the code that
/// catches the panic: that is why we need a hook at all.
pub fn catch_panic_locations() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
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
    catch_panic_locations();
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
