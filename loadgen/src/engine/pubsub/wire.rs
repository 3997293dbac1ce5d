//! The two wire protocols of `--mode pubsub`, client side: encoding
//! subscribe and publish commands, and cutting what the server sends into
//! frames.
//!
//! * `pubsub` (esockets): text lines ending in `\n` (a `\r` before it is
//!   ignored): `AUTH token`, `SUB t` (or `SUB t POS`, `SUB t SINCE
//!   offset epoch`), `PUB t payload`; the server answers `+OK` (`+OK
//!   offset epoch` to a positioned subscribe), `-ERR reason`, and pushes
//!   `MSG t payload` (`MSG t offset payload` on a positioned
//!   subscription) and `MISSED n`.
//! * `redis`: RESP. `SUBSCRIBE t` is confirmed by a
//!   `subscribe t count` push, deliveries are `message t payload` pushes,
//!   `PUBLISH t payload` is answered by an integer (receivers).
//!
//! RESP is parsed here by hand rather than with a client crate: loadgen
//! needs three reply shapes, from its own non-blocking event loop, without
//! copying each delivery; the `redis` crate would bring its own
//! connection handling, and a generic RESP crate would build a value tree
//! per message.

use std::io::Write;

use crate::front::cli::Protocol;

/// Longest frame accepted (a line, or a RESP bulk string).
pub const MAX_FRAME: usize = 16 << 20;

/// One thing the server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `+OK` (a command done), or another simple string (`+PONG`).
    Ok,
    /// `+OK offset epoch`: a positioned subscription confirmed, with its
    /// topic's newest offset and its epoch.
    Position {
        /// The topic's newest offset.
        offset: u64,
        /// Its epoch, as sent.
        epoch: &'a [u8],
    },
    /// An error reply, its text.
    Error(&'a [u8]),
    /// A delivery.
    Delivery {
        /// Topic name.
        topic: &'a [u8],
        /// Payload.
        payload: &'a [u8],
    },
    /// `MISSED n`: the server dropped `n` deliveries for this client.
    Missed(u64),
    /// Redis: a subscription confirmed.
    Subscribed(&'a [u8]),
    /// Redis: the reply to `PUBLISH`, the number of receivers.
    Receivers(i64),
    /// Anything else (its first bytes).
    Other(&'a [u8]),
}

/// The server's bytes cannot be read as the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garbled(pub String);

/// Appends a subscribe command for `topic`.
pub fn subscribe(protocol: Protocol, topic: &[u8], out: &mut Vec<u8>) {
    match protocol {
        Protocol::Pubsub => {
            out.extend_from_slice(b"SUB ");
            out.extend_from_slice(topic);
            out.push(b'\n');
        }
        Protocol::Redis => {
            out.extend_from_slice(b"*2\r\n$9\r\nSUBSCRIBE\r\n");
            bulk(topic, out);
        }
    }
}

/// Appends `AUTH token` (the `pubsub` protocol only).
pub fn auth(token: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"AUTH ");
    out.extend_from_slice(token);
    out.push(b'\n');
}

/// Appends a positioned subscribe for `topic` (the `pubsub` protocol
/// only): `SUB topic POS`, or with `since` (the last offset handled and
/// its epoch) `SUB topic SINCE offset epoch`.
pub fn subscribe_positioned(topic: &[u8], since: Option<(u64, &[u8])>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"SUB ");
    out.extend_from_slice(topic);
    match since {
        None => out.extend_from_slice(b" POS\n"),
        Some((offset, epoch)) => {
            // Writing to a Vec cannot fail.
            let _ = write!(out, " SINCE {offset} ");
            out.extend_from_slice(epoch);
            out.push(b'\n');
        }
    }
}

/// Splits a positioned delivery's `offset payload` (what follows `MSG
/// topic `) into its offset and payload; `None` if it has no offset.
pub fn positioned(body: &[u8]) -> Option<(u64, &[u8])> {
    let space = body.iter().position(|&b| b == b' ')?;
    Some((decimal(&body[..space])?, &body[space + 1..]))
}

