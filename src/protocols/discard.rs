//! RFC 863 discard: every byte is read and thrown away.

use crate::{Conn, Handler, Verdict};

/// The discard service (RFC 863): reads everything, answers nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl Handler for Discard {
    fn on_data(&mut self, _conn: &mut Conn<'_>, data: &[u8]) -> Verdict {
        Verdict::Keep(data.len())
    }
}
