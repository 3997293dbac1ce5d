//! Line echo: complete lines go back byte for byte; partial lines wait.

use crate::{Conn, Handler, Verdict};

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

    /// Echoes `complete` (whole lines), then the error, then closes.
    fn too_long(conn: &mut Conn<'_>, complete: &[u8]) -> Verdict {
        conn.send(complete);
        conn.send(LINE_TOO_LONG);
        Verdict::Close
    }
}

impl Handler for LineEcho {
    fn on_data(&mut self, conn: &mut Conn<'_>, data: &[u8]) -> Verdict {
        // Carried bytes are a partial line with no newline (every complete
        // line is consumed), so the scan starts at the new bytes.
        let mut line_start = 0;
        let mut scan = conn.carried();
        while let Some(pos) = memchr::memchr(b'\n', &data[scan..]) {
            let newline = scan + pos;
            if newline - line_start > self.max_line {
                return Self::too_long(conn, &data[..line_start]);
            }
            line_start = newline + 1;
            scan = line_start;
        }
        if data.len() - line_start > self.max_line {
            return Self::too_long(conn, &data[..line_start]);
        }
        conn.send(&data[..line_start]);
        Verdict::Keep(line_start)
    }
}
