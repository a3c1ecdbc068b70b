//! `poetryd transform`: Part 12's transformation service behind its
//! netstring protocol, as one `TcpServer`.

use std::rc::Rc;

use clap::{ArgMatches, Args, Command, FromArgMatches};
use mini_twisted::app::{Application, TcpServer};
use mini_twisted::poetry::{parse_port, Checked};

use super::transform_layers::{TransformFactory, TransformService};
use super::ServiceMaker;

/// `poetryd transform`'s options.
#[derive(Args)]
struct Options {
    /// The port number to listen on
    #[arg(short, long, default_value_t = 10001, value_parser = Checked(parse_port))]
    port: u16,

    /// The interface to listen on
    #[arg(long, default_value = "localhost")]
    iface: String,
}

pub const MAKER: ServiceMaker = ServiceMaker {
    name: "transform",
    description: "A poetry transformation service (cummingsify).",
    command: || Options::augment_args(Command::new("transform")),
    make,
};

fn make(matches: &ArgMatches) -> Result<Application, String> {
    let options = Options::from_arg_matches(matches).map_err(|error| error.to_string())?;
    let mut application = Application::new("transform");
    let factory = Rc::new(TransformFactory::new(TransformService));
    let server = TcpServer::new(options.port, factory, &options.iface);
    application.add(server).map_err(|error| error.to_string())?;
    Ok(application)
}
