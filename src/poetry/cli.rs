//! Command-line values checked before a program starts: seconds, poem
//! files, and the way a bad value is quoted back to whoever typed it.
//!
//! Promise: every refusal here is a message, never a panic, and a message
//! quotes at most [`EXCERPT_CHARS`] characters of the value it refuses, so
//! that a 100,000-character argument gets a one-line answer.

use std::ffi::OsStr;
use std::fmt::Display;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Arg, Command, CommandFactory};

/// How many characters of a value a message quotes, at most (plus an
/// ellipsis where some were left out).
pub const EXCERPT_CHARS: usize = 40;

/// Of the quoted characters of a long value, how many come from its end.
/// A path's end is its file name, often the part that tells most.
const EXCERPT_TAIL: usize = 15;

/// `text` as an error message should quote it: whole if it is short, else
/// its start and its end around an ellipsis (`xxxxxxxx…xxxx`), and with any
/// control character escaped, so that a value can neither flood the
/// terminal nor drive it.
pub fn excerpt(text: &str) -> String {
    let count = text.chars().count();
    let escape = |part: &mut String, c: char| {
        if c.is_control() {
            part.extend(c.escape_default());
        } else {
            part.push(c);
        }
    };
    let mut shown = String::new();
    if count <= EXCERPT_CHARS {
        text.chars().for_each(|c| escape(&mut shown, c));
    } else {
        let head = EXCERPT_CHARS - EXCERPT_TAIL;
        text.chars().take(head).for_each(|c| escape(&mut shown, c));
        shown.push('…');
        text.chars()
            .skip(count - EXCERPT_TAIL)
            .for_each(|c| escape(&mut shown, c));
    }
    shown
}

/// A clap value parser that runs `parse` on the value and, when it fails,
/// words the error itself: `invalid value for '--delay <DELAY>': MESSAGE`.
///
/// A plain function given to clap as a value parser gets clap's own
/// wording, which repeats the whole value however long it is; `parse`'s
/// message quotes the value already, through [`excerpt`].
///
/// ```ignore
/// #[arg(long, value_parser = Checked(parse_seconds))]
/// delay: Duration,
/// ```
#[derive(Clone)]
pub struct Checked<F>(pub F);

impl<F, T, E> TypedValueParser for Checked<F>
where
    F: Fn(&str) -> Result<T, E> + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Display,
{
    type Value = T;

    fn parse_ref(
        &self,
        command: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let parsed = match value.to_str() {
            Some(text) => (self.0)(text).map_err(|error| error.to_string()),
            None => Err(format!(
                "'{}' is not UTF-8 text",
                excerpt(&value.to_string_lossy())
            )),
        };
        parsed.map_err(|message| {
            let option = arg.map_or_else(|| "a value".to_string(), |arg| format!("'{arg}'"));
            // `error` wants the command mutably, to render its usage.
            command.clone().error(
                ErrorKind::ValueValidation,
                format!("invalid value for {option}: {message}"),
            )
        })
    }
}

/// The longest pause any option in seconds may ask for: a day. Every
/// pause should end while somebody is still watching, and keeping far from
/// `Duration`'s limit keeps `Instant + pause` far from overflowing.
pub const LONGEST_SECONDS: f64 = 86_400.0;

/// Parses a number of seconds such as `0.1`, for options like `--delay`.
///
/// # Errors
///
/// A message saying what is wrong, for clap to show: not a number at all,
/// NaN, negative, or more than [`LONGEST_SECONDS`] (infinity included).
/// Each of these would otherwise make `Duration` panic, or a pause that
/// never ends.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let shown = excerpt(text);
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{shown}' is not a number of seconds"))?;
    if seconds.is_nan() {
        return Err(format!(
            "'{shown}' is not a number: use a number of seconds, 0 or more"
        ));
    }
    if seconds < 0.0 {
        return Err(format!(
            "'{shown}' is negative: use a number of seconds, 0 or more"
        ));
    }
    if seconds > LONGEST_SECONDS {
        return Err(format!(
            "'{shown}' is too large: use at most {LONGEST_SECONDS} seconds (a day)"
        ));
    }
    // In range, so `from_secs_f64` cannot panic.
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a port for `--port`: digits, 0 to 65535. The message quotes at
/// most an [`excerpt`] of what was typed.
pub fn parse_port(text: &str) -> Result<u16, String> {
    parse_whole(text, 0, u16::MAX.into()).map(|port| port as u16)
}

/// Parses a whole number from `low` to `high` for options such as
/// `--num-bytes`, with the same short messages as [`parse_port`].
pub fn parse_whole(text: &str, low: u64, high: u64) -> Result<u64, String> {
    let quoted = excerpt(text);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{quoted}' is not a whole number"));
    }
    match text.parse::<u64>() {
        Ok(n) if (low..=high).contains(&n) => Ok(n),
        _ => Err(format!("'{quoted}' is out of range: use {low} to {high}")),
    }
}

/// The longest run a load or a benchmark may ask for: every loop that sends
/// traffic must end.
pub const LONGEST_RUN_SECONDS: f64 = 600.0;

/// Seconds for a run that sends traffic (`--seconds`): more than 0 and at
/// most [`LONGEST_RUN_SECONDS`].
///
/// # Errors
///
/// As [`parse_seconds`], and for 0 or a run longer than the limit.
pub fn parse_run_seconds(text: &str) -> Result<Duration, String> {
    let seconds = parse_seconds(text)?;
    if seconds.is_zero() || seconds.as_secs_f64() > LONGEST_RUN_SECONDS {
        return Err(format!(
            "'{}' is out of range: use more than 0 and at most {LONGEST_RUN_SECONDS} seconds",
            excerpt(text)
        ));
    }
    Ok(seconds)
}

