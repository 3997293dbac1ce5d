//! What the shards know about the listening sockets they share: which
//! ones are this server's, whether they were passed in, and, decided once
//! at shutdown, whether clients queued in them are left for another
//! server rather than accepted here.

use std::net::SocketAddr;
use std::sync::OnceLock;

use mio::net::TcpListener;

use crate::net::{kernel, listener};

/// The server's listening sockets as the shards see them at shutdown.
pub(crate) struct Group {
    /// The address they listen on.
    addr: SocketAddr,
    /// Inode numbers of this server's own listening sockets.
    own: Vec<u64>,
    /// Whether they were made by someone else (systemd), who keeps them
    /// open after this process closes its descriptors.
    passed: bool,
    /// Decided by the first shard that shuts down, for all of them.
    leave_queued: OnceLock<bool>,
}

impl Group {
    /// The group of `listeners`, bound to `addr`; `passed` if they came
    /// from systemd or the library's caller rather than `bind`.
    pub(crate) fn new(addr: SocketAddr, listeners: &[TcpListener], passed: bool) -> Self {
        Self {
            addr,
            own: listeners.iter().filter_map(listener::inode).collect(),
            passed,
            leave_queued: OnceLock::new(),
        }
    }

    /// Whether a shard that shuts down should close its listener without
    /// accepting the clients queued in it, because someone else will
    /// serve them:
    ///
    /// - passed sockets stay open in systemd: the clients wait there for
    ///   the next server (accepting them here would only close them);
    /// - another server listens on the same address (it joined with
    ///   `reuseport_join`) and `net.ipv4.tcp_migrate_req` is 1: closing
    ///   the listener moves its queue to that server's listeners.
    ///
    /// Otherwise (alone, or without `tcp_migrate_req`) closing a listener
    /// resets its queue, so the shard accepts the queued clients first.
    /// Logged once, when first asked.
    pub(crate) fn leaves_queued(&self) -> bool {
        *self.leave_queued.get_or_init(|| self.decide())
    }

    /// [`Self::leaves_queued`], worked out and logged.
    fn decide(&self) -> bool {
        let addr = self.addr;
        if self.passed {
            tracing::info!(
                "the listening sockets were passed to this process (systemd): clients queued \
                 in them at shutdown stay there for the next server"
            );
            return true;
        }
        let others = kernel::listening_inodes(addr).map_or(0, |inodes| {
            inodes
                .iter()
                .filter(|inode| !self.own.contains(inode))
                .count()
        });
        if others == 0 {
            return false;
        }
        match kernel::tcp_migrate_req() {
            Some(1) => {
                tracing::info!(
                    "{others} listening sockets of another server share {addr} and \
                     net.ipv4.tcp_migrate_req is 1: clients queued here move to them as this \
                     server's listeners close"
                );
                true
            }
            setting => {
                let setting = setting.map_or_else(|| "missing".to_owned(), |n| n.to_string());
                tracing::warn!(
                    "{others} listening sockets of another server share {addr} but \
                     net.ipv4.tcp_migrate_req is {setting}: clients queued here are accepted \
                     and served before the listeners close, and one that connects in the \
                     instant of the close is reset (see docs/operations.md)"
                );
                false
            }
        }
    }
}
