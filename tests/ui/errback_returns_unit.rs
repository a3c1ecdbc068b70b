// Part 14: an errback that logs the failure and returns nothing, as
// Python's `log.err` does in the series' proxy 2.0. The chain carries
// `Option<Bytes>`, so the errback must hand on one of those: `()` is
// refused, and the write that wanted bytes can never be given nothing.
use bytes::Bytes;
use mini_twisted::{deferred, Failure};

fn main() {
    let (d, trigger) = deferred::<Option<Bytes>>();
    let _d = d.add_errback(|failure: Failure| {
        eprintln!("cannot fetch the poem: {failure}");
        Ok(())
    });
    trigger.callback(None);
}
