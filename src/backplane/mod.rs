//! The Redis backplane: several esockets processes share topics through a
//! Redis server's pub/sub, the way Centrifugo and socket.io scale out.
//!
//! Every local publish is also published to Redis on channel
//! `esockets:<topic>`, tagged with this process's origin id; every
//! process listens to `esockets:*` (or, subscribing per topic, to the
//! channels of the topics its clients hold) and delivers what other
//! processes published to its own subscribers (its own publishes it has delivered
//! already, without a round trip). Two threads of its own talk to Redis
//! (never a shard thread): one publishes, one listens; each reconnects
//! when Redis goes away. With a history, the history is shared through
//! Redis too (`shared.rs`), and publishes are delivered as they come back.
//! A third thread shares presence (`presence.rs`).
//!
//! With a Redis Cluster (`cluster/`), each topic lives on the node that
//! owns its slot, and a process subscribes only to the topics it holds;
//! with NATS (`nats/`), each topic is a subject, held the same way.

mod cluster;
mod health;
mod interest;
mod link;
mod listener;
mod nats;
mod presence;
mod publisher;
mod shared;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use bytes::Bytes;
use crossbeam::channel::{self, Receiver};

use crate::config::BackplaneUrl;
use crate::hub::outbox::{Counters, Outbox};
use crate::hub::Hub;

/// Channels on Redis are this prefix and the topic.
const CHANNEL_PREFIX: &[u8] = b"esockets:";

/// Local publishes waiting to go to Redis, at most; more are lost and
/// counted.
const OUTBOX_CAPACITY: usize = 1 << 16;

/// How often the backplane's threads look whether the server stopped.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Longest wait between two attempts to reach Redis.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The backplane's threads, made before the server's handle (which holds
/// the outbox) and started after it.
pub(crate) struct Backplane {
    /// Where topics are shared.
    kind: Kind,
    /// The publishing thread's end of the outbox.
    outbox: Receiver<(Bytes, Bytes)>,
    /// Shared with the outbox.
    counters: Arc<Counters>,
}

/// Where topics are shared.
enum Kind {
    /// One Redis server, subscribed to per topic (`true`) or with a
    /// pattern.
    Redis(redis::Client, bool),
    /// A Redis Cluster.
    Cluster(cluster::Cluster),
    /// NATS.
    Nats(nats::Nats),
}

/// The running backplane threads.
pub(crate) struct Running {
    /// Shared with the threads (their stop flag).
    counters: Arc<Counters>,
    /// The publishing and the listening thread.
    threads: Vec<JoinHandle<()>>,
}

impl Backplane {
    /// A backplane to the Redis server at `url` (`redis://HOST:PORT`), the
    /// Redis Cluster it names (`redis-cluster://HOST:PORT,…`) or NATS
    /// (`nats://HOST:PORT,…`), holding
    /// at most `resend` publishes for a cluster node that is away, and
    /// (one Redis) subscribing per topic if `per_topic`; and the outbox
    /// for the server's handle.
    ///
    /// # Errors
    ///
    /// The URL is not one of those, said in a sentence.
    pub(crate) fn new(url: &str, resend: usize, per_topic: bool) -> Result<(Self, Outbox), String> {
        let kind = match BackplaneUrl::parse(url)? {
            BackplaneUrl::Redis(url) => Kind::Redis(
                redis::Client::open(url).map_err(|err| err.to_string())?,
                per_topic,
            ),
            BackplaneUrl::RedisCluster(seeds) => Kind::Cluster(cluster::Cluster { seeds, resend }),
            BackplaneUrl::Nats(servers) => Kind::Nats(nats::Nats { servers }),
        };
        let (queue, outbox) = channel::bounded(OUTBOX_CAPACITY);
        let counters = Arc::new(Counters::default());
        Ok((
            Self {
                kind,
                outbox,
                counters: Arc::clone(&counters),
            },
            Outbox::new(queue, counters),
        ))
    }

    /// Starts the publishing and listening threads.
    ///
    /// # Errors
    ///
    /// A thread could not be started.
    pub(crate) fn start(self, hub: Arc<Hub>) -> std::io::Result<Running> {
        let origin = link::origin_id();
        let (client, per_topic) = match self.kind {
            Kind::Redis(client, per_topic) => (client, per_topic),
            Kind::Cluster(cluster) => {
                let threads =
                    cluster.start(hub, self.outbox, Arc::clone(&self.counters), origin)?;
                return Ok(Running {
                    counters: self.counters,
                    threads,
                });
            }
            Kind::Nats(nats) => {
                let threads = nats.start(hub, self.outbox, Arc::clone(&self.counters))?;
                return Ok(Running {
                    counters: self.counters,
                    threads,
                });
            }
        };
        let node = self
            .counters
            .nodes
            .node(&client.get_connection_info().addr().to_string());
        let publisher = publisher::Publisher {
            node: Arc::clone(&node),
            client: client.clone(),
            outbox: self.outbox,
            counters: Arc::clone(&self.counters),
            origin,
            hub: Arc::clone(&hub),
        };
        let beat = presence::Beat {
            client: client.clone(),
            hub: Arc::clone(&hub),
            counters: Arc::clone(&self.counters),
            origin,
        };
        let listener = listener::Listener {
            interest: per_topic.then(|| interest::Interest::watch(&hub)),
            node,
            client,
            hub,
            counters: Arc::clone(&self.counters),
            origin,
        };
        let mut running = Running {
            counters: self.counters,
            threads: Vec::with_capacity(3),
        };
        running.threads.push(
            thread::Builder::new()
                .name("esockets-backplane-pub".into())
                .spawn(move || publisher.run())?,
        );
        running.threads.push(
            thread::Builder::new()
                .name("esockets-backplane-sub".into())
                .spawn(move || listener.run())?,
        );
        running.threads.push(
            thread::Builder::new()
                .name("esockets-backplane-presence".into())
                .spawn(move || beat.run())?,
        );
        Ok(running)
    }
}

impl Running {
    /// Stops the threads and waits for them.
    pub(crate) fn stop(&mut self) {
        self.counters.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            // A panic in a backplane thread was reported by the panic hook.
            let _ = thread.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}
