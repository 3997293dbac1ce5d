//! Negotiating permessage-deflate (RFC 7692 section 7.1): the client's
//! offers in `Sec-WebSocket-Extensions`, the first one the server can
//! accept, and the response that says what was agreed. Pure code over the
//! header's text.

use crate::websocket::deflate::config::{DeflateConfig, MAX_WINDOW_BITS, MIN_WINDOW_BITS};

/// The extension's name in the header.
const NAME: &str = "permessage-deflate";

/// What the two ends agreed for one connection: four bytes, kept for the
/// connection's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// The LZ77 window (a power of two) the server compresses with.
    pub server_window_bits: u8,
    /// The largest window the client may compress with.
    pub client_window_bits: u8,
    /// The server keeps its deflate context between messages.
    pub server_takeover: bool,
    /// The client may keep its context, so the server's inflater must
    /// keep one for it.
    pub client_takeover: bool,
}

/// One offer's parameters, read (each at most once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// `server_max_window_bits=N`: the server must use at most N.
    server_max_window_bits: Option<u8>,
    /// `client_max_window_bits` (with a value, or `Some(None)` without):
    /// the client can be told to use less.
    client_max_window_bits: Option<Option<u8>>,
}

/// The first offer of permessage-deflate in `values` (the
/// `Sec-WebSocket-Extensions` lines, in order) that the server accepts
/// under `config`, and the response's value for it; `None` if there is
/// none (the connection goes on uncompressed, as RFC 7692 asks when every
/// offer is declined).
///
/// An offer is declined when a parameter is unknown, repeated, or has a
/// bad value (a window outside 8 to 15, a value where none belongs), or
/// asks for what the server cannot do: a server window of 8 bits (zlib
/// cannot make raw deflate with a 256-byte window). The server always
/// answers `server_no_context_takeover` and `client_no_context_takeover`
/// unless `config.context_takeover`, and then only to offers that ask for
/// them. Windows are negotiated down to `config.max_window_bits`.
///
/// # Examples
///
/// ```
/// use esockets::websocket::{negotiate_deflate, DeflateConfig};
///
/// let offer = ["permessage-deflate; client_max_window_bits"];
/// let (agreed, response) = negotiate_deflate(offer.into_iter(), &DeflateConfig::default())
///     .expect("accepted");
/// assert_eq!(response, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
/// assert!(!agreed.server_takeover && !agreed.client_takeover);
/// ```
pub fn negotiate_deflate<'a>(
    values: impl Iterator<Item = &'a str>,
    config: &DeflateConfig,
) -> Option<(Agreed, String)> {
    values
        .flat_map(|value| value.split(','))
        .filter_map(read_offer)
        .find_map(|offer| accept(&offer, config))
}

/// The parameters of one extension element, if it is permessage-deflate
/// and well formed.
fn read_offer(element: &str) -> Option<Offer> {
    let mut parts = element.split(';');
    if !parts.next()?.trim().eq_ignore_ascii_case(NAME) {
        return None;
    }
    let mut offer = Offer::default();
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(unquote(value.trim())?)),
            None => (param.trim(), None),
        };
        match (name.to_ascii_lowercase().as_str(), value) {
            ("server_no_context_takeover", None) if !offer.server_no_context_takeover => {
                offer.server_no_context_takeover = true;
            }
            ("client_no_context_takeover", None) if !offer.client_no_context_takeover => {
                offer.client_no_context_takeover = true;
            }
            ("server_max_window_bits", Some(value)) if offer.server_max_window_bits.is_none() => {
                offer.server_max_window_bits = Some(window_bits(value)?);
            }
            ("client_max_window_bits", value) if offer.client_max_window_bits.is_none() => {
                offer.client_max_window_bits = Some(match value {
                    Some(value) => Some(window_bits(value)?),
                    None => None,
                });
            }
            _ => return None,
        }
    }
    Some(offer)
}

/// A parameter's value without its quotes (RFC 7692 allows a quoted
/// string); `None` for a quote left open.
fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"'),
        None => Some(value),
    }
}

/// A window size: 1 to 2 decimal digits, 8 to 15 (no leading zero, as
/// the RFC's grammar has it).
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || value.is_empty() || value.len() > 2 {
        return None;
    }
    let bits: u8 = value.parse().ok()?;
    (8..=MAX_WINDOW_BITS).contains(&bits).then_some(bits)
}

/// What the server answers to `offer`, or `None` to decline it.
fn accept(offer: &Offer, config: &DeflateConfig) -> Option<(Agreed, String)> {
    let server_window_bits = offer
        .server_max_window_bits
        .unwrap_or(MAX_WINDOW_BITS)
        .min(config.max_window_bits);
    if server_window_bits < MIN_WINDOW_BITS {
        return None;
    }
    let server_takeover = config.context_takeover && !offer.server_no_context_takeover;
    let client_takeover = config.context_takeover && !offer.client_no_context_takeover;
    // Without `client_max_window_bits` in the offer the client cannot be
    // told: it may use the whole window.
    let client_window_bits = match offer.client_max_window_bits {
        Some(offered) => offered
            .unwrap_or(MAX_WINDOW_BITS)
            .min(config.max_window_bits),
        None => MAX_WINDOW_BITS,
    };
    let mut response = String::from(NAME);
    if !server_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if !client_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if offer.server_max_window_bits.is_some() {
        response.push_str(&format!("; server_max_window_bits={server_window_bits}"));
    }
    if offer.client_max_window_bits.is_some() && client_window_bits < MAX_WINDOW_BITS {
        response.push_str(&format!("; client_max_window_bits={client_window_bits}"));
    }
    let agreed = Agreed {
        server_window_bits,
        client_window_bits,
        server_takeover,
        client_takeover,
    };
    Some((agreed, response))
}
