//! Part 18's fix for an unhandled failure, as the series writes it: an
//! errback added to d2 after the DeferredList was made. In Twisted the
//! list and the program share d2; here the list took d2 by value, and the
//! program has nothing left to add an errback to.

use std::io;

use mini_twisted::{deferred, DeferredList, Failure};

fn got_results(results: Vec<Result<&str, Failure>>) -> Result<(), Failure> {
    println!("We got: {results:?}");
    Ok(())
}

fn main() {
    let (d1, t1) = deferred();
    let (d2, t2) = deferred();
    let d = DeferredList::new([d1, d2]).all();
    let _d2 = d2.add_errback(|_failure| Ok("")); // handle d2's failure
    let _d = d.add_callback(got_results);
    println!("Firing d1.");
    t1.callback("d1 result");
    println!("Firing d2 with errback.");
    t2.errback(io::Error::other("d2 failure"));
}
