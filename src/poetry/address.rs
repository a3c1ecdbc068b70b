//! The clients' server addresses: `[host:]port`, as every client of the
//! series takes them.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;

use super::excerpt;

/// A server to fetch poetry from. Parsed from `10000` (host 127.0.0.1) or
/// `host:10000`; printed back as `host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub port: u16,
}

/// Why an address argument was refused. Its message is written for the
/// person who typed the argument.
#[derive(Debug, PartialEq, Eq)]
pub enum AddressError {
    /// The port part is not made of digits.
    NotAnInteger(String),
    /// The port is digits but larger than 65535.
    OutOfRange(String),
    /// `host:` with nothing before the colon.
    EmptyHost,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::NotAnInteger(port) => {
                write!(f, "Ports must be integers (got '{}').", excerpt(port))
            }
            AddressError::OutOfRange(port) => {
                write!(f, "Ports go from 0 to 65535 (got {}).", excerpt(port))
            }
            AddressError::EmptyHost => write!(f, "The host before ':' is empty."),
        }
    }
}

impl std::error::Error for AddressError {}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // Split at the last colon so that a bracketed IPv6 host keeps its own.
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host.trim_start_matches('[').trim_end_matches(']'), port),
            None => ("127.0.0.1", text),
        };
        if host.is_empty() {
            return Err(AddressError::EmptyHost);
        }
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AddressError::NotAnInteger(port.to_string()));
        }
        let port = port
            .parse()
            .map_err(|_| AddressError::OutOfRange(port.to_string()))?;
        Ok(Address {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Address {
    /// Looks the host up, preferring IPv4; see [`resolve`].
    pub fn resolve(&self) -> io::Result<SocketAddr> {
        resolve(&self.host, self.port)
    }
}

/// Looks up `host`, preferring an IPv4 address when it has both.
///
/// `localhost` usually resolves to `::1` first. Our servers listen on IPv4
/// (as the series' servers do), so a client that took the first answer
/// would knock on the wrong door.
///
/// An IPv6 address may come in the brackets that URLs and `[::1]:10000`
/// put around it (`--iface '[::1]'`): they are not part of the address,
/// and the system's resolver does not know them.
pub fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let host = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    let candidates: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    candidates
        .iter()
        .find(|addr| addr.is_ipv4())
        .or(candidates.first())
        .copied()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} has no address", excerpt(host)),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Address, AddressError> {
        text.parse()
    }

    #[test]
    fn a_bare_port_means_localhost() {
        let address = parse("10000").unwrap();
        assert_eq!(address.host, "127.0.0.1");
        assert_eq!(address.port, 10000);
        assert_eq!(address.to_string(), "127.0.0.1:10000");
    }

    #[test]
    fn host_and_port() {
        let address = parse("localhost:10001").unwrap();
        assert_eq!(address.host, "localhost");
        assert_eq!(address.port, 10001);
        assert_eq!(parse("[::1]:7").unwrap().to_string(), "[::1]:7");
    }

    #[test]
    fn bad_ports_say_what_is_wrong() {
        assert_eq!(
            parse("ten").unwrap_err().to_string(),
            "Ports must be integers (got 'ten')."
        );
        assert!(matches!(parse("host:"), Err(AddressError::NotAnInteger(_))));
        assert!(matches!(parse("-5"), Err(AddressError::NotAnInteger(_))));
        assert!(matches!(parse("70000"), Err(AddressError::OutOfRange(_))));
        assert!(matches!(parse(":10000"), Err(AddressError::EmptyHost)));
    }

    #[test]
    fn long_ports_are_quoted_short() {
        let long = "x".repeat(100_000);
        let message = parse(&long).unwrap_err().to_string();
        assert!(message.len() < 100, "{} bytes", message.len());
        assert!(
            message.starts_with("Ports must be integers (got 'xxx"),
            "{message}"
        );
        let message = parse(&"9".repeat(100_000)).unwrap_err().to_string();
        assert!(
            message.starts_with("Ports go from 0 to 65535 (got 999"),
            "{message}"
        );
        assert!(message.len() < 100, "{} bytes", message.len());
    }

    #[test]
    fn ipv6_loopback_resolves_with_or_without_brackets() {
        for host in ["::1", "[::1]"] {
            let addr = resolve(host, 7).unwrap();
            assert_eq!(addr, "[::1]:7".parse().unwrap(), "{host}");
        }
    }

    #[test]
    fn localhost_resolves_to_ipv4() {
        let addr = resolve("localhost", 10000).unwrap();
        assert!(addr.is_ipv4(), "{addr}");
        assert_eq!(addr.port(), 10000);
    }
}
