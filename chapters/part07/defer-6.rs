//! Part 7: firing a Deferred with `errback`, then (in the original) again
//! with `errback`. Here the second fire does not compile; see `twice.rs`.
//!
//! ```text
//! cargo run --bin defer-6
//! ```

#[path = "twice.rs"]
mod twice;

use twice::{fire_once, Fire};

fn main() {
    mini_twisted::log::init();
    fire_once("defer-6", Fire::Errback, Fire::Errback);
}
