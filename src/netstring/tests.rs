use std::cell::RefCell;
use std::rc::Rc;

use proptest::prelude::*;

use super::*;
use crate::tcp::ConnectionDone;
use crate::testing::{FakeTransport, Loopback};

/// Everything `input` decodes to, fed in one piece: the strings, then the
/// error if there was one.
fn decode_all(decoder: &mut Decoder, input: &[u8]) -> (Vec<Vec<u8>>, Option<NetstringError>) {
    let mut strings = Vec::new();
    for string in decoder.feed(input) {
        match string {
            Ok(string) => strings.push(string.to_vec()),
            Err(error) => return (strings, Some(error)),
        }
    }
    (strings, None)
}

fn decode(input: &[u8]) -> (Vec<Vec<u8>>, Option<NetstringError>) {
    decode_all(&mut Decoder::new(), input)
}

#[test]
fn encode_puts_the_length_first_and_a_comma_last() {
    assert_eq!(&encode(b"here is my poem")[..], b"15:here is my poem,");
    assert_eq!(&encode(b"")[..], b"0:,");
    assert_eq!(encode(&[b'x'; 100]).len(), 3 + 1 + 100 + 1);
}

#[test]
fn one_string_decodes_to_its_payload() {
    assert_eq!(
        decode(b"15:here is my poem,"),
        (vec![b"here is my poem".to_vec()], None)
    );
}

#[test]
fn the_empty_string_is_0_colon_comma() {
    assert_eq!(decode(b"0:,"), (vec![Vec::new()], None));
}

#[test]
fn several_strings_in_one_chunk_all_arrive_in_order() {
    let (strings, error) = decode(b"1:a,2:bc,0:,3:def,");
    assert_eq!(strings, [&b"a"[..], b"bc", b"", b"def"]);
    assert_eq!(error, None);
}

#[test]
fn the_payload_may_hold_any_bytes_even_the_framing_ones() {
    let payload = b"1:,\x00\xff:,";
    assert_eq!(decode(&encode(payload)), (vec![payload.to_vec()], None));
}

