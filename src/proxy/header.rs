//! The PROXY protocol header parser: pure code, no I/O, no allocation.
//!
//! Follows HAProxy's specification (`doc/proxy-protocol.txt`): the
//! human-readable version 1 line and the binary version 2 header. Input
//! that cannot be the start of either is refused at once, so a client that
//! speaks the application protocol straight away is closed on its first
//! bytes rather than after the timeout.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The longest version 1 line, CRLF included (the specification's worst
/// case: `UNKNOWN` with two full IPv6 addresses and ports).
pub const V1_MAX_LEN: usize = 107;

/// How a version 1 line starts.
const V1_PREFIX: &[u8] = b"PROXY ";

/// The 12 bytes every version 2 header starts with.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// A version 2 header's fixed part: signature, version and command,
/// family and protocol, length.
const V2_FIXED_LEN: usize = 16;

/// Address block lengths of version 2's families.
const V2_INET_LEN: usize = 12;
/// See [`V2_INET_LEN`].
const V2_INET6_LEN: usize = 36;
/// See [`V2_INET_LEN`].
const V2_UNIX_LEN: usize = 216;

/// What [`parse`] found at the front of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    /// What is there so far is the start of a valid header: read more.
    Incomplete,
    /// A complete, valid header, `consumed` bytes long; the bytes after it
    /// are the connection's first application data.
    Done {
        /// The header.
        header: Header,
        /// Its length in bytes.
        consumed: usize,
    },
    /// Not a valid header (or not one at all): close the connection.
    Invalid(Invalid),
}

/// A PROXY protocol header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Which version of the protocol it was written in.
    pub version: Version,
    /// Relayed for a client, or the proxy's own connection.
    pub command: Command,
    /// The client's and the proxy's addresses for a relayed TCP connection
    /// over IPv4 or IPv6; `None` for `LOCAL`, version 1's `UNKNOWN`, and
    /// families a TCP server cannot use (unspecified, UNIX sockets,
    /// datagrams), for which the specification says to use the
    /// connection's real endpoints.
    pub addresses: Option<Addresses>,
}

/// The protocol version of a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// The human-readable line (`PROXY TCP4 ...\r\n`).
    V1,
    /// The binary header.
    V2,
}

/// What the proxy says the connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Relayed on behalf of a client (version 1 is always this).
    Proxy,
    /// Version 2's `LOCAL`: the proxy's own connection, such as a health
    /// check; the real endpoints are the ones to use.
    Local,
}

/// The endpoints of the client's original connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addresses {
    /// The client's address and port.
    pub source: SocketAddr,
    /// The address and port the client connected to (on the proxy).
    pub destination: SocketAddr,
}

/// Why input is not a valid PROXY header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// Neither `PROXY ` (version 1) nor the version 2 signature.
    Signature,
    /// Version 1: no CRLF within the first 107 bytes.
    V1TooLong,
    /// Version 1: a CR or LF that is not the line's final CRLF.
    V1LineEnd,
    /// Version 1: the protocol is not `TCP4`, `TCP6` or `UNKNOWN`.
    V1Protocol,
    /// Version 1: not exactly four fields after the protocol, separated by
    /// single spaces.
    V1Fields,
    /// Version 1: an address that is not canonical, or not of the family
    /// the protocol names.
    V1Address,
    /// Version 1: a port that is not a decimal number from 0 to 65535
    /// without leading zeroes.
    V1Port,
    /// Version 2: the version is not 2.
    V2Version,
    /// Version 2: the command is neither `LOCAL` nor `PROXY`.
    V2Command,
    /// Version 2: an unassigned address family or transport protocol.
    V2Family,
    /// Version 2: the length leaves no room for the family's addresses.
    V2Length,
    /// Version 2: a TLV runs past the end of the header.
    V2Tlv,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Signature => "not a PROXY protocol header (wrong signature)",
            Self::V1TooLong => "version 1 line without CRLF in its first 107 bytes",
            Self::V1LineEnd => "version 1 line with a stray CR or LF",
            Self::V1Protocol => "version 1 protocol is not TCP4, TCP6 or UNKNOWN",
            Self::V1Fields => "version 1 line does not have its six space-separated fields",
            Self::V1Address => "version 1 address is not canonical or not of the protocol's family",
            Self::V1Port => "version 1 port is not a number from 0 to 65535",
            Self::V2Version => "version 2 signature with a version other than 2",
            Self::V2Command => "version 2 command is neither LOCAL nor PROXY",
            Self::V2Family => "version 2 address family or protocol is unassigned",
            Self::V2Length => "version 2 length is too short for its addresses",
            Self::V2Tlv => "version 2 TLV runs past the end of the header",
        })
    }
}

