//! RFC 862 echo: every byte goes back as it came.

use crate::{Conn, Handler, ShardContext, Verdict};

/// The echo service (RFC 862): sends back every byte it receives.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

impl Handler for Echo {
    type State = ();

    #[inline] // into the shard's read loop: the whole echo path is one function
    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        conn.send(data);
        Verdict::Consumed(data.len())
    }
}
