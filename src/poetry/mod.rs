//! Domain helpers shared by the poetry programs. Not part of the framework:
//! nothing here knows about reactors, only about poems, addresses, and the
//! way the series prints times.
//!
//! - [`Address`]: the clients' `[host:]port` arguments.
//! - [`Elapsed`]: durations printed as `H:MM:SS.ffffff`, as the series does.
//! - [`Timeline`]: a record of when each task received data, drawn as SVG.
//! - [`Servers`] and [`ClientArgs`]: the command lines the clients share;
//!   [`warn_if_cut_short`] and [`exit_status`]: how they end.
//! - [`parse_seconds`]: options given in seconds, such as `--delay 0.1`;
//!   [`parse_run_seconds`] for the length of a load run.
//! - [`poem_file`]: the one poem file a server serves.
//! - [`cummingsify`]: Part 10's unreliable poem transformer.

mod address;
mod client;
pub mod cummingsify;
mod elapsed;
mod timeline;

pub use address::{resolve, Address, AddressError};
pub use client::{exit_status, warn_if_cut_short, ClientArgs, Servers, EXIT_STATUS_HELP};
pub use elapsed::Elapsed;
pub use timeline::Timeline;

use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::CommandFactory;

/// Parses a number of seconds such as `0.1`, for options like `--delay`.
///
/// Negative, infinite and NaN values are refused with a message clap can
/// show, rather than reaching `Duration`, which would panic on them.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("'{text}' is not a delay: use a number of seconds, 0 or more"))
}

/// The longest run a load or a benchmark may ask for: every loop that sends
/// traffic must end.
pub const LONGEST_RUN_SECONDS: f64 = 600.0;

/// Seconds for a run that sends traffic (`--seconds`): more than 0 and at
/// most [`LONGEST_RUN_SECONDS`].
pub fn parse_run_seconds(text: &str) -> Result<Duration, String> {
    let seconds = parse_seconds(text)?;
    if seconds.is_zero() || seconds.as_secs_f64() > LONGEST_RUN_SECONDS {
        return Err(format!(
            "'{text}' is out of range: use more than 0 and at most {LONGEST_RUN_SECONDS} seconds"
        ));
    }
    Ok(seconds)
}

/// The one poem file a server was given, or a usage error (exit code 2)
/// that says what is wrong, as the series' servers do.
pub fn poem_file<C: CommandFactory>(files: &[PathBuf]) -> PathBuf {
    let mut command = C::command();
    match files {
        [file] if file.is_file() => file.clone(),
        [file] => command
            .error(
                ErrorKind::ValueValidation,
                format!("No such file: {}", file.display()),
            )
            .exit(),
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
    }

    #[test]
    fn bad_delays_are_refused_not_panicked_on() {
        for bad in ["-1", "inf", "NaN", "soon", "", "1e400"] {
            assert!(parse_seconds(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
