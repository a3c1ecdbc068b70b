//! What the compiler refuses, checked on every `cargo test`: each case in
//! tests/ui/ must fail to compile with the message in its `.stderr` file,
//! which the book includes. Set TRYBUILD=overwrite to rewrite the messages
//! after a compiler upgrade changes their wording (and read the new
//! wording first).
//!
//! - Part 7, `fire_twice`: a Deferred cannot be fired twice.
//! - Part 14, `errback_returns_unit`: the second error of the series'
//!   proxy 2.0 cannot happen here. An errback must hand on the chain's own
//!   type, so one that returns `()` (as Python's `log.err` returns `None`)
//!   does not compile.
//! - Part 18, `errback_after_list`: the series' deferred-list-7 adds an
//!   errback to a Deferred after a DeferredList took it. The list takes
//!   its Deferreds by value, so the errback has nothing to be added to.
//!
//! All the cases run from one test, in one `TestCases`: trybuild builds
//! them as one crate, and two test binaries building it at once would
//! trip over each other.

#[test]
fn what_the_book_says_does_not_compile_does_not() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fire_twice.rs");
    cases.compile_fail("tests/ui/errback_returns_unit.rs");
    cases.compile_fail("tests/ui/errback_after_list.rs");
}