/// A decimal number of ASCII digits only, that fits 64 bits.
fn decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn bulk(data: &[u8], out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "${}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the start of a publish command to `topic` whose payload is
/// `payload_len` bytes; the caller appends the payload, then
/// [`publish_end`].
pub fn publish_start(protocol: Protocol, topic: &[u8], payload_len: usize, out: &mut Vec<u8>) {
    match protocol {
        Protocol::Pubsub => {
            out.extend_from_slice(b"PUB ");
            out.extend_from_slice(topic);
            out.push(b' ');
        }
        Protocol::Redis => {
            out.extend_from_slice(b"*3\r\n$7\r\nPUBLISH\r\n");
            bulk(topic, out);
            let _ = write!(out, "${payload_len}\r\n");
        }
    }
}

/// Appends the end of a publish command.
pub fn publish_end(protocol: Protocol, out: &mut Vec<u8>) {
    match protocol {
        Protocol::Pubsub => out.push(b'\n'),
        Protocol::Redis => out.extend_from_slice(b"\r\n"),
    }
}

/// Cuts the next frame off `buf`: `Ok(None)` when it is not complete yet,
/// else the frame and the bytes it took.
pub fn next_frame(protocol: Protocol, buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, Garbled> {
    match protocol {
        Protocol::Pubsub => text_frame(buf),
        Protocol::Redis => resp_frame(buf),
    }
}

fn too_long() -> Garbled {
    Garbled(format!("a frame longer than {MAX_FRAME} bytes"))
}

fn line(buf: &[u8]) -> Result<Option<(&[u8], usize)>, Garbled> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(end) => {
            let text = &buf[..end];
            Ok(Some((text.strip_suffix(b"\r").unwrap_or(text), end + 1)))
        }
        None if buf.len() > MAX_FRAME => Err(too_long()),
        None => Ok(None),
    }
}

fn text_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, Garbled> {
    let Some((text, used)) = line(buf)? else {
        return Ok(None);
    };
    let frame = if let Some(rest) = text.strip_prefix(b"MSG ") {
        let (topic, payload) = match rest.iter().position(|&b| b == b' ') {
            Some(space) => (&rest[..space], &rest[space + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        Frame::Delivery { topic, payload }
    } else if let Some(position) = text.strip_prefix(b"+OK ") {
        let mut words = position.splitn(2, |&b| b == b' ');
        match (words.next().and_then(decimal), words.next()) {
            (Some(offset), Some(epoch)) if !epoch.is_empty() => Frame::Position { offset, epoch },
            _ => Frame::Ok,
        }
    } else if text.first() == Some(&b'+') {
        Frame::Ok
    } else if text.first() == Some(&b'-') {
        Frame::Error(text)
    } else if let Some(n) = text.strip_prefix(b"MISSED ") {
        match std::str::from_utf8(n).ok().and_then(|n| n.parse().ok()) {
            Some(n) => Frame::Missed(n),
            None => Frame::Other(text),
        }
    } else {
        Frame::Other(text)
    };
    Ok(Some((frame, used)))
}

/// One RESP element inside an array.
#[derive(Clone, Copy)]
enum Item<'a> {
    Bulk(&'a [u8]),
    Int,
    Nil,
}

fn int(text: &[u8]) -> Result<i64, Garbled> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            Garbled(format!(
                "bad RESP number '{}'",
                String::from_utf8_lossy(text)
            ))
        })
}

/// Reads one bulk string or integer at `buf`; `Ok(None)`: incomplete.
fn item(buf: &[u8]) -> Result<Option<(Item<'_>, usize)>, Garbled> {
    let Some((head, used)) = line(buf)? else {
        return Ok(None);
    };
    match head.first() {
        Some(b':') => {
            int(&head[1..])?;
            Ok(Some((Item::Int, used)))
        }
        Some(b'$') => {
            let n = int(&head[1..])?;
            if n < 0 {
                return Ok(Some((Item::Nil, used)));
            }
            let n = n as usize;
            if n > MAX_FRAME {
                return Err(too_long());
            }
            if buf.len() < used + n + 2 {
                return Ok(None);
            }
            if &buf[used + n..used + n + 2] != b"\r\n" {
                return Err(Garbled("a RESP bulk string not ended by CRLF".into()));
            }
            Ok(Some((Item::Bulk(&buf[used..used + n]), used + n + 2)))
        }
        _ => Err(Garbled(format!(
            "unexpected RESP element '{}'",
            String::from_utf8_lossy(&head[..head.len().min(40)])
        ))),
    }
}

