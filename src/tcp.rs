//! Parts 5 and 11: TCP on the reactor. Connecting, listening, and the
//! transport that carries a protocol's bytes.
//!
//! [`Reactor::connect_tcp`] and [`Reactor::listen_tcp`] are the two ways a
//! connection starts. Either way the connection becomes a `Connection`: one
//! non-blocking socket, registered with the reactor as a reader (and as a
//! writer while it has bytes waiting), with a [`Protocol`] on top. The
//! protocol never sees the socket, only a [`Transport`] handle.
//!
//! # Promises
//!
//! - `write` never blocks and never loses or reorders bytes. It writes what
//!   the socket takes now; the rest waits in a queue that is flushed, in
//!   order, each time the socket becomes writable. A reader that takes its
//!   time only makes its own queue grow; no one else waits for it.
//! - `write_bytes` queues shared bytes by reference: a poem written to a
//!   thousand slow readers exists once in memory, however slow they are.
//! - `lose_connection` closes once the queue is empty, and closes
//!   *lingering*: our side is shut down, and what the peer still sends is
//!   read and thrown away until it closes too (within [`LINGER_TIME`] and
//!   [`LINGER_BYTES`]). Closing at once would make Linux answer unread
//!   input with a reset, which destroys the end of the reply still on its
//!   way. `abort_connection` closes at once, and says so: the protocol
//!   hears [`ConnectionAborted`].
//! - Neither runs `connection_lost` inside the caller: the close happens
//!   when the protocol method that asked has returned, or on the reactor's
//!   next turn. A protocol is never re-entered at all (see
//!   [`crate::protocol`]).
//! - A protocol hears [`ConnectionDone`] for a clean close (either side),
//!   [`ConnectionAborted`] for our own abort, and [`ConnectionLost`] with
//!   the I/O error for a reset or any other failure.
//! - A connection that fails or is refused reaches the factory's
//!   `client_connection_failed` as a [`Failure`] holding a [`ConnectError`],
//!   always on a later turn, never inside `connect_tcp`, never as a panic.
//! - A panic in a factory or protocol method loses only that connection.
//! - A listening port survives accept errors (running out of file
//!   descriptors among them): it logs them and tries again shortly.
//!
//! # Worth knowing
//!
//! - A lingering connection keeps its file descriptor (and stays among the
//!   reactor's readers) for up to [`LINGER_TIME`] after its protocol and
//!   factory have heard `ConnectionDone`. A server closing connections fast
//!   to peers that never close needs that many descriptors in hand.
//! - A reactor that shuts down closes lingering connections at once.
//! - `abort_connection` drops the socket; it does not force a reset, so a
//!   peer that has sent nothing usually sees a plain end of file.
//! - A peer's end of file ends the connection once our queue is empty:
//!   there is no half-open connection on which we go on writing freely.
//! - When a connection closes, the poller is not told to forget it first:
//!   closing the socket does that, as long as no other process holds a
//!   copy of the descriptor, which nothing here ever makes.
//!
//! # The three rules of non-blocking sockets
//!
//! mio reports a socket when it *becomes* ready (edge-triggered), so
//! reading and writing go on until the socket says it would block; a
//! wake-up may find nothing to do (spurious); and a write may take only
//! part of what it was given (short). Each rule is handled once, here, so
//! that no protocol has to know about any of them.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use mio::net::{TcpListener, TcpStream};

use crate::defer::{succeed, Deferred};
use crate::failure::Failure;
// Host names are looked up with the helper Part 2's programs use (it
// prefers IPv4, so that `localhost` means 127.0.0.1, where the poetry
// servers listen). The lookup may block on real DNS; for the addresses in
// this book it never does.
use crate::poetry::resolve;
use crate::protocol::{
    AfterLost, ClientFactory, Event, Factory, Protocol, ProtocolCell, Transport,
};
use crate::reactor::{
    DelayedCall, Disconnect, FileDescriptor, Reactor, ReadDescriptor, WeakReactor, WriteDescriptor,
};

/// How many connections may wait to be accepted. The kernel caps it at
/// `net.core.somaxconn` (4096 on current Linux). mio (and so tokio) binds
/// with 128, which overflows at a thousand clients connecting at once.
pub const BACKLOG: i32 = 1024;

/// How much one read asks for.
const READ_CHUNK: usize = 16 * 1024;

/// How many reads (or accepts) one event may do before the others get a
/// turn. What is left is picked up on a zero-delay call, because mio will
/// not report data that was already waiting.
const BURST: usize = 64;

/// How long a listening port waits after an accept error (such as running
/// out of file descriptors) before it tries again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// A write buffer bigger than this is given back to the allocator once it
/// drains, so that one big poem does not keep its memory for the rest of
/// the connection.
const KEEP_BUFFER: usize = 64 * 1024;

/// The longest a lingering close waits for the peer to close its side. By
/// then a client has read the reply; the socket closes either way, and as
/// long as the peer sends nothing more, closing loses nothing.
pub const LINGER_TIME: Duration = Duration::from_secs(5);

/// The most input a lingering close reads and throws away before it stops
/// waiting: a peer that keeps sending is not served for ever.
pub const LINGER_BYTES: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// The errors a connection can end with.
// ---------------------------------------------------------------------------

// ANCHOR: errors
/// The other side closed the connection cleanly (Twisted's
/// `ConnectionDone`): the reason a finished poem's connection is lost.
#[derive(Debug)]
pub struct ConnectionDone;

/// The connection broke (Twisted's `ConnectionLost`): reset by the peer,
/// a failed write, or the reactor stopped.
#[derive(Debug)]
pub struct ConnectionLost(pub io::Error);

/// We closed the connection ourselves, at once, with `abort_connection`
/// (Twisted's `ConnectionAborted`): so that code can tell "we cut it" from
/// "the peer finished" and from "it broke".
#[derive(Debug)]
pub struct ConnectionAborted;

