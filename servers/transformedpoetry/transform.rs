//! Part 12's transformation service, factory and protocol: the three
//! layers of `transformedpoetry`, in a file of their own so that Part 16's
//! runner, `poetryd`, serves the same service as its `transform`.

use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use mini_twisted::netstring::{Netstring, NetstringReceiver, NetstringTransport};
use mini_twisted::poetry::excerpt;
use mini_twisted::protocol::{Factory, Protocol};

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
