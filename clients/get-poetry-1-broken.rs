//! Part 4: Twisted Poetry, client 1.0 broken on purpose.
//!
//! The same as `get-poetry-1` with two lines changed: the socket stays
//! *blocking*, and `do_read` reads until the poem is over. The reactor calls
//! `do_read` as soon as the first bytes arrive, and the callback does not
//! return until the server hangs up. While it reads, the reactor cannot
//! hear anyone else: one blocking callback and the asynchronous client is
//! sequential again. Each task prints a single `got` line, for the whole
//! poem.
//!
//! ```text
//! cargo run --bin get-poetry-1-broken -- 10000 10001 10002
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

/// Get Poetry Now! Client 1.0, broken: blocking reads inside the reactor's
/// callback turn it back into a sequential client.
#[derive(Parser)]
#[command(name = "get-poetry-1-broken")]
struct Options {
    #[command(flatten)]
    client: ClientArgs,
}

/// One download: a blocking socket the reactor watches, and the poem.
struct PoetrySocket {
    task: usize,
    address: Address,
    fd: RawFd,
    socket: RefCell<Option<TcpStream>>,
    poem: RefCell<Vec<u8>>,
    error: RefCell<Option<io::Error>>,
    timeline: Rc<RefCell<Timeline>>,
}

impl PoetrySocket {
    fn connect(
        task: usize,
        address: &Address,
        timeline: Rc<RefCell<Timeline>>,
    ) -> io::Result<PoetrySocket> {
        // The first mistake: the socket is left blocking.
        let socket = TcpStream::connect(address.resolve()?)?;
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

// ANCHOR: do_read
impl ReadDescriptor for PoetrySocket {
    fn do_read(&self, _reactor: &Reactor) -> Option<Disconnect> {
        let mut socket = self.socket.borrow_mut();
        let socket = socket.as_mut()?;
        let mut buffer = [0; 1024];
        // The second mistake: read until the end of the poem. Each read
        // blocks until the server sends more, and all that time the reactor
        // is stuck here, inside our callback.
        loop {
            match socket.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    self.poem.borrow_mut().extend_from_slice(&buffer[..n]);
                    self.timeline.borrow_mut().received(self.task - 1);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Some(Disconnect::Lost(error)),
            }
        }
        let bytes = self.poem.borrow().len();
        let (task, address) = (self.task, &self.address);
        println!("Task {task}: got {bytes} bytes of poetry from {address}");
        Some(Disconnect::Done)
    }
}
// ANCHOR_END: do_read

impl FileDescriptor for PoetrySocket {
    fn fileno(&self) -> RawFd {
        self.fd
    }

    fn connection_lost(&self, reactor: &Reactor, reason: Disconnect) {
        self.socket.borrow_mut().take();
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

fn main() -> ExitCode {
    let options = Options::parse();
    options.client.require_addresses::<Options>();
    mini_twisted::log::init();
    let start = Instant::now();
    let timeline = Rc::new(RefCell::new(options.client.new_timeline()));

    let reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(error) => {
            eprintln!("get-poetry-1-broken: cannot start the reactor: {error}");
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

    if !sockets.is_empty() {
        if let Err(error) = reactor.run() {
            eprintln!("get-poetry-1-broken: {error}");
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
        .report(&sizes, start, &timeline, "Client 1.0, broken")
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
