//! Property tests of the WebSocket opening handshake parser: a valid
//! upgrade in any spelling HTTP allows (header order, name case, extra
//! headers, spaces around values, token lists) is accepted with the RFC's
//! answer; without any one of its required parts it gets the answer RFC
//! 6455 names; every prefix is incomplete; arbitrary bytes never panic.
//! The fuzz target ws_handshake (fuzz/src/handshake.rs) checks the same
//! parser coverage-guided.

use esockets::websocket::{accept_key, parse_request, Handshake, Status, WsConfig};
use proptest::prelude::*;

/// One header line of a request: name, value.
type Line = (String, String);

/// A handshake request: its lines (in order) and its path.
#[derive(Clone, Debug)]
struct Request {
    path: String,
    lines: Vec<Line>,
}

impl Request {
    /// The request's bytes.
    fn bytes(&self) -> Vec<u8> {
        let mut out = format!("GET {} HTTP/1.1\r\n", self.path);
        for (name, value) in &self.lines {
            out.push_str(&format!("{name}:{value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// The same without the header `name` (any case).
    fn without(&self, name: &str) -> Self {
        let mut request = self.clone();
        request.lines.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        request
    }
}

/// `name` in one of the cases HTTP allows for it.
fn any_case(name: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), name.len()).prop_map(move |upper| {
        name.chars()
            .zip(upper)
            .map(|(c, up)| {
                if up {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

/// `value` with optional spaces or tabs around it.
fn padded(value: String) -> impl Strategy<Value = String> {
    ("[ \t]{0,2}", "[ \t]{0,2}").prop_map(move |(before, after)| format!("{before}{value}{after}"))
}

/// A token list holding `token` (in any case) among others.
fn token_list(token: &'static str) -> impl Strategy<Value = String> {
    (
        prop::collection::vec("[a-z]{1,8}", 0..3),
        any_case(token),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut others, token, at)| {
            let at = at.index(others.len() + 1);
            others.insert(at, token);
            others.join(", ")
        })
}

/// `raw` in base64, as a key is sent.
fn base64(raw: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// A valid upgrade request and its key: header lines in any order and
/// case, spaces around values, token lists, extra headers.
fn valid_request() -> impl Strategy<Value = (Request, String)> {
    (
        "/[a-zA-Z0-9/._~%-]{0,30}",
        prop::array::uniform16(any::<u8>()),
        (any_case("Host"), "[a-z.]{1,20}".prop_flat_map(padded)),
        (
            any_case("Upgrade"),
            token_list("websocket").prop_flat_map(padded),
        ),
        (
            any_case("Connection"),
            token_list("upgrade").prop_flat_map(padded),
        ),
        (any_case("Sec-WebSocket-Key"), "[ \t]{0,2}", "[ \t]{0,2}"),
        (any_case("Sec-WebSocket-Version"), padded("13".into())),
        prop::collection::vec(("X-[A-Za-z]{1,10}", "[ -~]{0,20}"), 0..5),
    )
        .prop_flat_map(
            |(path, raw, host, upgrade, connection, key, version, extra)| {
                let encoded = base64(&raw);
                let (key_name, before, after) = key;
                let mut lines = vec![
                    host,
                    upgrade,
                    connection,
                    (key_name, format!("{before}{encoded}{after}")),
                    version,
                ];
                lines.extend(extra);
                (Just(path), Just(encoded), Just(lines).prop_shuffle())
            },
        )
        .prop_map(|(path, key, lines)| (Request { path, lines }, key))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Accepted, with the RFC's accept key, the path, and frames after the
    /// request left unread.
    #[test]
    fn a_valid_upgrade_in_any_spelling_is_accepted(
        (request, key) in valid_request(),
        after in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let head = request.bytes();
        let mut data = head.clone();
        data.extend_from_slice(&after);
        match parse_request(&data, &WsConfig::default()) {
            Handshake::Upgrade { consumed, path, accept, protocol, deflate } => {
                prop_assert_eq!(deflate, None);
                prop_assert_eq!(consumed, head.len());
                prop_assert_eq!(path, request.path.as_str());
                prop_assert_eq!(accept, accept_key(&key));
                prop_assert_eq!(protocol, None);
            }
            other => prop_assert!(false, "refused {:?}: {:?}", String::from_utf8_lossy(&head), other),
        }
    }

    /// Each required part, left out, gets its own answer.
    #[test]
    fn a_request_without_a_required_header_gets_the_rfcs_answer((request, _key) in valid_request()) {
        let config = WsConfig::default();
        let status = |request: Request| match parse_request(&request.bytes(), &config) {
            Handshake::Reject { status, .. } => Some(status),
            _ => None,
        };
        prop_assert_eq!(status(request.without("host")), Some(Status::BadRequest));
        prop_assert_eq!(status(request.without("connection")), Some(Status::BadRequest));
        prop_assert_eq!(status(request.without("sec-websocket-key")), Some(Status::BadRequest));
        prop_assert_eq!(
            status(request.without("sec-websocket-version")),
            Some(Status::UpgradeRequired)
        );
        let plain = request.without("upgrade").bytes();
        let plain = parse_request(&plain, &config);
        prop_assert!(matches!(plain, Handshake::Plain { .. }), "{:?}", plain);
    }

    /// A key that is not 16 bytes of base64 is refused.
    #[test]
    fn a_key_of_another_size_is_refused(
        (request, _key) in valid_request(),
        raw in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        prop_assume!(raw.len() != 16);
        let mut request = request.without("sec-websocket-key");
        request.lines.push(("Sec-WebSocket-Key".into(), base64(&raw)));
        let data = request.bytes();
        let got = parse_request(&data, &WsConfig::default());
        prop_assert!(
            matches!(got, Handshake::Reject { status: Status::BadRequest, .. }),
            "{:?}", got
        );
    }

    /// However the request is cut, the part that has come is incomplete.
    #[test]
    fn every_prefix_of_a_valid_upgrade_is_incomplete(
        (request, _key) in valid_request(),
        cut in any::<prop::sample::Index>(),
    ) {
        let data = request.bytes();
        let cut = cut.index(data.len());
        prop_assert_eq!(parse_request(&data[..cut], &WsConfig::default()), Handshake::Incomplete);
    }

    /// The server's first preference among those the client offers.
    #[test]
    fn the_subprotocol_is_the_servers_first_choice_the_client_offers(
        (request, _key) in valid_request(),
        server in prop::collection::vec("[a-d]", 0..4),
        client in prop::collection::vec("[a-d]", 0..4),
    ) {
        let config = WsConfig { protocols: server.clone(), ..WsConfig::default() };
        let mut request = request;
        if !client.is_empty() {
            request.lines.push(("Sec-WebSocket-Protocol".into(), client.join(", ")));
        }
        let expected = server.iter().position(|s| client.contains(s));
        match parse_request(&request.bytes(), &config) {
            Handshake::Upgrade { protocol, .. } => prop_assert_eq!(protocol, expected),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// Arbitrary bytes, alone or after a request line: no panic, and an
    /// upgrade never claims more than the input or the limit.
    #[test]
    fn arbitrary_bytes_never_panic(
        start in prop::sample::select(vec!["", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nUpgrade: websocket\r\n"]),
        noise in prop::collection::vec(any::<u8>(), 0..600),
        max_request in 256usize..1024,
    ) {
        let mut data = start.as_bytes().to_vec();
        data.extend_from_slice(&noise);
        let config = WsConfig { max_request, ..WsConfig::default() };
        match parse_request(&data, &config) {
            Handshake::Upgrade { consumed, .. } => {
                prop_assert!(consumed <= data.len() && consumed <= max_request);
            }
            Handshake::Incomplete => prop_assert!(data.len() <= max_request),
            Handshake::Plain { .. } | Handshake::Reject { .. } => {}
        }
    }
}