#[test]
fn an_incomplete_string_is_not_an_error_it_waits() {
    let mut decoder = Decoder::new();
    assert_eq!(decode_all(&mut decoder, b"5:hel"), (vec![], None));
    assert_eq!(decoder.buffered(), 3);
    assert!(!decoder.is_idle());
    assert_eq!(
        decode_all(&mut decoder, b"lo,"),
        (vec![b"hello".to_vec()], None)
    );
    assert!(decoder.is_idle());
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn decode_stops_after_one_string_and_leaves_the_rest_of_the_input() {
    let mut decoder = Decoder::new();
    let mut input = &b"1:a,1:b,1:"[..];
    assert_eq!(
        decoder.decode(&mut input),
        Ok(Some(Bytes::from_static(b"a")))
    );
    assert_eq!(input, b"1:b,1:");
    assert_eq!(
        decoder.decode(&mut input),
        Ok(Some(Bytes::from_static(b"b")))
    );
    assert_eq!(decoder.decode(&mut input), Ok(None));
    assert!(input.is_empty());
}

#[test]
fn a_length_must_start_the_string() {
    assert_eq!(
        decode(b"abc").1,
        Some(NetstringError::NotALength { found: b'a' })
    );
    assert_eq!(
        decode(b":abc,").1,
        Some(NetstringError::NotALength { found: b':' })
    );
    assert_eq!(
        decode(b"-1:a,").1,
        Some(NetstringError::NotALength { found: b'-' })
    );
    assert_eq!(
        decode(b" 1:a,").1,
        Some(NetstringError::NotALength { found: b' ' })
    );
}

#[test]
fn a_length_has_no_leading_zeros() {
    assert_eq!(decode(b"00027:x").1, Some(NetstringError::LeadingZero));
    assert_eq!(decode(b"01:a,").1, Some(NetstringError::LeadingZero));
    assert_eq!(decode(b"00:,").1, Some(NetstringError::LeadingZero));
    // The zero length itself is fine, and so is a zero inside a length.
    assert_eq!(decode(b"0:,10:0123456789,").1, None);
}

#[test]
fn a_length_holds_only_digits_up_to_the_colon() {
    assert_eq!(
        decode(b"1a:x,").1,
        Some(NetstringError::BadLength { found: b'a' })
    );
    assert_eq!(
        decode(b"1 :x,").1,
        Some(NetstringError::BadLength { found: b' ' })
    );
    assert_eq!(
        decode(b"1,x,").1,
        Some(NetstringError::BadLength { found: b',' })
    );
}

#[test]
fn the_payload_must_end_with_a_comma() {
    assert_eq!(
        decode(b"3:abcd").1,
        Some(NetstringError::MissingComma { found: b'd' })
    );
    assert_eq!(
        decode(b"0:;").1,
        Some(NetstringError::MissingComma { found: b';' })
    );
    // A length that is too short is the same mistake, seen from the end.
    let (strings, error) = decode(b"2:abc,");
    assert!(strings.is_empty());
    assert_eq!(error, Some(NetstringError::MissingComma { found: b'c' }));
}

#[test]
fn strings_before_an_error_are_delivered_and_nothing_after_it() {
    let (strings, error) = decode(b"1:a,x1:b,");
    assert_eq!(strings, [b"a".to_vec()]);
    assert_eq!(error, Some(NetstringError::NotALength { found: b'x' }));
}

#[test]
fn a_broken_decoder_stays_broken() {
    let mut decoder = Decoder::new();
    assert!(decode_all(&mut decoder, b"x").1.is_some());
    let (strings, error) = decode_all(&mut decoder, b"1:a,");
    assert!(strings.is_empty());
    assert_eq!(error, Some(NetstringError::NotALength { found: b'x' }));
}

#[test]
fn the_longest_allowed_string_is_accepted() {
    let payload = vec![b'p'; MAX_LENGTH];
    let (strings, error) = decode(&encode(&payload));
    assert_eq!(error, None);
    assert_eq!(strings, [payload]);
}

#[test]
fn a_length_over_the_limit_is_refused_by_its_digits_alone() {
    let mut decoder = Decoder::new();
    // No colon yet, no payload at all: the sixth digit is enough.
    let (strings, error) = decode_all(&mut decoder, b"100000");
    assert!(strings.is_empty());
    assert_eq!(error, Some(NetstringError::TooLong { limit: MAX_LENGTH }));
    assert_eq!(decoder.buffered(), 0);
    // A length far beyond any integer is refused the same way, not overflowed.
    let (_, error) = decode(&[b'9'; 40]);
    assert_eq!(error, Some(NetstringError::TooLong { limit: MAX_LENGTH }));
}

#[test]
fn the_limit_can_be_changed() {
    let mut small = Decoder::with_max_length(3);
    assert_eq!(small.max_length(), 3);
    assert_eq!(
        decode_all(&mut small, b"3:abc,"),
        (vec![b"abc".to_vec()], None)
    );
    assert_eq!(
        decode_all(&mut small, b"4:"),
        (vec![], Some(NetstringError::TooLong { limit: 3 }))
    );
    let mut huge = Decoder::with_max_length(usize::MAX);
    let (_, error) = decode_all(&mut huge, &[b'9'; 40]);
    assert_eq!(error, Some(NetstringError::TooLong { limit: usize::MAX }));
}

#[test]
fn errors_say_what_was_expected() {
    let shown = NetstringError::MissingComma { found: b'd' }.to_string();
    assert!(shown.contains("','") && shown.contains("'d'"), "{shown}");
    let shown = NetstringError::NotALength { found: 0xff }.to_string();
    assert!(shown.contains(r"'\xff'"), "{shown}");
    let shown = NetstringError::TooLong { limit: 99_999 }.to_string();
    assert!(shown.contains("99999"), "{shown}");
}

// ---------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------

/// Cuts `bytes` at the given points (taken modulo its length, sorted).
fn chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in at.into_iter().chain([bytes.len()]) {
        pieces.push(bytes[start..cut].to_vec());
        start = cut;
    }
    pieces
}

proptest! {
    #[test]
    fn every_payload_survives_a_round_trip(payloads in prop::collection::vec(
        prop::collection::vec(any::<u8>(), 0..300), 0..8)) {
        let wire: Vec<u8> = payloads.iter().flat_map(|p| encode(p).to_vec()).collect();
        prop_assert_eq!(decode(&wire), (payloads, None));
    }

    #[test]
    fn any_chunking_gives_the_same_strings_and_the_same_error(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..50), 0..6),
        garbage in prop::collection::vec(any::<u8>(), 0..6),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut wire: Vec<u8> = payloads.iter().flat_map(|p| encode(p).to_vec()).collect();
        wire.extend_from_slice(&garbage);
        let whole = decode(&wire);

        let mut decoder = Decoder::new();
        let mut strings = Vec::new();
        let mut error = None;
        for piece in chunks(&wire, &cuts) {
            let (got, failed) = decode_all(&mut decoder, &piece);
            strings.extend(got);
            if failed.is_some() {
                error = failed;
                break;
            }
        }
        prop_assert_eq!((strings, error), whole);
    }

    #[test]
    fn random_bytes_never_panic_and_never_buffer_past_the_limit(
        limit in 0usize..64,
        // Mostly the bytes the grammar cares about, so that many inputs
        // get past the first byte.
        bytes in prop::collection::vec(
            prop_oneof![b'0'..=b'9', Just(b':'), Just(b','), any::<u8>()], 0..400),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut decoder = Decoder::with_max_length(limit);
        for piece in chunks(&bytes, &cuts) {
            let mut input = &piece[..];
            while let Ok(Some(string)) = decoder.decode(&mut input) {
                prop_assert!(string.len() <= limit);
                prop_assert!(decoder.buffered() <= limit);
            }
            // The length is kept as a number, not as text, so the payload
            // is all it holds: never more than the limit, header or not.
            prop_assert!(decoder.buffered() <= limit);
        }
    }
}

