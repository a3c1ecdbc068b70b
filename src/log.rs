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
//!
//! # Logging as a server does (Part 16)
//!
//! A server run by `poetryd` keeps a log instead: [`start_logging`] sends
//! every `tracing` event at the `info` level and above to a writer (a file,
//! stdout) as lines in the form Twisted's log uses,
//!
//! ```text
//! 2026-12-02T16:20:00+0000 [PoetryFactory] sending 3003 bytes of poetry to 127.0.0.1:55048
//! ```
//!
//! the time in UTC, then in brackets the *system*: who was at work when
//! the line was logged. The reactor names the descriptor whose event it is
//! handling (a connection or a listening port names its factory); outside
//! of that the system is `-`. A message of several lines continues on
//! lines that start with a tab, so that every line a reader scans for
//! starts with a time. Nothing is written before `start_logging`: a
//! program that never starts logging stays quiet. [`msg`] and [`err`] are
//! the two calls a program needs; `tracing`'s own macros work as well.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{IsTerminal, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::failure::Failure;

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

// ---------------------------------------------------------------------------
// Logging as a server does (Part 16).
// ---------------------------------------------------------------------------

/// Set once [`start_logging`] has: until then nobody pays for naming the
/// system of each event.
static LOGGING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Who is at work on this thread, innermost last.
    static SYSTEMS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

// ANCHOR: start_logging
/// Starts the log: from now on, every `tracing` event at the `info` level
/// and above (or what `RUST_LOG` asks for) is written to `writer` as a line
/// `TIME [SYSTEM] MESSAGE`, and the first line says `Log opened.`. Fails if
/// this process already has a `tracing` subscriber ([`init`], or an earlier
/// call): there is one log per process.
pub fn start_logging(writer: impl Write + Send + 'static) -> Result<(), LogAlreadyStarted> {
    install_panic_hook();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing::subscriber::set_global_default(logger(writer, filter))
        .map_err(|_| LogAlreadyStarted)?;
    LOGGING.store(true, Ordering::Relaxed);
    msg("Log opened.");
    Ok(())
}
// ANCHOR_END: start_logging

/// The subscriber [`start_logging`] installs: `tracing-subscriber`'s, with
/// our line format. Its own report of a line it could not write is turned
/// off: it prints one per line with `eprintln!`, which panics when stderr
/// fails too (a daemon's stderr is its log). [`Reported`] says it once.
fn logger(writer: impl Write + Send + 'static, filter: EnvFilter) -> impl Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(Reported {
            writer,
            failing: false,
        }))
        .log_internal_errors(false)
        .event_format(TwistedFormat)
        .finish()
}

/// The log's writer: when writing fails (a full disk, a closed stdout),
/// the server goes on serving, and says so on stderr once, not once per
/// line, until the log can be written again.
struct Reported<W> {
    writer: W,
    failing: bool,
}

impl<W: Write> Write for Reported<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.writer.write(bytes);
        match &written {
            Ok(_) => self.failing = false,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                if !self.failing {
                    to_stderr(&format!("the log cannot be written: {error}\n"));
                }
                self.failing = true;
            }
        }
        written
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// [`start_logging`] found the process already logging.
#[derive(Debug)]
pub struct LogAlreadyStarted;

impl fmt::Display for LogAlreadyStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("this process is already logging")
    }
}

impl std::error::Error for LogAlreadyStarted {}

/// Logs a line (Twisted's `log.msg`).
pub fn msg(text: impl fmt::Display) {
    tracing::info!("{text}");
}

/// Logs a failure as an error (Twisted's `log.err`): `Unhandled Error`,
/// then, on continuation lines, the failure's type and message, what
/// caused it, and where it was made when a backtrace was captured.
pub fn err(failure: &Failure) {
    tracing::error!("Unhandled Error\n{}", failure.report().trim_end());
}

/// While a `System` lives, log lines on this thread name `name` as their
/// system. The reactor enters one around each descriptor's event; `name`
/// is only called, and the name only made, when logging has started.
pub struct System(bool);

impl System {
    pub fn enter(name: impl FnOnce() -> String) -> System {
        if !LOGGING.load(Ordering::Relaxed) {
            return System(false);
        }
        let entered = SYSTEMS
            .try_with(|systems| systems.borrow_mut().push(name()))
            .is_ok();
        System(entered)
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if self.0 {
            let _ = SYSTEMS.try_with(|systems| systems.borrow_mut().pop());
        }
    }
}

