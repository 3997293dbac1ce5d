//! The Redis Cluster backplane: each topic lives on the node owning its
//! hash slot. A local publish goes out with `SPUBLISH esockets:<topic>`
//! to that node only; a process holds `SSUBSCRIBE esockets:<topic>` on
//! the owning node for the topics its own clients hold, and only those
//! (it unsubscribes when the last one leaves), so it receives only what
//! it delivers.
//!
//! What the `redis` crate gives (its async cluster client, RESP3): the
//! slot map, routing by slot, `MOVED`/`ASK`, reconnecting to a node, and
//! moving its tracked subscriptions to a slot's new owner after a slot
//! refresh. What is written here: which topics to hold (`../interest.rs`,
//! from the topic directory), holding on to a subscription the server
//! dropped by itself (a `SUNSUBSCRIBE` push when a slot moves or its
//! master turns replica: the crate forgets it), subscribing everything
//! again when a node's connection is lost (`listener.rs`), a bounded
//! buffer of publishes that could not cross, resent in order once their
//! node is back (`publisher.rs`); and a slot map of our own
//! (`topology.rs`, read each second), only so that the counters can be
//! told per node: the crate keeps its own for routing.
//!
//! Two threads of its own, each with a one-thread Tokio runtime (never a
//! shard thread): one publishes, one subscribes and delivers. Presence
//! and a shared history are not carried through a cluster (yet).

mod listener;
mod publisher;
mod topology;

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use bytes::Bytes;
use crossbeam::channel::Receiver;

use crate::hub::outbox::Counters;
use crate::hub::Hub;

/// How long connecting to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long one command may take, retries included.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A cluster's seed nodes and what the backplane needs besides.
pub(super) struct Cluster {
    /// `redis://HOST:PORT` of each seed node.
    pub(super) seeds: Vec<String>,
    /// Local publishes held for a node that is away, at most.
    pub(super) resend: usize,
}

/// The seeds as one string, for the log.
fn seed_list(seeds: &[String]) -> String {
    seeds
        .iter()
        .map(|seed| seed.trim_start_matches("redis://"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A client of the cluster at `seeds`, RESP3 (which sharded pub/sub
/// needs), with short timeouts: a failover is noticed by the backplane,
/// which keeps what it could not send, rather than waited out in the
/// client's retries.
fn client(
    seeds: &[String],
    pushes: Option<tokio::sync::mpsc::UnboundedSender<redis::PushInfo>>,
) -> redis::RedisResult<redis::cluster::ClusterClient> {
    let mut builder = redis::cluster::ClusterClientBuilder::new(seeds.iter().map(String::as_str))
        .use_protocol(redis::ProtocolVersion::RESP3)
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        .retries(2)
        .min_retry_wait(20)
        .max_retry_wait(200);
    if let Some(pushes) = pushes {
        builder = builder.push_sender(pushes);
    }
    builder.build()
}

/// Says so (once per thread: `said`) if `err` shows a seed node is no
/// cluster node: a plain Redis was given where a cluster was meant.
fn explain(err: &redis::RedisError, seeds: &[String], said: &mut bool) {
    if *said || !err.to_string().contains("cluster support disabled") {
        return;
    }
    *said = true;
    tracing::error!(
        %err,
        "backplane: a seed node of {} is not a Redis Cluster node (cluster support disabled): \
         for one Redis use --backplane redis://HOST:PORT",
        seed_list(seeds)
    );
}

/// A one-thread Tokio runtime for one backplane thread.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
}

impl Cluster {
    /// Starts the publishing and the subscribing thread, and lets the
    /// topic directory tell the latter which topics to hold.
    ///
    /// # Errors
    ///
    /// A thread could not be started.
    pub(super) fn start(
        self,
        hub: Arc<Hub>,
        outbox: Receiver<(Bytes, Bytes)>,
        counters: Arc<Counters>,
        origin: u64,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        let interest = super::interest::Interest::watch(&hub);
        let topology = Arc::new(topology::Topology::default());
        let publisher = publisher::Publisher {
            topology: Arc::clone(&topology),
            seeds: self.seeds.clone(),
            outbox,
            counters: Arc::clone(&counters),
            origin,
            resend: self.resend,
        };
        let listener = listener::Listener {
            seeds: self.seeds,
            hub,
            counters,
            origin,
            interest,
            topology,
        };
        Ok(vec![
            thread::Builder::new()
                .name("esockets-cluster-pub".into())
                .spawn(move || publisher.run())?,
            thread::Builder::new()
                .name("esockets-cluster-sub".into())
                .spawn(move || listener.run())?,
        ])
    }
}
