//! Closing a blocking TCP connection without losing the reply: the
//! lingering close, for the programs written on `std::net` rather than on
//! the framework (whose transport closes this way by itself).
//!
//! Why: when a socket is closed while input the program never read is
//! still queued in it, Linux answers the close with a reset (RST) instead
//! of an orderly end (FIN). The reset reaches the peer at once, and the
//! peer's kernel throws away everything it had received but not yet
//! handed to the application. A client that said "hello" before reading
//! its poem loses the end of the poem, or all of it.
//!
//! The cure, as web servers do it: once the last byte is written, shut
//! down only our sending side (the peer sees the end of the poem), then
//! read and discard whatever the peer still sends until it closes too, for
//! a bounded time and a bounded amount, and only then close.

use std::io::{ErrorKind, Read};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// The bounds of one lingering close. A peer that never closes its side
/// costs at most `total`, and one that keeps sending at most `max_bytes`
/// of reading.
#[derive(Clone, Copy, Debug)]
pub struct Linger {
    /// Give up when the peer has been silent this long.
    pub idle: Duration,
    /// Give up this long after the shutdown, however chatty the peer.
    pub total: Duration,
    /// Give up after discarding this many bytes.
    pub max_bytes: usize,
}

impl Linger {
    /// Shuts down the sending side of `socket`, drains what the peer still
    /// sends within the bounds, then closes. Blocks the calling thread for
    /// as long as that takes: no longer than `total`, and for a client that
    /// reads to the end and then closes, one round trip.
    ///
    /// Errors end the linger early and are not reported: by then the reply
    /// is written, and whatever goes wrong (the peer reset, vanished) can
    /// no longer be helped.
    pub fn close(&self, mut socket: TcpStream) {
        if socket.shutdown(Shutdown::Write).is_err() {
            return;
        }
        let deadline = Instant::now() + self.total;
        let mut discarded = 0;
        let mut buffer = [0; 4096];
        while discarded < self.max_bytes {
            let left = deadline.saturating_duration_since(Instant::now());
            // A zero timeout means "block forever" to the system: stop
            // before asking for one.
            if left.is_zero() || socket.set_read_timeout(Some(left.min(self.idle))).is_err() {
                break;
            }
            match socket.read(&mut buffer) {
                // The peer closed its side: nothing can reset the reply now.
                Ok(0) => break,
                Ok(n) => discarded += n,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                // Silent for `idle` (WouldBlock or TimedOut), or reset.
                Err(_) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;
    use std::thread;

    const QUICK: Linger = Linger {
        idle: Duration::from_millis(200),
        total: Duration::from_secs(2),
        max_bytes: 64 * 1024,
    };

    /// A server that answers every connection with `reply` and closes
    /// with `linger`; returns its address.
    fn serve_once(reply: &'static [u8], linger: Linger) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            // Wait for the client's bytes, so that they are surely unread
            // in our socket when we close it.
            thread::sleep(Duration::from_millis(50));
            socket.write_all(reply).unwrap();
            linger.close(socket);
        });
        address
    }

    #[test]
    fn a_reply_survives_unread_input() {
        let reply: &'static [u8] = Box::leak(vec![b'p'; 200_000].into_boxed_slice());
        let address = serve_once(reply, QUICK);
        let mut client = TcpStream::connect(address).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        client.write_all(b"hello\n").unwrap();
        let mut got = Vec::new();
        client
            .read_to_end(&mut got)
            .expect("an orderly end, not a reset");
        assert_eq!(got.len(), reply.len());
    }

    #[test]
    fn a_peer_that_never_closes_is_given_up_on() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            QUICK.close(socket);
        });
        let mut client = TcpStream::connect(address).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // We see the end of the stream, but keep our side open: the server
        // must still finish, after `idle`.
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        server.join().unwrap();
        drop(client);
    }
}
