//! RFC 862 echo: every byte goes back as it came.

use crate::{Conn, Handler, Verdict};

/// The echo service (RFC 862): sends back every byte it receives.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

impl Handler for Echo {
    fn on_data(&mut self, conn: &mut Conn<'_>, data: &[u8]) -> Verdict {
        conn.send(data);
        Verdict::Keep(data.len())
    }
}
