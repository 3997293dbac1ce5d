//! RFC 863 discard: every byte is read and thrown away.

use crate::{Conn, Handler, ShardContext, Verdict};

/// The discard service (RFC 863): reads everything, answers nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl Handler for Discard {
    type State = ();

    #[inline] // into the shard's read loop: the whole echo path is one function
    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        Verdict::Consumed(data.len())
    }
}
