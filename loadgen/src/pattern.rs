//! Message payloads. Message `seq` of connection `conn` is a window into a
//! repeating `a..z` alphabet starting at a letter that depends on both, so
//! a dropped, duplicated or stale byte — or a message echoed to the wrong
//! connection — never matches. In line mode the last byte is `\n` (letters
//! never are). Nothing is allocated per message: all windows come from one
//! template.

const LETTERS: usize = 26;

/// Payload generator and checker for one message size.
#[derive(Debug, Clone)]
pub struct Pattern {
    template: Vec<u8>,
    size: usize,
    line: bool,
}

impl Pattern {
    /// Messages of `size` bytes (`size >= 1`; `>= 2` when `line`).
    pub fn new(size: usize, line: bool) -> Self {
        let template = (0..size + LETTERS)
            .map(|i| b'a' + (i % LETTERS) as u8)
            .collect();
        Self {
            template,
            size,
            line,
        }
    }

    /// Message size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    fn body(&self, conn: u32, seq: u64) -> &[u8] {
        let start = (seq.wrapping_mul(7).wrapping_add(u64::from(conn)) % LETTERS as u64) as usize;
        let len = if self.line { self.size - 1 } else { self.size };
        &self.template[start..start + len]
    }

    /// Appends message `seq` of connection `conn` to `out`.
    pub fn write(&self, conn: u32, seq: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(self.body(conn, seq));
        if self.line {
            out.push(b'\n');
        }
    }

    /// Whether `got` equals bytes `offset..offset + got.len()` of message
    /// `seq` of connection `conn`. `offset + got.len()` must not exceed the
    /// message size.
    pub fn matches(&self, conn: u32, seq: u64, offset: usize, got: &[u8]) -> bool {
        let body = self.body(conn, seq);
        let end = offset + got.len();
        if got.is_empty() {
            return true;
        }
        if end <= body.len() {
            return body[offset..end] == *got;
        }
        // Line mode, and `got` reaches the newline.
        let (head, tail) = got.split_at(body.len().saturating_sub(offset));
        body[offset.min(body.len())..] == *head && tail == b"\n"
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
            let p = Pattern::new(40, line);
            let m = message(&p, 3, 9);
            assert_eq!(m.len(), 40);
            assert_eq!(m.last() == Some(&b'\n'), line);
            for cut in 0..=m.len() {
                assert!(p.matches(3, 9, 0, &m[..cut]));
                assert!(p.matches(3, 9, cut, &m[cut..]));
            }
        }
    }

    #[test]
    fn dropped_duplicated_and_foreign_bytes_mismatch() {
        let p = Pattern::new(16, false);
        let m = message(&p, 1, 5);
        let mut dropped = m.clone();
        dropped.remove(4);
        assert!(!p.matches(1, 5, 0, &dropped));
        assert!(!p.matches(1, 6, 0, &m), "next message differs");
        assert!(!p.matches(2, 5, 0, &m), "other connection differs");
        let lp = Pattern::new(8, true);
        let mut lm = message(&lp, 0, 0);
        *lm.last_mut().unwrap() = b'x';
        assert!(!lp.matches(0, 0, 0, &lm), "missing newline");
    }
}
