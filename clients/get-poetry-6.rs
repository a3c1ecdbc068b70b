//! Part 13: client 6.0. The transformation moves to a server.
//!
//! Client 5 lower-cased each poem itself, with a cummingsifier that failed
//! at random. Client 6 asks the transform server of Part 12 instead: the
//! first address is that server, the others are poetry servers. Asking a
//! server takes time, so the callback that asks cannot return the lowered
//! poem: it returns a Deferred for it, and the poem's chain waits on that
//! Deferred until the server answers. When the server cannot help (it is
//! down, it hangs up without a reply, it knows no such transform), the
//! original poem is shown instead.
//!
//! ```text
//! cargo run --bin get-poetry-6 -- 10001 10002 10003
//! ```

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;

use bytes::Bytes;
use clap::{CommandFactory, Parser};
use mini_twisted::netstring::{Netstring, NetstringError, NetstringReceiver, NetstringTransport};
use mini_twisted::poetry::{exit_status, Address, Checked, EXIT_STATUS_HELP};
use mini_twisted::protocol::{ClientFactory, Factory, Protocol};
use mini_twisted::reactor::ReactorError;
use mini_twisted::tcp::{ConnectionDone, Connector};
use mini_twisted::{deferred, Deferred, Failure, Reactor, Trigger};

// Client 4.0's get_poetry, unchanged: the lesson here is in the chain.
#[path = "get-poetry-4.rs"]
#[allow(dead_code)]
mod client_4;

// Public, so that client 7.0, which compiles this file in, can use it too.
pub use client_4::get_poetry;

/// Get Poetry Now! Client 6.0: poems lower-cased by a transform server.
#[derive(Parser)]
#[command(name = "get-poetry-6", after_help = EXIT_STATUS_HELP)]
struct Options {
    /// The transform server, as [host:]port; the host defaults to 127.0.0.1
    #[arg(value_name = "XFORM-ADDR", value_parser = Checked(str::parse::<Address>))]
    transform: Option<Address>,

    /// The servers to get poetry from, as [host:]port
    #[arg(value_name = "ADDR", value_parser = Checked(str::parse::<Address>))]
    servers: Vec<Address>,
}

// ANCHOR: request
/// The trigger of one request's Deferred, until it fires.
type Pending = Rc<RefCell<Option<Trigger<String>>>>;

/// Takes the trigger out of `pending` and fires it, unless it has fired
/// already. The borrow ends before the firing, so the callbacks that run
/// may do anything.
fn fire(pending: &Pending, outcome: Result<String, Failure>) {
    let trigger = pending.borrow_mut().take();
    if let Some(trigger) = trigger {
        trigger.fire(outcome);
    }
}

/// The transform server hung up before it answered.
#[derive(Debug)]
pub struct NoReply;

impl fmt::Display for NoReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the transform server closed the connection without a reply"
        )
    }
}

impl Error for NoReply {}

/// One request: send `name.poem`, wait for the one reply, hang up.
struct TransformClientProtocol {
    request: Bytes,
    pending: Pending,
}

impl NetstringReceiver for TransformClientProtocol {
    fn connection_made(&mut self, transport: &NetstringTransport) {
        transport.send_string(&self.request);
    }

    fn string_received(&mut self, transport: &NetstringTransport, reply: Bytes) {
        transport.lose_connection();
        let poem = String::from_utf8(reply.to_vec()).map_err(Failure::from);
        fire(&self.pending, poem);
    }

    fn connection_lost(&mut self, reason: Failure) {
        // `Netstring` hung up on a reply that broke the framing, and says
        // so in `reason`; a plain close is the factory's to report.
        if reason.check::<NetstringError>() {
            fire(&self.pending, Err(reason));
        }
    }
}

/// Owns the trigger of the request's Deferred. Whatever ends the
/// connection without a reply fires it with a failure.
struct TransformClientFactory {
    request: Bytes,
    pending: Pending,
}

impl Factory for TransformClientFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(Netstring::new(TransformClientProtocol {
            request: self.request.clone(),
            pending: Rc::clone(&self.pending),
        }))
    }
}