// ---------------------------------------------------------------------------
// The protocol helper, over a fake transport and over a loopback.
// ---------------------------------------------------------------------------

/// Answers every string with the same string in capitals, and records
/// what it heard.
#[derive(Default)]
struct Shouter {
    heard: Rc<RefCell<Vec<String>>>,
}

impl NetstringReceiver for Shouter {
    fn string_received(&mut self, transport: &NetstringTransport, string: Bytes) {
        let text = String::from_utf8_lossy(&string).into_owned();
        transport.send_string(text.to_uppercase().as_bytes());
        self.heard.borrow_mut().push(text);
    }

    fn connection_lost(&mut self, reason: Failure) {
        let how = if reason.check::<ConnectionDone>() {
            "done"
        } else {
            "lost"
        };
        self.heard.borrow_mut().push(format!("<{how}>"));
    }
}

#[test]
fn the_receiver_hears_each_string_however_the_bytes_arrive() {
    let shouter = Shouter::default();
    let heard = Rc::clone(&shouter.heard);
    let mut protocol = Netstring::new(shouter);
    let transport = FakeTransport::connect(&mut protocol);
    for piece in [&b"2:h"[..], b"i,5:th", b"ere,0", b":,"] {
        protocol.data_received(piece);
    }
    assert_eq!(*heard.borrow(), ["hi", "there", ""]);
    assert_eq!(transport.written(), b"2:HI,5:THERE,0:,");
    assert!(!transport.disconnecting());
}

#[test]
fn a_framing_error_closes_the_connection_after_the_strings_before_it() {
    let shouter = Shouter::default();
    let heard = Rc::clone(&shouter.heard);
    let mut protocol = Netstring::new(shouter);
    let transport = FakeTransport::connect(&mut protocol);
    protocol.data_received(b"1:a,oops");
    protocol.data_received(b"1:b,");
    assert_eq!(*heard.borrow(), ["a"]);
    assert_eq!(transport.written(), b"1:A,");
    assert!(transport.disconnecting() && !transport.aborted());
    // The receiver hears why: the framing error, not the clean close.
    protocol.connection_lost(Failure::new(ConnectionDone));
    assert_eq!(*heard.borrow(), ["a", "<lost>"]);
}

#[test]
fn an_over_long_length_closes_before_any_payload_is_kept() {
    let mut protocol = Netstring::with_max_length(Shouter::default(), 10);
    let transport = FakeTransport::connect(&mut protocol);
    protocol.data_received(b"11:");
    assert!(transport.disconnecting());
    assert_eq!(protocol.decoder().buffered(), 0);
}

/// Sends one string when connected, and keeps the answer.
struct Asker {
    question: &'static str,
    answers: Rc<RefCell<Vec<String>>>,
}

impl NetstringReceiver for Asker {
    fn connection_made(&mut self, transport: &NetstringTransport) {
        transport.send_string(self.question.as_bytes());
    }

    fn string_received(&mut self, transport: &NetstringTransport, string: Bytes) {
        self.answers
            .borrow_mut()
            .push(String::from_utf8_lossy(&string).into_owned());
        transport.lose_connection();
    }
}

#[test]
fn a_client_and_a_server_talk_in_netstrings() {
    let answers = Rc::new(RefCell::new(Vec::new()));
    let shouter = Shouter::default();
    let heard = Rc::clone(&shouter.heard);
    let asker = Asker {
        question: "here is my poem",
        answers: Rc::clone(&answers),
    };
    let pair = Loopback::connect(
        Box::new(Netstring::new(asker)),
        Box::new(Netstring::new(shouter)),
    );
    assert_eq!(*answers.borrow(), ["HERE IS MY POEM"]);
    assert_eq!(*heard.borrow(), ["here is my poem", "<done>"]);
    assert!(!pair.is_open());
}
