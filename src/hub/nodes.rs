//! The backplane's counters per node: for each backplane server this
//! process talked to (one Redis, each node of a Redis Cluster, the NATS
//! server it is connected to), what crossed to and from it.
//!
//! A node is named by its address (`host:port`, as the backplane's
//! client or the cluster's topology gives it) and is never forgotten: a
//! master that died keeps its counters beside those of the replica that
//! took over. What cannot be told to a node (a publish lost to a full
//! outbox, before any node is known) is only in the process-wide
//! [`BackplaneStats`](super::outbox::BackplaneStats).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// One backplane node's counters, as read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStats {
    /// The node's address (`host:port`).
    pub node: String,
    /// Local publishes sent to it (those resent included).
    pub sent: u64,
    /// Publishes of other processes received from it and delivered here.
    pub received: u64,
    /// Local publishes held while it (or the node before it for their
    /// topic) was away, then sent to it.
    pub resent: u64,
    /// Local publishes meant for it that never reached it.
    pub lost: u64,
    /// Times a connection to it broke and was made again.
    pub reconnects: u64,
    /// Topics this process holds a subscription for on it now.
    pub subscriptions: u64,
}

/// One node's live counters, shared by the backplane's threads.
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// Its address.
    addr: String,
    /// See [`NodeStats::sent`].
    pub(crate) sent: AtomicU64,
    /// See [`NodeStats::received`].
    pub(crate) received: AtomicU64,
    /// See [`NodeStats::resent`].
    pub(crate) resent: AtomicU64,
    /// See [`NodeStats::lost`].
    pub(crate) lost: AtomicU64,
    /// See [`NodeStats::reconnects`].
    pub(crate) reconnects: AtomicU64,
    /// See [`NodeStats::subscriptions`].
    pub(crate) subscriptions: AtomicU64,
}

impl Node {
    /// Its address.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Adds `n` to `counter` (one of this node's).
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Every node met so far, in the order met.
#[derive(Debug, Default)]
pub(crate) struct Nodes {
    /// The nodes; a handful, so a list.
    list: RwLock<Vec<Arc<Node>>>,
}

impl Nodes {
    /// The node at `addr`, made on first use.
    pub(crate) fn node(&self, addr: &str) -> Arc<Node> {
        if let Some(node) = self.list.read().iter().find(|node| node.addr == addr) {
            return Arc::clone(node);
        }
        let mut list = self.list.write();
        if let Some(node) = list.iter().find(|node| node.addr == addr) {
            return Arc::clone(node);
        }
        let node = Arc::new(Node {
            addr: addr.to_owned(),
            ..Node::default()
        });
        list.push(Arc::clone(&node));
        node
    }

    /// Every node met.
    pub(crate) fn all(&self) -> Vec<Arc<Node>> {
        self.list.read().clone()
    }

    /// Every node met, as read now.
    pub(crate) fn stats(&self) -> Vec<NodeStats> {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        self.list
            .read()
            .iter()
            .map(|node| NodeStats {
                node: node.addr.clone(),
                sent: read(&node.sent),
                received: read(&node.received),
                resent: read(&node.resent),
                lost: read(&node.lost),
                reconnects: read(&node.reconnects),
                subscriptions: read(&node.subscriptions),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{Node, Nodes};

    #[test]
    fn a_node_is_made_once_and_keeps_its_counters() {
        let nodes = Nodes::default();
        let a = nodes.node("127.0.0.1:7000");
        Node::add(&a.sent, 3);
        Node::add(&nodes.node("127.0.0.1:7001").lost, 1);
        Node::add(&nodes.node("127.0.0.1:7000").received, 2);
        let stats = nodes.stats();
        assert_eq!(stats.len(), 2);
        assert_eq!(
            (stats[0].node.as_str(), stats[0].sent, stats[0].received),
            ("127.0.0.1:7000", 3, 2)
        );
        assert_eq!(
            (stats[1].node.as_str(), stats[1].lost),
            ("127.0.0.1:7001", 1)
        );
    }
}
