//! Part 3: the simplest reactor program.
//!
//! It creates a reactor and runs it. Nothing is registered and nothing is
//! scheduled, so the loop waits in the kernel for ever, using no CPU, until
//! you press Ctrl-C.
//!
//! ```text
//! cargo run --bin simple
//! ```

use mini_twisted::reactor::{Reactor, ReactorError};

// ANCHOR: main
fn main() -> Result<(), ReactorError> {
    let reactor = Reactor::new()?;
    reactor.run()
}
// ANCHOR_END: main
