//! Part 22: the slow poetry server, written the way a tokio user would
//! write it. The yardstick for `slowpoetry-reactor`, which is the same
//! server on mini-twisted, in the C10K benchmark.
//!
//! One thread (`current_thread`), one task per connection, and in each task
//! the blocking server's loop almost word for word: write a chunk, then
//! `sleep` instead of `thread::sleep`. The `await` hands the thread to the
//! other tasks until the timer fires; that is the whole difference. The
//! same command line and lines as `slowpoetry`, so that the servers can be
//! measured side by side.
//!
//! Run it (from the repository root):
//!
//! ```text
//! cargo run --release --bin slowpoetry-tokio -- --port 10000 poetry/ecstasy.txt
//! ```
//!
//! and measure it against `slowpoetry-reactor` with `cargo bench --bench c10k`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use mini_twisted::poetry::{parse_port, parse_seconds, parse_whole, poem_file, Checked};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[path = "tokio-peer/common.rs"]
mod common;
use common::{accept, linger, listen};

/// Slow Poetry Server, tokio edition: serves one poem, slowly, to every
/// client at once.
#[derive(Parser)]
#[command(name = "slowpoetry-tokio")]
struct Options {
    /// The port to listen on [default: a free port chosen by the system]
    #[arg(long, default_value_t = 0, hide_default_value = true,
          value_parser = Checked(parse_port))]
    port: u16,

    /// The network interface to listen on (an IPv6 address with or without
    /// brackets: ::1 or [::1])
    #[arg(long, default_value = "localhost")]
    iface: String,

    /// Seconds to pause after each send
    #[arg(long, default_value = "0.1", value_parser = Checked(parse_seconds))]
    delay: Duration,

    /// How many bytes to send at a time
    #[arg(long, default_value_t = 10,
          value_parser = Checked(|text: &str| parse_whole(text, 1, u32::MAX.into()).map(|n| n as u32)))]
    num_bytes: u32,

    /// The poem to serve (exactly one file, read once at start)
    #[arg(value_name = "POETRY-FILE")]
    files: Vec<PathBuf>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();
    let file = poem_file::<Options>(&options.files);
    // Read once and shared, as slowpoetry-reactor does: each send is a
    // slice of the one copy.
    let poem = match std::fs::read(&file) {
        Ok(poem) => Bytes::from(poem),
        Err(error) => {
            eprintln!("slowpoetry-tokio: cannot read {}: {error}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let (listener, address) = match listen(&options.iface, options.port) {
        Ok(listening) => listening,
        Err(error) => {
            eprintln!("slowpoetry-tokio: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("Serving {} on port {}.", file.display(), address.port());
    let _ = io::stdout().flush();

    let (num_bytes, delay) = (options.num_bytes as usize, options.delay);
    loop {
        let socket = accept(&listener, "slowpoetry-tokio").await;
        tokio::spawn(send_poetry(socket, poem.clone(), num_bytes, delay));
    }
}

// ANCHOR: send_poetry
/// One client: the poem, `num_bytes` at a time with a pause after each
/// send, then the end of the connection.
async fn send_poetry(mut socket: TcpStream, poem: Bytes, num_bytes: usize, delay: Duration) {
    let peer = socket
        .peer_addr()
        .map_or("an unknown peer".into(), |a| a.to_string());
    println!("Somebody at {peer} wants poetry!");
    for chunk in poem.chunks(num_bytes) {
        println!("Sending {} bytes", chunk.len());
        if let Err(error) = socket.write_all(chunk).await {
            eprintln!("slowpoetry-tokio: stopped sending to {peer}: {error}");
            return;
        }
        tokio::time::sleep(delay).await;
    }
    linger(socket).await;
}
// ANCHOR_END: send_poetry