impl std::error::Error for Invalid {}

/// Parses the PROXY header at the front of `input`.
///
/// Looks at no byte past the header: `consumed` is the header's exact
/// length, and a header followed by anything parses the same. Input that
/// cannot begin a header is [`Invalid`] as soon as its first bytes show
/// it; a prefix of a valid header is [`Parse::Incomplete`]. No input makes
/// it panic.
///
/// # Examples
///
/// ```
/// use esockets::proxy::{parse, Parse};
///
/// let input = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
/// let Parse::Done { header, consumed } = parse(input) else { panic!() };
/// assert_eq!(&input[consumed..], b"GET / HTTP/1.1\r\n");
/// let source = header.addresses.unwrap().source;
/// assert_eq!(source, "192.168.0.1:56324".parse().unwrap());
/// assert_eq!(parse(&input[..20]), Parse::Incomplete);
/// ```
pub fn parse(input: &[u8]) -> Parse {
    if starts_like(input, V2_SIGNATURE) {
        if input.len() < V2_SIGNATURE.len() {
            return Parse::Incomplete;
        }
        return parse_v2(input);
    }
    if starts_like(input, V1_PREFIX) {
        if input.len() < V1_PREFIX.len() {
            return Parse::Incomplete;
        }
        return parse_v1(input);
    }
    Parse::Invalid(Invalid::Signature)
}

/// Whether `input` and `prefix` agree on their common length.
fn starts_like(input: &[u8], prefix: &[u8]) -> bool {
    let n = input.len().min(prefix.len());
    input[..n] == prefix[..n]
}

/// Version 1: one line of text, at most 107 bytes with its CRLF.
fn parse_v1(input: &[u8]) -> Parse {
    let window = &input[..input.len().min(V1_MAX_LEN)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        // A CR before the window's last byte is not followed by LF (there
        // is none), whatever comes after the window.
        if window[..window.len() - 1].contains(&b'\r') {
            return Parse::Invalid(Invalid::V1LineEnd);
        }
        return if window.len() == V1_MAX_LEN {
            Parse::Invalid(Invalid::V1TooLong)
        } else {
            Parse::Incomplete
        };
    };
    // The line must end in CRLF, with no other CR before.
    let Some(line) = window[..lf].strip_suffix(b"\r") else {
        return Parse::Invalid(Invalid::V1LineEnd);
    };
    if line.contains(&b'\r') {
        return Parse::Invalid(Invalid::V1LineEnd);
    }
    match v1_addresses(&line[V1_PREFIX.len()..]) {
        Ok(addresses) => Parse::Done {
            header: Header {
                version: Version::V1,
                command: Command::Proxy,
                addresses,
            },
            consumed: lf + 1,
        },
        Err(invalid) => Parse::Invalid(invalid),
    }
}

/// The fields of a version 1 line after `PROXY `, without the CRLF.
fn v1_addresses(fields: &[u8]) -> Result<Option<Addresses>, Invalid> {
    let mut fields = fields.split(|&b| b == b' ');
    let protocol = fields.next().unwrap_or_default();
    let v6 = match protocol {
        // The receiver must ignore anything after UNKNOWN.
        b"UNKNOWN" => return Ok(None),
        b"TCP4" => false,
        b"TCP6" => true,
        _ => return Err(Invalid::V1Protocol),
    };
    let (Some(source), Some(destination), Some(source_port), Some(destination_port), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(Invalid::V1Fields);
    };
    let address = |text: &[u8]| -> Result<IpAddr, Invalid> {
        let text = std::str::from_utf8(text).map_err(|_| Invalid::V1Address)?;
        // std's parsers refuse leading zeroes in IPv4 (no octal).
        if v6 {
            text.parse::<Ipv6Addr>().map(IpAddr::V6)
        } else {
            text.parse::<Ipv4Addr>().map(IpAddr::V4)
        }
        .map_err(|_| Invalid::V1Address)
    };
    Ok(Some(Addresses {
        source: SocketAddr::new(address(source)?, v1_port(source_port)?),
        destination: SocketAddr::new(address(destination)?, v1_port(destination_port)?),
    }))
}

