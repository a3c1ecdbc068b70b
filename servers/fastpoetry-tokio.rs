//! Part 11: the fast poetry server, written the way a tokio user would
//! write it. The yardstick for `fastpoetry`, which is the same server on
//! mini-twisted.
//!
//! Every connection gets the whole poem at once and is then closed by the
//! server. Nothing here is tuned: one thread (`current_thread`), one task
//! per connection, a plain `write_all`. That is the point of the comparison:
//! it is what a reader would write instead of using our framework, so it is
//! the program our framework has to keep up with. The one departure from
//! the shortest code is the listen backlog, set to 1024 like fastpoetry's,
//! so that both servers face a burst of connections with the same queue.
//!
//! Run it (from the repository root):
//!
//! ```text
//! cargo run --release --bin fastpoetry-tokio -- --port 10000 poetry/ecstasy.txt
//! ```
//!
//! and measure it against `fastpoetry` with `cargo bench --bench servers`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mini_twisted::poetry::{parse_port, poem_file, Checked};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[path = "tokio-peer/common.rs"]
mod common;
use common::{accept, linger, listen};

/// Fast Poetry Server, tokio edition: sends the whole poem to every client
/// at once, then closes the connection. The same command line and output
/// as fastpoetry, so that the two can be measured side by side.
#[derive(Parser)]
#[command(name = "fastpoetry-tokio")]
struct Options {
    /// The port to listen on [default: a free port chosen by the system]
    #[arg(long, default_value_t = 0, hide_default_value = true,
          value_parser = Checked(parse_port))]
    port: u16,

    /// The network interface to listen on (a name is resolved preferring
    /// IPv4, as fastpoetry does; an IPv6 address with or without brackets:
    /// ::1 or [::1])
    #[arg(long, default_value = "localhost")]
    iface: String,

    /// The poem to serve (exactly one file, read once at startup)
    #[arg(value_name = "POETRY-FILE")]
    files: Vec<PathBuf>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();
    // The same check as every server's: a regular file we may read, or a
    // usage error that says what is wrong with it.
    let file = poem_file::<Options>(&options.files);

    // Read once and shared by every connection: an `Arc` clone per client
    // instead of a copy of the poem.
    let poem: Arc<[u8]> = match std::fs::read(&file) {
        Ok(bytes) => bytes.into(),
        Err(error) => {
            eprintln!("fastpoetry-tokio: cannot read {}: {error}", file.display());
            return ExitCode::FAILURE;
        }
    };

    let (listener, address) = match listen(&options.iface, options.port) {
        Ok(listening) => listening,
        Err(error) => {
            eprintln!("fastpoetry-tokio: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("Serving {} on {address}.", file.display());
    // Whoever started us waits for this line to learn the port: make sure it
    // leaves now, whatever stdout is connected to.
    let _ = io::stdout().flush();

    // ANCHOR: accept_loop
    loop {
        let socket = accept(&listener, "fastpoetry-tokio").await;
        let poem = Arc::clone(&poem);
        tokio::spawn(serve(socket, poem));
    }
    // ANCHOR_END: accept_loop
}

// ANCHOR: serve
/// One client: the whole poem, then the end of the connection.
async fn serve(mut socket: TcpStream, poem: Arc<[u8]>) {
    // A client that hangs up early concerns only itself.
    match socket.write_all(&poem).await {
        Ok(()) => linger(socket).await,
        Err(error) => eprintln!("fastpoetry-tokio: sending failed: {error}"),
    }
}
// ANCHOR_END: serve
