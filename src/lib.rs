//! `mini_twisted`: a miniature Twisted built on `mio`, grown one part of the
//! book at a time.
//!
//! The framework modules arrive in the order the book meets them:
//!
//! | module     | part            | what it holds                                   |
//! |------------|-----------------|-------------------------------------------------|
//! | `reactor`  | 3–4             | the event loop                                  |
//! | `tcp`      | 5, 11           | connecting, listening, the TCP transport        |
//! | `protocol` | 5               | the Protocol and Factory traits                 |
//! | `failure`  | 6               | an error with where it came from                |
//! | `defer`    | 7–9, 13–14, 18–19 | Deferreds                                     |
//! | `netstring`| 12              | netstring framing                               |
//! | `inline`   | 17              | Deferreds as Futures, `async` on the reactor    |
//! | `testing`  | 5, 15           | the test kit: fakes, a fake clock, waits        |
//! | `app`      | 16              | services, applications, a TCP server service    |
//!
//! Besides those, [`log`] holds the diagnostics every program switches on.
//!
//! Part 2's programs use none of it: they are written directly on the
//! standard library and `mio`, so that the reader sees the problem the
//! framework solves before meeting the framework. They share only the small
//! domain helpers in [`poetry`], which are not part of the framework.

pub mod app;
pub mod defer;
pub mod failure;
pub mod inline;
pub mod log;
pub mod netstring;
pub mod poetry;
pub mod protocol;
pub mod reactor;
pub mod tcp;
pub mod testing;

pub use defer::{deferred, deferred_with_canceller, Deferred, DeferredList, Trigger};
pub use failure::Failure;
pub use reactor::{OwnedReactor, Reactor};
