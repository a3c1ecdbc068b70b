//! Part 8: a Deferred does not make a blocking callback asynchronous.

mod common;

use assert_cmd::cargo::cargo_bin_cmd;
use common::{lines, LIMIT};

#[test]
fn firing_returns_only_after_the_whole_chain_has_run() {
    let output = cargo_bin_cmd!("defer-block")
        .args(["--pace", "0.01"])
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let lines = lines(&output.stdout);
    let at = |text: &str| {
        lines
            .iter()
            .position(|line| line == text)
            .unwrap_or_else(|| panic!("{text} missing from {lines:#?}"))
    };
    let order = [
        at("Starting reactor."),
        at("Firing deferred."),
        at("The start of the callback chain."),
        at("I wait"),
        at("  the sleep"),
        at("The end of the callback chain."),
        at("Firing finished."),
        at("Done."),
    ];
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{lines:#?}");
}
