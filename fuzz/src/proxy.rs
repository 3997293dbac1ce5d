//! The PROXY protocol header parser, `esockets::proxy::parse`.
//!
//! On any bytes: a `Done` header's `consumed` is within the input, and the
//! header alone parses the same (no byte past it was looked at); every
//! shorter prefix is `Incomplete`; a prefix of an `Incomplete` input is
//! `Incomplete` too; an `Invalid` input stays invalid, for the same
//! reason, whatever follows it, and its prefixes are `Incomplete` or that
//! same `Invalid`; a version 1 TCP4 header is exactly the canonical line
//! of its addresses, a version 2 header exactly its length field long.
//! And a header built from the bytes (either version, either family,
//! version 2 with TLVs) parses back to its addresses, with every prefix
//! `Incomplete`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use esockets::proxy::{parse, Addresses, Command, Header, Parse, Version, V1_MAX_LEN};

use crate::{cuts, Input};

/// The version 2 signature.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Checks the parser on `data` as it is, then on a header built from it.
pub fn check(data: &[u8]) {
    check_any(data);
    let (header, len, addresses) = build(data);
    let parsed = parse(&header);
    let Parse::Done {
        header: got,
        consumed,
    } = parsed
    else {
        panic!("a built header {header:?} did not parse: {parsed:?}");
    };
    assert_eq!(consumed, len, "built header's length");
    assert_eq!(got.addresses, Some(addresses), "built header's addresses");
    for k in 0..len {
        assert_eq!(
            parse(&header[..k]),
            Parse::Incomplete,
            "prefix of {k} bytes"
        );
    }
}

/// The invariants that hold whatever `data` is.
pub fn check_any(data: &[u8]) {
    let parsed = parse(data);
    match parsed {
        Parse::Done { header, consumed } => {
            assert!(
                consumed > 0 && consumed <= data.len(),
                "consumed {consumed}"
            );
            assert_eq!(parse(&data[..consumed]), parsed, "looked past the header");
            for k in cuts(consumed) {
                assert_eq!(parse(&data[..k]), Parse::Incomplete, "prefix of {k} bytes");
            }
            check_header(&data[..consumed], header);
        }
        Parse::Incomplete => {
            assert!(
                data.len() < V1_MAX_LEN || data.starts_with(V2_SIGNATURE),
                "{} bytes still incomplete",
                data.len()
            );
            for k in cuts(data.len()) {
                assert_eq!(parse(&data[..k]), Parse::Incomplete, "prefix of {k} bytes");
            }
        }
        Parse::Invalid(_) => {
            for more in [&b""[..], b"\r\n", b" 1 2\r\n", &[0; 40]] {
                let mut longer = data.to_vec();
                longer.extend_from_slice(more);
                assert_eq!(parse(&longer), parsed, "followed by {more:?}");
            }
            for k in cuts(data.len()) {
                let prefix = parse(&data[..k]);
                assert!(
                    prefix == Parse::Incomplete || prefix == parsed,
                    "prefix of {k} bytes: {prefix:?}, the whole: {parsed:?}"
                );
            }
        }
    }
}

/// What a complete header says, against its bytes.
fn check_header(bytes: &[u8], header: Header) {
    match header.version {
        Version::V1 => {
            assert!(bytes.len() <= V1_MAX_LEN && bytes.ends_with(b"\r\n"));
            assert_eq!(header.command, Command::Proxy);
            match header.addresses {
                None => assert!(bytes.starts_with(b"PROXY UNKNOWN")),
                Some(addresses) => {
                    let line = v1(addresses);
                    if addresses.source.is_ipv4() {
                        // IPv4 has one spelling (no leading zeroes).
                        assert_eq!(bytes, &line[..], "not the canonical line");
                    } else {
                        let Parse::Done { header: again, .. } = parse(&line) else {
                            panic!("canonical line {line:?} did not parse");
                        };
                        assert_eq!(again, header);
                    }
                }
            }
        }
        Version::V2 => {
            assert!(bytes.starts_with(V2_SIGNATURE) && bytes.len() >= 16);
            let length = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
            assert_eq!(bytes.len(), 16 + length);
            if header.addresses.is_some() {
                assert_eq!(header.command, Command::Proxy);
                assert!(matches!(bytes[13], 0x11 | 0x21), "family {:#x}", bytes[13]);
            }
        }
    }
}

/// A valid header built from `data`, followed by the rest of `data`; its
/// length and the addresses in it.
fn build(data: &[u8]) -> (Vec<u8>, usize, Addresses) {
    let mut input = Input::new(data);
    let choice = input.byte();
    let v6 = choice & 1 != 0;
    let ip = |input: &mut Input<'_>| -> IpAddr {
        if v6 {
            IpAddr::V6(Ipv6Addr::from(input.array::<16>()))
        } else {
            IpAddr::V4(Ipv4Addr::from(input.array::<4>()))
        }
    };
    let source = SocketAddr::new(ip(&mut input), input.u16());
    let destination = SocketAddr::new(ip(&mut input), input.u16());
    let addresses = Addresses {
        source,
        destination,
    };
    let mut header = if choice & 2 == 0 {
        v1(addresses)
    } else {
        v2(addresses, &mut input)
    };
    let len = header.len();
    header.extend_from_slice(input.rest());
    (header, len, addresses)
}

/// The version 1 line for `addresses`.
fn v1(addresses: Addresses) -> Vec<u8> {
    let protocol = if addresses.source.is_ipv4() {
        "TCP4"
    } else {
        "TCP6"
    };
    format!(
        "PROXY {protocol} {} {} {} {}\r\n",
        addresses.source.ip(),
        addresses.destination.ip(),
        addresses.source.port(),
        addresses.destination.port()
    )
    .into_bytes()
}

/// A version 2 PROXY header for `addresses` (TCP), with TLVs made of the
/// next bytes of `input`.
fn v2(addresses: Addresses, input: &mut Input<'_>) -> Vec<u8> {
    let mut block = Vec::new();
    let family = match (addresses.source.ip(), addresses.destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            block.extend_from_slice(&s.octets());
            block.extend_from_slice(&d.octets());
            0x11
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            block.extend_from_slice(&s.octets());
            block.extend_from_slice(&d.octets());
            0x21
        }
        _ => unreachable!("both addresses are of one family"),
    };
    block.extend_from_slice(&addresses.source.port().to_be_bytes());
    block.extend_from_slice(&addresses.destination.port().to_be_bytes());
    for _ in 0..input.byte() % 4 {
        let kind = input.byte();
        let len = usize::from(input.byte()) % 32;
        let value = input.take(len);
        block.push(kind);
        block.extend_from_slice(&(value.len() as u16).to_be_bytes());
        block.extend_from_slice(value);
    }
    let mut header = V2_SIGNATURE.to_vec();
    header.extend_from_slice(&[0x21, family]);
    header.extend_from_slice(&(block.len() as u16).to_be_bytes());
    header.extend_from_slice(&block);
    header
}
