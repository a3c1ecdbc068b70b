//! Part 7's pitfall, in Rust: firing a Deferred twice. Twisted raises
//! `AlreadyCalledError` at run time; here the first `callback` takes the
//! trigger, and the compiler refuses the second.

use mini_twisted::deferred;

fn main() {
    let (d, trigger) = deferred::<&str>();
    let _d = d.add_callback(|poem| {
        println!("{poem}");
        Ok(())
    });
    trigger.callback("First result");
    trigger.callback("Second result");
}
