//! The thread that publishes this process's publishes to NATS, each to
//! its topic's subject, on the listener's connection.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use crossbeam::channel::{Receiver, RecvTimeoutError};

use super::super::health::LostReport;
use super::super::STOP_CHECK;
use super::{runtime, subject, Current};
use crate::hub::nodes::Node;
use crate::hub::outbox::Counters;

/// Sends local publishes to NATS.
pub(super) struct Publisher {
    /// The connection, once the listener made its client.
    pub(super) client: Receiver<async_nats::Client>,
    /// Local publishes, from the shards and handles.
    pub(super) outbox: Receiver<(Bytes, Bytes)>,
    /// Shared counters and stop flag.
    pub(super) counters: Arc<Counters>,
    /// The server connected to now (the listener follows it).
    pub(super) current: Current,
}

impl Publisher {
    /// Runs until the server stops.
    pub(super) fn run(self) {
        let runtime = match runtime() {
            Ok(runtime) => runtime,
            Err(err) => {
                tracing::error!(%err, "backplane: cannot start the NATS publisher");
                return;
            }
        };
        let client = loop {
            match self.client.recv_timeout(STOP_CHECK) {
                Ok(client) => break client,
                Err(RecvTimeoutError::Timeout) if !self.stopping() => {}
                Err(_) => return,
            }
        };
        let mut lost = LostReport::default();
        while !self.stopping() {
            let (topic, payload) = match self.outbox.recv_timeout(STOP_CHECK) {
                Ok(publish) => publish,
                Err(RecvTimeoutError::Timeout) => {
                    lost.note(Instant::now(), self.counters.lost.load(Ordering::Relaxed));
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            // Queued in the client (sent in order on its one connection,
            // or once it is back); waits while its queue is full, and the
            // outbox fills meanwhile.
            let sent = runtime.block_on(client.publish(subject::subject(&topic), payload));
            let node = self.current.lock().clone();
            let (counter, node_counter) = match sent {
                Ok(()) => (&self.counters.sent, node.as_deref().map(|node| &node.sent)),
                Err(err) => {
                    tracing::debug!(%err, "backplane: a publish to NATS failed");
                    (&self.counters.lost, node.as_deref().map(|node| &node.lost))
                }
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if let Some(node_counter) = node_counter {
                Node::add(node_counter, 1);
            }
            lost.note(Instant::now(), self.counters.lost.load(Ordering::Relaxed));
        }
        // What is queued in the client goes out before it is dropped.
        let _ = runtime.block_on(client.flush());
    }

    /// Whether the server is stopping.
    fn stopping(&self) -> bool {
        self.counters.stop.load(Ordering::Relaxed)
    }
}
