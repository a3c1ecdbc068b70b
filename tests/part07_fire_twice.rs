//! Part 7: a Deferred cannot be fired twice, and the compiler says why.
//! The expected message lives in tests/ui/fire_twice.stderr; the book
//! includes it. Set TRYBUILD=overwrite to rewrite it after a compiler
//! upgrade changes its wording (and read the new wording first).

#[test]
fn firing_twice_does_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fire_twice.rs");
}
