//! Part 6: `Failure`, an error that can travel through callbacks.
//!
//! Asynchronous code cannot report errors by returning them to its caller:
//! by the time a connection is refused, the function that asked for it has
//! long returned. So the error has to be packed up and handed to whoever
//! wants to hear about it (a factory, an errback). `Failure` is that
//! package: any [`std::error::Error`], boxed, with the name of its type and,
//! when one was captured, a backtrace of where it was made.
//!
//! Promises:
//! - Anything that implements `Error` converts into a `Failure`, so `?`
//!   works inside a function that returns `Result<T, Failure>`.
//! - [`Failure::check`] and [`Failure::downcast_ref`] recover the concrete
//!   type, the way Twisted's `failure.check(SomeError)` does.
//! - A backtrace is captured when `RUST_BACKTRACE` asks for one (as for a
//!   panic), or always with [`Failure::with_backtrace`].
//! - Cloning is cheap and gives the same failure, not a copy: the error is
//!   shared, as one Python `Failure` object is shared by every list and
//!   chain that holds it. Part 18's `DeferredList` needs that: it records a
//!   component's failure in its results and also leaves it on the
//!   component's own chain.
//!
//! `Failure` does not implement `Error` itself. If it did, the blanket
//! `From<E: Error>` would include `From<Failure> for Failure`, which the
//! standard library already provides, and the two would collide. (The
//! `anyhow` crate makes the same choice for the same reason.)

use std::any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::error::Error;
use std::fmt;
use std::rc::Rc;

use crate::log;

// ANCHOR: failure
/// An error on its way to whoever handles it, with where it came from.
#[derive(Clone)]
pub struct Failure {
    inner: Rc<Inner>,
}

struct Inner {
    error: Box<dyn Error + 'static>,
    /// The concrete type's name, kept because the box has forgotten it.
    type_name: &'static str,
    backtrace: Option<Backtrace>,
}
// ANCHOR_END: failure

impl Failure {
    /// Wraps `error`, capturing a backtrace if `RUST_BACKTRACE` is set.
    pub fn new<E: Error + 'static>(error: E) -> Failure {
        Failure::build(error, Backtrace::capture())
    }

    /// Wraps `error` and always captures a backtrace of this call's stack.
    pub fn with_backtrace<E: Error + 'static>(error: E) -> Failure {
        Failure::build(error, Backtrace::force_capture())
    }

    /// Wraps `error` without a backtrace, whatever `RUST_BACKTRACE` says.
    /// The framework uses it for the failures it makes on every connection
    /// (a clean close, a refused connect): their backtrace would only show
    /// the reactor's insides, and capturing one costs more than the
    /// connection did.
    pub fn without_backtrace<E: Error + 'static>(error: E) -> Failure {
        Failure::build(error, Backtrace::disabled())
    }

    fn build<E: Error + 'static>(error: E, backtrace: Backtrace) -> Failure {
        let captured = backtrace.status() == BacktraceStatus::Captured;
        Failure {
            inner: Rc::new(Inner {
                error: Box::new(error),
                type_name: any::type_name::<E>(),
                backtrace: captured.then_some(backtrace),
            }),
        }
    }

    // ANCHOR: check
    /// Is the wrapped error an `E`?
    pub fn check<E: Error + 'static>(&self) -> bool {
        self.inner.error.is::<E>()
    }

    /// The wrapped error as an `E`, if that is what it is.
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.inner.error.downcast_ref::<E>()
    }
    // ANCHOR_END: check

    /// The wrapped error, as a trait object.
    pub fn error(&self) -> &(dyn Error + 'static) {
        &*self.inner.error
    }

    /// Whether `self` and `other` are the same failure (clones of one),
    /// not merely alike.
    pub fn same(&self, other: &Failure) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// The name of the wrapped error's type, such as
    /// `mini_twisted::tcp::ConnectError`.
    pub fn type_name(&self) -> &'static str {
        self.inner.type_name
    }

    /// The backtrace captured when the failure was made, if any.
    pub fn backtrace(&self) -> Option<&Backtrace> {
        self.inner.backtrace.as_ref()
    }

    /// A report over several lines: the error's type and message, what
    /// caused it, and the frames of this project's code in the backtrace
    /// (or a note that none was captured). The long form of `Display`.
    pub fn report(&self) -> String {
        let mut out = format!("Failure: {}: {}\n", self.type_name(), self.error());
        let mut cause = self.error().source();
        while let Some(error) = cause {
            out.push_str(&format!("  caused by: {error}\n"));
            cause = error.source();
        }
        match self.backtrace() {
            Some(backtrace) => {
                out.push_str("  where it was made (our frames, innermost first):\n");
                out.push_str(&where_made(backtrace));
            }
            None => out.push_str("  (no backtrace was captured)\n"),
        }
        out
    }
}

