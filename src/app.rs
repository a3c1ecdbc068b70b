//! Part 16: services and applications, the pieces a runner such as
//! `poetryd` starts and stops.
//!
//! A server in production is more than a factory on a port: it loads its
//! poem, it listens, perhaps it does other things, and it must start them
//! in an order and stop them cleanly. Twisted names each such piece a
//! *service*; this module has them in Rust form:
//!
//! - [`Service`]: something that can be started and stopped, with a name;
//!   its stop may take time, and says so with a Deferred;
//! - [`MultiService`]: services in a tree, started in the order added and
//!   stopped in the reverse order, the stop waiting for every child's;
//! - [`Application`]: the root of the tree, what a runner is given;
//! - [`TcpServer`]: a factory on a port as a service. It listens when it is
//!   started, not when it is made, so that building an application does
//!   nothing until a runner runs it.
//!
//! # Starting in two steps
//!
//! A runner starts an application in two steps: first every service's
//! [`privileged_start`](Service::privileged_start), then every service's
//! [`start`](Service::start). Twisted does the first while it still has
//! the rights it was started with (a port below 1024 needs root), before it
//! gives them up. That is why, in Part 16's log, the port is bound before
//! the poem is loaded: `TcpServer` listens in its privileged start.
//!
//! # Where this differs from Twisted, and why
//!
//! A Twisted service can be given to a parent twice, or take a name a
//! sibling has, and Twisted checks at run time. Here [`MultiService::add`]
//! takes the service by value: once added, it belongs to its parent, so
//! adding it again cannot even be written. A name that is taken is still a
//! run-time matter, and [`MultiService::add`] refuses it with
//! [`ServiceError::NameTaken`].

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::rc::Rc;

use crate::defer::{Deferred, DeferredList};
use crate::failure::Failure;
use crate::protocol::Factory;
use crate::tcp::{CannotListen, IntoFactory, ListeningPort};
use crate::Reactor;

// ANCHOR: service
/// Something a runner starts and stops (Twisted's `IService`).
pub trait Service {
    /// The service's name, if it has one: the key its parent knows it by.
    fn name(&self) -> Option<&str> {
        None
    }

    /// Is it started (and not stopped since)?
    fn running(&self) -> bool;

    /// The first step of starting, taken while the process still has the
    /// rights it was started with: bind a privileged port here. Most
    /// services have nothing to do in it.
    fn privileged_start(&mut self, reactor: &Reactor) -> Result<(), Failure> {
        let _ = reactor;
        Ok(())
    }

    /// Starts the service. A failure stops the application's start.
    fn start(&mut self, reactor: &Reactor) -> Result<(), Failure>;

    /// Stops the service; a Deferred when the stop takes time, which the
    /// parent (and, through it, the runner) waits for.
    fn stop(&mut self, reactor: &Reactor) -> Option<Deferred<()>>;
}
// ANCHOR_END: service

/// Why a service could not be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// A sibling already has this name.
    NameTaken(String),
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::NameTaken(name) => {
                write!(f, "cannot add a service named {name:?}: the name is taken")
            }
        }
    }
}

impl Error for ServiceError {}

// ANCHOR: multi_service
/// Services in a group (Twisted's `MultiService`): started in the order
/// they were added, stopped in the reverse order. It is a service itself,
/// so groups nest.
#[derive(Default)]
pub struct MultiService {
    name: Option<String>,
    children: Vec<Box<dyn Service>>,
    running: bool,
}

impl MultiService {
    /// An empty group, without a name.
    pub fn new() -> MultiService {
        MultiService::default()
    }

    /// An empty group with a name.
    pub fn named(name: impl Into<String>) -> MultiService {
        MultiService {
            name: Some(name.into()),
            ..MultiService::default()
        }
    }

    /// Adds `service` as the last child. Added to a group that is running,
    /// it is not started by this: start it yourself, or add it first.
    pub fn add(&mut self, service: impl Service + 'static) -> Result<(), ServiceError> {
        if let Some(name) = service.name() {
            if self.get(name).is_some() {
                return Err(ServiceError::NameTaken(name.to_string()));
            }
        }
        self.children.push(Box::new(service));
        Ok(())
    }

    /// The child named `name` (Twisted's `getServiceNamed`).
    pub fn get(&self, name: &str) -> Option<&dyn Service> {
        self.children
            .iter()
            .find(|child| child.name() == Some(name))
            .map(|child| &**child)
    }

    /// The children, in the order they start.
    pub fn services(&self) -> impl Iterator<Item = &dyn Service> {
        self.children.iter().map(|child| &**child)
    }
}

impl Service for MultiService {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn running(&self) -> bool {
        self.running
    }

    fn privileged_start(&mut self, reactor: &Reactor) -> Result<(), Failure> {
        for child in &mut self.children {
            child.privileged_start(reactor)?;
        }
        Ok(())
    }

    fn start(&mut self, reactor: &Reactor) -> Result<(), Failure> {
        self.running = true;
        for child in &mut self.children {
            child.start(reactor)?;
        }
        Ok(())
    }

