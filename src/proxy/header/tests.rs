//! The parser against the specification's examples and limits, and
//! property tests: no input panics it, and no header is read past its end.

use std::net::SocketAddr;

use proptest::prelude::*;

use super::*;

/// The header a `Done` carries; panics on anything else.
fn done(input: &[u8]) -> (Header, usize) {
    match parse(input) {
        Parse::Done { header, consumed } => (header, consumed),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

/// The client and destination addresses of a header that carries them.
fn endpoints(header: Header) -> (SocketAddr, SocketAddr) {
    let addresses = header.addresses.expect("addresses");
    (addresses.source, addresses.destination)
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("socket address")
}

/// Asserts every proper prefix of `input[..len]` is `Incomplete`.
fn prefixes_are_incomplete(input: &[u8], len: usize) {
    for end in 0..len {
        assert_eq!(
            parse(&input[..end]),
            Parse::Incomplete,
            "prefix of {end} bytes"
        );
    }
}

/// A version 2 header: version/command byte, family/protocol byte, body.
fn v2(version_command: u8, family_protocol: u8, body: &[u8]) -> Vec<u8> {
    let mut header = V2_SIGNATURE.to_vec();
    header.push(version_command);
    header.push(family_protocol);
    let len = u16::try_from(body.len()).expect("fits");
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(body);
    header
}

/// The address block of TCP over IPv4: 192.168.0.1:56324 → 192.168.0.11:443.
fn inet_block() -> Vec<u8> {
    let mut block = vec![192, 168, 0, 1, 192, 168, 0, 11];
    block.extend_from_slice(&56324u16.to_be_bytes());
    block.extend_from_slice(&443u16.to_be_bytes());
    block
}

#[test]
fn v1_the_specifications_example_before_an_http_request() {
    let input = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n";
    let (header, consumed) = done(input);
    assert_eq!(consumed, 47);
    assert_eq!(&input[consumed..consumed + 3], b"GET");
    assert_eq!(header.version, Version::V1);
    assert_eq!(header.command, Command::Proxy);
    assert_eq!(
        endpoints(header),
        (addr("192.168.0.1:56324"), addr("192.168.0.11:443"))
    );
    prefixes_are_incomplete(input, consumed);
}

#[test]
fn v1_the_specifications_longest_lines() {
    let tcp4 = b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    assert_eq!(tcp4.len(), 56);
    assert_eq!(done(tcp4).1, 56);
    let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let tcp6 = format!("PROXY TCP6 {full} {full} 65535 65535\r\n");
    assert_eq!(tcp6.len(), 104);
    let (header, consumed) = done(tcp6.as_bytes());
    assert_eq!(consumed, 104);
    assert_eq!(endpoints(header).0, addr(&format!("[{full}]:65535")));
    let worst = format!("PROXY UNKNOWN {full} {full} 65535 65535\r\n");
    assert_eq!(worst.len(), V1_MAX_LEN);
    assert_eq!(
        done(worst.as_bytes()),
        (
            Header {
                version: Version::V1,
                command: Command::Proxy,
                addresses: None
            },
            V1_MAX_LEN
        )
    );
}

#[test]
fn v1_unknown_short_form_and_compressed_ipv6() {
    let (header, consumed) = done(b"PROXY UNKNOWN\r\nhello");
    assert_eq!((header.addresses, consumed), (None, 15));
    let (header, _) = done(b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n");
    assert_eq!(
        endpoints(header),
        (addr("[2001:db8::1]:1"), addr("[::1]:65535"))
    );
}

#[test]
fn v1_without_crlf_in_107_bytes_is_too_long() {
    let mut line = b"PROXY UNKNOWN ".to_vec();
    line.resize(V1_MAX_LEN - 1, b'x');
    assert_eq!(parse(&line), Parse::Incomplete);
    line.push(b'x');
    assert_eq!(parse(&line), Parse::Invalid(Invalid::V1TooLong));
    // A CRLF one byte too late does not save it.
    line.pop();
    line.extend_from_slice(b"\r\n");
    assert_eq!(parse(&line), Parse::Invalid(Invalid::V1TooLong));
}

/// Found by the proxy_header fuzz target: a stray CR early in the line,
/// and a CR as the 107th byte, used to be `V1TooLong` once 107 bytes had
/// come but `V1LineEnd` before: the reason depended on how the bytes were
/// split into reads.
#[test]
fn v1_stray_cr_is_the_reason_however_long_the_input() {
    let mut line = b"PROXY TCP4 1.2.3.4\r".to_vec();
    line.resize(V1_MAX_LEN - 1, b'x');
    line.extend_from_slice(b"\r\n");
    for len in 20..=line.len() {
        assert_eq!(
            parse(&line[..len]),
            Parse::Invalid(Invalid::V1LineEnd),
            "first {len} bytes"
        );
    }
}

#[test]
fn v1_malformed_lines() {
    let cases: &[(&[u8], Invalid)] = &[
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", Invalid::V1LineEnd),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx", Invalid::V1LineEnd),
        (b"PROXY TCP4 1.2.3.4\r 5.6.7.8 1 2\r\n", Invalid::V1LineEnd),
        (b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", Invalid::V1Protocol),
        (b"PROXY \r\n", Invalid::V1Protocol),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", Invalid::V1Fields),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", Invalid::V1Fields),
        (b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", Invalid::V1Fields),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", Invalid::V1Fields),
        (b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", Invalid::V1Address),
        (b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", Invalid::V1Address),
        (b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", Invalid::V1Address),
        (b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", Invalid::V1Address),
        (b"PROXY TCP6 ::1 ::g 1 2\r\n", Invalid::V1Address),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", Invalid::V1Port),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", Invalid::V1Port),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", Invalid::V1Port),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 999999\r\n", Invalid::V1Port),
    ];
    for (input, why) in cases {
        assert_eq!(
            parse(input),
            Parse::Invalid(*why),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn other_protocols_are_refused_on_their_first_byte() {
    for input in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"G",
        b"\x16\x03\x01",
        b"PROXX",
        b"proxy ",
        b"\r\n\r\n\x01",
    ] {
        assert_eq!(
            parse(input),
            Parse::Invalid(Invalid::Signature),
            "{input:?}"
        );
    }
    assert_eq!(parse(b""), Parse::Incomplete);
    assert_eq!(parse(b"PROX"), Parse::Incomplete);
    assert_eq!(parse(b"\r\n\r\n\0"), Parse::Incomplete);
}

#[test]
fn v2_tcp_over_ipv4() {
    let mut input = v2(0x21, 0x11, &inet_block());
    let len = input.len();
    assert_eq!(len, 28);
    input.extend_from_slice(b"first data");
    let (header, consumed) = done(&input);
    assert_eq!(consumed, 28);
    assert_eq!(header.version, Version::V2);
    assert_eq!(header.command, Command::Proxy);
    assert_eq!(
        endpoints(header),
        (addr("192.168.0.1:56324"), addr("192.168.0.11:443"))
    );
    prefixes_are_incomplete(&input, consumed);
}

#[test]
fn v2_tcp_over_ipv6() {
    let mut block = Vec::new();
    block.extend_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().expect("ip").octets());
    block.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    block.extend_from_slice(&1234u16.to_be_bytes());
    block.extend_from_slice(&80u16.to_be_bytes());
    let input = v2(0x21, 0x21, &block);
    assert_eq!(input.len(), 16 + 36);
    let (header, consumed) = done(&input);
    assert_eq!(consumed, 52);
    assert_eq!(
        endpoints(header),
        (addr("[2001:db8::7]:1234"), addr("[::1]:80"))
    );
}

#[test]
fn v2_local_skips_whatever_its_length_covers() {
    let input = v2(0x20, 0x00, &[]);
    let (header, consumed) = done(&input);
    assert_eq!(consumed, 16);
    assert_eq!(header.command, Command::Local);
    assert_eq!(header.addresses, None);
    // "Must not assume zero is presented for LOCAL connections."
    let input = v2(0x20, 0x11, &inet_block());
    let (header, consumed) = done(&input);
    assert_eq!(
        (header.command, header.addresses, consumed),
        (Command::Local, None, 28)
    );
    // LOCAL ignores the family, even one too short for its block.
    assert_eq!(done(&v2(0x20, 0x21, &[1, 2, 3])).1, 19);
}

#[test]
fn v2_tlvs_are_skipped_by_their_lengths() {
    let mut body = inet_block();
    body.extend_from_slice(&[0x04, 0x00, 0x03, 0, 0, 0]); // NOOP, 3 bytes
    body.extend_from_slice(&[0x02, 0x00, 0x0B]); // AUTHORITY
    body.extend_from_slice(b"example.com");
    body.extend_from_slice(&[0xE0, 0x00, 0x00]); // custom, empty
    let mut input = v2(0x21, 0x11, &body);
    let len = input.len();
    input.extend_from_slice(b"\x04\x00\x03abc"); // looks like a TLV, is data
    let (header, consumed) = done(&input);
    assert_eq!(consumed, len);
    assert_eq!(endpoints(header).0, addr("192.168.0.1:56324"));
    // A TLV whose length runs past the header.
    let mut body = inet_block();
    body.extend_from_slice(&[0x02, 0x00, 0x10, b'x']);
    assert_eq!(
        parse(&v2(0x21, 0x11, &body)),
        Parse::Invalid(Invalid::V2Tlv)
    );
    // A TLV cut inside its type and length.
    let mut body = inet_block();
    body.extend_from_slice(&[0x02, 0x00]);
    assert_eq!(
        parse(&v2(0x21, 0x11, &body)),
        Parse::Invalid(Invalid::V2Tlv)
    );
}

#[test]
fn v2_families_a_tcp_server_cannot_use_fall_back_to_the_real_endpoints() {
    for (family_protocol, len) in [
        (0x00, 0),
        (0x00, 5),
        (0x12, 12),
        (0x22, 36),
        (0x31, 216),
        (0x32, 216),
        (0x10, 12),
    ] {
        let input = v2(0x21, family_protocol, &vec![0; len]);
        let (header, consumed) = done(&input);
        assert_eq!(
            (header.command, header.addresses, consumed),
            (Command::Proxy, None, 16 + len),
            "{family_protocol:#x}"
        );
    }
}

#[test]
fn v2_malformed_headers() {
    let cases: &[(Vec<u8>, Invalid)] = &[
        (v2(0x11, 0x11, &inet_block()), Invalid::V2Version),
        (v2(0x31, 0x11, &inet_block()), Invalid::V2Version),
        (v2(0x22, 0x11, &inet_block()), Invalid::V2Command),
        (v2(0x21, 0x41, &inet_block()), Invalid::V2Family),
        (v2(0x21, 0x13, &inet_block()), Invalid::V2Family),
        (v2(0x21, 0x11, &inet_block()[..11]), Invalid::V2Length),
        (v2(0x21, 0x21, &[0; 35]), Invalid::V2Length),
        (v2(0x21, 0x31, &[0; 215]), Invalid::V2Length),
    ];
    for (input, why) in cases {
        assert_eq!(parse(input), Parse::Invalid(*why), "{input:?}");
        // Refused as soon as the bad byte is in, not when the length is.
        assert_eq!(parse(&input[..16]), Parse::Invalid(*why), "{input:?}");
    }
}

#[test]
fn v2_the_longest_header_is_read_whole() {
    let mut body = inet_block();
    let tlv = usize::from(u16::MAX) - body.len() - 3;
    body.extend_from_slice(&[0xE1]);
    body.extend_from_slice(&u16::try_from(tlv).expect("fits").to_be_bytes());
    body.resize(usize::from(u16::MAX), 7);
    let input = v2(0x21, 0x11, &body);
    assert_eq!(parse(&input[..input.len() - 1]), Parse::Incomplete);
    assert_eq!(done(&input).1, 16 + 65535);
}

/// A valid header of either version, from its parts.
fn any_header() -> impl Strategy<Value = (Vec<u8>, Option<(SocketAddr, SocketAddr)>)> {
    let ipv4 = any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)));
    let ipv6 = any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)));
    let pair = prop_oneof![
        (ipv4.clone(), ipv4, any::<u16>(), any::<u16>()),
        (ipv6.clone(), ipv6, any::<u16>(), any::<u16>()),
    ]
    .prop_map(|(a, b, pa, pb)| (SocketAddr::new(a, pa), SocketAddr::new(b, pb)));
    let tlvs = proptest::collection::vec(
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)),
        0..4,
    );
    (pair, any::<bool>(), tlvs, any::<bool>()).prop_map(
        |((source, destination), binary, tlvs, local)| {
            if !binary {
                let protocol = if source.is_ipv4() { "TCP4" } else { "TCP6" };
                let line = format!(
                    "PROXY {protocol} {} {} {} {}\r\n",
                    source.ip(),
                    destination.ip(),
                    source.port(),
                    destination.port()
                );
                return (line.into_bytes(), Some((source, destination)));
            }
            let mut body = Vec::new();
            match (source.ip(), destination.ip()) {
                (IpAddr::V4(a), IpAddr::V4(b)) => {
                    body.extend_from_slice(&a.octets());
                    body.extend_from_slice(&b.octets());
                }
                (IpAddr::V6(a), IpAddr::V6(b)) => {
                    body.extend_from_slice(&a.octets());
                    body.extend_from_slice(&b.octets());
                }
                _ => unreachable!("same family"),
            }
            body.extend_from_slice(&source.port().to_be_bytes());
            body.extend_from_slice(&destination.port().to_be_bytes());
            for (kind, value) in tlvs {
                body.push(kind);
                body.extend_from_slice(&u16::try_from(value.len()).expect("short").to_be_bytes());
                body.extend_from_slice(&value);
            }
            let family = if source.is_ipv4() { 0x11 } else { 0x21 };
            let command = if local { 0x20 } else { 0x21 };
            let expected = (!local).then_some((source, destination));
            (v2(command, family, &body), expected)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// No input panics the parser, and a header never ends past the input;
    /// a header parses the same with nothing after it (nothing past it was
    /// looked at).
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Parse::Done { header, consumed } = parse(&input) {
            prop_assert!(consumed <= input.len());
            prop_assert_eq!(parse(&input[..consumed]), Parse::Done { header, consumed });
        }
    }

    /// The same for inputs that start like a header: a signature or
    /// `PROXY ` then noise, so the deeper branches are reached.
    #[test]
    fn noise_after_a_signature_never_panics(
        v1 in any::<bool>(),
        noise in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut input = if v1 { V1_PREFIX.to_vec() } else { V2_SIGNATURE.to_vec() };
        input.extend_from_slice(&noise);
        if let Parse::Done { header, consumed } = parse(&input) {
            prop_assert!(consumed <= input.len());
            prop_assert_eq!(parse(&input[..consumed]), Parse::Done { header, consumed });
        }
    }

    /// A valid header, followed by anything, parses to its own addresses
    /// and length; split into any chunks and parsed as a server reads it
    /// (after each chunk, over everything so far), it is `Incomplete` until
    /// its last byte is in and then the same.
    #[test]
    fn valid_headers_parse_the_same_however_they_are_split(
        (header, expected) in any_header(),
        after in proptest::collection::vec(any::<u8>(), 0..64),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut input = header.clone();
        input.extend_from_slice(&after);
        let whole = parse(&input);
        let Parse::Done { header: parsed, consumed } = whole else {
            return Err(TestCaseError::fail(format!("{whole:?}")));
        };
        prop_assert_eq!(consumed, header.len());
        prop_assert_eq!(parsed.addresses.map(|a| (a.source, a.destination)), expected);
        let mut ends: Vec<usize> = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect();
        ends.push(input.len());
        ends.sort_unstable();
        for end in ends {
            let got = parse(&input[..end]);
            if end < consumed {
                prop_assert_eq!(got, Parse::Incomplete, "{} of {} bytes", end, consumed);
            } else {
                prop_assert_eq!(got, whole);
            }
        }
    }

    /// One byte of a valid header changed: any answer but a panic or a
    /// header longer than the input.
    #[test]
    fn a_corrupted_header_never_panics(
        (header, _) in any_header(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut input = header;
        let at = at.index(input.len());
        input[at] = byte;
        if let Parse::Done { consumed, .. } = parse(&input) {
            prop_assert!(consumed <= input.len());
        }
    }
}
