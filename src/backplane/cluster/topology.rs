//! Which node owns each slot, as this process last learnt it
//! (`CLUSTER SLOTS`), so that the backplane's counters can be told per
//! node: the `redis` crate routes by slot itself and says nothing of
//! where a command or a push went.
//!
//! The publisher asks once connected, after a publish failed, and every
//! [`REFRESH`]; the listener reads. Between a failover and the next
//! refresh, what crossed is told to the node that owned the slot before:
//! the counters are the node's as far as this process could see.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use redis::cluster_routing::Slot;
use redis::Value;

use crate::hub::nodes::{Node, Nodes};

/// How often the publisher asks again, at most once per this interval
/// while all goes well.
pub(super) const REFRESH: Duration = Duration::from_secs(1);

/// Slots of a cluster: 0 to 16383.
const SLOTS: u16 = 16384;

/// A slot range and the address of its master, as `CLUSTER SLOTS` says.
type Range = (u16, u16, String);

/// The slot map, shared by the publisher and the listener.
#[derive(Default)]
pub(super) struct Topology {
    /// The ranges last read, to tell whether anything changed.
    ranges: RwLock<Vec<Range>>,
    /// Each slot's master.
    owners: RwLock<HashMap<Slot, Arc<Node>>>,
}

impl Topology {
    /// The node owning `slot`, if known.
    pub(super) fn node_of(&self, slot: Slot) -> Option<Arc<Node>> {
        self.owners.read().get(&slot).cloned()
    }

    /// The node owning `channel`'s slot, if known.
    pub(super) fn node_of_channel(&self, channel: &[u8]) -> Option<Arc<Node>> {
        self.node_of(Slot::for_key(channel))
    }

    /// Every master of the map now (each once).
    pub(super) fn masters(&self) -> Vec<Arc<Node>> {
        let mut masters: Vec<Arc<Node>> = Vec::new();
        for node in self.owners.read().values() {
            if !masters.iter().any(|known| Arc::ptr_eq(known, node)) {
                masters.push(Arc::clone(node));
            }
        }
        masters
    }

    /// Takes a `CLUSTER SLOTS` reply; nodes are found (or made) in
    /// `nodes`. A reply that is not one is ignored: the old map stays.
    pub(super) fn learn(&self, reply: &Value, nodes: &Nodes) {
        let ranges = parse(reply);
        if ranges.is_empty() || *self.ranges.read() == ranges {
            return;
        }
        let mut owners = HashMap::with_capacity(usize::from(SLOTS));
        for (low, high, addr) in &ranges {
            let node = nodes.node(addr);
            for slot in (*low..=*high).filter_map(Slot::new) {
                owners.insert(slot, Arc::clone(&node));
            }
        }
        *self.owners.write() = owners;
        *self.ranges.write() = ranges;
    }
}

/// The ranges of a `CLUSTER SLOTS` reply: `[[low, high, [host, port,
/// id, …], replicas…], …]`; entries that do not read so are skipped.
fn parse(reply: &Value) -> Vec<Range> {
    let Value::Array(entries) = reply else {
        return Vec::new();
    };
    let mut ranges: Vec<Range> = entries
        .iter()
        .filter_map(|entry| {
            let Value::Array(fields) = entry else {
                return None;
            };
            let (Some(low), Some(high)) = (int(fields.first()?), int(fields.get(1)?)) else {
                return None;
            };
            let Value::Array(master) = fields.get(2)? else {
                return None;
            };
            let host = text(master.first()?)?;
            let port = int(master.get(1)?)?;
            Some((low, high, format!("{host}:{port}")))
        })
        .collect();
    ranges.sort();
    ranges
}

/// A slot number or port.
fn int(value: &Value) -> Option<u16> {
    match value {
        Value::Int(n) => u16::try_from(*n).ok(),
        _ => None,
    }
}

/// A host name.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use redis::cluster_routing::Slot;
    use redis::Value;

    use super::Topology;
    use crate::hub::nodes::Nodes;

    fn entry(low: i64, high: i64, port: i64) -> Value {
        Value::Array(vec![
            Value::Int(low),
            Value::Int(high),
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ]),
        ])
    }

    #[test]
    fn slots_map_to_their_masters() {
        let nodes = Nodes::default();
        let topology = Topology::default();
        topology.learn(&Value::Nil, &nodes);
        assert!(topology.node_of(Slot::for_key("x")).is_none(), "no map yet");
        let reply = Value::Array(vec![
            entry(8192, 16383, 7001),
            entry(0, 8191, 7000),
            Value::Int(3),
        ]);
        topology.learn(&reply, &nodes);
        let owner = |slot| topology.node_of(Slot::new(slot).expect("a slot"));
        assert_eq!(owner(0).expect("owned").addr(), "127.0.0.1:7000");
        assert_eq!(owner(8192).expect("owned").addr(), "127.0.0.1:7001");
        assert_eq!(owner(16383).expect("owned").addr(), "127.0.0.1:7001");
        assert_eq!(topology.masters().len(), 2);
        // A failover: the second half moves to a new master.
        let reply = Value::Array(vec![entry(0, 8191, 7000), entry(8192, 16383, 7004)]);
        topology.learn(&reply, &nodes);
        assert_eq!(owner(9000).expect("owned").addr(), "127.0.0.1:7004");
        assert_eq!(nodes.stats().len(), 3, "the old master keeps its counters");
    }
}
