//! What every poetry client shares: its command line, what it says about
//! a poem cut short, and its exit status.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::CommandFactory;

use super::{parse_seconds, Address, Checked, Elapsed, Timeline};
use crate::tcp::ConnectionDone;
use crate::Failure;

/// The last line of every client's `--help`.
pub const EXIT_STATUS_HELP: &str = "Exits with status 1 if any poem could not be fetched.";

/// `[HOST:]PORT ...`: the servers to get poetry from. Flattened into each
/// client's own options, so that its `--help` keeps its own description
/// and gains the line on its exit status.
#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_STATUS_HELP)]
pub struct Servers {
    /// The servers to get poetry from, as [host:]port; the host defaults to
    /// 127.0.0.1
    #[arg(value_name = "[HOST:]PORT", value_parser = Checked(str::parse::<Address>))]
    pub addresses: Vec<Address>,
}

impl Servers {
    /// With no address there is nothing to do: print the client's help and
    /// exit successfully, as the series' clients do.
    pub fn require<C: CommandFactory>(&self) {
        if self.addresses.is_empty() {
            // If stdout is gone there is nobody to tell; exit all the same.
            let _ = C::command().print_help();
            std::process::exit(0);
        }
    }
}

/// Set by [`warn_if_cut_short`], read by [`exit_status`]: a client whose
/// callback has no way to say "this poem is broken" (clients 2.0, 2.1 and
/// 3.0 have no errback) still exits with the status its warning deserves.
/// A flag for the whole process, like a compiler's "errors were printed".
static A_POEM_WAS_CUT_SHORT: AtomicBool = AtomicBool::new(false);

/// For the clients without an errback. Nothing in the poetry protocol
/// marks the end of a poem except the server closing the connection, so a
/// poem is whole only if its connection ended cleanly (`ConnectionDone`);
/// a reset or an I/O error may have cut it short. Those clients still show
/// what arrived, as the series does, and this says on stderr which server's
/// poem may be incomplete and why. True if the connection ended cleanly.
pub fn warn_if_cut_short(server: impl fmt::Display, reason: &Failure) -> bool {
    if reason.check::<ConnectionDone>() {
        return true;
    }
    A_POEM_WAS_CUT_SHORT.store(true, Ordering::Relaxed);
    eprintln!("The poem from {server} may be incomplete: {reason}");
    false
}

/// How a client ends ([`EXIT_STATUS_HELP`]): success only if `all_fetched`
/// (every address gave its poem) and no poem was reported cut short by
/// [`warn_if_cut_short`].
pub fn exit_status(all_fetched: bool) -> ExitCode {
    if all_fetched && !A_POEM_WAS_CUT_SHORT.load(Ordering::Relaxed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The servers and `--timeline FILE`: the command line of the clients whose
/// runs the book draws (Parts 2 and 4).
#[derive(clap::Args, Debug)]
pub struct ClientArgs {
    #[command(flatten)]
    pub servers: Servers,

    /// Also draw the run as an SVG timeline in this file
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,

    /// Draw the timeline's time axis at least this long, to compare two
    /// runs on one scale
    #[arg(long, value_name = "SECONDS", value_parser = Checked(parse_seconds))]
    pub timeline_seconds: Option<Duration>,
}

impl ClientArgs {
    /// See [`Servers::require`].
    pub fn require_addresses<C: CommandFactory>(&self) {
        self.servers.require::<C>();
    }

    /// One timeline lane per address, labelled `Task N: host:port`.
    pub fn new_timeline(&self) -> Timeline {
        Timeline::new(
            self.servers
                .addresses
                .iter()
                .enumerate()
                .map(|(i, address)| format!("Task {}: {address}", i + 1)),
        )
    }

    /// Writes the timeline if `--timeline` was given. Returns false, after
    /// saying why on stderr, when the file cannot be written.
    pub fn save_timeline(&self, timeline: &Timeline, title: &str) -> bool {
        let Some(path) = &self.timeline else {
            return true;
        };
        match timeline.write_svg(path, title, self.timeline_seconds) {
            Ok(()) => true,
            Err(error) => {
                eprintln!("cannot write the timeline to {}: {error}", path.display());
                false
            }
        }
    }

    /// The end of an asynchronous client's run: `Task N: B bytes of poetry`
    /// for each poem received, in command-line order (`sizes[i]` is `None`
    /// for a task that failed and has said so already), then `Got N poems in
    /// T` and the timeline, titled after `client`. True if every task got
    /// its poem and the timeline, if any, was written.
    pub fn report(
        &self,
        sizes: &[Option<usize>],
        start: Instant,
        timeline: &Timeline,
        client: &str,
    ) -> bool {
        for (i, size) in sizes.iter().enumerate() {
            if let Some(bytes) = size {
                println!("Task {}: {bytes} bytes of poetry", i + 1);
            }
        }
        let poems = sizes.iter().flatten().count();
        let elapsed = Elapsed(start.elapsed());
        println!("Got {poems} poems in {elapsed}");
        let title = format!("{client}: {poems} poems in {elapsed}");
        let saved = self.save_timeline(timeline, &title);
        saved && poems == sizes.len()
    }
}