/// The system of a line logged now: the innermost entered, or `-`.
fn current_system() -> String {
    SYSTEMS
        .try_with(|systems| systems.borrow().last().cloned())
        .ok()
        .flatten()
        .unwrap_or_else(|| "-".to_string())
}

// ANCHOR: format
/// The line format of [`start_logging`].
struct TwistedFormat;

impl<S, N> FormatEvent<S, N> for TwistedFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut message = String::new();
        context.format_fields(Writer::new(&mut message), event)?;
        let mut lines = message.lines();
        write!(
            writer,
            "{} [{}] {}",
            timestamp(SystemTime::now()),
            current_system(),
            lines.next().unwrap_or_default()
        )?;
        for line in lines {
            write!(writer, "\n\t{line}")?;
        }
        writeln!(writer)
    }
}
// ANCHOR_END: format

/// `2026-12-02T16:20:00+0000`: the time in UTC, to the second.
fn timestamp(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+0000",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The Gregorian date `days` after 1970-01-01. The calendar repeats every
/// 400 years (146,097 days); counting from 1 March makes the leap day the
/// last day of a year, so that months have a fixed pattern of lengths.
/// One date is all the framework ever prints, which is not worth a
/// dependency on a date library.
fn civil_date(days: i64) -> (i64, u32, u32) {
    // Days since 0000-03-01, in eras of 400 years.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March: 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 28/29.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_to_the_second() {
        let at = |seconds: u64| timestamp(UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(at(0), "1970-01-01T00:00:00+0000");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00+0000");
        assert_eq!(at(1_709_251_199), "2024-02-29T23:59:59+0000");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00+0000");
        assert_eq!(
            timestamp(UNIX_EPOCH - Duration::from_secs(1)),
            "1969-12-31T23:59:59+0000"
        );
    }

    #[test]
    fn every_day_follows_the_one_before() {
        let mut previous = civil_date(-1);
        for days in 0..800_000 {
            let (year, month, day) = civil_date(days);
            let next_day = (year, month, day) == (previous.0, previous.1, previous.2 + 1);
            let next_month = day == 1 && (year, month) == (previous.0, previous.1 + 1);
            let next_year = (month, day) == (1, 1) && year == previous.0 + 1;
            assert!(
                next_day || next_month || next_year,
                "{previous:?} then {year}-{month}-{day}"
            );
            previous = (year, month, day);
        }
    }

    /// A writer tests can read back.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Outer(Inner);

    #[derive(Debug)]
    struct Inner;

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the poem could not be sent")
        }
    }

    impl fmt::Display for Inner {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the peer went away")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    impl std::error::Error for Inner {}

    #[test]
    fn lines_start_with_the_time_and_the_system_and_continue_with_a_tab() {
        let written = Shared::default();
        let subscriber = logger(written.clone(), EnvFilter::new("info"));
        tracing::subscriber::with_default(subscriber, || {
            msg("This will be logged.");
            tracing::debug!("Below the info level: not logged.");
            err(&Failure::without_backtrace(Outer(Inner)));
        });
        let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        let stamp = |line: &str| {
            let (stamp, rest) = line.split_at(24);
            assert!(stamp.ends_with("+0000"), "{line}");
            assert_eq!(stamp.as_bytes()[10], b'T', "{line}");
            rest.to_string()
        };
        assert_eq!(stamp(lines[0]), " [-] This will be logged.");
        assert_eq!(stamp(lines[1]), " [-] Unhandled Error");
        assert!(lines[2].starts_with("\tFailure: "), "{text}");
        assert!(
            lines[2].ends_with("Outer: the poem could not be sent"),
            "{text}"
        );
        assert_eq!(lines[3], "\t  caused by: the peer went away");
        assert_eq!(lines[4], "\t  (no backtrace was captured)");
    }

    #[test]
    fn a_system_is_named_only_while_logging_and_while_entered() {
        // Logging has not started in this test process, so nothing is
        // named and the name is not even made.
        let _quiet = System::enter(|| unreachable!("not logging"));
        assert_eq!(current_system(), "-");
        LOGGING.store(true, Ordering::Relaxed);
        {
            let _outer = System::enter(|| "PoetryFactory".to_string());
            assert_eq!(current_system(), "PoetryFactory");
            {
                let _inner = System::enter(|| "inner".to_string());
                assert_eq!(current_system(), "inner");
            }
            assert_eq!(current_system(), "PoetryFactory");
        }
        assert_eq!(current_system(), "-");
        LOGGING.store(false, Ordering::Relaxed);
    }
}
