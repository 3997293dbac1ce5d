//! A custom handler: greets each client, answers every complete line in
//! upper case, counts clients per shard and lines per client (its state).
//!
//! Run: `cargo run --release --example uppercase` (port 1234; another with
//! `-- 4000` or `PORT=4000`), then `nc 127.0.0.1 1234`; stop it with
//! Ctrl-C (it drains its clients first).

mod common; // the port from the command line or $PORT, errors for people

use esockets::{
    Admission, CloseReason, Config, Conn, ConnId, Handler, Server, ShardContext, StopSignals,
    Verdict,
};
use std::net::SocketAddr;
use std::process::ExitCode;

/// One per shard: `clients` needs no lock.
struct Uppercase {
    clients: usize,
}

impl Handler for Uppercase {
    /// Per client, kept in the server's own table: lines answered.
    type State = u64;

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<u64> {
        self.clients += 1;
        conn.send(format!("hello {peer}, you are client {} here\n", self.clients).as_bytes());
        Admission::Accept(0)
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        lines: &mut u64,
        data: &[u8],
    ) -> Verdict {
        let complete = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        *lines += data[..complete].iter().filter(|&&b| b == b'\n').count() as u64;
        conn.send(&data[..complete].to_ascii_uppercase());
        Verdict::Consumed(complete) // a partial line waits for its newline
    }

    fn on_close(&mut self, _cx: &mut ShardContext<'_>, id: ConnId, lines: u64, why: CloseReason) {
        self.clients -= 1;
        tracing::info!(%id, lines, ?why, "client left");
    }
}

fn main() -> ExitCode {
    common::run("uppercase", |bind| {
        let _log = esockets::logging::init(); // the esockets server's log format, on stderr
        let signals = StopSignals::catch()?; // from here on, Ctrl-C or SIGTERM drains
        let config = Config {
            bind,
            ..Config::default()
        };
        let server = Server::bind(config, |_shard| Uppercase { clients: 0 })?;
        tracing::info!(addr = %server.local_addr(), "uppercase service listening");
        server.run_until(signals) // serve until a signal, drain, then return
    })
}