/// A connection could not be made (Twisted's `ConnectError` and its
/// subclasses, such as `ConnectionRefusedError`).
#[derive(Debug)]
pub struct ConnectError {
    destination: String,
    error: io::Error,
    cancelled: bool,
}
// ANCHOR_END: errors

impl fmt::Display for ConnectionDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the connection was closed cleanly")
    }
}

impl Error for ConnectionDone {}

impl fmt::Display for ConnectionLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the connection was lost: {}", self.0)
    }
}

impl Error for ConnectionLost {}

impl fmt::Display for ConnectionAborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the connection was aborted")
    }
}

impl Error for ConnectionAborted {}

impl ConnectError {
    /// `host:port` as given to `connect_tcp`.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// What the operating system said.
    pub fn io_error(&self) -> &io::Error {
        &self.error
    }

    /// Nothing was listening: the server is down.
    pub fn is_refused(&self) -> bool {
        self.error.kind() == io::ErrorKind::ConnectionRefused
    }

    /// [`Connector::disconnect`] gave up on the attempt.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cancelled {
            write!(f, "the connection to {} was cancelled", self.destination)
        } else {
            write!(f, "cannot connect to {}: {}", self.destination, self.error)
        }
    }
}

impl Error for ConnectError {}

/// `listen_tcp` could not open its port (Twisted's `CannotListenError`).
#[derive(Debug)]
pub struct CannotListen {
    pub interface: String,
    pub port: u16,
    pub error: io::Error,
}

impl fmt::Display for CannotListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An interface is typed by a person: quote at most a short piece.
        let interface = crate::poetry::excerpt(&self.interface);
        let (port, error) = (self.port, &self.error);
        write!(f, "cannot listen on {interface}:{port}: {error}")
    }
}

impl Error for CannotListen {}

/// How a connection ended, as this module tells it to protocols and
/// factories: the reactor's two reasons, and our own abort.
#[derive(Debug)]
enum Ending {
    /// Closed cleanly, by either side.
    Done,
    /// We cut it with `abort_connection`.
    Aborted,
    /// It broke, and this is why.
    Lost(io::Error),
}

impl From<Disconnect> for Ending {
    fn from(reason: Disconnect) -> Ending {
        match reason {
            Disconnect::Done => Ending::Done,
            Disconnect::Lost(error) => Ending::Lost(error),
        }
    }
}

/// The failure a protocol (and a client factory) hears for `ending`. Each
/// listener gets its own copy, so an `io::Error` is rebuilt from its code.
fn failure_of(ending: &Ending) -> Failure {
    match ending {
        Ending::Done => Failure::without_backtrace(ConnectionDone),
        Ending::Aborted => Failure::without_backtrace(ConnectionAborted),
        Ending::Lost(error) => Failure::without_backtrace(ConnectionLost(copy_of(error))),
    }
}

fn copy_of(error: &io::Error) -> io::Error {
    match error.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(error.kind(), error.to_string()),
    }
}

/// Drops a protocol handed back by its cell (after `connection_lost`)
/// where a panic in its `Drop` is caught.
fn drop_protocol(reactor: &Reactor, protocol: Option<Box<dyn Protocol>>) {
    if protocol.is_some() {
        reactor.catching("dropping a protocol", || drop(protocol));
    }
}

