//! Part 2: the slow poetry server, blocking edition.
//!
//! Serves one poem, a few bytes at a time with a pause after each send, to
//! one client at a time: while it sleeps between sends, everybody else waits
//! in the listen queue. That slowness is the point: it gives the clients of
//! the book something worth waiting for.
//!
//! Run it (from the repository root):
//!
//! ```text
//! cargo run --bin slowpoetry -- --port 10000 poetry/ecstasy.txt
//! ```

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use std::{fs, thread};

use clap::Parser;
use mini_twisted::poetry::{
    excerpt, parse_port, parse_seconds, parse_whole, poem_file, resolve, Checked, Linger,
};

// ANCHOR: options
/// Slow Poetry Server, blocking edition: serves one poem, slowly, to one
/// client at a time.
#[derive(Parser)]
#[command(name = "slowpoetry")]
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

    /// The poem to serve (exactly one file)
    #[arg(value_name = "POETRY-FILE")]
    files: Vec<PathBuf>,
}
// ANCHOR_END: options

fn main() -> ExitCode {
    mini_twisted::log::init();
    let options = Options::parse();
    let poem_file = poem_file::<Options>(&options.files);

    let listener = match resolve(&options.iface, options.port).and_then(TcpListener::bind) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "slowpoetry: cannot listen on {}:{}: {error}",
                excerpt(&options.iface),
                options.port
            );
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map(|addr| addr.port()).unwrap_or(0);
    println!("Serving {} on port {port}.", poem_file.display());

    // ANCHOR: accept_loop
    loop {
        // Blocks until a client arrives; while we serve it, others queue up.
        let (socket, peer) = match listener.accept() {
            Ok(connection) => connection,
            Err(error) => {
                eprintln!("slowpoetry: accept failed: {error}");
                // Out of file descriptors, for instance: give it a moment.
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        println!("Somebody at {peer} wants poetry!");
        if let Err(error) = send_poetry(socket, &poem_file, &options) {
            // The client hung up early, or the file vanished. Either way it
            // concerns this client only: go back to accepting.
            eprintln!("slowpoetry: stopped sending to {peer}: {error}");
        }
    }
    // ANCHOR_END: accept_loop
}

/// How this server closes a connection once the poem is sent: the
/// lingering close (see [`Linger`]), so that a client that sent us bytes we
/// never read still gets the whole poem instead of a reset. The bounds are
/// short because the server serves one client at a time: while it lingers,
/// everybody else waits. A well-behaved client closes as soon as it has
/// the poem, which ends the linger in one round trip; these bounds only
/// limit what a client that never closes can cost the others.
const CLOSE: Linger = Linger {
    idle: Duration::from_millis(500),
    total: Duration::from_secs(2),
    max_bytes: 64 * 1024,
};

// ANCHOR: send_poetry
/// Sends the poem to one client, `num_bytes` at a time, then closes the
/// connection: the end of the poem is the end of the connection.
fn send_poetry(mut socket: TcpStream, poem_file: &Path, options: &Options) -> io::Result<()> {
    // Read afresh for every client, as the original does: edit the poem
    // while the server runs and the next client gets the new version.
    let poem = fs::read(poem_file)?;
    for chunk in poem.chunks(options.num_bytes as usize) {
        println!("Sending {} bytes", chunk.len());
        socket.write_all(chunk)?;
        thread::sleep(options.delay);
    }
    CLOSE.close(socket);
    Ok(())
}
// ANCHOR_END: send_poetry
