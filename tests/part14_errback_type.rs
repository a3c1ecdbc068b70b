//! Part 14: the second error of the series' proxy 2.0 cannot happen here.
//! An errback must hand on the chain's own type, so one that returns `()`
//! (as Python's `log.err` returns `None`) does not compile. The expected
//! message lives in tests/ui/errback_returns_unit.stderr; the book
//! includes it. Set TRYBUILD=overwrite to rewrite it after a compiler
//! upgrade changes its wording (and read the new wording first).

#[test]
fn an_errback_that_returns_nothing_does_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/errback_returns_unit.rs");
}
