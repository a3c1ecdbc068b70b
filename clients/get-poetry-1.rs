//! Part 4: Twisted Poetry, client 1.0: the poetry client on the reactor.
//!
//! The loop of chapter 2 is gone. Each server gets a `PoetrySocket`, an
//! object that owns one non-blocking socket and that the reactor calls
//! through the low-level reader API: `do_read` when the socket has data,
//! `connection_lost` when the poem is over. All the waiting is done by the
//! reactor; this file only says what to do when something happens.
//!
//! Run it against three `slowpoetry` servers on ports 10000, 10001, 10002:
//!
//! ```text
//! cargo run --bin get-poetry-1 -- 10000 10001 10002
//! ```

use std::cell::RefCell;
use std::io::{self, Read};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

use clap::Parser;
use mini_twisted::poetry::{Address, ClientArgs, Timeline};
use mini_twisted::reactor::{Disconnect, FileDescriptor, Reactor, ReadDescriptor};

/// Get Poetry Now! Client 1.0: one reader per server on the reactor's
/// low-level API.
#[derive(Parser)]
#[command(name = "get-poetry-1")]
struct Options {
    #[command(flatten)]
    client: ClientArgs,
}

// ANCHOR: poetry_socket
/// One download: a socket the reactor watches, and the poem so far.
struct PoetrySocket {
    task: usize,
    address: Address,
    fd: RawFd,
    /// `None` once the connection is over and the socket closed.
    socket: RefCell<Option<TcpStream>>,
    poem: RefCell<Vec<u8>>,
    error: RefCell<Option<io::Error>>,
    timeline: Rc<RefCell<Timeline>>,
}

impl PoetrySocket {
    /// Connects (a blocking connect: quick on a local network), then makes
    /// the socket non-blocking so that reading it never waits.
    fn connect(
        task: usize,
        address: &Address,
        timeline: Rc<RefCell<Timeline>>,
    ) -> io::Result<PoetrySocket> {
        let socket = TcpStream::connect(address.resolve()?)?;
        socket.set_nonblocking(true)?;
        timeline.borrow_mut().connected(task - 1);
        Ok(PoetrySocket {
            task,
            address: address.clone(),
            fd: socket.as_raw_fd(),
            socket: RefCell::new(Some(socket)),
            poem: RefCell::default(),
            error: RefCell::default(),
            timeline,
        })
    }
}
// ANCHOR_END: poetry_socket

// ANCHOR: do_read
impl ReadDescriptor for PoetrySocket {
    fn do_read(&self, _reactor: &Reactor) -> Option<Disconnect> {
        let mut socket = self.socket.borrow_mut();
        let socket = socket.as_mut()?;
        let mut buffer = [0; 1024];
        let mut got = 0;
        // Read until the socket would block: the reactor will not tell us
        // again about data that is already waiting.
        let outcome = loop {
            match socket.read(&mut buffer) {
                Ok(0) => break Some(Disconnect::Done),
                Ok(n) => {
                    got += n;
                    self.poem.borrow_mut().extend_from_slice(&buffer[..n]);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break None,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => break Some(Disconnect::Lost(error)),
            }
        };
        if got > 0 {
            let (task, address) = (self.task, &self.address);
            println!("Task {task}: got {got} bytes of poetry from {address}");
            self.timeline.borrow_mut().received(task - 1);
        }
        if matches!(outcome, Some(Disconnect::Done)) {
            println!("Task {} finished", self.task);
        }
        outcome
    }
}
// ANCHOR_END: do_read

// ANCHOR: connection_lost
impl FileDescriptor for PoetrySocket {
    fn fileno(&self) -> RawFd {
        self.fd
    }

    fn connection_lost(&self, reactor: &Reactor, reason: Disconnect) {
        self.socket.borrow_mut().take(); // dropping the socket closes it
        let mut timeline = self.timeline.borrow_mut();
        match reason {
            Disconnect::Done => timeline.finished(self.task - 1),
            Disconnect::Lost(error) => {
                let (task, address) = (self.task, &self.address);
                eprintln!("Task {task}: lost the connection to {address}: {error}");
                timeline.failed(self.task - 1);
                *self.error.borrow_mut() = Some(error);
            }
        }
        reactor.remove_reader(self);
        // Is any poetry socket still being read? If not, we are done.
        let poetry_left = reactor
            .readers()
            .iter()
            .any(|reader| reader.log_prefix() == "poetry");
        if !poetry_left {
            reactor.stop();
        }
    }

    fn log_prefix(&self) -> String {
        "poetry".to_string()
    }
}
// ANCHOR_END: connection_lost

// ANCHOR: main
fn main() -> ExitCode {
    let options = Options::parse();
    options.client.require_addresses::<Options>();
    mini_twisted::log::init();
    let start = Instant::now();
    let timeline = Rc::new(RefCell::new(options.client.new_timeline()));

    let reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(error) => {
            eprintln!("get-poetry-1: cannot start the reactor: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut sockets = Vec::new();
    for (i, address) in options.client.servers.addresses.iter().enumerate() {
        let task = i + 1;
        let connected = PoetrySocket::connect(task, address, Rc::clone(&timeline))
            .map(Rc::new)
            .and_then(|socket| reactor.add_reader(socket.clone()).map(|()| socket));
        match connected {
            Ok(socket) => sockets.push(socket),
            Err(error) => {
                eprintln!("Task {task}: failed to connect to {address}: {error}");
                timeline.borrow_mut().failed(i);
            }
        }
    }

    // With no socket to read, nothing would ever stop the reactor.
    if !sockets.is_empty() {
        if let Err(error) = reactor.run() {
            eprintln!("get-poetry-1: {error}");
            return ExitCode::FAILURE;
        }
    }

    let mut sizes = vec![None; options.client.servers.addresses.len()];
    for socket in &sockets {
        if socket.error.borrow().is_none() {
            sizes[socket.task - 1] = Some(socket.poem.borrow().len());
        }
    }
    let timeline = timeline.borrow();
    if options
        .client
        .report(&sizes, start, &timeline, "Client 1.0")
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
// ANCHOR_END: main
