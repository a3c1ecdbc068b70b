//! `poetryd fastpoetry`: Part 11's fast poetry server as an application of
//! two services, as the series' Fast Poetry 2.0 is. A `PoetryService`
//! loads the poem when it starts; a `TcpServer` listens with a factory
//! that hands the service's poem to every client, logging each one.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::Bytes;
use clap::{ArgMatches, Args, Command, FromArgMatches};
use mini_twisted::app::{Application, Service, TcpServer};
use mini_twisted::poetry::{check_poem_file, excerpt, parse_port, Checked};
use mini_twisted::protocol::{Factory, Protocol, Transport};
use mini_twisted::{log, Failure, Reactor};

use super::ServiceMaker;

// ANCHOR: options
/// `poetryd fastpoetry`'s options (its plugin's `optParameters`).
#[derive(Args)]
struct Options {
    /// The port number to listen on
    #[arg(short, long, default_value_t = 10000, value_parser = Checked(parse_port))]
    port: u16,

    /// The file containing the poem
    #[arg(long, value_name = "FILE", required = true)]
    poem: PathBuf,

    /// The interface to listen on
    #[arg(long, default_value = "localhost")]
    iface: String,
}

pub const MAKER: ServiceMaker = ServiceMaker {
    name: "fastpoetry",
    description: "A fast poetry service.",
    command: || Options::augment_args(Command::new("fastpoetry")),
    make,
};
// ANCHOR_END: options

// ANCHOR: make
/// The application: the poem's service first, so that it has loaded the
/// poem before the first client can be served; then the port.
fn make(matches: &ArgMatches) -> Result<Application, String> {
    let options = Options::from_arg_matches(matches).map_err(|error| error.to_string())?;
    // Refused here, before the runner detaches: a wrong path is the user's
    // to hear about at the terminal, not in a log file.
    check_poem_file(&options.poem)?;
    let poem = Rc::new(RefCell::new(Bytes::new()));
    let mut application = Application::new("fastpoetry");
    let loader = PoetryService {
        path: options.poem,
        poem: Rc::clone(&poem),
        running: false,
    };
    application.add(loader).map_err(|error| error.to_string())?;
    let factory = Rc::new(PoetryFactory { poem });
    let server = TcpServer::new(options.port, factory, &options.iface);
    application.add(server).map_err(|error| error.to_string())?;
    Ok(application)
}
// ANCHOR_END: make

// ANCHOR: service
/// Loads the poem when it starts, for the factory to serve.
struct PoetryService {
    path: PathBuf,
    poem: Rc<RefCell<Bytes>>,
    running: bool,
}

impl Service for PoetryService {
    fn name(&self) -> Option<&str> {
        Some("poetry")
    }

    fn running(&self) -> bool {
        self.running
    }

    fn start(&mut self, _reactor: &Reactor) -> Result<(), Failure> {
        // The error names the file: "Permission denied" alone would not say which.
        let poem = std::fs::read(&self.path).map_err(|error| {
            let shown = excerpt(&self.path.to_string_lossy());
            Failure::new(io::Error::new(error.kind(), format!("{shown}: {error}")))
        })?;
        *self.poem.borrow_mut() = Bytes::from(poem);
        log::msg(format!("loaded a poem from: {}", self.path.display()));
        self.running = true;
        Ok(())
    }

    fn stop(&mut self, _reactor: &Reactor) -> Option<mini_twisted::Deferred<()>> {
        self.running = false;
        None
    }
}
// ANCHOR_END: service

/// Builds a protocol that sends the loaded poem.
struct PoetryFactory {
    poem: Rc<RefCell<Bytes>>,
}

impl Factory for PoetryFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(PoetryProtocol {
            poem: self.poem.borrow().clone(),
        })
    }
}

/// One client: the poem, a line in the log, and the close.
struct PoetryProtocol {
    poem: Bytes,
}

impl Protocol for PoetryProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        log::msg(format!(
            "sending {} bytes of poetry to {}",
            self.poem.len(),
            transport.peer()
        ));
        transport.write_bytes(self.poem.clone());
        transport.lose_connection();
    }
}
