//! Part 2: Get Poetry Now!, blocking edition.
//!
//! Fetches one poem after another. Each `connect` and each `read` blocks
//! until the network has something for us, so the whole run takes about as
//! long as all the servers' times added up.
//!
//! Run it against three `slowpoetry` servers on ports 10000, 10001, 10002:
//!
//! ```text
//! cargo run --bin get-poetry-blocking -- 10000 10001 10002
//! ```

use std::io::{self, Read};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use mini_twisted::poetry::{Address, ClientArgs, Elapsed, Timeline};

/// Get Poetry Now! The blocking client: fetches the poems one after another.
#[derive(Parser)]
#[command(name = "get-poetry-blocking")]
struct Options {
    #[command(flatten)]
    client: ClientArgs,
}

// ANCHOR: main
fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();
    options.client.require_addresses::<Options>();
    let mut timeline = options.client.new_timeline();

    let mut total = Duration::ZERO;
    let mut poems = 0;
    for (i, address) in options.client.servers.addresses.iter().enumerate() {
        let task = i + 1;
        println!("Task {task}: get poetry from: {address}");

        let start = Instant::now();
        let result = get_poetry(address, i, &mut timeline);
        let elapsed = start.elapsed();
        total += elapsed;

        match result {
            Ok(poem) => {
                poems += 1;
                let bytes = poem.len();
                let elapsed = Elapsed(elapsed);
                println!("Task {task}: got {bytes} bytes of poetry from {address} in {elapsed}");
            }
            Err(error) => {
                timeline.failed(i);
                eprintln!("Task {task}: failed to get poetry from {address}: {error}");
            }
        }
    }
    println!("Got {poems} poems in {}", Elapsed(total));

    let title = format!("Blocking client: {poems} poems in {}", Elapsed(total));
    let saved = options.client.save_timeline(&timeline, &title);
    if saved && poems == options.client.servers.addresses.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
// ANCHOR_END: main

// ANCHOR: get_poetry
/// Downloads one whole poem. Every call in here may block: `connect` until
/// the server answers, `read` until the next chunk arrives.
fn get_poetry(address: &Address, task: usize, timeline: &mut Timeline) -> io::Result<Vec<u8>> {
    let mut socket = TcpStream::connect(address.resolve()?)?;
    timeline.connected(task);

    let mut poem = Vec::new();
    let mut buffer = [0; 1024];
    loop {
        match socket.read(&mut buffer) {
            // Zero bytes means the server closed the connection: the poem is complete.
            Ok(0) => break,
            Ok(n) => {
                poem.extend_from_slice(&buffer[..n]);
                timeline.received(task);
            }
            // A signal woke us before any data came: just read again.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    timeline.finished(task);
    Ok(poem)
}
// ANCHOR_END: get_poetry
