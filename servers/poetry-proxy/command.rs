//! The command line and the start that the three proxies share: where to
//! listen, the one upstream server, and the line that says both. Each
//! proxy flattens [`ProxyArgs`] into its own options (so its `--help`
//! keeps its own name and description) and hands [`serve`] its factory.
//!
//! Not a program of its own: each proxy compiles it in with
//! `#[path = "poetry-proxy/command.rs"] mod command;`.

use std::process::ExitCode;
use std::rc::Rc;

use clap::error::ErrorKind;
use clap::CommandFactory;
use mini_twisted::poetry::{parse_port, Address, Checked};
use mini_twisted::protocol::Factory;
use mini_twisted::Reactor;

/// `[--port PORT] [--iface IFACE] [HOST:]PORT`.
#[derive(clap::Args)]
pub struct ProxyArgs {
    /// The port to listen on [default: a free port chosen by the system]
    #[arg(long, default_value_t = 0, hide_default_value = true,
          value_parser = Checked(parse_port))]
    port: u16,

    /// The network interface to listen on
    #[arg(long, default_value = "localhost")]
    iface: String,

    /// The poetry server to fetch the poem from, as [host:]port (exactly
    /// one); the host defaults to 127.0.0.1
    #[arg(value_name = "[HOST:]PORT", value_parser = Checked(str::parse::<Address>))]
    upstream: Vec<Address>,
}

impl ProxyArgs {
    /// The one upstream server, or a usage error (status 2) from the
    /// program `C`.
    pub fn upstream<C: CommandFactory>(&self) -> Address {
        match self.upstream.as_slice() {
            [upstream] => upstream.clone(),
            _ => C::command()
                .error(
                    ErrorKind::WrongNumberOfValues,
                    "Provide exactly one server address.",
                )
                .exit(),
        }
    }
}

/// Listens where `args` says with the factory `make` builds for the
/// upstream, says so (`Proxying UPSTREAM on HOST:PORT.`), and runs until
/// stopped. A port that cannot be listened on is an error on stderr,
/// prefixed by `program`, and status 1.
pub fn serve(
    program: &str,
    args: &ProxyArgs,
    upstream: Address,
    make: impl FnOnce(Reactor, Address) -> Rc<dyn Factory>,
) -> ExitCode {
    let served = Reactor::new()
        .map_err(|error| error.to_string())
        .and_then(|reactor| {
            let factory = make(reactor.clone(), upstream.clone());
            let port = reactor
                .listen_tcp(args.port, factory, &args.iface)
                .map_err(|error| error.to_string())?;
            println!("Proxying {upstream} on {}.", port.host());
            reactor.run().map_err(|error| error.to_string())
        });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::FAILURE
        }
    }
}
