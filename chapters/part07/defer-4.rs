//! Part 7: firing a Deferred with `callback`, then (in the original) again
//! with `callback`. Here the second fire does not compile; see `twice.rs`.
//!
//! ```text
//! cargo run --bin defer-4
//! ```

#[path = "twice.rs"]
mod twice;

use twice::{fire_once, Fire};

fn main() {
    mini_twisted::log::init();
    fire_once("defer-4", Fire::Callback, Fire::Callback);
}