fn resp_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, Garbled> {
    let Some((head, mut used)) = line(buf)? else {
        return Ok(None);
    };
    let frame = match head.first() {
        Some(b'+') => Frame::Ok,
        Some(b'-') => Frame::Error(head),
        Some(b':') => Frame::Receivers(int(&head[1..])?),
        Some(b'*' | b'>') => {
            let n = int(&head[1..])?;
            if !(0..=3).contains(&n) {
                return Err(Garbled(format!("a RESP array of {n} elements")));
            }
            let mut items = [Item::Nil; 3];
            for slot in items.iter_mut().take(n as usize) {
                let Some((it, len)) = item(&buf[used..])? else {
                    return Ok(None);
                };
                *slot = it;
                used += len;
            }
            match items {
                [Item::Bulk(b"message"), Item::Bulk(topic), Item::Bulk(payload)] if n == 3 => {
                    Frame::Delivery { topic, payload }
                }
                [Item::Bulk(b"subscribe"), Item::Bulk(topic), Item::Int] if n == 3 => {
                    Frame::Subscribed(topic)
                }
                _ => Frame::Other(head),
            }
        }
        _ => {
            return Err(Garbled(format!(
                "unexpected RESP reply '{}'",
                String::from_utf8_lossy(&head[..head.len().min(40)])
            )))
        }
    };
    Ok(Some((frame, used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(protocol: Protocol, mut buf: &[u8]) -> Vec<Frame<'_>> {
        let mut out = Vec::new();
        while let Some((f, used)) = next_frame(protocol, buf).unwrap() {
            out.push(f);
            buf = &buf[used..];
        }
        assert!(buf.is_empty(), "left over: {buf:?}");
        out
    }

    #[test]
    fn text_frames() {
        let got = all(
            Protocol::Pubsub,
            b"+OK\nMSG lg.1 a b c\r\nMISSED 12\n-ERR no\nMSG lg.2\n+PONG\nhuh\n",
        );
        assert_eq!(
            got,
            vec![
                Frame::Ok,
                Frame::Delivery {
                    topic: b"lg.1",
                    payload: b"a b c"
                },
                Frame::Missed(12),
                Frame::Error(b"-ERR no"),
                Frame::Delivery {
                    topic: b"lg.2",
                    payload: b""
                },
                Frame::Ok,
                Frame::Other(b"huh"),
            ]
        );
        assert_eq!(next_frame(Protocol::Pubsub, b"MSG lg.1 par").unwrap(), None);
    }

    #[test]
    fn resp_frames_and_partial_ones() {
        let stream: &[u8] = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nlg.0\r\n:1\r\n\
            *3\r\n$7\r\nmessage\r\n$4\r\nlg.0\r\n$5\r\nhe\r\no\r\n:7\r\n-ERR x\r\n+OK\r\n";
        let got = all(Protocol::Redis, stream);
        assert_eq!(
            got,
            vec![
                Frame::Subscribed(b"lg.0"),
                Frame::Delivery {
                    topic: b"lg.0",
                    payload: b"he\r\no"
                },
                Frame::Receivers(7),
                Frame::Error(b"-ERR x"),
                Frame::Ok,
            ]
        );
        for cut in 0..stream.len() {
            if let Some((_, used)) = next_frame(Protocol::Redis, &stream[..cut]).unwrap() {
                assert!(used <= cut);
            }
        }
        assert!(next_frame(Protocol::Redis, b"?\r\n").is_err());
        assert!(next_frame(Protocol::Redis, b"*9\r\n").is_err());
    }

    #[test]
    fn commands_are_encoded() {
        let mut out = Vec::new();
        subscribe(Protocol::Redis, b"lg.3", &mut out);
        publish_start(Protocol::Redis, b"lg.3", 2, &mut out);
        out.extend_from_slice(b"hi");
        publish_end(Protocol::Redis, &mut out);
        assert_eq!(
            out,
            b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nlg.3\r\n*3\r\n$7\r\nPUBLISH\r\n$4\r\nlg.3\r\n$2\r\nhi\r\n"
        );
        out.clear();
        subscribe(Protocol::Pubsub, b"lg.3", &mut out);
        publish_start(Protocol::Pubsub, b"lg.3", 2, &mut out);
        out.extend_from_slice(b"hi");
        publish_end(Protocol::Pubsub, &mut out);
        assert_eq!(out, b"SUB lg.3\nPUB lg.3 hi\n");
        out.clear();
        auth(b"a.b.c", &mut out);
        subscribe_positioned(b"lg.3", None, &mut out);
        subscribe_positioned(b"lg.3", Some((17, b"e1")), &mut out);
        assert_eq!(out, b"AUTH a.b.c\nSUB lg.3 POS\nSUB lg.3 SINCE 17 e1\n");
    }

    #[test]
    fn positions_and_positioned_deliveries() {
        let got = all(Protocol::Pubsub, b"+OK 0 ab12\n+OK 17 e\n+OK x y\n+OK 3\n");
        assert_eq!(
            got,
            vec![
                Frame::Position {
                    offset: 0,
                    epoch: b"ab12"
                },
                Frame::Position {
                    offset: 17,
                    epoch: b"e"
                },
                Frame::Ok,
                Frame::Ok,
            ]
        );
        assert_eq!(positioned(b"12 0.1.2."), Some((12, &b"0.1.2."[..])));
        assert_eq!(positioned(b"0.1.2."), None);
        assert_eq!(positioned(b"-1 x"), None);
    }
}
