use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::defer::{deferred, Trigger};
use crate::protocol::Protocol;
use crate::reactor::SHUTDOWN_LIMIT;
use crate::testing::{success_result_of, Clock};

type Log = Rc<RefCell<Vec<String>>>;

fn note(log: &Log, what: impl Into<String>) {
    log.borrow_mut().push(what.into());
}

/// A service that writes down what is done to it. Its stop gives back a
/// Deferred that `release` fires, if it was made with `slow_stop`.
struct Recorder {
    name: &'static str,
    log: Log,
    running: bool,
    slow_stop: Option<Rc<RefCell<Option<Trigger<()>>>>>,
}

impl Recorder {
    fn new(name: &'static str, log: &Log) -> Recorder {
        Recorder {
            name,
            log: Rc::clone(log),
            running: false,
            slow_stop: None,
        }
    }
}

impl Service for Recorder {
    fn name(&self) -> Option<&str> {
        Some(self.name)
    }

    fn running(&self) -> bool {
        self.running
    }

    fn privileged_start(&mut self, _reactor: &Reactor) -> Result<(), Failure> {
        note(&self.log, format!("{} privileged start", self.name));
        Ok(())
    }

    fn start(&mut self, _reactor: &Reactor) -> Result<(), Failure> {
        self.running = true;
        note(&self.log, format!("{} start", self.name));
        Ok(())
    }

    fn stop(&mut self, _reactor: &Reactor) -> Option<Deferred<()>> {
        self.running = false;
        note(&self.log, format!("{} stop", self.name));
        let slot = self.slow_stop.as_ref()?;
        let (stopped, trigger) = deferred();
        *slot.borrow_mut() = Some(trigger);
        let log = Rc::clone(&self.log);
        let name = self.name;
        Some(stopped.add_callback(move |()| {
            note(&log, format!("{name} stopped"));
            Ok(())
        }))
    }
}

#[test]
fn children_start_in_order_privileged_first_and_stop_in_reverse() {
    let log = Log::default();
    let reactor = Reactor::new().unwrap();
    let mut inner = MultiService::named("inner");
    inner.add(Recorder::new("b", &log)).unwrap();
    let mut outer = MultiService::named("outer");
    outer.add(Recorder::new("a", &log)).unwrap();
    outer.add(inner).unwrap();
    outer.add(Recorder::new("c", &log)).unwrap();

    outer.privileged_start(&reactor).unwrap();
    outer.start(&reactor).unwrap();
    assert!(outer.running());
    let stopped = outer.stop(&reactor).expect("a group's stop is a Deferred");
    success_result_of(stopped);
    assert!(!outer.running());
    assert_eq!(
        *log.borrow(),
        [
            "a privileged start",
            "b privileged start",
            "c privileged start",
            "a start",
            "b start",
            "c start",
            "c stop",
            "b stop",
            "a stop",
        ]
    );
}

#[test]
fn a_groups_stop_waits_for_every_childs() {
    let log = Log::default();
    let reactor = Reactor::new().unwrap();
    let slow = Rc::new(RefCell::new(None));
    let mut group = MultiService::new();
    let mut first = Recorder::new("slow", &log);
    first.slow_stop = Some(Rc::clone(&slow));
    group.add(first).unwrap();
    group.add(Recorder::new("quick", &log)).unwrap();
    group.start(&reactor).unwrap();

    let done = Rc::new(Cell::new(false));
    let seen = Rc::clone(&done);
    let _: Deferred<()> = group.stop(&reactor).unwrap().add_callback(move |()| {
        seen.set(true);
        Ok(())
    });
    assert!(!done.get(), "one child is still stopping");
    let trigger = slow.borrow_mut().take().unwrap();
    trigger.callback(());
    assert!(done.get());
    assert_eq!(
        log.borrow().last().map(String::as_str),
        Some("slow stopped")
    );
}

#[test]
fn a_taken_name_is_refused() {
    let log = Log::default();
    let mut group = MultiService::new();
    group.add(Recorder::new("poetry", &log)).unwrap();
    let refused = group.add(Recorder::new("poetry", &log)).unwrap_err();
    assert_eq!(refused, ServiceError::NameTaken("poetry".to_string()));
    assert_eq!(
        refused.to_string(),
        "cannot add a service named \"poetry\": the name is taken"
    );
    assert_eq!(group.services().count(), 1);
    assert!(group.get("poetry").is_some());
    // Services without a name never clash.
    group.add(MultiService::new()).unwrap();
    group.add(MultiService::new()).unwrap();
}