/// Our frames of `backtrace`, starting at the code that made the failure
/// rather than inside this module.
fn where_made(backtrace: &Backtrace) -> String {
    let stack = log::describe_stack(backtrace, false);
    // Each entry is a `  name` line, maybe followed by an `at` line.
    let mut entries: Vec<String> = Vec::new();
    for line in stack.lines() {
        match entries.last_mut() {
            Some(entry) if line.trim_start().starts_with("at ") => {
                entry.push('\n');
                entry.push_str(line);
            }
            _ => entries.push(line.to_string()),
        }
    }
    let inside = |entry: &String| entry.contains("src/failure.rs") || entry.contains("frames from");
    let first = entries.iter().position(|e| !inside(e)).unwrap_or(0);
    entries[first..].iter().map(|e| format!("{e}\n")).collect()
}

impl<E: Error + 'static> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure::new(error)
    }
}

/// The error's own message: what an error line in a client should say.
/// The alternate form (`{:#}`) adds its causes, separated by colons.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error())?;
        if f.alternate() {
            let mut cause = self.error().source();
            while let Some(error) = cause {
                write!(f, ": {error}")?;
                cause = error.source();
            }
        }
        Ok(())
    }
}

/// `Failure(type: message)`, short enough to sit in a list.
impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failure({}: {})", self.type_name(), self.error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[derive(Debug)]
    struct RhymeSchemeViolation;

    impl fmt::Display for RhymeSchemeViolation {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "the rhyme scheme is broken")
        }
    }

    impl Error for RhymeSchemeViolation {}

    fn analyze() -> Result<(), Failure> {
        Err(RhymeSchemeViolation)?
    }

    #[test]
    fn question_mark_wraps_any_error() {
        let failure = analyze().unwrap_err();
        assert!(failure.check::<RhymeSchemeViolation>());
        assert!(!failure.check::<io::Error>());
        assert_eq!(failure.to_string(), "the rhyme scheme is broken");
        assert!(failure.type_name().ends_with("RhymeSchemeViolation"));
    }

    #[test]
    fn downcast_gives_the_error_back() {
        let failure = Failure::new(io::Error::new(io::ErrorKind::NotFound, "no poem"));
        let error = failure.downcast_ref::<io::Error>().expect("an io::Error");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(failure.downcast_ref::<RhymeSchemeViolation>().is_none());
        assert!(failure.error().is::<io::Error>());
    }

    #[test]
    fn with_backtrace_always_captures() {
        let failure = Failure::with_backtrace(RhymeSchemeViolation);
        assert!(failure.backtrace().is_some());
        let report = failure.report();
        assert!(report.starts_with("Failure: "), "{report}");
        assert!(
            report.contains("with_backtrace_always_captures"),
            "{report}"
        );
    }

    #[test]
    fn a_clone_is_the_same_failure() {
        let failure = Failure::new(RhymeSchemeViolation);
        let clone = failure.clone();
        assert!(clone.same(&failure));
        assert!(!clone.same(&Failure::new(RhymeSchemeViolation)));
        assert!(clone.check::<RhymeSchemeViolation>());
    }

    #[test]
    fn report_says_when_no_backtrace_was_captured() {
        let failure = Failure::without_backtrace(RhymeSchemeViolation);
        assert!(failure.backtrace().is_none());
        assert!(failure.report().contains("no backtrace"));
    }

    #[test]
    fn alternate_display_follows_the_causes() {
        #[derive(Debug)]
        struct Outer(io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "cannot fetch the poem")
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let failure = Failure::new(Outer(io::Error::other("the line is down")));
        assert_eq!(failure.to_string(), "cannot fetch the poem");
        assert_eq!(
            format!("{failure:#}"),
            "cannot fetch the poem: the line is down"
        );
        assert!(format!("{failure:?}").starts_with("Failure("));
    }
}
