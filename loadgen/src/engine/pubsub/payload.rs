//! The payload of one published message: a header naming its publisher,
//! topic, sequence number (per publisher and topic) and send times, then
//! padding up to `--size` whose letters depend on the sequence number.
//! Text only (no space issues, no `\r`/`\n`), so it travels unchanged in
//! the `pubsub` line protocol and in RESP alike.
//!
//! ```text
//! <publisher>.<topic>.<seq>.<intended ns>.<sent ns>.<padding ...>
//! ```
//! (numbers in lowercase hex; times in nanoseconds since the run's epoch,
//! an `Instant` all threads of the process share).

use std::io::Write;

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

fn pad_byte(seq: u64, at: usize) -> u8 {
    b'a' + ((seq.wrapping_add(at as u64)) % 26) as u8
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
/// `size` bytes.
pub fn write(h: &Header, header: &[u8], size: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(header);
    out.extend((header.len()..size).map(|at| pad_byte(h.seq, at)));
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

/// Reads a payload of a run with `--size size` back; `None` when the
/// header is malformed, the length is not the one written or a padding
/// byte differs.
pub fn parse(payload: &[u8], size: usize) -> Option<Header> {
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
    let padding_ok = payload[at..]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == pad_byte(seq, at + i));
    padding_ok.then_some(Header {
        publisher,
        topic,
        seq,
        intended_ns,
        sent_ns,
    })
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
        for size in [0, 1, scratch.len(), 64, 1000] {
            let mut out = Vec::new();
            write(&h, &scratch, size, &mut out);
            assert_eq!(out.len(), len(scratch.len(), size));
            assert_eq!(parse(&out, size), Some(h), "size {size}");
        }
    }

    #[test]
    fn corruption_is_found() {
        let h = sample();
        let mut scratch = Vec::new();
        header(&h, &mut scratch);
        let mut out = Vec::new();
        write(&h, &scratch, 64, &mut out);
        for i in 0..out.len() {
            let mut bad = out.clone();
            bad[i] = if bad[i] == b'.' { b'0' } else { b'.' };
            assert_ne!(parse(&bad, 64), Some(h), "byte {i}");
        }
        assert_eq!(parse(&out[..out.len() - 1], 64), None, "one byte short");
        assert_eq!(parse(b"garbage", 64), None);
    }
}
