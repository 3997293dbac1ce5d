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
//! use esockets::{Config, Conn, Handler, Server, Verdict};
//!
//! struct Shout;
//!
//! impl Handler for Shout {
//!     fn on_data(&mut self, conn: &mut Conn<'_>, data: &[u8]) -> Verdict {
//!         conn.send(&data.to_ascii_uppercase());
//!         Verdict::Keep(data.len())
//!     }
//! }
//!
//! let _log = esockets::logging::init(); // log to stderr, as the binary does
//! let server = Server::bind(Config::default(), |_shard| Shout)?;
//! server.run_until_signal()?; // until Ctrl-C or SIGTERM, then drain
//! # Ok::<(), esockets::Error>(())
//! ```
//!
//! See `docs/architecture.md` for the design and its invariants.

mod command;
mod config;
mod conn;
mod connection;
mod error;
mod handle;
mod handler;
mod id;
pub mod logging;
mod outqueue;
pub mod protocols;
mod server;
mod shard;
mod signals;
mod slots;
mod socket;
mod stats;

pub use config::{default_threads, Config};
pub use conn::Conn;
pub use error::{ConfigError, Error};
pub use handle::ServerHandle;
pub use handler::{CloseReason, Decision, Handler, ShardContext, Verdict};
pub use id::ConnId;
pub use server::Server;
pub use signals::StopSignals;
pub use socket::{open_file_limit, raise_open_file_limit};
pub use stats::ShardStats;

/// Pure building blocks, public only so `benches/` can measure them; not a
/// stable API.
#[doc(hidden)]
pub mod internals {
    pub use crate::outqueue::OutQueue;
    pub use crate::slots::{Key, Slots};
}
