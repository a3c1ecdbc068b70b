//! Part 12: netstrings, a framing that says how long a message is before
//! it sends it.
//!
//! A netstring is a decimal length, a colon, exactly that many bytes, and a
//! comma: `15:here is my poem,`. The raw poetry protocol of the earlier
//! parts knew a poem was over only when the server hung up, so a poem cut
//! short by a crash looked like a short poem. With a length in front, a
//! reader knows how much is coming and can tell a whole message from a
//! truncated one.
//!
//! The module has three layers, each usable on its own:
//!
//! - [`encode`]: a payload in, its netstring out.
//! - [`Decoder`]: pure and incremental. Feed it bytes however they were
//!   cut; it hands back each complete string, `None` when it needs more,
//!   or a [`NetstringError`]. No I/O.
//! - [`Netstring`]: a [`Protocol`] that does the framing for a
//!   [`NetstringReceiver`], Twisted's `NetstringReceiver` in Rust form. The
//!   receiver sees whole strings (`string_received`) and sends them
//!   (`send_string`); the TCP plumbing stays in the transport.
//!
//! # The grammar, strictly
//!
//! The length has no leading zeros (except the length `0` itself: `0:,`),
//! no sign and no spaces; the byte after the payload must be `,`. Any other
//! byte where it does not belong is a [`NetstringError`], and [`Netstring`]
//! closes the connection on the first one: after a framing error nothing
//! that follows can be trusted to start where a string starts.
//!
//! # Memory
//!
//! A length above the decoder's maximum ([`MAX_LENGTH`] unless told
//! otherwise) is refused as soon as its digits show it, before any payload
//! arrives, so a peer cannot make us hold more than one maximum-sized
//! string per connection. The decoder keeps the length as a number, not as
//! text, and copies the payload once, into the buffer it hands out.

use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::failure::Failure;
use crate::protocol::{Protocol, Transport};

/// The longest payload a [`Decoder`] accepts unless told otherwise:
/// Twisted's `NetstringReceiver.MAX_LENGTH`.
pub const MAX_LENGTH: usize = 99_999;

// ANCHOR: encode
/// The netstring of `payload`: its length in decimal, `:`, the payload,
/// `,`.
pub fn encode(payload: &[u8]) -> Bytes {
    let length = payload.len().to_string();
    let mut frame = BytesMut::with_capacity(length.len() + payload.len() + 2);
    frame.put_slice(length.as_bytes());
    frame.put_u8(b':');
    frame.put_slice(payload);
    frame.put_u8(b',');
    frame.freeze()
}
// ANCHOR_END: encode

/// What was wrong with the bytes a [`Decoder`] was fed. Each says what was
/// expected, and shows the one byte that was wrong where there was one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetstringError {
    /// The first byte of a string was not a digit (`:` here means the
    /// length was empty).
    NotALength { found: u8 },
    /// A length that starts with `0` and goes on (`007:`).
    LeadingZero,
    /// Something other than a digit or `:` inside the length.
    BadLength { found: u8 },
    /// The length is more than the decoder accepts.
    TooLong { limit: usize },
    /// The payload was not followed by `,`.
    MissingComma { found: u8 },
}

impl fmt::Display for NetstringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetstringError::NotALength { found } => {
                write!(
                    f,
                    "a netstring must start with its length, not {}",
                    Shown(*found)
                )
            }
            NetstringError::LeadingZero => write!(f, "a netstring length has a leading zero"),
            NetstringError::BadLength { found } => {
                write!(
                    f,
                    "a netstring length may hold only digits, not {}",
                    Shown(*found)
                )
            }
            NetstringError::TooLong { limit } => {
                write!(f, "a netstring is longer than the limit of {limit} bytes")
            }
            NetstringError::MissingComma { found } => {
                write!(f, "a netstring must end with ',', not {}", Shown(*found))
            }
        }
    }
}

impl Error for NetstringError {}

/// A byte as it reads in a message: `'a'`, `','`, `'\xff'`, `'\n'`.
struct Shown(u8);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.0.escape_ascii())
    }
}

/// Where the decoder is inside the current string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the length. `value` so far, from `digits` digits (0 before
    /// the first).
    Length { value: usize, digits: usize },
    /// Reading `length` bytes of payload, some already in the buffer.
    Payload { length: usize },
    /// The payload is complete; waiting for the `,`.
    Comma,
    /// This error happened: every later call repeats it.
    Broken(NetstringError),
}