/// Checks that `path` is a poem a program can serve: a regular file that
/// it may read.
///
/// The type comes from the file's metadata before anything opens it:
/// opening a named pipe waits for a writer, which may never come, and a
/// device such as `/dev/zero` never ends. Then the file is opened, which
/// is the only sure way to know it can be read (permissions, ACLs, root
/// and mounts all have a say).
///
/// # Errors
///
/// A message naming the file and what is wrong: `No such file: PATH`,
/// `PATH is a directory, not a poem file`, or `cannot read PATH: REASON`.
pub fn check_poem_file(path: &Path) -> Result<(), String> {
    let shown = excerpt(&path.to_string_lossy());
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(format!("No such file: {shown}"))
        }
        // A folder on the way that we may not enter, a name too long...
        Err(error) => return Err(format!("cannot read {shown}: {error}")),
    };
    let kind = metadata.file_type();
    let not_a_file = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    };
    if let Some(what) = not_a_file {
        return Err(format!("{shown} is {what}, not a poem file"));
    }
    File::open(path)
        .map(drop)
        .map_err(|error| format!("cannot read {shown}: {error}"))
}

/// The one poem file a server was given, or a usage error (exit code 2)
/// that says what is wrong, as the series' servers do: not exactly one
/// file, or one that [`check_poem_file`] refuses.
pub fn poem_file<C: CommandFactory>(files: &[PathBuf]) -> PathBuf {
    let mut command = C::command();
    match files {
        [file] => match check_poem_file(file) {
            Ok(()) => file.clone(),
            Err(message) => command.error(ErrorKind::ValueValidation, message).exit(),
        },
        _ => command
            .error(
                ErrorKind::WrongNumberOfValues,
                "Provide exactly one poetry file.",
            )
            .exit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_parse_as_seconds() {
        assert_eq!(parse_seconds("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_seconds("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_seconds("0"), Ok(Duration::ZERO));
        assert_eq!(parse_seconds("86400"), Ok(Duration::from_secs(86_400)));
    }

    #[test]
    fn bad_delays_are_refused_not_panicked_on() {
        for bad in ["-1", "inf", "NaN", "soon", "", "1e400", "1e300", "-inf"] {
            assert!(parse_seconds(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn each_bad_delay_says_what_is_wrong_with_it() {
        let says = |text: &str| parse_seconds(text).unwrap_err();
        assert_eq!(says("soon"), "'soon' is not a number of seconds");
        assert!(says("NaN").starts_with("'NaN' is not a number: "));
        assert!(says("-1").starts_with("'-1' is negative: "));
        assert!(says("-inf").starts_with("'-inf' is negative: "));
        assert!(says("1e300").starts_with("'1e300' is too large: "));
        assert!(says("inf").starts_with("'inf' is too large: "));
        assert!(says("86400.5").contains("too large"));
    }

    #[test]
    fn short_values_are_quoted_whole() {
        assert_eq!(excerpt("poetry/ecstasy.txt"), "poetry/ecstasy.txt");
        assert_eq!(excerpt(""), "");
        let forty = "y".repeat(EXCERPT_CHARS);
        assert_eq!(excerpt(&forty), forty);
    }

    #[test]
    fn long_values_keep_their_start_and_their_end() {
        let long = format!("{}/ecstasy.txt", "a".repeat(100_000));
        let shown = excerpt(&long);
        assert_eq!(shown.chars().count(), EXCERPT_CHARS + 1);
        assert!(shown.starts_with("aaaa"), "{shown}");
        assert!(shown.ends_with("/ecstasy.txt"), "{shown}");
        assert!(shown.contains('…'), "{shown}");
        // Counted in characters, so a multi-byte value is cut cleanly.
        let accents = "é".repeat(1000);
        assert_eq!(excerpt(&accents).chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(excerpt("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
    }

    #[test]
    fn messages_quote_long_values_short() {
        let long = "9".repeat(100_000);
        assert!(parse_seconds(&format!("x{long}")).unwrap_err().len() < 100);
        // Too large, but still quoted short.
        assert!(parse_seconds(&long).unwrap_err().len() < 120);
        assert!(parse_run_seconds(&format!("0.{long}")).is_ok());
        let path = PathBuf::from("z".repeat(100_000));
        assert!(check_poem_file(&path).unwrap_err().len() < 120);
    }

    #[test]
    fn checked_parsers_word_their_own_errors() {
        let command = Command::new("test").arg(
            Arg::new("delay")
                .long("delay")
                .value_parser(Checked(parse_seconds)),
        );
        let long = "x".repeat(100_000);
        let error = command
            .clone()
            .try_get_matches_from(["test", "--delay", &long])
            .unwrap_err();
        let message = error.to_string();
        assert!(message.len() < 300, "{} bytes", message.len());
        assert!(
            message.contains("invalid value for '--delay <delay>': 'xxx"),
            "{message}"
        );
        let matches = command
            .try_get_matches_from(["test", "--delay", "0.5"])
            .unwrap();
        assert_eq!(
            matches.get_one::<Duration>("delay"),
            Some(&Duration::from_millis(500))
        );
    }

    #[test]
    fn poem_files_are_checked_by_type_before_being_opened() {
        assert!(check_poem_file(Path::new("poetry/ecstasy.txt")).is_ok());
        let says = |path: &str| check_poem_file(Path::new(path)).unwrap_err();
        assert_eq!(says("poetry/none.txt"), "No such file: poetry/none.txt");
        assert_eq!(says("poetry"), "poetry is a directory, not a poem file");
        assert_eq!(says("/dev/null"), "/dev/null is a device, not a poem file");
        assert!(says("poetry/ecstasy.txt/x").starts_with("cannot read poetry/ecstasy.txt/x: "));
    }
}