    /// Stops the children, last first, and fires once every child's stop
    /// has. A child whose stop fails is logged; the others still stop.
    fn stop(&mut self, reactor: &Reactor) -> Option<Deferred<()>> {
        self.running = false;
        let stops: Vec<Deferred<()>> = self
            .children
            .iter_mut()
            .rev()
            .filter_map(|child| child.stop(reactor))
            .collect();
        Some(all_done(stops))
    }
}
// ANCHOR_END: multi_service

/// A Deferred that fires once every one of `stops` has, with `()`: a
/// failure among them is logged, not passed on, so that one service that
/// failed to stop does not hide that the others did.
fn all_done(stops: Vec<Deferred<()>>) -> Deferred<()> {
    DeferredList::new(stops)
        .consume_errors()
        .all()
        .add_callback(|results| {
            for failure in results.into_iter().filter_map(Result::err) {
                tracing::error!("a service failed to stop: {failure}");
            }
            Ok(())
        })
}

// ANCHOR: application
/// The root of a service tree (Twisted's `Application`): what a runner is
/// handed, starts in two steps, and stops when the reactor is stopping.
pub struct Application {
    services: MultiService,
}

impl Application {
    /// An application called `name`, with no services yet.
    pub fn new(name: impl Into<String>) -> Application {
        Application {
            services: MultiService::named(name),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        self.services.name().unwrap_or_default()
    }

    /// Adds a top-level service.
    pub fn add(&mut self, service: impl Service + 'static) -> Result<(), ServiceError> {
        self.services.add(service)
    }

    /// Its top-level services.
    pub fn services(&self) -> &MultiService {
        &self.services
    }

    /// Starts every service, privileged starts first, and arranges for
    /// them to be stopped, and waited for, when the reactor is asked to
    /// stop. The application is the reactor's from here on.
    pub fn start(mut self, reactor: &Reactor) -> Result<(), Failure> {
        self.services.privileged_start(reactor)?;
        self.services.start(reactor)?;
        let services = Rc::new(RefCell::new(self.services));
        reactor.add_before_shutdown(move |reactor| services.borrow_mut().stop(reactor));
        Ok(())
    }
}
// ANCHOR_END: application

// ANCHOR: tcp_server
/// A factory listening on a port, as a service (Twisted's
/// `internet.TCPServer`). It listens in its privileged start, and stops
/// listening when it stops; connections already made go on.
pub struct TcpServer {
    port: u16,
    interface: String,
    factory: Rc<dyn Factory>,
    /// The factory's name, for the log lines.
    factory_name: String,
    listening: Option<ListeningPort>,
    running: bool,
}

impl TcpServer {
    /// A server for `factory` on `interface:port` (port 0: any free one),
    /// not yet listening.
    pub fn new(port: u16, factory: impl IntoFactory, interface: &str) -> TcpServer {
        let factory = factory.into_factory();
        TcpServer {
            port,
            interface: interface.to_string(),
            factory_name: factory.log_prefix(),
            factory,
            listening: None,
            running: false,
        }
    }

    /// Where it listens, once it does.
    pub fn port(&self) -> Option<&ListeningPort> {
        self.listening.as_ref()
    }

    fn listen(&mut self, reactor: &Reactor) -> Result<(), CannotListen> {
        if self.listening.is_none() {
            let port = reactor.listen_tcp(self.port, Rc::clone(&self.factory), &self.interface)?;
            tracing::info!("{} starting on {}", self.factory_name, port.host().port());
            tracing::info!("Starting factory {}", self.factory_name);
            self.listening = Some(port);
        }
        Ok(())
    }
}

impl Service for TcpServer {
    fn running(&self) -> bool {
        self.running
    }

    fn privileged_start(&mut self, reactor: &Reactor) -> Result<(), Failure> {
        self.listen(reactor).map_err(Failure::new)
    }

    fn start(&mut self, reactor: &Reactor) -> Result<(), Failure> {
        self.running = true;
        self.listen(reactor).map_err(Failure::new)
    }

    fn stop(&mut self, _reactor: &Reactor) -> Option<Deferred<()>> {
        self.running = false;
        let port = self.listening.take()?;
        let number = port.host().port();
        let name = self.factory_name.clone();
        Some(port.stop_listening().add_callback(move |()| {
            tracing::info!("(TCP Port {number} Closed)");
            tracing::info!("Stopping factory {name}");
            Ok(())
        }))
    }
}
// ANCHOR_END: tcp_server

// ANCHOR: signals
/// Makes SIGINT (Ctrl-C) and SIGTERM (`kill`) stop `reactor` cleanly: the
/// signal is logged (`Received SIGTERM, shutting down.`) and the reactor
/// stops as [`Reactor::stop`] does, waiting for its services. A thread of
/// its own waits for the signals and hands each one to the loop through a
/// [`Remote`](crate::reactor::Remote), because a signal handler may do
/// almost nothing itself.
pub fn stop_on_signals(reactor: &Reactor) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let remote = reactor.remote();
    std::thread::Builder::new()
        .name("signals".to_string())
        .spawn(move || {
            for signal in signals.forever() {
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                let handed = remote.call(move |reactor| {
                    crate::log::msg(format!("Received {name}, shutting down."));
                    reactor.stop();
                });
                if handed.is_err() {
                    break; // the reactor is gone: nothing left to stop
                }
            }
        })?;
    Ok(())
}
// ANCHOR_END: signals

#[cfg(test)]
mod tests;
