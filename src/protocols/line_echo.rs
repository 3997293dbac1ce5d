//! Line echo: complete lines go back byte for byte; partial lines wait.

use crate::{Conn, Handler, ShardContext, Verdict};

/// What a client gets before it is closed for an over-long line.
pub const LINE_TOO_LONG: &[u8] = b"ERROR line too long\n";

/// Echoes complete `\n`-terminated lines, byte-exact (a `\r` before the
/// `\n` stays). A partial line waits in the client's buffer until its
/// newline arrives. A line longer than `max_line` bytes (not counting the
/// `\n`) gets [`LINE_TOO_LONG`] and the client is closed; the complete
/// lines before it are still echoed.
///
/// The server's `input_limit` must exceed `max_line`, or a long partial
/// line is cut off by the input limit first.
#[derive(Clone, Copy, Debug)]
pub struct LineEcho {
    /// Longest line accepted, in bytes, without its newline.
    max_line: usize,
}

impl LineEcho {
    /// Line echo accepting lines of up to `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        Self { max_line }
    }
}

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

impl Handler for LineEcho {
    type State = ();

    #[inline] // into the shard's read loop: the whole echo path is one function
    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        // Carried bytes are a partial line with no newline (every complete
        // line is consumed), so the scan starts at the new bytes.
        let scan = scan_lines(data, conn.carried(), self.max_line);
        conn.send(&data[..scan.complete]);
        if scan.too_long {
            conn.send(LINE_TOO_LONG);
            return Verdict::Close;
        }
        Verdict::Consumed(scan.complete)
    }
}

#[cfg(test)]
mod tests {
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