// ANCHOR: decoder
/// An incremental netstring decoder: bytes in, whole strings out.
///
/// Feed it with [`Decoder::decode`], which reads from the front of a slice
/// only as far as it needs to finish one string, or with
/// [`Decoder::feed`], which iterates over every string in a chunk. "Not
/// enough bytes yet" is `Ok(None)`, an ordinary answer: the next chunk
/// carries on where this one stopped, so any chunking of the same bytes
/// gives the same strings.
#[derive(Debug)]
pub struct Decoder {
    max_length: usize,
    state: State,
    /// The current string's payload so far. Never longer than its length,
    /// which is never more than `max_length`.
    payload: BytesMut,
}

impl Decoder {
    /// A decoder that accepts payloads of up to [`MAX_LENGTH`] bytes.
    pub fn new() -> Decoder {
        Decoder::with_max_length(MAX_LENGTH)
    }

    /// A decoder that accepts payloads of up to `max_length` bytes.
    pub fn with_max_length(max_length: usize) -> Decoder {
        Decoder {
            max_length,
            state: State::Length {
                value: 0,
                digits: 0,
            },
            payload: BytesMut::new(),
        }
    }

    /// The longest payload this decoder accepts.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// How many payload bytes it holds, waiting for the rest of a string.
    pub fn buffered(&self) -> usize {
        self.payload.len()
    }

    /// Is it between strings, holding nothing? (A connection that ends
    /// here ended cleanly; anywhere else, a string was cut short.)
    pub fn is_idle(&self) -> bool {
        self.state
            == State::Length {
                value: 0,
                digits: 0,
            }
    }

    /// Reads from the front of `input` until one string is complete, and
    /// advances `input` past what it used.
    ///
    /// # Errors
    ///
    /// A [`NetstringError`] at the first byte that breaks the grammar. The
    /// decoder stays broken: every later call returns the same error.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<Bytes>, NetstringError> {
        loop {
            match self.state {
                State::Broken(error) => return Err(error),
                State::Length { value, digits } => {
                    let Some((&byte, rest)) = input.split_first() else {
                        return Ok(None);
                    };
                    *input = rest;
                    self.state = self.next_length_state(value, digits, byte);
                }
                State::Payload { length } => {
                    let wanted = length - self.payload.len();
                    let (taken, rest) = input.split_at(wanted.min(input.len()));
                    if self.payload.is_empty() && !taken.is_empty() {
                        // Room for exactly this string, once its first
                        // byte is here: growing as bytes arrive could
                        // allocate up to twice the length.
                        self.payload = BytesMut::with_capacity(length);
                    }
                    self.payload.extend_from_slice(taken);
                    *input = rest;
                    if self.payload.len() < length {
                        return Ok(None);
                    }
                    self.state = State::Comma;
                }
                State::Comma => {
                    let Some((&byte, rest)) = input.split_first() else {
                        return Ok(None);
                    };
                    *input = rest;
                    if byte != b',' {
                        self.state = State::Broken(NetstringError::MissingComma { found: byte });
                        continue;
                    }
                    self.state = State::Length {
                        value: 0,
                        digits: 0,
                    };
                    return Ok(Some(self.payload.split().freeze()));
                }
            }
        }
    }

    /// Every string that `input` completes, in order, as an iterator. It
    /// ends when `input` is used up, or after the first error.
    pub fn feed<'a>(&'a mut self, input: &'a [u8]) -> Strings<'a> {
        Strings {
            decoder: self,
            input,
            done: false,
        }
    }

    /// One byte of the length, or the `:` after it.
    fn next_length_state(&self, value: usize, digits: usize, byte: u8) -> State {
        match byte {
            b'0'..=b'9' if digits == 1 && value == 0 => State::Broken(NetstringError::LeadingZero),
            b'0'..=b'9' => {
                // Checked against the limit digit by digit: a length too
                // long is refused here, before any of its payload arrives.
                let longer = value
                    .checked_mul(10)
                    .and_then(|value| value.checked_add(usize::from(byte - b'0')))
                    .filter(|&value| value <= self.max_length);
                match longer {
                    Some(value) => State::Length {
                        value,
                        digits: digits + 1,
                    },
                    None => State::Broken(NetstringError::TooLong {
                        limit: self.max_length,
                    }),
                }
            }
            b':' if digits > 0 && value == 0 => State::Comma,
            b':' if digits > 0 => State::Payload { length: value },
            _ if digits == 0 => State::Broken(NetstringError::NotALength { found: byte }),
            _ => State::Broken(NetstringError::BadLength { found: byte }),
        }
    }
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}
// ANCHOR_END: decoder

/// The strings one chunk completes: see [`Decoder::feed`].
pub struct Strings<'a> {
    decoder: &'a mut Decoder,
    input: &'a [u8],
    /// Set after an error, so that the iterator gives it once.
    done: bool,
}