/// A version 1 port: decimal digits, no leading zero, at most 65535.
fn v1_port(text: &[u8]) -> Result<u16, Invalid> {
    let canonical = matches!(text, [b'0'] | [b'1'..=b'9', ..])
        && text.len() <= 5
        && text.iter().all(u8::is_ascii_digit);
    if !canonical {
        return Err(Invalid::V1Port);
    }
    let value = text
        .iter()
        .fold(0u32, |n, &digit| n * 10 + u32::from(digit - b'0'));
    u16::try_from(value).map_err(|_| Invalid::V1Port)
}

/// Version 2: the signature (already matched), then version and command,
/// family and protocol, and the length of what follows.
fn parse_v2(input: &[u8]) -> Parse {
    let Some(&version_command) = input.get(12) else {
        return Parse::Incomplete;
    };
    if version_command >> 4 != 2 {
        return Parse::Invalid(Invalid::V2Version);
    }
    let command = match version_command & 0x0F {
        0 => Command::Local,
        1 => Command::Proxy,
        _ => return Parse::Invalid(Invalid::V2Command),
    };
    let Some(&family_protocol) = input.get(13) else {
        return Parse::Incomplete;
    };
    let (family, protocol) = (family_protocol >> 4, family_protocol & 0x0F);
    if family > 3 || protocol > 2 {
        return Parse::Invalid(Invalid::V2Family);
    }
    let Some(&[high, low]) = input.get(14..V2_FIXED_LEN) else {
        return Parse::Incomplete;
    };
    let length = usize::from(u16::from_be_bytes([high, low]));
    // The address block's size for the family, before any TLV.
    let block = match family {
        1 => V2_INET_LEN,
        2 => V2_INET6_LEN,
        3 => V2_UNIX_LEN,
        _ => 0,
    };
    // LOCAL: the family is ignored, whatever the length says is skipped.
    if command == Command::Proxy && length < block {
        return Parse::Invalid(Invalid::V2Length);
    }
    let total = V2_FIXED_LEN + length;
    let Some(body) = input.get(V2_FIXED_LEN..total) else {
        return Parse::Incomplete;
    };
    let header = |addresses| Parse::Done {
        header: Header {
            version: Version::V2,
            command,
            addresses,
        },
        consumed: total,
    };
    if command == Command::Local || family == 0 {
        // Nothing to read in the block: the real endpoints are used.
        return header(None);
    }
    if !tlvs_fit(&body[block..]) {
        return Parse::Invalid(Invalid::V2Tlv);
    }
    // TCP (STREAM) over IPv4 or IPv6 is what a TCP server can use; a UNIX
    // socket or a datagram protocol falls back to the real endpoints, as
    // the specification allows for what a receiver does not support.
    let addresses = match (family, protocol) {
        (1, 1) => {
            let ip = |at: usize| {
                IpAddr::V4(Ipv4Addr::new(
                    body[at],
                    body[at + 1],
                    body[at + 2],
                    body[at + 3],
                ))
            };
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            Some(Addresses {
                source: SocketAddr::new(ip(0), port(8)),
                destination: SocketAddr::new(ip(4), port(10)),
            })
        }
        (2, 1) => {
            let ip = |at: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&body[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            Some(Addresses {
                source: SocketAddr::new(ip(0), port(32)),
                destination: SocketAddr::new(ip(16), port(34)),
            })
        }
        _ => None,
    };
    header(addresses)
}

/// Whether `tlvs` is a whole number of TLVs (type, 16-bit length, value),
/// each skipped by its length field without reading past the end.
fn tlvs_fit(mut tlvs: &[u8]) -> bool {
    while !tlvs.is_empty() {
        let Some(&[_, high, low]) = tlvs.get(..3) else {
            return false;
        };
        let end = 3 + usize::from(u16::from_be_bytes([high, low]));
        let Some(rest) = tlvs.get(end..) else {
            return false;
        };
        tlvs = rest;
    }
    true
}

#[cfg(test)]
mod tests;
