//! Part 12: the poetry transformation server, written the way a tokio user
//! would write it. The yardstick for `transformedpoetry`, as
//! `fastpoetry-tokio` is for `fastpoetry`.
//!
//! The same protocol: one netstring in (`27:cummingsify.HERE IS MY POEM,`),
//! one netstring out (`15:here is my poem,`), then the close. It frames with
//! the framework's pure [`Decoder`], which does no I/O, so that the two
//! servers parse alike and the benchmark compares what differs: the event
//! loop, the transports and the tasks. One thread (`current_thread`), one
//! task per connection.
//!
//! One choice is deliberate, and is what a careful tokio user does when
//! connections are many and mostly idle: the read buffer is a local of the
//! loop's body, made after the wait for readable, so that no buffer lives
//! across an `.await`. What lives across an `.await` is stored in the task
//! itself, and a 4 KB buffer there would cost 4 KB for every connection
//! that has not said a word yet.
//!
//! Run it (from the repository root):
//!
//! ```text
//! cargo run --release --bin transformedpoetry-tokio -- --port 10001
//! cargo run --bin transform-test -- 10001
//! ```
//!
//! and measure it against `transformedpoetry` with
//! `cargo bench --bench servers -- --only transform`.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use mini_twisted::netstring::{encode, Decoder};
use mini_twisted::poetry::{parse_port, Checked};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[path = "tokio-peer/common.rs"]
mod common;
use common::{accept, linger, listen};

/// Poetry Transform Server, tokio edition: answers `name.poem` netstrings
/// with the transformed poem (the one transform is `cummingsify`). The same
/// command line and first line as transformedpoetry.
#[derive(Parser)]
#[command(name = "transformedpoetry-tokio")]
struct Options {
    /// The port to listen on [default: a free port chosen by the system]
    #[arg(long, default_value_t = 0, hide_default_value = true,
          value_parser = Checked(parse_port))]
    port: u16,

    /// The network interface to listen on
    #[arg(long, default_value = "localhost")]
    iface: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();
    let (listener, address) = match listen(&options.iface, options.port) {
        Ok(listening) => listening,
        Err(error) => {
            eprintln!("transformedpoetry-tokio: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("Serving transforms on {address}.");
    let _ = io::stdout().flush();

    loop {
        let socket = accept(&listener, "transformedpoetry-tokio").await;
        tokio::spawn(serve(socket));
    }
}

/// How much a task reads at a time once its socket is readable.
const READ_SIZE: usize = 4096;

// ANCHOR: serve
/// One client: read until the first request is whole, answer every request
/// that came with it (as `transformedpoetry` does), then close.
async fn serve(mut socket: TcpStream) {
    let mut decoder = Decoder::new();
    let mut replies = Vec::new();
    let mut requests = 0;
    while requests == 0 {
        if socket.readable().await.is_err() {
            return;
        }
        let mut chunk = [0; READ_SIZE];
        let read = match socket.try_read(&mut chunk) {
            Ok(0) => return, // the client left before asking
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        };
        for request in decoder.feed(&chunk[..read]) {
            match request {
                Ok(request) => {
                    requests += 1;
                    replies.extend(answer(&request).map(|poem| encode(poem.as_bytes())));
                }
                // What follows a request is discarded by the linger,
                // framed or not; before one, it is the end.
                Err(_) if requests > 0 => break,
                Err(error) => {
                    eprintln!("transformedpoetry-tokio: no reply: {error}");
                    return;
                }
            }
        }
    }
    // A refused request gets no reply, only the close.
    for reply in replies {
        if socket.write_all(&reply).await.is_err() {
            return;
        }
    }
    linger(socket).await;
}
// ANCHOR_END: serve

/// `cummingsify.poem`, lowered; `None` for anything else.
fn answer(request: &[u8]) -> Option<String> {
    let request = std::str::from_utf8(request).ok()?;
    let poem = request.strip_prefix("cummingsify.")?;
    Some(poem.to_lowercase())
}