fn is_would_block(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

// ---------------------------------------------------------------------------
// The bytes waiting to go: shared, never copied per connection.
// ---------------------------------------------------------------------------

// ANCHOR: outgoing
/// What the protocol wrote and the socket has not taken yet, in order. A
/// `write_bytes` queues a reference to the caller's bytes (a `Bytes` is a
/// counted view into one buffer), so thirty slow readers of one poem hold
/// thirty references to it, not thirty copies. Small `write`s are copied
/// into `tail`, which is sealed into a chunk when a shared one follows.
#[derive(Default)]
struct Outgoing {
    chunks: VecDeque<Bytes>,
    /// Bytes copied from `write`, after every chunk.
    tail: BytesMut,
    /// The bytes waiting, in chunks and tail together.
    len: usize,
}
// ANCHOR_END: outgoing

impl Outgoing {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push_copy(&mut self, data: &[u8]) {
        self.tail.extend_from_slice(data);
        self.len += data.len();
    }

    fn push_shared(&mut self, data: Bytes) {
        if !self.tail.is_empty() {
            let sealed = self.tail.split().freeze();
            self.chunks.push_back(sealed);
        }
        self.len += data.len();
        self.chunks.push_back(data);
    }

    /// Forgets everything waiting, and the memory it held.
    fn clear(&mut self) {
        *self = Outgoing::default();
    }

    /// Writes, several chunks per system call, until the socket would
    /// block or nothing is left.
    fn write_to(&mut self, socket: &mut TcpStream) -> io::Result<()> {
        const SLICES: usize = 64;
        while !self.is_empty() {
            let mut slices = Vec::with_capacity(SLICES.min(self.chunks.len() + 1));
            slices.extend(self.chunks.iter().take(SLICES).map(|c| IoSlice::new(c)));
            if slices.len() < SLICES && !self.tail.is_empty() {
                slices.push(IoSlice::new(&self.tail));
            }
            match socket.write_vectored(&slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.advance(n),
                Err(error) if is_would_block(&error) => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if self.is_empty() && self.tail.capacity() > KEEP_BUFFER {
            self.tail = BytesMut::new();
        }
        Ok(())
    }

    /// `n` bytes have gone: drop what they came from.
    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            match self.chunks.front_mut() {
                Some(front) if n >= front.len() => {
                    n -= front.len();
                    self.chunks.pop_front();
                }
                Some(front) => {
                    front.advance(n);
                    n = 0;
                }
                None => {
                    self.tail.advance(n);
                    n = 0;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The connection: a socket, its protocol, and the bytes waiting to go.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Open,
    /// `lose_connection` was called: close once the buffer is empty.
    Disconnecting,
    /// Everything was sent and our side is shut down; the protocol has
    /// heard the end. What the peer still sends is read and thrown away
    /// until it closes too (or the bounds run out), then the socket closes.
    Lingering,
    Closed,
}

// ANCHOR: connection
/// One TCP connection. The reactor owns it (as a reader, and as a writer
/// while `outgoing` is not empty); the protocol reaches it through a
/// [`TcpTransport`], which holds it weakly.
struct Connection {
    fd: RawFd,
    me: Weak<Connection>,
    reactor: WeakReactor,
    /// `None` once closed: dropping the socket is what closes it.
    socket: RefCell<Option<TcpStream>>,
    /// The protocol, which hears each event once and is never re-entered.
    protocol: ProtocolCell,
    /// Bytes written by the protocol that the socket has not taken yet.
    outgoing: RefCell<Outgoing>,
    state: Cell<State>,
    /// A reason to close that is already decided (an abort, a failed
    /// write). Set by whoever decides; taken by `closing_reason`.
    pending_close: RefCell<Option<Ending>>,
    /// Registered as a writer. Set by `write`, cleared by `do_write`.
    writing: Cell<bool>,
    /// The peer has finished sending (end of file). Until then the
    /// connection is registered as a reader, from `start` on.
    eof: Cell<bool>,
    /// A read burst stopped early: there may be more data waiting.
    more_to_read: Cell<bool>,
    /// A zero-delay call will look at this connection again.
    revisit: Cell<bool>,
    /// While lingering: how much input was thrown away, and the timer that
    /// ends the wait.
    discarded: Cell<usize>,
    linger_timer: RefCell<Option<DelayedCall>>,
    peer: SocketAddr,
    /// Our own address, looked up the first time someone asks.
    host: Cell<Option<SocketAddr>>,
    /// For an incoming connection, the listening port's address: what
    /// `host` falls back on if nobody asked before the socket closed.
    host_hint: SocketAddr,
    /// For an outgoing connection, who to tell when it ends.
    connector: Option<Connector>,
    /// The name of the factory that made its protocol, for the log.
    system: Rc<str>,
}
// ANCHOR_END: connection

impl Connection {
    fn new(
        reactor: &Reactor,
        socket: TcpStream,
        peer: SocketAddr,
        host_hint: SocketAddr,
        protocol: Box<dyn Protocol>,
        connector: Option<Connector>,
        system: Rc<str>,
    ) -> Rc<Connection> {
        Rc::new_cyclic(|me| Connection {
            fd: socket.as_raw_fd(),
            me: me.clone(),
            reactor: reactor.downgrade(),
            socket: RefCell::new(Some(socket)),
            protocol: ProtocolCell::new(protocol),
            outgoing: RefCell::default(),
            state: Cell::new(State::Open),
            pending_close: RefCell::default(),
            writing: Cell::new(false),
            eof: Cell::new(false),
            more_to_read: Cell::new(false),
            revisit: Cell::new(false),
            discarded: Cell::new(0),
            linger_timer: RefCell::default(),
            peer,
            host: Cell::new(None),
            host_hint,
            connector,
            system,
        })
    }

    // ANCHOR: start
    /// The connection is up: tell the protocol, then watch the socket,
    /// unless the protocol already closed it (as a server that writes a
    /// poem and hangs up does).
    fn start(self: &Rc<Self>, reactor: &Reactor) {
        let transport: Rc<dyn Transport> = Rc::new(TcpTransport {
            connection: Rc::downgrade(self),
            peer: self.peer,
            host_hint: self.host_hint,
        });
        let made = reactor.catching("connection_made", || {
            self.protocol.deliver(Event::Made(transport))
        });
        match made {
            // The protocol closed the connection from its own method and
            // has heard the end already: drop it under the guard.
            Some(lost) => drop_protocol(reactor, lost),
            None => self.close_soon("connection_made panicked"),
        }
        if let Some(reason) = self.closing_reason() {
            return self.close(reactor, reason);
        }
        if let Err(error) = reactor.add_reader(self.clone()) {
            self.close(reactor, Ending::Lost(error));
        }
    }
    // ANCHOR_END: start

    fn close_soon(&self, why: &str) {
        let error = io::Error::new(io::ErrorKind::ConnectionAborted, why.to_string());
        self.pending_close
            .borrow_mut()
            .get_or_insert(Ending::Lost(error));
    }

    /// Should the connection close now, and why?
    fn closing_reason(&self) -> Option<Ending> {
        if matches!(self.state.get(), State::Closed | State::Lingering) {
            return None;
        }
        if let Some(reason) = self.pending_close.borrow_mut().take() {
            return Some(reason);
        }
        let drained = self.outgoing.borrow().is_empty();
        let done_reading = self.state.get() == State::Disconnecting || self.eof.get();
        (drained && done_reading).then_some(Ending::Done)
    }

    // ANCHOR: close
    /// Closes from outside the reactor's dispatch. A clean close lingers
    /// if the peer may still send: see [`Connection::linger`].
    fn close(&self, reactor: &Reactor, reason: Ending) {
        let clean = matches!(reason, Ending::Done);
        if clean && !self.eof.get() && self.state.get() != State::Lingering {
            return self.linger(reactor);
        }
        // `finish` closes the socket now, which the poller notices by itself.
        reactor.forget_before_close(self.fd, self as *const Connection as *const ());
        self.finish(reactor, reason);
    }

    /// Everything written has been sent, and the peer has not said it is
    /// done. Closing the socket now would be a mistake: if the peer has
    /// sent anything we never read (a client that speaks first), Linux
    /// answers the close with a reset, and a reset throws away what is
    /// still queued for the peer in our kernel, the end of our reply. So,
    /// as nginx's "lingering close" does: shut down our sending side (the
    /// peer reads the rest of the reply, then end of file), keep reading
    /// and throwing away what it sends until it closes too, and only then
    /// close, or after [`LINGER_TIME`] or [`LINGER_BYTES`], whichever
    /// comes first. The protocol hears `connection_lost` now: for it, the
    /// connection is over.
    fn linger(&self, reactor: &Reactor) {
        let shut = match self.socket.borrow().as_ref() {
            Some(socket) => socket.shutdown(Shutdown::Write),
            None => Ok(()),
        };
        if let Err(error) = shut {
            // Already reset, most likely: nothing to linger for.
            return self.close(reactor, Ending::Lost(error));
        }
        self.state.set(State::Lingering);
        reactor.remove_writer(self);
        self.tell_the_end(reactor, &Ending::Done);
        let (Some(me), true) = (self.me.upgrade(), self.state.get() == State::Lingering) else {
            return;
        };
        if let Err(error) = reactor.add_reader(me) {
            return self.finish(reactor, Ending::Lost(error));
        }
        let me = self.me.clone();
        let timer = reactor.call_later(LINGER_TIME, move |reactor| {
            if let Some(me) = me.upgrade() {
                me.close(reactor, Ending::Lost(io::ErrorKind::TimedOut.into()));
            }
        });
        *self.linger_timer.borrow_mut() = Some(timer);
        // Input that arrived before the reader was registered is reported
        // by registering it; input an earlier burst saw but did not read
        // (it stopped to close) is read on the next turn.
        if self.more_to_read.get() {
            self.revisit_later();
        }
    }
    // ANCHOR_END: close

    // ANCHOR: finish
    /// The end, whoever decided it: close the socket, then tell the
    /// protocol and, for an outgoing connection, the factory (unless a
    /// lingering close told them already).
    fn finish(&self, reactor: &Reactor, reason: Ending) {
        if self.state.replace(State::Closed) == State::Closed {
            return;
        }
        self.socket.borrow_mut().take();
        self.outgoing.borrow_mut().clear();
        if let Some(timer) = self.linger_timer.borrow_mut().take() {
            timer.cancel();
        }
        self.tell_the_end(reactor, &reason);
    }
    // ANCHOR_END: finish

    /// Tells the protocol, then the connector, how the connection ended;
    /// only the first time it is called. If the protocol is busy (this
    /// close was decided inside one of its methods), both hear it as soon
    /// as that method returns, still in that order.
    fn tell_the_end(&self, reactor: &Reactor, reason: &Ending) {
        if !self.protocol.is_lost() {
            self.deliver_the_end(reactor, reason);
        }
        // Told now or earlier, a panicking connection_lost may have left
        // something undone.
        self.clean_up(reactor);
    }

    fn deliver_the_end(&self, reactor: &Reactor, reason: &Ending) {
        let after = self.connector.clone().map(|connector| {
            let (reactor, failure) = (reactor.clone(), failure_of(reason));
            Box::new(move || connector.connection_ended(&reactor, failure)) as AfterLost
        });
        let lost = reactor.catching("connection_lost", || {
            self.protocol
                .deliver(Event::Lost(failure_of(reason), after))
        });
        // The protocol goes here, where a panic in its `Drop` is caught.
        drop_protocol(reactor, lost.flatten());
    }

    /// Finishes what a panicking `connection_lost` left undone: the
    /// factory still hears the end, and the protocol is dropped under the
    /// guard.
    fn clean_up(&self, reactor: &Reactor) {
        let (after, dying) = self.protocol.leftovers();
        if let Some(after) = after {
            reactor.catching("client_connection_lost", after);
        }
        drop_protocol(reactor, dying);
    }

    /// Looks at the connection again in a zero-delay call, unless a
    /// protocol method of ours is running: the code that called it looks
    /// as soon as it returns.
    fn revisit_later(&self) {
        if self.protocol.is_busy() || self.revisit.replace(true) {
            return;
        }
        let (Some(reactor), Some(me)) = (self.reactor.upgrade(), self.me.upgrade()) else {
            return;
        };
        reactor.call_later(Duration::ZERO, move |reactor| {
            me.revisit.set(false);
            me.revisit(reactor);
        });
    }

    /// Reads what a cut-short burst left, then closes if it is time.
    fn revisit(&self, reactor: &Reactor) {
        let reason = match self.more_to_read.replace(false) {
            // A panic here is caught as it would be in the reactor's own
            // dispatch: it loses this connection, and only this one.
            true => reactor
                .catching("do_read", || self.read_burst(reactor))
                .unwrap_or_else(|| Some(Ending::Lost(io::Error::other("do_read panicked")))),
            false => None,
        };
        if let Some(reason) = reason.or_else(|| self.closing_reason()) {
            self.close(reactor, reason);
        }
    }

    // ANCHOR: write
    /// Sends `data` (whose shared form, if the caller has one, is
    /// `shared`): as much as the socket takes now, the rest queued.
    fn write(&self, data: &[u8], shared: Option<&Bytes>) {
        let writable = matches!(self.state.get(), State::Open | State::Disconnecting);
        if !writable || data.is_empty() || self.pending_close.borrow().is_some() {
            return;
        }
        let mut written = 0;
        // Nothing queued: try the socket at once. Most writes end here.
        if self.outgoing.borrow().is_empty() {
            let mut socket = self.socket.borrow_mut();
            let Some(socket) = socket.as_mut() else {
                return;
            };
            while written < data.len() {
                match socket.write(&data[written..]) {
                    Ok(0) => return self.fail(io::ErrorKind::WriteZero.into()),
                    Ok(n) => written += n,
                    Err(error) if is_would_block(&error) => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => return self.fail(error),
                }
            }
        }
        if written == data.len() {
            return;
        }
        // The socket is full: keep the rest (a reference to it, if it is
        // shared), and ask to hear when the socket drains.
        match shared {
            Some(bytes) => self
                .outgoing
                .borrow_mut()
                .push_shared(bytes.slice(written..)),
            None => self.outgoing.borrow_mut().push_copy(&data[written..]),
        }
        if !self.writing.replace(true) {
            let added = match (self.reactor.upgrade(), self.me.upgrade()) {
                (Some(reactor), Some(me)) => reactor.add_writer(me),
                _ => Err(io::Error::other("the reactor is gone")),
            };
            if let Err(error) = added {
                self.fail(error);
            }
        }
    }
    // ANCHOR_END: write

    /// A write failed: the connection is lost, as soon as it is safe to say.
    fn fail(&self, error: io::Error) {
        self.pending_close
            .borrow_mut()
            .get_or_insert(Ending::Lost(error));
        self.revisit_later();
    }

    /// Writes what is queued until the socket would block.
    fn flush(&self) -> io::Result<()> {
        let mut socket = self.socket.borrow_mut();
        match socket.as_mut() {
            Some(socket) => self.outgoing.borrow_mut().write_to(socket),
            None => Ok(()),
        }
    }

    fn lose_connection(&self) {
        if self.state.get() == State::Open {
            self.state.set(State::Disconnecting);
            self.revisit_later();
        }
    }

    fn abort_connection(&self) {
        if matches!(self.state.get(), State::Open | State::Disconnecting) {
            self.outgoing.borrow_mut().clear();
            // An abort replaces any other reason that was on its way.
            *self.pending_close.borrow_mut() = Some(Ending::Aborted);
            self.revisit_later();
        }
    }

    fn host(&self) -> SocketAddr {
        if let Some(host) = self.host.get() {
            return host;
        }
        let socket = self.socket.borrow();
        let host = socket.as_ref().and_then(|socket| socket.local_addr().ok());
        self.host.set(host);
        host.unwrap_or(self.host_hint)
    }

    /// The rest of a read after the socket said end of file.
    fn end_of_file(&self, reactor: &Reactor) -> Option<Ending> {
        self.eof.set(true);
        if self.state.get() == State::Lingering {
            return Some(Ending::Done); // the peer has closed too: the wait is over
        }
        if self.outgoing.borrow().is_empty() {
            return Some(
                self.pending_close
                    .borrow_mut()
                    .take()
                    .unwrap_or(Ending::Done),
            );
        }
        // The peer is done sending but may still be reading: finish
        // writing first, so that no byte written is lost.
        reactor.remove_reader(self);
        None
    }

    /// Throws away what a lingering connection reads; true when enough
    /// has been thrown away to stop waiting for the peer.
    fn discard(&self, n: usize) -> bool {
        self.discarded.set(self.discarded.get() + n);
        self.discarded.get() > LINGER_BYTES
    }
}

// ANCHOR: do_read
impl ReadDescriptor for Connection {
    /// Reads until the socket would block. The connection closes itself
    /// (see `close`) when a read tells it to; it never hands the reactor a
    /// reason, because the reactor's two reasons cannot say "aborted" and
    /// know nothing of lingering.
    fn do_read(&self, reactor: &Reactor) -> Option<Disconnect> {
        if let Some(reason) = self.read_burst(reactor) {
            self.close(reactor, reason);
        }
        None
    }
}

impl Connection {
    /// Up to `BURST` reads; the reason to close, if one turned up.
    fn read_burst(&self, reactor: &Reactor) -> Option<Ending> {
        let mut buffer = [0; READ_CHUNK];
        for _ in 0..BURST {
            // After end of file the reader is unregistered; a revisit may
            // still come, and finds nothing to do.
            if self.state.get() == State::Closed || self.eof.get() {
                return None;
            }
            // An abort or a failed write decided while no protocol method
            // was running: close now, before delivering anything more.
            if self.pending_close.borrow().is_some() {
                return self.closing_reason();
            }
            // The borrow of the socket ends before the protocol runs.
            let read = match self.socket.borrow_mut().as_mut() {
                Some(socket) => socket.read(&mut buffer),
                None => return None,
            };
            match read {
                Ok(0) => return self.end_of_file(reactor),
                Ok(n) if self.state.get() == State::Lingering => {
                    if self.discard(n) {
                        return Some(Ending::Done);
                    }
                }
                Ok(n) => {
                    // After lose_connection, what arrives is not wanted. It
                    // is still read (Twisted stops reading instead), so that
                    // the peer's end of file or reset is noticed.
                    if self.state.get() == State::Open {
                        let lost = self.protocol.data_received(&buffer[..n]);
                        drop_protocol(reactor, lost);
                    }
                    if let Some(reason) = self.closing_reason() {
                        // More may be waiting, whose edge this read used
                        // up: a lingering close reads it.
                        self.more_to_read.set(true);
                        return Some(reason);
                    }
                }
                Err(error) if is_would_block(&error) => return self.closing_reason(),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Some(Ending::Lost(error)),
            }
        }
        // A fast sender has had its share; the rest waits for a later call.
        self.more_to_read.set(true);
        self.revisit_later();
        None
    }
}
// ANCHOR_END: do_read

impl WriteDescriptor for Connection {
    fn do_write(&self, reactor: &Reactor) -> Option<Disconnect> {
        if let Err(error) = self.flush() {
            self.close(reactor, Ending::Lost(error));
            return None;
        }
        if self.outgoing.borrow().is_empty() && self.writing.replace(false) {
            reactor.remove_writer(self);
        }
        if let Some(reason) = self.closing_reason() {
            self.close(reactor, reason);
        }
        None
    }
}

impl FileDescriptor for Connection {
    fn fileno(&self) -> RawFd {
        self.fd
    }

    /// Only the reactor calls this: after a panic in `do_read` or
    /// `do_write`, or when it shuts down. There is nothing to linger for.
    fn connection_lost(&self, reactor: &Reactor, reason: Disconnect) {
        self.finish(reactor, Ending::from(reason));
    }

    /// Its factory's name: log lines written while it is at work name the
    /// factory, as Twisted's do (Part 16).
    fn log_prefix(&self) -> String {
        self.system.to_string()
    }
}

// ANCHOR: transport
/// The handle a protocol gets. It holds the connection weakly: once the
/// connection is over, writing to it does nothing, and a protocol that
/// keeps its transport keeps no socket alive.
struct TcpTransport {
    connection: Weak<Connection>,
    peer: SocketAddr,
    /// What `host` says once the connection is gone (see `host_hint`).
    host_hint: SocketAddr,
}

impl Transport for TcpTransport {
    fn write(&self, data: &[u8]) {
        if let Some(connection) = self.connection.upgrade() {
            connection.write(data, None);
        }
    }

    fn write_bytes(&self, data: Bytes) {
        if let Some(connection) = self.connection.upgrade() {
            connection.write(&data, Some(&data));
        }
    }

    fn lose_connection(&self) {
        if let Some(connection) = self.connection.upgrade() {
            connection.lose_connection();
        }
    }

    fn abort_connection(&self) {
        if let Some(connection) = self.connection.upgrade() {
            connection.abort_connection();
        }
    }

    fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn host(&self) -> SocketAddr {
        match self.connection.upgrade() {
            Some(connection) => connection.host(),
            None => self.host_hint,
        }
    }
}
// ANCHOR_END: transport

// ---------------------------------------------------------------------------
// Listening: a socket that produces connections.
// ---------------------------------------------------------------------------

struct Listener {
    fd: RawFd,
    me: Weak<Listener>,
    socket: RefCell<Option<TcpListener>>,
    /// `None` once the port is closed: the factory is let go then, so that
    /// a factory holding its own `ListeningPort` (or a reactor handle) is
    /// no circle once the port or the reactor is over.
    factory: RefCell<Option<Rc<dyn Factory>>>,
    address: SocketAddr,
    /// A retry after an accept error is already scheduled.
    retrying: Cell<bool>,
    /// Its factory's name, for the log (Part 16); each connection shares it.
    system: Rc<str>,
}

impl Listener {
    // ANCHOR: serve
    /// A new client: build its protocol and start its connection.
    fn serve(&self, reactor: &Reactor, socket: TcpStream, peer: SocketAddr) {
        // A clone, not a borrow: build_protocol may stop listening.
        let Some(factory) = self.factory.borrow().clone() else {
            return; // the port is closed
        };
        let Some(protocol) = reactor.catching("build_protocol", || factory.build_protocol(peer))
        else {
            return; // dropping the socket closes it; other clients go on
        };
        let system = Rc::clone(&self.system);
        let connection =
            Connection::new(reactor, socket, peer, self.address, protocol, None, system);
        connection.start(reactor);
        // The last reference, if it closed at once: dropped under the guard.
        reactor.catching("dropping a connection", || drop(connection));
    }

    /// Closes the socket and lets go of the factory.
    fn close(&self, reactor: Option<&Reactor>) {
        self.socket.borrow_mut().take();
        let factory = self.factory.borrow_mut().take();
        match reactor {
            Some(reactor) => drop(reactor.catching("dropping a factory", || drop(factory))),
            None => drop(factory),
        }
    }
    // ANCHOR_END: serve

    fn retry_later(&self, reactor: &Reactor, delay: Duration) {
        if self.retrying.replace(true) {
            return;
        }
        let me = self.me.clone();
        reactor.call_later(delay, move |reactor| {
            if let Some(listener) = me.upgrade() {
                listener.retrying.set(false);
                listener.do_read(reactor);
            }
        });
    }
}

// ANCHOR: accept
impl ReadDescriptor for Listener {
    fn do_read(&self, reactor: &Reactor) -> Option<Disconnect> {
        for _ in 0..BURST {
            let accepted = match self.socket.borrow().as_ref() {
                Some(socket) => socket.accept(),
                None => return None, // stopped listening
            };
            match accepted {
                Ok((socket, peer)) => self.serve(reactor, socket, peer),
                Err(error) if is_would_block(&error) => return None,
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(error) => {
                    // Out of file descriptors, most likely. The client stays
                    // in the backlog; try again once some have been freed.
                    tracing::error!(
                        "cannot accept on {}: {error}; trying again shortly",
                        self.address
                    );
                    self.retry_later(reactor, ACCEPT_RETRY);
                    return None;
                }
            }
        }
        // More clients are waiting; let the connections have a turn first.
        self.retry_later(reactor, Duration::ZERO);
        None
    }
}
// ANCHOR_END: accept

impl FileDescriptor for Listener {
    fn fileno(&self) -> RawFd {
        self.fd
    }

    fn connection_lost(&self, reactor: &Reactor, _reason: Disconnect) {
        self.close(Some(reactor));
    }

    /// Its factory's name too: a protocol's `connection_made` runs while
    /// the listener is accepting.
    fn log_prefix(&self) -> String {
        self.system.to_string()
    }
}

/// A port being listened on (Twisted's `IListeningPort`). Dropping the
/// handle does not stop it; [`ListeningPort::stop_listening`] does.
pub struct ListeningPort {
    listener: Rc<Listener>,
    reactor: WeakReactor,
}

impl ListeningPort {
    /// The address actually listened on: with port 0, the port the system
    /// chose.
    pub fn host(&self) -> SocketAddr {
        self.listener.address
    }

    /// Closes the listening socket. Connections already accepted go on.
    ///
    /// The Deferred fires once the port is closed, so that a test's
    /// teardown can wait for it, as the series' does (Part 15). Our close is
    /// immediate, so it has fired already when it is returned; Twisted's
    /// fires on a later turn. Code that waits on it works with both.
    pub fn stop_listening(&self) -> Deferred<()> {
        let reactor = self.reactor.upgrade();
        if let Some(reactor) = &reactor {
            reactor.remove_reader(&*self.listener);
        }
        self.listener.close(reactor.as_ref());
        succeed(())
    }
}

fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    // A restarted server can take its port back while old connections
    // linger in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}

// ---------------------------------------------------------------------------
// Connecting: an attempt that becomes a connection, or a failure.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ConnectorState {
    Connecting,
    Connected,
    Disconnected,
}

/// An outgoing connection, from the attempt to the end (Twisted's
/// `Connector`). Cheap to clone.
#[derive(Clone)]
pub struct Connector {
    inner: Rc<ConnectorInner>,
}

struct ConnectorInner {
    destination: String,
    /// `None` once the connector has told its last news (the attempt
    /// failed, or the connection ended): let go then, so that a factory
    /// holding its own `Connector` is no circle.
    factory: RefCell<Option<Rc<dyn ClientFactory>>>,
    reactor: WeakReactor,
    state: Cell<ConnectorState>,
    /// `disconnect` was called while connecting: the failure is on its way,
    /// and a connection that completes meanwhile is dropped unseen.
    cancelled: Cell<bool>,
    /// Held weakly: the reactor owns the attempt while it is registered.
    attempt: RefCell<Weak<Attempt>>,
    connection: RefCell<Weak<Connection>>,
    /// The factory's name, for the log (Part 16).
    system: Rc<str>,
}

impl Connector {
    /// `host:port`, as given to `connect_tcp`.
    pub fn destination(&self) -> &str {
        &self.inner.destination
    }

    /// Gives up: a pending attempt is cancelled (the factory hears
    /// `client_connection_failed` with a cancelled [`ConnectError`]), and
    /// a connection that was made is closed with `lose_connection`.
    pub fn disconnect(&self) {
        let Some(reactor) = self.inner.reactor.upgrade() else {
            return;
        };
        match self.inner.state.get() {
            ConnectorState::Connecting => {
                if self.inner.cancelled.replace(true) {
                    return; // already cancelled
                }
                if let Some(attempt) = self.inner.attempt.borrow().upgrade() {
                    reactor.remove_writer(&*attempt);
                    attempt.socket.borrow_mut().take();
                }
                let me = self.clone();
                reactor.call_later(Duration::ZERO, move |reactor| {
                    let error = io::Error::new(io::ErrorKind::Interrupted, "cancelled");
                    me.failed(reactor, error, true);
                });
            }
            ConnectorState::Connected => {
                if let Some(connection) = self.inner.connection.borrow().upgrade() {
                    connection.lose_connection();
                }
            }
            ConnectorState::Disconnected => {}
        }
    }

    fn connected(&self, reactor: &Reactor, socket: TcpStream, peer: SocketAddr) {
        if self.inner.state.get() != ConnectorState::Connecting || self.inner.cancelled.get() {
            return;
        }
        let Some(factory) = self.factory() else {
            return;
        };
        let Some(protocol) = reactor.catching("build_protocol", || factory.build_protocol(peer))
        else {
            let error = io::Error::other("build_protocol panicked");
            return self.failed(reactor, error, false);
        };
        // `build_protocol` itself may have called `disconnect`.
        if self.inner.cancelled.get() {
            return;
        }
        self.inner.state.set(ConnectorState::Connected);
        let host = socket.local_addr().unwrap_or(peer);
        let system = Rc::clone(&self.inner.system);
        let connection = Connection::new(
            reactor,
            socket,
            peer,
            host,
            protocol,
            Some(self.clone()),
            system,
        );
        *self.inner.connection.borrow_mut() = Rc::downgrade(&connection);
        connection.start(reactor);
        reactor.catching("dropping a connection", || drop(connection));
    }

    /// The factory, while it has news to hear. A clone, so that no borrow
    /// is held while it runs.
    fn factory(&self) -> Option<Rc<dyn ClientFactory>> {
        self.inner.factory.borrow().clone()
    }

    /// The last news has been told: let go of the factory.
    fn release_factory(&self, reactor: &Reactor) {
        let factory = self.inner.factory.borrow_mut().take();
        reactor.catching("dropping a factory", || drop(factory));
    }

    // ANCHOR: failed
    fn failed(&self, reactor: &Reactor, error: io::Error, cancelled: bool) {
        // Only an attempt can fail, and only once.
        if self.inner.state.get() != ConnectorState::Connecting {
            return;
        }
        self.inner.state.set(ConnectorState::Disconnected);
        let destination = self.inner.destination.clone();
        let failure = Failure::without_backtrace(ConnectError {
            destination,
            error,
            cancelled,
        });
        if let Some(factory) = self.factory() {
            reactor.catching("client_connection_failed", || {
                factory.client_connection_failed(self, failure)
            });
        }
        self.release_factory(reactor);
    }
    // ANCHOR_END: failed

    fn connection_ended(&self, reactor: &Reactor, failure: Failure) {
        self.inner.state.set(ConnectorState::Disconnected);
        if let Some(factory) = self.factory() {
            reactor.catching("client_connection_lost", || {
                factory.client_connection_lost(self, failure)
            });
        }
        self.release_factory(reactor);
    }
}

/// A connect in progress: the socket becomes writable when it is made or
/// has failed.
struct Attempt {
    fd: RawFd,
    socket: RefCell<Option<TcpStream>>,
    connector: Connector,
}

impl WriteDescriptor for Attempt {
    fn do_write(&self, reactor: &Reactor) -> Option<Disconnect> {
        let outcome = {
            let socket = self.socket.borrow();
            let socket = socket.as_ref()?;
            match socket.take_error() {
                Ok(Some(error)) | Err(error) => Err(error),
                Ok(None) => match socket.peer_addr() {
                    Ok(peer) => Ok(peer),
                    // A wake-up before the connect is done: wait for more.
                    Err(error)
                        if error.kind() == io::ErrorKind::NotConnected
                            || error.raw_os_error() == Some(EINPROGRESS) =>
                    {
                        return None
                    }
                    Err(error) => Err(error),
                },
            }
        };
        reactor.remove_writer(self);
        let socket = self.socket.borrow_mut().take();
        match (outcome, socket) {
            (Ok(peer), Some(socket)) => self.connector.connected(reactor, socket, peer),
            (Err(error), _) => self.connector.failed(reactor, error, false),
            (Ok(_), None) => {}
        }
        None
    }
}

/// Linux's "operation now in progress".
const EINPROGRESS: i32 = 115;

impl FileDescriptor for Attempt {
    fn fileno(&self) -> RawFd {
        self.fd
    }

    fn connection_lost(&self, reactor: &Reactor, reason: Disconnect) {
        self.socket.borrow_mut().take();
        let error = match reason {
            Disconnect::Lost(error) => error,
            Disconnect::Done => io::Error::other("the attempt ended"),
        };
        self.connector.failed(reactor, error, false);
    }

    fn log_prefix(&self) -> String {
        "connecting".to_string()
    }
}

// ---------------------------------------------------------------------------
// The two ways in, as reactor methods, like Twisted's `reactor.connectTCP`.
// ---------------------------------------------------------------------------

/// What `listen_tcp` accepts as a factory: an `Rc` of any [`Factory`], or
/// an `Rc<dyn Factory>`. (A parameter of type `Rc<dyn Factory>` would take
/// both too, but then `Rc::clone(&factory)` would no longer infer.)
pub trait IntoFactory {
    fn into_factory(self) -> Rc<dyn Factory>;
}

impl<F: Factory + 'static> IntoFactory for Rc<F> {
    fn into_factory(self) -> Rc<dyn Factory> {
        self
    }
}

impl IntoFactory for Rc<dyn Factory> {
    fn into_factory(self) -> Rc<dyn Factory> {
        self
    }
}

/// What `connect_tcp` accepts as a factory: an `Rc` of any
/// [`ClientFactory`], or an `Rc<dyn ClientFactory>`.
pub trait IntoClientFactory {
    fn into_client_factory(self) -> Rc<dyn ClientFactory>;
}

impl<F: ClientFactory + 'static> IntoClientFactory for Rc<F> {
    fn into_client_factory(self) -> Rc<dyn ClientFactory> {
        self
    }
}

impl IntoClientFactory for Rc<dyn ClientFactory> {
    fn into_client_factory(self) -> Rc<dyn ClientFactory> {
        self
    }
}

impl Reactor {
    // ANCHOR: connect_tcp
    /// Starts connecting to `host:port` without waiting. The factory hears
    /// `started_connecting` now, and later either builds the connection's
    /// protocol or hears `client_connection_failed`.
    ///
    /// Any factory will do, a trait object too (`Rc<dyn ClientFactory>`),
    /// so that a registry can hold factories of different types.
    pub fn connect_tcp(&self, host: &str, port: u16, factory: impl IntoClientFactory) -> Connector {
        let factory = factory.into_client_factory();
        let connector = Connector {
            inner: Rc::new(ConnectorInner {
                destination: format!("{host}:{port}"),
                factory: RefCell::new(Some(factory.clone())),
                reactor: self.downgrade(),
                state: Cell::new(ConnectorState::Connecting),
                cancelled: Cell::new(false),
                attempt: RefCell::default(),
                connection: RefCell::default(),
                system: factory.log_prefix().into(),
            }),
        };
        self.catching("started_connecting", || {
            factory.started_connecting(&connector)
        });
        if connector.inner.cancelled.get() {
            return connector; // disconnected already: the failure is on its way
        }
        let attempt = resolve(host, port)
            .and_then(TcpStream::connect)
            .map(|socket| {
                Rc::new(Attempt {
                    fd: socket.as_raw_fd(),
                    socket: RefCell::new(Some(socket)),
                    connector: connector.clone(),
                })
            });
        let registered = attempt.and_then(|attempt| {
            *connector.inner.attempt.borrow_mut() = Rc::downgrade(&attempt);
            self.add_writer(attempt)
        });
        if let Err(error) = registered {
            // Even a failure that is known at once is told on a later turn,
            // so that the caller always sees the same order of events.
            let me = connector.clone();
            self.call_later(Duration::ZERO, move |reactor| {
                me.failed(reactor, error, false)
            });
        }
        connector
    }
    // ANCHOR_END: connect_tcp

    // ANCHOR: listen_tcp
    /// Listens on `interface:port` (port 0: any free port) and serves each
    /// client with a protocol from `factory`, until `stop_listening`.
    ///
    /// Any factory will do, a trait object too (`Rc<dyn Factory>`).
    pub fn listen_tcp(
        &self,
        port: u16,
        factory: impl IntoFactory,
        interface: &str,
    ) -> Result<ListeningPort, CannotListen> {
        let factory = factory.into_factory();
        let factory_name = factory.log_prefix();
        let cannot = |error| CannotListen {
            interface: interface.to_string(),
            port,
            error,
        };
        let socket = resolve(interface, port).and_then(bind).map_err(cannot)?;
        let address = socket.local_addr().map_err(cannot)?;
        let listener = Rc::new_cyclic(|me| Listener {
            fd: socket.as_raw_fd(),
            me: me.clone(),
            socket: RefCell::new(Some(socket)),
            factory: RefCell::new(Some(factory)),
            address,
            retrying: Cell::new(false),
            system: factory_name.into(),
        });
        self.add_reader(listener.clone()).map_err(cannot)?;
        Ok(ListeningPort {
            listener,
            reactor: self.downgrade(),
        })
    }
    // ANCHOR_END: listen_tcp
}

#[cfg(test)]
mod tests;
