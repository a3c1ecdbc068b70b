//! Part 9: the Deferred simulator, against drawings known to be right: the
//! series' own sample (its Appendix A in ../shared/SERIES.md, kept in
//! tests/golden/simulator-wide.txt with trailing spaces stripped, as the
//! sample is) and a narrow drawing worked out by hand.

mod common;

use assert_cmd::cargo::cargo_bin_cmd;
use common::LIMIT;

/// Runs the simulator with `input` on stdin; returns what follows the
/// instructions (which end with a line about widening the terminal).
fn drawing(args: &[&str], input: &str) -> String {
    let output = cargo_bin_cmd!("deferred-simulator")
        .args(args)
        .write_stdin(input)
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let marker = "widen your terminal.\n\n";
    let at = stdout.find(marker).expect("the instructions come first");
    stdout[at + marker.len()..].to_string()
}

#[test]
fn the_wide_drawing_matches_the_series_sample() {
    let got = drawing(&[], "r good f bad\nf googly p\n\n");
    let expected = std::fs::read_to_string("tests/golden/simulator-wide.txt").unwrap();
    let stripped: Vec<&str> = got.lines().map(str::trim_end).collect();
    // The sample leaves out the empty line printed after the drawing.
    assert_eq!(stripped.last(), Some(&""));
    let stripped = stripped[..stripped.len() - 1].join("\n") + "\n";
    assert_eq!(stripped, expected);
    // Every line of the drawing itself is padded to the full width.
    let widths: Vec<usize> = got.lines().map(|line| line.chars().count()).collect();
    assert!(
        widths[..widths.len() - 1].iter().all(|&w| w == 136),
        "{widths:?}"
    );
}

#[test]
fn the_narrow_drawing_is_three_screens() {
    let got = drawing(&["--narrow"], "p p\nr ok f no\n\n");
    let expected = std::fs::read_to_string("tests/golden/simulator-narrow.txt").unwrap();
    assert_eq!(got, expected);
    // Worked out by hand: the callback path stays left and ends in `ok`;
    // the errback path stays right and ends in `no*`.
    let screens: Vec<&str> = got.split("d.").collect();
    assert!(screens[1].starts_with("callback(initial)"));
    assert!(screens[1].trim_end().ends_with("ok"));
    assert!(screens[2].starts_with("errback(initial*)"));
    assert!(screens[2].trim_end().ends_with("no*"));
}

#[test]
fn bad_lines_are_reported_and_reading_goes_on() {
    let input = "x y\nr\nr toolongvalue p\nr a p extra\n\n   \nf a\nP P\n\n";
    let output = cargo_bin_cmd!("deferred-simulator")
        .write_stdin(input)
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("ERROR") || line.starts_with("You must"))
        .collect();
    assert_eq!(
        errors,
        [
            "ERROR: bad command: x",
            "ERROR: missing argument",
            "ERROR: result more than 6 chars long: toolongvalue",
            "ERROR: extra arguments",
            "You must enter at least one pair.",
            "ERROR: missing command",
            "ERROR: missing command",
        ]
    );
    // `P P` (passthru twice, in capitals) was taken, and drawn.
    assert!(stdout.contains("d.callback(initial)"));
}

#[test]
fn the_end_of_input_before_a_blank_line_draws_nothing() {
    let got = drawing(&[], "r good f bad\n");
    assert_eq!(got, "");
}

#[test]
fn arguments_are_refused() {
    cargo_bin_cmd!("deferred-simulator")
        .arg("extra")
        .timeout(LIMIT)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("No arguments supported."));
}

#[test]
fn a_line_that_is_not_utf8_is_an_error_on_that_line_and_reading_goes_on() {
    // Latin-1 bytes (`r café p`), then a good pair and the blank line.
    let mut input = b"r caf\xe9 p\n".to_vec();
    input.extend_from_slice(b"r ok p\n\n");
    let output = cargo_bin_cmd!("deferred-simulator")
        .write_stdin(input)
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("ERROR"))
        .collect();
    assert_eq!(errors.len(), 1, "{stdout}");
    assert!(errors[0].contains("UTF-8"), "{}", errors[0]);
    // Only the good pair was taken, and drawn.
    assert!(stdout.contains("return ok"), "{stdout}");
    assert!(!stdout.contains("caf"), "{stdout}");
}
