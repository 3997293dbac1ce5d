//! The NATS backplane: core NATS subjects, one per topic
//! (`subject.rs`). A local publish goes to the topic's subject; a process
//! subscribes to the subjects of the topics its own clients hold, and
//! only those (the topic directory says which: `../interest.rs`).
//!
//! What the `async-nats` crate gives: the connection, reconnecting across
//! the servers of a NATS cluster (those given and those the cluster
//! announces), subscriptions made again after a reconnection, and
//! publishes buffered while it reconnects (up to its client capacity:
//! past it the outbox fills and publishes are counted lost). The client
//! connects with `no_echo`: a process never gets its own publishes back.
//! Core NATS is at-most-once: what is published while a subscriber's
//! connection is down is missed by it (the log says when that was).
//!
//! Two threads of its own, each with a one-thread Tokio runtime: the
//! listener, which owns the connection, and the publisher.

mod listener;
mod publisher;
mod subject;

use std::sync::Arc;
use std::thread::{self, JoinHandle};

use bytes::Bytes;
use crossbeam::channel::{self, Receiver};

use crate::hub::nodes::Node;
use crate::hub::outbox::Counters;
use crate::hub::Hub;

/// The server the connection is on now (`None` before the first), as its
/// `INFO` names it: the node the counters are told to.
type Current = Arc<parking_lot::Mutex<Option<Arc<Node>>>>;

/// A NATS cluster's servers.
pub(super) struct Nats {
    /// `nats://HOST:PORT` of each server given.
    pub(super) servers: Vec<String>,
}

/// A one-thread Tokio runtime for one backplane thread.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
}

impl Nats {
    /// Starts the listening and the publishing thread.
    ///
    /// # Errors
    ///
    /// A thread could not be started.
    pub(super) fn start(
        self,
        hub: Arc<Hub>,
        outbox: Receiver<(Bytes, Bytes)>,
        counters: Arc<Counters>,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        let (give, client) = channel::bounded(1);
        let current = Current::default();
        let listener = listener::Listener {
            current: Arc::clone(&current),
            servers: self.servers,
            interest: super::interest::Interest::watch(&hub),
            hub,
            counters: Arc::clone(&counters),
            give,
        };
        let publisher = publisher::Publisher {
            current,
            client,
            outbox,
            counters,
        };
        Ok(vec![
            thread::Builder::new()
                .name("esockets-nats-sub".into())
                .spawn(move || listener.run())?,
            thread::Builder::new()
                .name("esockets-nats-pub".into())
                .spawn(move || publisher.run())?,
        ])
    }
}
