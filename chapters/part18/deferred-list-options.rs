//! Part 18: the other ways to finish a DeferredList, and the empty list.
//!
//! `all` waits for every component. `first_success` fires at the first
//! component that succeeds, with its value and its index (Twisted's
//! `fireOnOneCallback`); if none succeeds it fails with `NoneSucceeded`,
//! which holds every failure. `first_failure` fails at the first component
//! that fails, with a `FirstError` that says which and how (Twisted's
//! `fireOnOneErrback`); if none fails it fires with every value. Each case
//! is a small scene; name the ones to play, or play them all. Every list
//! here consumes errors, so stderr stays quiet.
//!
//! ```text
//! cargo run --bin deferred-list-options
//! cargo run --bin deferred-list-options -- first-failure empty
//! ```

use std::error::Error;
use std::fmt;

use clap::{Parser, ValueEnum};
use mini_twisted::defer::{FirstError, NoneSucceeded};
use mini_twisted::{deferred, deferred_with_canceller, Deferred, DeferredList, Failure, Trigger};

/// Plays the DeferredList's other endings: first success, first failure,
/// an empty list, a cancelled list.
#[derive(Parser)]
#[command(name = "deferred-list-options")]
struct Options {
    /// The scenes to play, in this order (all of them if none is named)
    #[arg(value_enum)]
    scenes: Vec<Scene>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Scene {
    /// first_success: d1 fails, d3 succeeds, then d2 succeeds too late
    FirstSuccess,
    /// first_success when every component fails
    NoneSucceeded,
    /// first_failure: d1 succeeds, d3 fails, then d2 succeeds too late
    FirstFailure,
    /// first_failure when no component fails
    NoFailure,
    /// all three endings of a list with no components
    Empty,
    /// cancelling a list cancels the components still pending
    Cancel,
}

/// The error the components fail with: just a message.
#[derive(Debug)]
struct DemoError(&'static str);

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Error for DemoError {}

// ANCHOR: report
/// Prints what the list succeeded with.
fn got<T: fmt::Debug>(result: T) -> Result<(), Failure> {
    println!("We got: {result:?}");
    Ok(())
}

/// Prints what the list failed with, looking inside the two failures
/// that only a DeferredList makes.
fn failed(failure: Failure) -> Result<(), Failure> {
    if let Some(first) = failure.downcast_ref::<FirstError>() {
        let (index, failure) = (first.index, &first.failure);
        println!("Failed with FirstError: index {index}, failure {failure:?}");
    } else if let Some(none) = failure.downcast_ref::<NoneSucceeded>() {
        println!("Failed with NoneSucceeded: failures {:?}", none.failures);
    } else {
        println!("Failed with: {failure:?}");
    }
    Ok(())
}
// ANCHOR_END: report

/// Three Deferreds and their triggers.
fn three() -> (Vec<Deferred<&'static str>>, [Trigger<&'static str>; 3]) {
    let (d1, t1) = deferred();
    let (d2, t2) = deferred();
    let (d3, t3) = deferred();
    (vec![d1, d2, d3], [t1, t2, t3])
}

// ANCHOR: first_success
fn first_success() {
    println!("first_success, three Deferreds:");
    let (ds, [t1, t2, t3]) = three();
    let d = DeferredList::new(ds).consume_errors().first_success();
    let _d = d.add_callbacks(got, failed);
    println!("Firing d1 with errback.");
    t1.errback(DemoError("d1 failure"));
    println!("Firing d3.");
    t3.callback("d3 result");
    println!("Firing d2.");
    t2.callback("d2 result");
}
// ANCHOR_END: first_success

fn none_succeeded() {
    println!("first_success, two Deferreds that both fail:");
    let (d1, t1) = deferred::<&str>();
    let (d2, t2) = deferred();
    let d = DeferredList::new([d1, d2]).consume_errors().first_success();
    let _d = d.add_callbacks(got, failed);
    println!("Firing d1 with errback.");
    t1.errback(DemoError("d1 failure"));
    println!("Firing d2 with errback.");
    t2.errback(DemoError("d2 failure"));
}

// ANCHOR: first_failure
fn first_failure() {
    println!("first_failure, three Deferreds:");
    let (ds, [t1, t2, t3]) = three();
    let d = DeferredList::new(ds).consume_errors().first_failure();
    let _d = d.add_callbacks(got, failed);
    println!("Firing d1.");
    t1.callback("d1 result");
    println!("Firing d3 with errback.");
    t3.errback(DemoError("d3 failure"));
    println!("Firing d2.");
    t2.callback("d2 result");
}
// ANCHOR_END: first_failure

fn no_failure() {
    println!("first_failure, two Deferreds that both succeed:");
    let (d1, t1) = deferred::<&str>();
    let (d2, t2) = deferred();
    let d = DeferredList::new([d1, d2]).consume_errors().first_failure();
    let _d = d.add_callbacks(got, failed);
    println!("Firing d2.");
    t2.callback("d2 result");
    println!("Firing d1.");
    t1.callback("d1 result");
}

// ANCHOR: empty
fn empty() {
    println!("Three empty lists:");
    println!("all:");
    let _d = DeferredList::<&str>::new([])
        .all()
        .add_callbacks(got, failed);
    println!("first_success:");
    let _d = DeferredList::<&str>::new([])
        .first_success()
        .add_callbacks(got, failed);
    println!("first_failure:");
    let _d = DeferredList::<&str>::new([])
        .first_failure()
        .add_callbacks(got, failed);
}
// ANCHOR_END: empty

// ANCHOR: cancel
fn cancel() {
    println!("all, two Deferreds, cancelled before d2 fires:");
    let (d1, t1) = deferred::<&str>();
    // d2's producer knows how to stop: its canceller says so.
    let (d2, _t2) = deferred_with_canceller(|_trigger| {
        println!("d2's canceller runs.");
    });
    let d = DeferredList::new([d1, d2]).consume_errors().all();
    let d = d.add_callbacks(got, failed);
    println!("Firing d1.");
    t1.callback("d1 result");
    println!("Cancelling the list.");
    d.cancel();
}
// ANCHOR_END: cancel

fn main() {
    mini_twisted::log::init();
    let options = Options::parse();
    let scenes = match options.scenes.is_empty() {
        true => Scene::value_variants().to_vec(),
        false => options.scenes,
    };
    for (n, scene) in scenes.into_iter().enumerate() {
        if n > 0 {
            println!();
        }
        match scene {
            Scene::FirstSuccess => first_success(),
            Scene::NoneSucceeded => none_succeeded(),
            Scene::FirstFailure => first_failure(),
            Scene::NoFailure => no_failure(),
            Scene::Empty => empty(),
            Scene::Cancel => cancel(),
        }
    }
}
