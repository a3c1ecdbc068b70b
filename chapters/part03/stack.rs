//! Part 3: who calls our callback?
//!
//! The callback prints the call stack at the moment it runs. Reading from
//! the top: our function, then the reactor code that called it, then
//! `Reactor::run`, then `main`. Our code runs *inside* `run`: while it runs,
//! the loop is not waiting for anything else.
//!
//! The frames of the standard library (closures, panic catching, program
//! start-up) are left out unless you pass `--full`. The demo keeps running
//! afterwards, as a reactor does: press Ctrl-C.
//!
//! ```text
//! cargo run --bin stack
//! ```

use std::backtrace::Backtrace;

use clap::Parser;
use mini_twisted::reactor::{Reactor, ReactorError};

/// Prints the call stack from inside a reactor callback.
#[derive(Parser)]
#[command(name = "stack")]
struct Options {
    /// Print every frame, the standard library's included
    #[arg(long)]
    full: bool,
}

// ANCHOR: main
fn stack(full: bool) {
    println!("The Rust stack:");
    let backtrace = Backtrace::force_capture().to_string();
    print!("{}", frames(&backtrace, full));
}

fn main() -> Result<(), ReactorError> {
    let options = Options::parse();
    let reactor = Reactor::new()?;
    reactor.call_when_running(move |_| stack(options.full));
    reactor.run()
}
// ANCHOR_END: main

/// Rewrites a backtrace as one line per frame, `function (file:line)`,
/// keeping only this program's and the framework's frames unless `full`.
fn frames(backtrace: &str, full: bool) -> String {
    let mut out = String::new();
    let mut skipped = 0;
    let mut lines = backtrace.lines().peekable();
    while let Some(line) = lines.next() {
        // Frames look like `  3: crate::function`, then maybe `   at file:line`.
        let Some((number, name)) = line.trim_start().split_once(": ") else {
            continue;
        };
        if number.parse::<usize>().is_err() {
            continue;
        }
        let place = match lines.peek() {
            Some(next) if next.trim_start().starts_with("at ") => {
                lines.next().map(|at| at.trim_start()[3..].to_string())
            }
            _ => None,
        };
        let ours = name.starts_with("stack::") || name.starts_with("mini_twisted::");
        if !full && !ours {
            skipped += 1;
            continue;
        }
        if skipped > 0 {
            out.push_str(&format!("    ({skipped} frames of the standard library)\n"));
            skipped = 0;
        }
        match place {
            Some(place) => out.push_str(&format!("  {name}\n      at {place}\n")),
            None => out.push_str(&format!("  {name}\n")),
        }
    }
    if skipped > 0 {
        out.push_str(&format!("    ({skipped} frames of the standard library)\n"));
    }
    out
}