/// Says nothing.
struct Silent;

impl Protocol for Silent {}

struct SilentFactory;

impl Factory for SilentFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(Silent)
    }
}

#[test]
fn a_tcp_server_listens_when_started_not_when_made() {
    let reactor = Reactor::new().unwrap();
    let mut server = TcpServer::new(0, Rc::new(SilentFactory), "127.0.0.1");
    assert!(server.port().is_none());
    assert!(reactor.readers().is_empty());
    server.privileged_start(&reactor).unwrap();
    let port = server.port().expect("listening").host().port();
    assert_ne!(port, 0);
    // The second step does not listen again.
    server.start(&reactor).unwrap();
    assert_eq!(reactor.readers().len(), 1);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    success_result_of(server.stop(&reactor).expect("a Deferred"));
    assert!(reactor.readers().is_empty());
    assert!(!server.running());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_tcp_server_that_cannot_listen_fails_its_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let reactor = Reactor::new().unwrap();
    let mut server = TcpServer::new(port, Rc::new(SilentFactory), "127.0.0.1");
    let failure = server.privileged_start(&reactor).unwrap_err();
    assert!(failure.check::<CannotListen>(), "{failure}");
}

#[test]
fn the_reactor_stops_only_once_the_application_has() {
    let log = Log::default();
    let reactor = Reactor::new().unwrap();
    let slow = Rc::new(RefCell::new(None));
    let mut app = Application::new("poetry");
    let mut service = Recorder::new("slow", &log);
    service.slow_stop = Some(Rc::clone(&slow));
    app.add(service).unwrap();
    assert_eq!(app.name(), "poetry");
    app.start(&reactor).unwrap();

    // Stop at once; the service's stop finishes three turns later.
    let (turns, stopping_log) = (Rc::clone(&slow), Rc::clone(&log));
    reactor.call_when_running(move |reactor| {
        reactor.stop();
        fn later(reactor: &Reactor, left: u32, slot: Rc<RefCell<Option<Trigger<()>>>>, log: Log) {
            if left == 0 {
                note(&log, "releasing");
                if let Some(trigger) = slot.borrow_mut().take() {
                    trigger.callback(());
                }
                return;
            }
            assert!(reactor.is_running(), "still serving while it stops");
            reactor.call_later(Duration::ZERO, move |reactor| {
                later(reactor, left - 1, slot, log)
            });
        }
        reactor.call_later(Duration::ZERO, move |reactor| {
            later(reactor, 3, turns, stopping_log)
        });
    });
    reactor.run().unwrap();
    assert_eq!(
        *log.borrow(),
        [
            "slow privileged start",
            "slow start",
            "slow stop",
            "releasing",
            "slow stopped"
        ]
    );
}

#[test]
fn a_stop_that_never_finishes_is_given_up_on_after_the_limit() {
    let clock = Clock::new();
    let reactor = Reactor::with_clock(&clock).unwrap();
    let never = Rc::new(RefCell::new(None::<Trigger<()>>));
    let keep = Rc::clone(&never);
    let time = clock.clone();
    reactor.add_before_shutdown(move |reactor| {
        let (stopped, trigger) = deferred();
        *keep.borrow_mut() = Some(trigger);
        // On the next turn, let the fake clock run past the limit.
        reactor.call_later(Duration::ZERO, move |_| time.advance(SHUTDOWN_LIMIT));
        Some(stopped)
    });
    reactor.call_when_running(|reactor| reactor.stop());
    reactor.run().unwrap();
    assert!(never.borrow().is_some(), "the hook's Deferred never fired");
    assert!(clock.elapsed() >= SHUTDOWN_LIMIT);
}

#[test]
fn a_factory_is_named_by_its_type_without_the_path() {
    use crate::protocol::short_type_name;
    assert_eq!(SilentFactory.log_prefix(), "SilentFactory");
    let shared: Rc<dyn Factory> = Rc::new(SilentFactory);
    assert_eq!(
        shared.log_prefix(),
        "SilentFactory",
        "through a trait object too"
    );
    assert_eq!(short_type_name("a::b::Wrap<c::Inner>"), "Wrap");
    assert_eq!(short_type_name("Plain"), "Plain");
}
