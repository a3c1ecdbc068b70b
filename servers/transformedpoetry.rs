//! Part 12: A Poetry Transformation Server. The first server that listens
//! before it speaks.
//!
//! A client sends one netstring, `name.poem` (`27:cummingsify.HERE IS MY
//! POEM,`); the server answers with the netstring of the transformed poem
//! (`15:here is my poem,`) and closes the connection. A request it cannot
//! serve (an unknown name, no dot, bytes that are not UTF-8, a broken
//! netstring) is logged and closed with no reply.
//!
//! The program is three layers, each ignorant of the one above it:
//!
//! - the [`TransformService`] does the work: poems in, poems out, no
//!   networks;
//! - the [`TransformFactory`] decides which of the service's transforms a
//!   client may ask for, by name;
//! - the [`TransformProtocol`] speaks netstrings to one client, through the
//!   framework's `Netstring` helper, which does the framing.
//!
//! Run it (from the repository root), then ask it for a transform with
//! `transform-test`:
//!
//! ```text
//! cargo run --bin transformedpoetry -- --port 10001
//! cargo run --bin transform-test -- 10001
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;

use bytes::Bytes;
use clap::Parser;
use mini_twisted::netstring::{Netstring, NetstringReceiver, NetstringTransport};
use mini_twisted::poetry::{excerpt, parse_port, Checked};
use mini_twisted::protocol::{Factory, Protocol};
use mini_twisted::Reactor;

/// Poetry Transform Server: answers `name.poem` netstrings with the
/// transformed poem. The one transform is `cummingsify`.
#[derive(Parser)]
#[command(name = "transformedpoetry")]
struct Options {
    /// The port to listen on [default: a free port chosen by the system]
    #[arg(long, default_value_t = 0, hide_default_value = true,
          value_parser = Checked(parse_port))]
    port: u16,

    /// The network interface to listen on
    #[arg(long, default_value = "localhost")]
    iface: String,
}

// ANCHOR: service
/// The transforms themselves. Nothing here knows about sockets or
/// netstrings, so the same service could be offered over any protocol.
pub struct TransformService;

impl TransformService {
    /// The poem in lower case, by Unicode's rules (`ÀLLA` becomes `àlla`).
    pub fn cummingsify(&self, poem: &str) -> String {
        poem.to_lowercase()
    }
}
// ANCHOR_END: service

// ANCHOR: factory
/// A transform, as the factory offers it.
type Transform = fn(&TransformService, &str) -> String;

/// The names a client may ask for, and what each one runs. Nothing of the
/// service is reachable except through this list (the series prefixes the
/// method names with `xform_` for the same reason).
const TRANSFORMS: &[(&str, Transform)] = &[("cummingsify", TransformService::cummingsify)];

/// Builds a protocol for each client, and gives them all the one service.
#[derive(Clone)]
pub struct TransformFactory {
    service: Rc<TransformService>,
}

impl TransformFactory {
    pub fn new(service: TransformService) -> TransformFactory {
        TransformFactory {
            service: Rc::new(service),
        }
    }

    /// Runs the transform called `name`, if there is one by that name
    /// (names are case-sensitive).
    pub fn transform(&self, name: &str, poem: &str) -> Option<String> {
        let (_, transform) = TRANSFORMS.iter().find(|(known, _)| *known == name)?;
        Some(transform(&self.service, poem))
    }
}

impl Factory for TransformFactory {
    fn build_protocol(&self, _addr: SocketAddr) -> Box<dyn Protocol> {
        Box::new(Netstring::new(TransformProtocol {
            factory: self.clone(),
            refused: false,
        }))
    }
}
// ANCHOR_END: factory

// ANCHOR: protocol
/// One client's request: parse it, transform it, answer, hang up.
pub struct TransformProtocol {
    factory: TransformFactory,
    /// A request was refused and logged. Further refusals on this
    /// connection are not logged: a peer that packs thousands of bad
    /// requests into one write must not make us write thousands of lines.
    refused: bool,
}

impl NetstringReceiver for TransformProtocol {
    fn string_received(&mut self, transport: &NetstringTransport, request: Bytes) {
        match self.answer(&request) {
            Ok(poem) => transport.send_string(poem.as_bytes()),
            Err(why) if !self.refused => {
                self.refused = true;
                tracing::warn!(peer = %transport.peer(), "no reply: {why}");
            }
            Err(_) => {}
        }
        // One request, one reply: the close waits until the reply is sent.
        transport.lose_connection();
    }
}

impl TransformProtocol {
    /// `name.poem`, split at the first dot, transformed; or why not.
    fn answer(&self, request: &[u8]) -> Result<String, String> {
        let request = std::str::from_utf8(request)
            .map_err(|error| format!("the request is not UTF-8 ({error})"))?;
        let Some((name, poem)) = request.split_once('.') else {
            return Err(format!(
                "no '.' after the transform's name in {:?}",
                excerpt(request)
            ));
        };
        self.factory
            .transform(name, poem)
            .ok_or_else(|| format!("no such transform: {:?}", excerpt(name)))
    }
}
// ANCHOR_END: protocol

// ANCHOR: main
fn main() -> ExitCode {
    let options = Options::parse();
    mini_twisted::log::init();
    let served = Reactor::new()
        .map_err(|error| error.to_string())
        .and_then(|reactor| {
            let factory = Rc::new(TransformFactory::new(TransformService));
            let port = reactor
                .listen_tcp(options.port, factory, &options.iface)
                .map_err(|error| error.to_string())?;
            println!("Serving transforms on {}.", port.host());
            reactor.run().map_err(|error| error.to_string())
        });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("transformedpoetry: {error}");
            ExitCode::FAILURE
        }
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;
    use mini_twisted::protocol::Transport;
    use mini_twisted::testing::FakeTransport;

    /// What the server writes back to `request`, and whether it hung up.
    fn serve(request: &[u8]) -> (Vec<u8>, bool) {
        let factory = TransformFactory::new(TransformService);
        let mut protocol = factory.build_protocol(FakeTransport::new().peer());
        let transport = FakeTransport::connect(protocol.as_mut());
        protocol.data_received(request);
        (transport.written(), transport.disconnecting())
    }

    #[test]
    fn a_request_gets_the_transformed_poem_then_the_close() {
        assert_eq!(
            serve(b"27:cummingsify.HERE IS MY POEM,"),
            (b"15:here is my poem,".to_vec(), true)
        );
    }

    #[test]
    fn lowering_follows_unicode() {
        let poem = "ÀLLA SERA Ünïcode";
        let request = mini_twisted::netstring::encode(format!("cummingsify.{poem}").as_bytes());
        let reply = mini_twisted::netstring::encode("àlla sera ünïcode".as_bytes());
        assert_eq!(serve(&request), (reply.to_vec(), true));
    }

    #[test]
    fn only_listed_names_are_transforms() {
        for request in [
            &b"20:unknown.HERE IS POEM,"[..],
            b"1:.,",
            b"12:CUMMINGSIFY.x,",
            b"11:HERE IS POE,",
        ] {
            assert_eq!(serve(request), (Vec::new(), true), "{request:?}");
        }
    }

    #[test]
    fn the_name_ends_at_the_first_dot() {
        assert_eq!(
            serve(b"17:cummingsify.a.b.C,"),
            (b"5:a.b.c,".to_vec(), true)
        );
        assert_eq!(serve(b"12:cummingsify.,"), (b"0:,".to_vec(), true));
    }
}
