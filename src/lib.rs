//! # esockets
//!
//! A TCP server framework for very many concurrent clients, limited only by
//! the machine's file descriptors, programmed through a few callbacks.
//!
//! ```text
//!            kernel: one SO_REUSEPORT group on the address
//!        ┌──────────────┬──────────────┬──────────────┐
//!    listener 0     listener 1     ...          listener N-1
//!        │              │                            │
//!    shard 0        shard 1        ...           shard N-1     one pinned thread each:
//!    poll + clients + read buffer + Handler                    no locks on the hot path
//! ```
//!
//! [`Server::bind`] binds one listening socket per shard on the caller's
//! thread (so "address in use" comes back at once), then starts one thread
//! per shard, each pinned to a core with its own `mio::Poll`. The kernel
//! spreads new clients over the listeners; a client stays on its shard for
//! life. Each shard runs its own [`Handler`], made by a factory on the shard
//! thread. Other threads reach any client through a [`ServerHandle`] and the
//! client's [`ConnId`].
//!
//! ```no_run
//! use esockets::{Config, Conn, Handler, Server, ShardContext, Verdict};
//!
//! struct Shout;
//!
//! impl Handler for Shout {
//!     type State = ();
//!
//!     fn on_data(
//!         &mut self,
//!         _cx: &mut ShardContext<'_>,
//!         conn: &mut Conn<'_>,
//!         _state: &mut (),
//!         data: &[u8],
//!     ) -> Verdict {
//!         conn.send(&data.to_ascii_uppercase());
//!         Verdict::Consumed(data.len())
//!     }
//! }
//!
//! let _log = esockets::logging::init(); // log to stderr, as the binary does
//! let server = Server::bind(Config::default(), |_shard| Shout)?;
//! server.run_until_signal()?; // until Ctrl-C or SIGTERM, then close gracefully
//! # Ok::<(), esockets::Error>(())
//! ```
//!
//! See `docs/architecture.md` for the design and its invariants.

mod backplane;
mod config;
mod core;
mod error;
mod handler;
mod hub;
pub mod lines;
mod net;
mod ops;
pub mod protocols;
pub mod proxy;
mod server;
mod shard;
pub mod testing;
pub mod tls;
pub mod websocket;

pub use config::{
    default_threads, BackplaneSubscribe, BackplaneUrl, Balance, BalanceChoice, BalanceReason,
    Config, History, Keepalive, SlowSubscribers, BACKPLANE_RESEND, FANOUT_CREDIT, HISTORY_TOPICS,
    RESERVED_DESCRIPTORS,
};
pub use error::{ConfigError, Error};
#[allow(deprecated)]
pub use handler::Decision;
pub use handler::{
    Admission, Conn, ConnId, Handler, ServerHandle, ShardContext, ShardInfo, TimerId, Verdict,
};
pub use hub::close_reason::CloseReason;
pub use hub::events::Event;
pub use hub::history::{Position, Recovered, Unrecoverable};
pub use hub::inbox::SendError;
pub use hub::nodes::NodeStats;
pub use hub::outbox::BackplaneStats;
pub use hub::presence::{Present, ANONYMOUS};
pub use hub::stats::ShardStats;
pub use ipnet::IpNet;
pub use net::activation::systemd_listeners;
pub use net::fds::{open_file_limit, raise_open_file_limit};
pub use net::kernel::{listen_overflows, somaxconn, tcp_migrate_req};
pub use ops::logging;
pub use ops::signals::{ReloadSignals, StopSignals};
pub use server::Server;

/// Pure building blocks, public only so `benches/` can measure them and
/// `fuzz/` can reach them; not a stable API.
#[doc(hidden)]
pub mod internals {
    pub use crate::core::outqueue::OutQueue;
    pub use crate::core::slots::{Key, Slots};
    pub use crate::core::wheel::{TimerKey, Wheel};
    pub use crate::tls::probe::{feed as feed_tls_session, Fed as TlsFed};
}
