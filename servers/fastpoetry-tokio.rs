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
use std::time::Duration;

use clap::Parser;
use mini_twisted::poetry::{excerpt, parse_port, poem_file, resolve, Checked};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::{timeout_at, Instant};

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

    let listener = match listen(&options) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "fastpoetry-tokio: cannot listen on {}:{}: {error}",
                excerpt(&options.iface),
                options.port
            );
            return ExitCode::FAILURE;
        }
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(error) => {
            eprintln!("fastpoetry-tokio: cannot read the listening address: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("Serving {} on {address}.", file.display());
    // Whoever started us waits for this line to learn the port: make sure it
    // leaves now, whatever stdout is connected to.
    let _ = io::stdout().flush();

    // ANCHOR: accept_loop
    loop {
        let (socket, _peer) = match listener.accept().await {
            Ok(connection) => connection,
            Err(error) => {
                // Out of file descriptors, for instance. The connections
                // already open will close and free some: wait a little
                // rather than spin on the same error.
                eprintln!("fastpoetry-tokio: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let poem = Arc::clone(&poem);
        tokio::spawn(serve(socket, poem));
    }
    // ANCHOR_END: accept_loop
}

/// One client: the whole poem, then the end of the connection.
async fn serve(mut socket: TcpStream, poem: Arc<[u8]>) {
    // A client that hangs up early concerns only itself.
    match socket.write_all(&poem).await {
        Ok(()) => linger(socket).await,
        Err(error) => eprintln!("fastpoetry-tokio: sending failed: {error}"),
    }
}

/// Give up on a lingering client that has been silent this long...
const LINGER_IDLE: Duration = Duration::from_secs(2);
/// ...or that is still talking this long after the poem ended...
const LINGER_TOTAL: Duration = Duration::from_secs(10);
/// ...or once we have thrown away this much of what it sent.
const LINGER_BYTES: usize = 64 * 1024;

/// Closes the connection without losing the poem: shut down our sending
/// side, so that the client sees the end of the poem, then read and
/// discard what it still sends until it closes its side, within the
/// bounds above. Dropping a socket that holds input we never read makes
/// Linux answer with a reset instead of an orderly close, and the reset
/// destroys the part of the poem the client had not read yet. A client
/// that reads to the end and closes costs one more read here; the bounds
/// only limit what a client that never closes can hold.
async fn linger(mut socket: TcpStream) {
    if socket.shutdown().await.is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER_TOTAL;
    let mut buffer = [0; 4096];
    let mut discarded = 0;
    while discarded < LINGER_BYTES {
        let idle_end = (Instant::now() + LINGER_IDLE).min(deadline);
        match timeout_at(idle_end, socket.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => discarded += n,
            // The client closed (0), reset, or stayed silent: done.
            _ => break,
        }
    }
}

/// How many finished handshakes the kernel may queue before we accept them,
/// the same as fastpoetry's. `TcpListener::bind` would ask for 128 (the
/// standard library's figure, which mio and so tokio follow), and 1,000
/// clients connecting at once would overflow that queue: the kernel drops
/// the overflow, and those clients retry a second later.
const BACKLOG: u32 = 1024;

/// Listens on `--iface`, resolved as fastpoetry resolves it: IPv4 when a
/// name has both (`localhost` often resolves to `::1` first), and an IPv6
/// address taken with or without its brackets.
fn listen(options: &Options) -> io::Result<TcpListener> {
    let address = resolve(&options.iface, options.port)?;
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `bind` does: a restarted server may reuse the port at once, even
    // with the last run's connections in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}
