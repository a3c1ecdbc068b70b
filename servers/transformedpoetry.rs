//! Part 12: A Poetry Transformation Server. The first server that listens
//! before it speaks.
//!
//! A client sends one netstring, `name.poem` (`27:cummingsify.HERE IS MY
//! POEM,`); the server answers with the netstring of the transformed poem
//! (`15:here is my poem,`) and closes the connection. A request it cannot
//! serve (an unknown name, no dot, bytes that are not UTF-8, a broken
//! netstring) is logged and closed with no reply.
//!
//! The program is three layers, each ignorant of the one above it:
//!
//! - the [`TransformService`] does the work: poems in, poems out, no
//!   networks;
//! - the [`TransformFactory`] decides which of the service's transforms a
//!   client may ask for, by name;
//! - the [`TransformProtocol`] speaks netstrings to one client, through the
//!   framework's `Netstring` helper, which does the framing.
//!
//! Run it (from the repository root), then ask it for a transform with
//! `transform-test`:
//!
//! ```text
//! cargo run --bin transformedpoetry -- --port 10001
//! cargo run --bin transform-test -- 10001
//! ```

use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use mini_twisted::poetry::{parse_port, Checked};
use mini_twisted::Reactor;

#[path = "transformedpoetry/transform.rs"]
mod transform;
use transform::{TransformFactory, TransformService};

/// Poetry Transform Server: answers `name.poem` netstrings with the
/// transformed poem. The one transform is `cummingsify`.
#[derive(Parser)]
#[command(name = "transformedpoetry")]
struct Options {
    /// The port to listen on [default: a free port chosen by the system]
    #[arg(long, default_value_t = 0, hide_default_value = true,
          value_parser = Checked(parse_port))]
    port: u16,

    /// The network interface to listen on
    #[arg(long, default_value = "localhost")]
    iface: String,
}

// ANCHOR: main
fn main() -> ExitCode {
    let options = Options::parse();
    mini_twisted::log::init();
    let served = Reactor::new()
        .map_err(|error| error.to_string())
        .and_then(|reactor| {
            let factory = Rc::new(TransformFactory::new(TransformService));
            let port = reactor
                .listen_tcp(options.port, factory, &options.iface)
                .map_err(|error| error.to_string())?;
            println!("Serving transforms on {}.", port.host());
            reactor.run().map_err(|error| error.to_string())
        });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("transformedpoetry: {error}");
            ExitCode::FAILURE
        }
    }
}
// ANCHOR_END: main
