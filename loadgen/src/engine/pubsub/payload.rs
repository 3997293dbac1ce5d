//! The payload of one published message: a header naming its publisher,
//! topic, sequence number (per publisher and topic) and send times, then
//! padding up to `--size` whose bytes depend on the sequence number:
//! letters, or with `--payload json` a window into the JSON text of
//! engine/corpus.rs at an offset set by the header's numbers.
//! Text only (no space issues, no `\r`/`\n`), so it travels unchanged in
//! the `pubsub` line protocol and in RESP alike.
//!
//! ```text
//! <publisher>.<topic>.<seq>.<intended ns>.<sent ns>.<padding ...>
//! ```
//! (numbers in lowercase hex; times in nanoseconds since the run's epoch,
//! an `Instant` all threads of the process share).

use std::io::Write;

use crate::engine::corpus;
use crate::front::cli::Payload;

/// Everything a payload says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Publisher number.
    pub publisher: u64,
    /// Topic number.
    pub topic: u64,
    /// Sequence number of this (publisher, topic) pair, from 0.
    pub seq: u64,
    /// When the schedule wanted it sent (open loop; the send time in the
    /// closed loop), ns since the epoch.
    pub intended_ns: u64,
    /// When it was queued for sending, ns since the epoch.
    pub sent_ns: u64,
}

/// Longest header: five 16-digit hex numbers and their dots.
pub const MAX_HEADER: usize = 5 * 17;

/// Letter `at` of the letters padding of message `seq`.
fn letter(seq: u64, at: usize) -> u8 {
    b'a' + ((seq.wrapping_add(at as u64)) % 26) as u8
}

/// Where in the JSON corpus the padding of message `h` starts (its byte
/// `at` is the corpus's byte `start + at`, wrapping around).
fn json_start(h: &Header) -> usize {
    let mix = h.seq.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ h.publisher.wrapping_mul(31)
        ^ h.topic.wrapping_mul(1_000_003);
    (mix % corpus::json().len() as u64) as usize
}

/// Calls `piece` with the padding of message `h` from byte `from` to
/// byte `to`, in slices of the corpus (JSON) or a byte at a time
/// (letters), until it returns false; returns whether it never did.
fn padding(
    h: &Header,
    fill: Payload,
    from: usize,
    to: usize,
    mut piece: impl FnMut(&[u8]) -> bool,
) -> bool {
    match fill {
        Payload::Letters => (from..to).all(|at| piece(&[letter(h.seq, at)])),
        Payload::Json => {
            let corpus = corpus::json();
            let mut at = (json_start(h) + from) % corpus.len();
            let mut left = to.saturating_sub(from);
            while left > 0 {
                let take = left.min(corpus.len() - at);
                if !piece(&corpus[at..at + take]) {
                    return false;
                }
                left -= take;
                at = 0;
            }
            true
        }
    }
}

/// Writes the header of `h` into `scratch` (cleared first).
pub fn header(h: &Header, scratch: &mut Vec<u8>) {
    scratch.clear();
    // Writing to a Vec cannot fail.
    let _ = write!(
        scratch,
        "{:x}.{:x}.{:x}.{:x}.{:x}.",
        h.publisher, h.topic, h.seq, h.intended_ns, h.sent_ns
    );
}

/// Length of a payload whose header is `header_len` bytes: `size`, or the
/// header alone when that is longer.
pub fn len(header_len: usize, size: usize) -> usize {
    header_len.max(size)
}

/// Appends the payload: `header` (from [`header`]) then padding up to
/// `size` bytes, filled as `fill` says.
pub fn write(h: &Header, header: &[u8], size: usize, fill: Payload, out: &mut Vec<u8>) {
    out.extend_from_slice(header);
    padding(h, fill, header.len(), size, |piece| {
        out.extend_from_slice(piece);
        true
    });
}

fn hex(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 16 {
        return None;
    }
    field.iter().try_fold(0u64, |acc, &b| {
        let d = (b as char).to_digit(16)?;
        Some(acc << 4 | u64::from(d))
    })
}

/// Reads the header of a payload of a run with `--size size` back, with
/// the header's length; `None` when it is malformed or the payload's
/// length is not the one written. The padding is not looked at.
pub fn parse_header(payload: &[u8], size: usize) -> Option<(Header, usize)> {
    let mut fields = [0u64; 5];
    let mut at = 0;
    for field in &mut fields {
        let dot = payload[at..].iter().position(|&b| b == b'.')?;
        *field = hex(&payload[at..at + dot])?;
        at += dot + 1;
    }
    let [publisher, topic, seq, intended_ns, sent_ns] = fields;
    if payload.len() != len(at, size) {
        return None;
    }
    let h = Header {
        publisher,
        topic,
        seq,
        intended_ns,
        sent_ns,
    };
    Some((h, at))
}

/// Reads a payload of a run with `--size size --payload fill` back;
/// `None` when the header is malformed, the length is not the one
/// written or a padding byte differs.
pub fn parse(payload: &[u8], size: usize, fill: Payload) -> Option<Header> {
    let (h, at) = parse_header(payload, size)?;
    let mut rest = &payload[at..];
    let padding_ok = padding(&h, fill, at, payload.len(), |piece| {
        let (head, tail) = rest.split_at(piece.len());
        rest = tail;
        head == piece
    });
    padding_ok.then_some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            publisher: 3,
            topic: 17,
            seq: 123_456,
            intended_ns: 9_999_999_999,
            sent_ns: 10_000_000_123,
        }
    }

    #[test]
    fn round_trips_at_every_size() {
        let h = sample();
        let mut scratch = Vec::new();
        header(&h, &mut scratch);
        for fill in [Payload::Letters, Payload::Json] {
            for size in [0, 1, scratch.len(), 64, 1000] {
                let mut out = Vec::new();
                write(&h, &scratch, size, fill, &mut out);
                assert_eq!(out.len(), len(scratch.len(), size));
                assert_eq!(parse(&out, size, fill), Some(h), "size {size}, {fill:?}");
            }
        }
    }

    #[test]
    fn corruption_is_found() {
        let h = sample();
        let mut scratch = Vec::new();
        header(&h, &mut scratch);
        for fill in [Payload::Letters, Payload::Json] {
            let mut out = Vec::new();
            write(&h, &scratch, 64, fill, &mut out);
            for i in 0..out.len() {
                let mut bad = out.clone();
                bad[i] = if bad[i] == b'.' { b'0' } else { b'.' };
                assert_ne!(parse(&bad, 64, fill), Some(h), "byte {i}");
            }
            assert_eq!(
                parse(&out[..out.len() - 1], 64, fill),
                None,
                "one byte short"
            );
            assert_eq!(parse(b"garbage", 64, fill), None);
            let mut padding_off = out.clone();
            let last = padding_off.len() - 1;
            padding_off[last] ^= 1;
            assert_eq!(parse(&padding_off, 64, fill), None);
            assert_eq!(
                parse_header(&padding_off, 64).map(|(h, _)| h),
                Some(h),
                "the header alone does not look at the padding"
            );
        }
        let mut json = Vec::new();
        write(&h, &scratch, 200, Payload::Json, &mut json);
        let next = Header {
            seq: h.seq + 1,
            ..h
        };
        let mut other = Vec::new();
        write(&next, &scratch, 200, Payload::Json, &mut other);
        assert_ne!(
            json[scratch.len()..],
            other[scratch.len()..],
            "the window moves with the sequence number"
        );
    }
}
