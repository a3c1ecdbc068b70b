//! The command line that every poetry client shares.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::CommandFactory;

use super::{parse_seconds, Address, Checked, Elapsed, Timeline};

/// `[HOST:]PORT ...`: the servers to get poetry from. Flattened into each
/// client's own options, so that its `--help` keeps its own description.
#[derive(clap::Args, Debug)]
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
