//! Message payloads that identify themselves.
//!
//! Message `seq` of connection `conn` starts with a 20-letter header that
//! spells out `conn` (32 bits) and `seq` (48 bits), one letter `a..p` per
//! nibble, so an echo delivered to the wrong connection, or a stale, repeated
//! or reordered message, never matches. The rest is a window into a
//! pseudo-random letter sequence whose period (251, a prime) is far from
//! any power of two or message size, at an offset that depends on both
//! numbers, so dropped or duplicated bytes inside a message shift what
//! follows and fail too. With `--payload json` the sequence is the JSON
//! text of engine/corpus.rs instead (its period the corpus's length). In
//! line mode the last byte is `\n` (neither sequence has one). Nothing is allocated per message: bodies are windows into one
//! template and headers are built on the stack.

use crate::engine::corpus;
use crate::front::cli::Payload;

/// Period of the letter sequence.
const PERIOD: usize = 251;
/// Header length: 8 letters for the connection, 12 for the sequence number.
const HEADER: usize = 20;

/// Payload generator and checker for one message size.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// `size + period` bytes of the body sequence; bodies are windows
    /// into it.
    template: Vec<u8>,
    /// Period of the body sequence.
    period: usize,
    /// Message size in bytes, newline included.
    size: usize,
    /// Line mode: the last byte is `\n`.
    line: bool,
}

impl Pattern {
    /// Messages of `size` bytes (`size >= 1`; `>= 2` when `line`), their
    /// bodies filled as `payload` says.
    pub fn new(size: usize, line: bool, payload: Payload) -> Self {
        let period: Vec<u8> = match payload {
            Payload::Letters => {
                let mut state = 0x9E37_79B9_7F4A_7C15_u64;
                (0..PERIOD)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        b'a' + ((state >> 33) % 26) as u8
                    })
                    .collect()
            }
            Payload::Json => corpus::json().to_vec(),
        };
        let template = (0..size + period.len())
            .map(|i| period[i % period.len()])
            .collect();
        Self {
            template,
            period: period.len(),
            size,
            line,
        }
    }

    /// Message size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes before the newline (all of the message outside line mode).
    fn text_len(&self) -> usize {
        if self.line {
            self.size - 1
        } else {
            self.size
        }
    }

    /// The header of message `seq` of connection `conn`.
    fn header(conn: u32, seq: u64) -> [u8; HEADER] {
        let mut header = [0u8; HEADER];
        let id = (u128::from(conn) << 48) | u128::from(seq & 0xFFFF_FFFF_FFFF);
        for (i, letter) in header.iter_mut().enumerate() {
            let nibble = (id >> (4 * (HEADER - 1 - i))) & 0xF;
            *letter = b'a' + nibble as u8;
        }
        header
    }

    /// The body after the header: a window into the template.
    fn body(&self, conn: u32, seq: u64, len: usize) -> &[u8] {
        let mix = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(conn).wrapping_mul(31);
        let start = (mix % self.period as u64) as usize;
        &self.template[start..start + len]
    }

    /// The text of a message in its two pieces: header (possibly cut short
    /// for tiny messages) and body.
    fn pieces(&self, conn: u32, seq: u64) -> ([u8; HEADER], usize, &[u8]) {
        let text = self.text_len();
        let head = text.min(HEADER);
        (
            Self::header(conn, seq),
            head,
            self.body(conn, seq, text - head),
        )
    }

    /// Appends message `seq` of connection `conn` to `out`.
    pub fn write(&self, conn: u32, seq: u64, out: &mut Vec<u8>) {
        let (header, head, body) = self.pieces(conn, seq);
        out.extend_from_slice(&header[..head]);
        out.extend_from_slice(body);
        if self.line {
            out.push(b'\n');
        }
    }

    /// Whether `got` equals bytes `offset..offset + got.len()` of message
    /// `seq` of connection `conn`. `offset + got.len()` must not exceed the
    /// message size.
    pub fn matches(&self, conn: u32, seq: u64, offset: usize, got: &[u8]) -> bool {
        let (header, head, body) = self.pieces(conn, seq);
        let mut position = offset;
        let mut rest = got;
        for piece in [&header[..head], body, if self.line { b"\n" } else { &[] }] {
            if rest.is_empty() {
                return true;
            }
            if position >= piece.len() {
                position -= piece.len();
                continue;
            }
            let take = (piece.len() - position).min(rest.len());
            if piece[position..position + take] != rest[..take] {
                return false;
            }
            rest = &rest[take..];
            position = 0;
        }
        rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(p: &Pattern, conn: u32, seq: u64) -> Vec<u8> {
        let mut v = Vec::new();
        p.write(conn, seq, &mut v);
        v
    }

    #[test]
    fn messages_match_themselves_in_any_split() {
        for line in [false, true] {
            for size in [2, 7, 20, 21, 40, 300] {
                let p = Pattern::new(size, line, Payload::Letters);
                let m = message(&p, 3, 9);
                assert_eq!(m.len(), size);
                assert_eq!(m.last() == Some(&b'\n'), line);
                for cut in 0..=m.len() {
                    assert!(p.matches(3, 9, 0, &m[..cut]));
                    assert!(p.matches(3, 9, cut, &m[cut..]));
                }
            }
        }
    }

    #[test]
    fn json_bodies_are_windows_of_the_corpus_and_identify_their_message() {
        let p = Pattern::new(1024, true, Payload::Json);
        let m = message(&p, 7, 42);
        assert_eq!(m.len(), 1024);
        assert_eq!(m.last(), Some(&b'\n'));
        let body = &m[HEADER..1023];
        let twice = [corpus::json(), corpus::json()].concat();
        assert!(
            twice.windows(body.len()).any(|w| w == body),
            "a window of the JSON corpus"
        );
        assert!(p.matches(7, 42, 0, &m));
        assert_ne!(
            body,
            &message(&p, 7, 43)[HEADER..1023],
            "another message's window"
        );
        assert_ne!(
            body,
            &message(&p, 8, 42)[HEADER..1023],
            "another connection's"
        );
    }

    #[test]
    fn dropped_duplicated_and_foreign_bytes_mismatch() {
        let p = Pattern::new(64, false, Payload::Letters);
        let m = message(&p, 1, 5);
        let mut dropped = m.clone();
        dropped.remove(40);
        dropped.push(m[63]);
        assert!(
            !p.matches(1, 5, 0, &dropped),
            "a dropped byte shifts the rest"
        );
        let lp = Pattern::new(8, true, Payload::Letters);
        let mut lm = message(&lp, 0, 0);
        *lm.last_mut().unwrap() = b'x';
        assert!(!lp.matches(0, 0, 0, &lm), "missing newline");
    }

    #[test]
    fn every_connection_and_sequence_number_is_distinct() {
        // The weakness of a short alphabet window: connection c and c + 26,
        // or message s and s - 26, used to be identical.
        let p = Pattern::new(64, false, Payload::Letters);
        let m = message(&p, 1000, 77);
        for conn in [999, 1001, 1026, 974, 1000 + (1 << 20)] {
            assert!(!p.matches(conn, 77, 0, &m), "conn {conn} must differ");
        }
        for seq in [76, 78, 77 - 26, 77 + 26, 77 + 251, 77 + (1 << 20)] {
            assert!(!p.matches(1000, seq, 0, &m), "seq {seq} must differ");
        }
        // And within one message, no 26-byte period.
        let big = message(&Pattern::new(300, false, Payload::Letters), 0, 0);
        assert_ne!(big[HEADER..HEADER + 26], big[HEADER + 26..HEADER + 52]);
    }
}
