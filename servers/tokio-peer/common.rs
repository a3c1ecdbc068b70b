//! What the tokio peers of our servers share (`fastpoetry-tokio`, Part 11,
//! and `transformedpoetry-tokio`, Part 12): the listening socket, set up as
//! our `listen_tcp` sets it up, the accept loop's patience with a failed
//! accept, and the lingering close. They are what a careful tokio user
//! writes once and reuses; sharing them keeps each peer's own file down to
//! what differs, its protocol.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use mini_twisted::poetry::{excerpt, resolve};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::{timeout_at, Instant};

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
///
/// The buffer is made after each wait, not before the loop: a local that
/// lives across an `.await` is part of the task, so a buffer declared
/// outside the loop would make every connection's task 4 KB larger, from
/// its accept on, whether or not it ever lingers.
pub async fn linger(mut socket: TcpStream) {
    if socket.shutdown().await.is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER_TOTAL;
    let mut discarded = 0;
    while discarded < LINGER_BYTES {
        let idle_end = (Instant::now() + LINGER_IDLE).min(deadline);
        // The client stayed silent, or the socket broke: done.
        let Ok(Ok(())) = timeout_at(idle_end, socket.readable()).await else {
            break;
        };
        let mut buffer = [0; 4096];
        match socket.try_read(&mut buffer) {
            Ok(n) if n > 0 => discarded += n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            // The client closed (0), or reset.
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

/// Listens on `iface`, resolved as fastpoetry resolves it: IPv4 when a
/// name has both (`localhost` often resolves to `::1` first), and an IPv6
/// address taken with or without its brackets. The listener and the
/// address it got, or what went wrong, to print after the program's name.
pub fn listen(iface: &str, port: u16) -> Result<(TcpListener, SocketAddr), String> {
    let listener = bind(iface, port)
        .map_err(|error| format!("cannot listen on {}:{port}: {error}", excerpt(iface)))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("cannot read the listening address: {error}"))?;
    Ok((listener, address))
}

fn bind(iface: &str, port: u16) -> io::Result<TcpListener> {
    let address = resolve(iface, port)?;
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

/// The next connection. An accept that fails (out of file descriptors,
/// say) is reported under `program`'s name, and retried after a pause:
/// the connections already open will close and free some, and spinning on
/// the same error would only burn the CPU they need.
pub async fn accept(listener: &TcpListener, program: &str) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((socket, _peer)) => return socket,
            Err(error) => {
                eprintln!("{program}: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
