//! A PROXY-protocol test handler: echoes, and reports what each
//! `on_connect` was given (the peer, and the PROXY header's addresses).
//! Shared by the library tests (`tests/server/proxy.rs`) and the ones
//! behind a real HAProxy (`tests/proxy_protocol.rs`).

use std::net::SocketAddr;

use crossbeam::channel::Sender;
use esockets::proxy::ProxyInfo;
use esockets::{Admission, Conn, Handler, ShardContext, Verdict};

/// What `on_connect` was given.
#[derive(Clone, Debug)]
pub struct Connected {
    /// Its `peer`.
    pub peer: SocketAddr,
    /// `Conn::proxy`.
    pub proxy: Option<ProxyInfo>,
}

/// Echo that reports every `on_connect`.
pub struct Recorder {
    /// Where the reports go.
    pub seen: Sender<Connected>,
}

impl Handler for Recorder {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<()> {
        let proxy = conn.proxy().copied();
        let _ = self.seen.send(Connected { peer, proxy });
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        assert!(conn.proxy().is_none(), "only on_connect sees the header");
        conn.send(data);
        Verdict::Consumed(data.len())
    }
}
