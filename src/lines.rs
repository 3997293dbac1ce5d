//! Line framing for protocols of `\n`-terminated lines: split a client's
//! input into complete lines, know where they end and whether one is too
//! long. Pure; used by `LineEcho`, `PubSub` and the chat example.
//!
//! ```
//! use esockets::lines::Lines;
//!
//! // What `on_data` was given: 3 bytes carried from an earlier read (a
//! // partial line, so no newline), then the new ones.
//! let data = b"abcdef\r\nsecond\nthi";
//! let mut lines = Lines::new(data, 3, 64);
//! assert_eq!(lines.next(), Some(&b"abcdef"[..])); // a `\r` before `\n` is cut
//! assert_eq!(lines.next(), Some(&b"second"[..]));
//! assert_eq!(lines.next(), None);
//! assert_eq!(lines.consumed(), 15); // `Verdict::Consumed(15)`: "thi" waits
//! assert!(!lines.too_long());
//! ```

/// Where the complete lines of a buffer end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineScan {
    /// Bytes of `data` that form complete lines (each ending in `\n`).
    pub complete: usize,
    /// A line (complete or still partial) after those is longer than allowed.
    pub too_long: bool,
}

/// Finds the complete lines at the front of `data`, looking for newlines
/// only from `from` on (the bytes before it are known to hold none), and
/// checks each line, and the partial rest, against `max_line` bytes
/// (newline not counted). Stops at the first line that is too long.
pub fn scan_lines(data: &[u8], from: usize, max_line: usize) -> LineScan {
    let mut complete = 0;
    let mut scan = from.min(data.len());
    while let Some(pos) = memchr::memchr(b'\n', &data[scan..]) {
        let newline = scan + pos;
        if newline - complete > max_line {
            return LineScan {
                complete,
                too_long: true,
            };
        }
        complete = newline + 1;
        scan = complete;
    }
    LineScan {
        complete,
        too_long: data.len() - complete > max_line,
    }
}

/// The complete lines at the front of a client's input, each without its
/// `\n` (and without a `\r` before it), up to the first one longer than
/// allowed.
#[derive(Clone, Debug)]
pub struct Lines<'d> {
    /// The input.
    data: &'d [u8],
    /// Where the complete lines end, and whether one is too long.
    scan: LineScan,
    /// Where the next line starts.
    next: usize,
}

impl<'d> Lines<'d> {
    /// The lines of `data`, whose first `carried` bytes hold no newline
    /// ([`Conn::carried`](crate::Conn::carried): a partial line carried
    /// from an earlier read), each at most `max_line` bytes.
    pub fn new(data: &'d [u8], carried: usize, max_line: usize) -> Self {
        Self {
            data,
            scan: scan_lines(data, carried, max_line),
            next: 0,
        }
    }

    /// Bytes the complete lines take, newlines included: what `on_data`
    /// returns as [`Verdict::Consumed`](crate::Verdict::Consumed) once it
    /// has handled them all. A handler that stops early (a `quit` line)
    /// returns [`handled`](Self::handled) instead, or closes.
    pub fn consumed(&self) -> usize {
        self.scan.complete
    }

    /// Bytes of the lines the iterator has given so far, newlines
    /// included.
    pub fn handled(&self) -> usize {
        self.next.min(self.scan.complete)
    }

    /// Whether a line after the complete ones (or the partial rest) is
    /// longer than allowed: the client should be told and closed.
    pub fn too_long(&self) -> bool {
        self.scan.too_long
    }
}

impl<'d> Iterator for Lines<'d> {
    type Item = &'d [u8];

    fn next(&mut self) -> Option<&'d [u8]> {
        if self.next >= self.scan.complete {
            return None;
        }
        let rest = &self.data[self.next..self.scan.complete];
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        self.next += end + 1;
        let line = &rest[..end];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_lines_are_lines_and_a_partial_one_waits() {
        let lines: Vec<&[u8]> = Lines::new(b"\n\na\r\nb", 0, 8).collect();
        assert_eq!(lines, [&b""[..], b"", b"a"]);
        assert_eq!(Lines::new(b"\n\na\r\nb", 0, 8).consumed(), 5);
    }

    #[test]
    fn lines_stop_before_one_too_long() {
        let mut lines = Lines::new(b"ok\ntoo long\nnever\n", 0, 4);
        assert_eq!(lines.next(), Some(&b"ok"[..]));
        assert_eq!(lines.next(), None);
        assert_eq!(lines.consumed(), 3);
        assert!(lines.too_long());
    }

    #[test]
    fn a_partial_line_too_long_is_said_before_its_newline() {
        let lines = Lines::new(b"abcdefgh", 0, 4);
        assert_eq!(lines.consumed(), 0);
        assert!(lines.too_long());
    }
}

#[cfg(test)]
mod scan_tests {
    use super::{scan_lines, LineScan};

    fn scan(data: &[u8], from: usize, max: usize) -> (usize, bool) {
        let LineScan { complete, too_long } = scan_lines(data, from, max);
        (complete, too_long)
    }

    #[test]
    fn complete_lines_and_partial_rest() {
        assert_eq!(scan(b"a\r\nbb\ncc", 0, 10), (6, false));
        assert_eq!(scan(b"no newline", 0, 10), (0, false));
        assert_eq!(scan(b"", 0, 10), (0, false));
    }

    #[test]
    fn limits_apply_to_complete_and_partial_lines() {
        assert_eq!(scan(b"ok\ntoolong\nok\n", 0, 4), (3, true));
        assert_eq!(scan(b"ok\npartial", 0, 4), (3, true));
        assert_eq!(scan(b"1234\n1234", 0, 4), (5, false), "exactly max is fine");
    }

    #[test]
    fn scanning_starts_at_from() {
        // Bytes before `from` are not searched: the caller vouches they hold
        // no newline (here one is planted to prove it is skipped).
        assert_eq!(scan(b"x\nyz\n", 2, 10), (5, false));
        assert_eq!(scan(b"abc", 99, 10), (0, false));
    }
}
