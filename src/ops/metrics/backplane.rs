//! The backplane's metrics: the process's counters, then the same per
//! node (`node="host:port"`: one Redis, each Redis Cluster node met, each
//! NATS server the connection was on), under the same words.

use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::value::{encode_value, Kind};
use crate::hub::handle::ServerHandle;
use crate::hub::nodes::NodeStats;

/// A per-node family: name, help, counter or gauge, and how to read it.
type NodeFamily = (&'static str, &'static str, Kind, fn(&NodeStats) -> u64);

/// The per-node families, one for each process-wide counter but
/// `connected`.
const NODE_FAMILIES: [NodeFamily; 6] = [
    (
        "esockets_backplane_node_sent",
        "Local publishes sent to this backplane node (those resent included).",
        Kind::Counter,
        |n| n.sent,
    ),
    (
        "esockets_backplane_node_received",
        "Publishes of other processes received from this backplane node.",
        Kind::Counter,
        |n| n.received,
    ),
    (
        "esockets_backplane_node_resent",
        "Local publishes held while their node was away, then sent to this node.",
        Kind::Counter,
        |n| n.resent,
    ),
    (
        "esockets_backplane_node_lost",
        "Local publishes meant for this backplane node that never reached it.",
        Kind::Counter,
        |n| n.lost,
    ),
    (
        "esockets_backplane_node_reconnects",
        "Times a connection to this backplane node broke and was made again.",
        Kind::Counter,
        |n| n.reconnects,
    ),
    (
        "esockets_backplane_node_subscriptions",
        "Topics this process holds a subscription for on this backplane node.",
        Kind::Gauge,
        |n| n.subscriptions,
    ),
];

/// Every backplane metric of `handle`, if it has a backplane.
pub(super) fn encode(
    encoder: &mut DescriptorEncoder,
    handle: &ServerHandle,
) -> Result<(), fmt::Error> {
    let Some(backplane) = handle.backplane_stats() else {
        return Ok(());
    };
    let counters: [(&str, &str, u64); 5] = [
        (
            "esockets_backplane_sent",
            "Local publishes sent to the backplane.",
            backplane.sent,
        ),
        (
            "esockets_backplane_received",
            "Publishes of other processes received from the backplane.",
            backplane.received,
        ),
        (
            "esockets_backplane_lost",
            "Local publishes that never reached the backplane (unreachable, or the outbox was full).",
            backplane.lost,
        ),
        (
            "esockets_backplane_reconnects",
            "Times a connection to the backplane was made again after it broke.",
            backplane.reconnects,
        ),
        (
            "esockets_backplane_resent",
            "Local publishes held while their Redis Cluster node was away, sent once back.",
            backplane.resent,
        ),
    ];
    for (name, help, value) in counters {
        let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        encode_value(&mut metric, Kind::Counter, value)?;
    }
    let mut metric = encoder.encode_descriptor(
        "esockets_backplane_connected",
        "1 while both connections to the backplane are up.",
        None,
        MetricType::Gauge,
    )?;
    encode_value(&mut metric, Kind::Gauge, u64::from(backplane.connected))?;
    let mut metric = encoder.encode_descriptor(
        "esockets_backplane_subscriptions",
        "Topics subscribed to on a per-topic backplane (those with subscribers here).",
        None,
        MetricType::Gauge,
    )?;
    encode_value(&mut metric, Kind::Gauge, backplane.subscriptions)?;
    let nodes = handle.backplane_nodes();
    for (name, help, kind, read) in NODE_FAMILIES {
        let metric_type = match kind {
            Kind::Counter => MetricType::Counter,
            Kind::Gauge => MetricType::Gauge,
        };
        let mut metric = encoder.encode_descriptor(name, help, None, metric_type)?;
        for node in &nodes {
            let labels = [("node", node.node.as_str())];
            encode_value(&mut metric.encode_family(&labels)?, kind, read(node))?;
        }
    }
    Ok(())
}
