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
//! - [`poem_file`] and [`check_poem_file`]: the one poem file a server
//!   serves, refused at start unless it is a regular file we may read.
//! - [`excerpt`] and [`Checked`]: bad values quoted back short.
//! - [`Linger`]: closing a blocking socket without losing the reply.
//! - [`Children`]: programs started by other programs, stopped with them;
//!   [`PART2_SERVERS`]: the three slow servers they start.
//! - [`cummingsify`]: Part 10's unreliable poem transformer.
//! - [`raise_open_files_limit`], [`clock_ticks_per_second`]: what the load
//!   generator and the benchmarks ask of the kernel.

mod address;
mod children;
mod cli;
mod client;
pub mod cummingsify;
mod elapsed;
mod linger;
mod process;
mod timeline;

pub use address::{resolve, Address, AddressError};
pub use children::{line_reader, sibling_programs, Children, Started};
pub use cli::{
    check_poem_file, excerpt, parse_port, parse_run_seconds, parse_seconds, parse_whole, poem_file,
    Checked, EXCERPT_CHARS, LONGEST_RUN_SECONDS, LONGEST_SECONDS,
};
pub use client::{exit_status, warn_if_cut_short, ClientArgs, Servers, EXIT_STATUS_HELP};
pub use elapsed::Elapsed;
pub use linger::Linger;
pub use process::{clock_ticks_per_second, raise_open_files_limit};
pub use timeline::Timeline;

// ANCHOR: servers
/// Part 2's three slow servers, as the showcase and `poetry-servers` start
/// them (on three ports in a row): poem file and bytes per send. The long
/// poem gets three times as many bytes a send, so that the three take
/// about as long.
pub const PART2_SERVERS: [(&str, u32); 3] = [
    ("ecstasy.txt", 30),
    ("fascination.txt", 10),
    ("science.txt", 10),
];
// ANCHOR_END: servers