impl Iterator for Strings<'_> {
    type Item = Result<Bytes, NetstringError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.decoder.decode(&mut self.input) {
            Ok(Some(string)) => Some(Ok(string)),
            Ok(None) => None,
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The protocol helper.
// ---------------------------------------------------------------------------

// ANCHOR: receiver
/// A protocol that speaks in whole netstrings. Plug it into [`Netstring`],
/// which is the [`Protocol`] the transport talks to.
///
/// Each method is handed the connection, as a [`NetstringTransport`], so
/// a receiver can answer without keeping a handle of its own.
pub trait NetstringReceiver {
    /// The connection is up.
    fn connection_made(&mut self, transport: &NetstringTransport) {
        let _ = transport;
    }

    /// One whole string arrived. Several strings in one read arrive as
    /// several calls, in order.
    fn string_received(&mut self, transport: &NetstringTransport, string: Bytes);

    /// The connection is over. When [`Netstring`] closed it because the
    /// peer broke the framing, `reason` is that [`NetstringError`], not
    /// the clean close that followed.
    fn connection_lost(&mut self, reason: Failure) {
        let _ = reason;
    }
}

/// A connection that sends netstrings: a [`Transport`] with
/// [`send_string`](NetstringTransport::send_string). Cheap to clone.
#[derive(Clone)]
pub struct NetstringTransport {
    transport: Rc<dyn Transport>,
}

impl NetstringTransport {
    /// Sends `payload` as one netstring.
    pub fn send_string(&self, payload: &[u8]) {
        self.transport.write_bytes(encode(payload));
    }

    /// Closes the connection once everything sent has gone.
    pub fn lose_connection(&self) {
        self.transport.lose_connection();
    }

    /// Closes the connection now.
    pub fn abort_connection(&self) {
        self.transport.abort_connection();
    }

    /// The address of the other end.
    pub fn peer(&self) -> SocketAddr {
        self.transport.peer()
    }

    /// The address of this end.
    pub fn host(&self) -> SocketAddr {
        self.transport.host()
    }

    /// The plain transport underneath, for anything else.
    pub fn transport(&self) -> &Rc<dyn Transport> {
        &self.transport
    }
}
// ANCHOR_END: receiver

// ANCHOR: netstring
/// The [`Protocol`] that frames a connection in netstrings for a
/// [`NetstringReceiver`]: it decodes what arrives, hands over each whole
/// string, and closes the connection at the first framing error.
pub struct Netstring<R> {
    receiver: R,
    decoder: Decoder,
    /// Set in `connection_made`; `None` only before it.
    transport: Option<NetstringTransport>,
    /// The peer broke the framing this way and we hung up: what still
    /// arrives before the close is ignored, and the receiver hears this
    /// error as the reason the connection ended. Set once, never cleared.
    hung_up: Option<NetstringError>,
}

impl<R: NetstringReceiver> Netstring<R> {
    /// Frames strings of up to [`MAX_LENGTH`] bytes for `receiver`.
    pub fn new(receiver: R) -> Netstring<R> {
        Netstring::with_max_length(receiver, MAX_LENGTH)
    }

    /// Frames strings of up to `max_length` bytes for `receiver`.
    pub fn with_max_length(receiver: R, max_length: usize) -> Netstring<R> {
        Netstring {
            receiver,
            decoder: Decoder::with_max_length(max_length),
            transport: None,
            hung_up: None,
        }
    }

    /// The receiver inside.
    pub fn receiver(&self) -> &R {
        &self.receiver
    }

    /// The decoder, to ask how much it holds.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }
}

impl<R: NetstringReceiver> Protocol for Netstring<R> {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let transport = self.transport.insert(NetstringTransport { transport });
        self.receiver.connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let Some(transport) = &self.transport else {
            return;
        };
        if self.hung_up.is_some() {
            return;
        }
        for string in self.decoder.feed(data) {
            match string {
                Ok(string) => self.receiver.string_received(transport, string),
                Err(error) => {
                    // What follows a framing error cannot be parsed: hang up.
                    // Strings already answered stay answered; the close
                    // waits for those replies to go.
                    tracing::warn!(peer = %transport.peer(), "closing: {error}");
                    self.hung_up = Some(error);
                    transport.lose_connection();
                }
            }
        }
    }

    fn connection_lost(&mut self, reason: Failure) {
        let reason = match self.hung_up {
            Some(error) => Failure::without_backtrace(error),
            None => reason,
        };
        self.receiver.connection_lost(reason);
    }
}
// ANCHOR_END: netstring

#[cfg(test)]
mod tests;
