//! Line echo: complete lines go back byte for byte; partial lines wait.

use crate::lines::scan_lines;
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