impl ClientFactory for TransformClientFactory {
    fn client_connection_failed(&self, _connector: &Connector, reason: Failure) {
        fire(&self.pending, Err(reason));
    }

    fn client_connection_lost(&self, _connector: &Connector, reason: Failure) {
        // After a reply the trigger is gone and this does nothing. Before
        // one, a clean close means the server had nothing to say.
        let reason = if reason.check::<ConnectionDone>() {
            Failure::new(NoReply)
        } else {
            reason
        };
        fire(&self.pending, Err(reason));
    }
}
// ANCHOR_END: request

// ANCHOR: proxy
/// The transform server, as the rest of the client sees it: one method
/// that returns a Deferred. The netstrings and the sockets stay behind it.
pub struct TransformProxy {
    pub host: String,
    pub port: u16,
}

impl TransformProxy {
    /// Asks the server to apply the transform `name` to `poem`. The
    /// Deferred fires with the transformed poem, or with the failure that
    /// prevented it.
    pub fn xform(&self, reactor: &Reactor, name: &str, poem: &str) -> Deferred<String> {
        let (d, trigger) = deferred();
        let factory = TransformClientFactory {
            request: Bytes::from(format!("{name}.{poem}")),
            pending: Rc::new(RefCell::new(Some(trigger))),
        };
        reactor.connect_tcp(&self.host, self.port, Rc::new(factory));
        d
    }
}
// ANCHOR_END: proxy

// ANCHOR: try_to_cummingsify
/// Hands the poem to the transform server. What this callback returns is a
/// Deferred, so the poem's chain waits for it; its errback makes sure
/// that the chain goes on with a poem either way.
fn try_to_cummingsify(proxy: &TransformProxy, reactor: &Reactor, poem: String) -> Deferred<String> {
    proxy
        .xform(reactor, "cummingsify", &poem)
        .add_errback(move |_failure| {
            eprintln!("Cummingsify failed!");
            Ok::<_, Failure>(poem)
        })
}
// ANCHOR_END: try_to_cummingsify

// ANCHOR: main
fn main() -> Result<ExitCode, ReactorError> {
    let options = Options::parse();
    let (Some(transform), false) = (options.transform, options.servers.is_empty()) else {
        // A transform server and at least one poetry server, or nothing to do.
        let _ = Options::command().print_help();
        return Ok(ExitCode::SUCCESS);
    };
    mini_twisted::log::init();
    let reactor = Reactor::new()?;
    let proxy = Rc::new(TransformProxy {
        host: transform.host,
        port: transform.port,
    });

    let servers = &options.servers;
    let poems = Rc::new(RefCell::new(Vec::new()));
    let errors = Rc::new(RefCell::new(Vec::new()));
    let done = Rc::new(Cell::new(0));
    for address in servers {
        let (proxy, handle) = (Rc::clone(&proxy), reactor.clone());
        let (poems, errors) = (Rc::clone(&poems), Rc::clone(&errors));
        let (done, total, stopper) = (Rc::clone(&done), servers.len(), reactor.clone());
        let got_poem = move |poem: String| -> Result<(), Failure> {
            poems.borrow_mut().push(poem);
            Ok(())
        };
        let poem_failed = move |failure: Failure| -> Result<(), Failure> {
            eprintln!("The poem download failed.");
            errors.borrow_mut().push(failure);
            Ok(())
        };
        let poem_done = move |_: Result<(), Failure>| -> Result<(), Failure> {
            done.set(done.get() + 1);
            if done.get() == total {
                stopper.stop();
            }
            Ok(())
        };
        let _d = get_poetry(&reactor, &address.host, address.port)
            .add_callback(move |poem| try_to_cummingsify(&proxy, &handle, poem))
            .add_callbacks(got_poem, poem_failed)
            .add_both(poem_done);
    }
    reactor.run()?;

    // The poems in the order they were finished, then what went wrong.
    for poem in poems.borrow().iter() {
        println!("{poem}");
    }
    let errors = errors.borrow();
    for failure in errors.iter() {
        println!("{failure}");
    }
    Ok(exit_status(errors.is_empty()))
}
// ANCHOR_END: main
