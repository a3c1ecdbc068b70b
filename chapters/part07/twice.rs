//! Part 7: firing a Deferred twice, shared by `defer-4` to `defer-7`.
//!
//! In Twisted the second fire raises `AlreadyCalledError` at run time. In
//! Rust it cannot even be written: the first `callback` or `errback` takes
//! the trigger, so a second one is a "use of moved value" and the program
//! does not compile. So each of the four programs fires once, shows what
//! that did, and says what the compiler makes of the second fire, which
//! `tests/ui/fire_twice.rs` proves on every `cargo test`.

use std::io;

use clap::{CommandFactory, Parser};
use mini_twisted::{deferred, Failure};

/// Fires a Deferred once; firing it again would not compile.
#[derive(Parser)]
struct Options {}

/// Which way a Deferred is fired. (Each program uses only some variants.)
#[allow(dead_code)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fire {
    Callback,
    Errback,
}

impl Fire {
    fn name(self) -> &'static str {
        match self {
            Fire::Callback => "callback",
            Fire::Errback => "errback",
        }
    }
}

// ANCHOR: fire_once
/// Fires a Deferred the `first` way; the original then fires it the
/// `second` way, which Rust refuses to compile.
pub fn fire_once(program: &'static str, first: Fire, second: Fire) {
    Options::command().name(program).get_matches();
    let (d, trigger) = deferred::<&str>();
    let _d = d.add_callbacks(
        |result| {
            println!("{result}");
            Ok(())
        },
        |failure: Failure| {
            println!("{failure:?}");
            Ok(())
        },
    );
    match first {
        Fire::Callback => trigger.callback("First result"),
        Fire::Errback => trigger.errback(io::Error::other("First error")),
    }
    // trigger.callback("Second result"); // error[E0382]: use of moved value: `trigger`
    let (first, second) = (first.name(), second.name());
    println!("A second trigger.{second}(...) here would not compile:");
    println!("the first {first} took the trigger (see tests/ui/fire_twice.rs).");
    println!("Finished");
}
// ANCHOR_END: fire_once
