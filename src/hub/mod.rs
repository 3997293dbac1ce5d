//! The hub: what the threads of one server share. Each shard's inbox,
//! published counters and heartbeat ([`Remote`]), the server-wide
//! connection count and spare descriptor, the topic directory, the
//! backplane's outbox and the acceptor's control.
//!
//! Everything here is reached through one `Arc<Hub>`, by the shards, the
//! acceptor, the backplane, the watchdog and the metrics endpoint; the
//! public [`ServerHandle`](crate::ServerHandle) is a thin wrapper over it.

pub(crate) mod close_reason;
pub(crate) mod credit;
pub(crate) mod directory;
pub(crate) mod events;
pub(crate) mod fanout;
pub(crate) mod handle;
pub(crate) mod heartbeat;
pub(crate) mod history;
pub(crate) mod id;
pub(crate) mod inbox;
pub(crate) mod least_loaded;
pub(crate) mod load;
pub(crate) mod nodes;
pub(crate) mod outbox;
pub(crate) mod presence;
pub(crate) mod stats;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;

use crate::config::History;
use crate::net::fds::Spare;
use credit::Credit;
use directory::Directory;
use fanout::{Audience, Fanout};
use heartbeat::Heartbeat;
use history::Histories;
use id::ConnId;
use inbox::{InboxSender, Order, SendError};
use least_loaded::Control;
use nodes::NodeStats;
use outbox::{BackplaneStats, Outbox};
use presence::Presence;
use stats::{ExportedStats, ShardStats};

/// How long a thread waiting for a shard's fan-out credit (the
/// backplane's listener) sleeps between looks, once yielding did not
/// bring it back: a tenth of a millisecond is short next to a shard's
/// delivery of the publishes that hold the credit.
const CREDIT_NAP: std::time::Duration = std::time::Duration::from_micros(100);

/// How other threads reach one shard.
pub(crate) struct Remote {
    /// The shard's inbox.
    pub(crate) inbox: InboxSender,
    /// The shard's exported counters.
    pub(crate) stats: ExportedStats,
    /// The shard's heartbeat and round durations (also lent to the shard's
    /// context, which writes them).
    pub(crate) heartbeat: Arc<Heartbeat>,
}

/// What every thread of one server shares.
pub(crate) struct Hub {
    /// One entry per shard, by index.
    shards: Vec<Remote>,
    /// The address the server listens on (the real port if 0 was asked).
    local_addr: SocketAddr,
    /// Clients open in this server (all shards), counted on accept and close
    /// only, against `max_connections`.
    open: AtomicUsize,
    /// The most clients served at once.
    max_connections: usize,
    /// Which shards have subscribers of which topic.
    directory: Directory,
    /// Publishes in flight to each shard, against `Config::fanout_credit`.
    credit: Credit,
    /// Where local publishes go to reach other processes, if anywhere.
    backplane: Option<Outbox>,
    /// Each topic's offsets and recent publishes.
    histories: Histories,
    /// Who is subscribed to each topic.
    presence: Presence,
    /// The acceptor, under least-loaded balancing.
    acceptor: OnceLock<Arc<Control>>,
    /// The descriptor kept for refusing clients at `EMFILE`, one for every
    /// thread that accepts.
    spare: Spare,
}

impl Hub {
    /// A hub over the shards' remotes, with `fanout_credit` publishes in
    /// flight per shard at most (0: no bound).
    pub(crate) fn new(
        shards: Vec<Remote>,
        local_addr: SocketAddr,
        max_connections: usize,
        backplane: Option<Outbox>,
        history: History,
        fanout_credit: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            credit: Credit::new(shards.len(), fanout_credit),
            shards,
            local_addr,
            open: AtomicUsize::new(0),
            max_connections,
            directory: Directory::default(),
            backplane,
            histories: Histories::new(history),
            presence: Presence::default(),
            acceptor: OnceLock::new(),
            spare: Spare::new(),
        })
    }

    /// The address the server listens on.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Number of shards.
    pub(crate) fn shards(&self) -> usize {
        self.shards.len()
    }

    /// The most clients the server serves at once.
    pub(crate) fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The backplane's end in this process, if there is one.
    pub(crate) fn backplane(&self) -> Option<&Outbox> {
        self.backplane.as_ref()
    }

    /// The backplane's counters, if there is one.
    pub(crate) fn backplane_stats(&self) -> Option<BackplaneStats> {
        self.backplane.as_ref().map(Outbox::stats)
    }

    /// The backplane's counters per node met (empty without one).
    pub(crate) fn backplane_nodes(&self) -> Vec<NodeStats> {
        self.backplane.as_ref().map_or_else(Vec::new, Outbox::nodes)
    }

    /// Asks every shard to shut down.
    pub(crate) fn shutdown_shards(&self) {
        for remote in &self.shards {
            // A stopped shard needs no shutdown.
            let _ = remote.inbox.request_shutdown();
        }
    }

    /// Starts a graceful shutdown: through the acceptor under least-loaded
    /// balancing (it hands over the clients queued now, then tells the
    /// shards), else straight to the shards.
    pub(crate) fn shutdown(&self) {
        if let Some(acceptor) = self.acceptor.get() {
            if acceptor.stop() {
                return;
            }
        }
        self.shutdown_shards();
    }

    /// The latest counters of every shard, by index (the acceptor's in
    /// shard 0's).
    pub(crate) fn stats(&self) -> Vec<ShardStats> {
        let mut stats: Vec<ShardStats> = self
            .shards
            .iter()
            .enumerate()
            .map(|(shard, remote)| ShardStats {
                fanout_in_flight: self.credit.in_flight(shard) as u64,
                ..remote.stats.snapshot()
            })
            .collect();
        if let (Some(acceptor), Some(first)) = (self.acceptor.get(), stats.first_mut()) {
            acceptor.add_counters(first);
        }
        stats
    }

    /// Lets `shutdown` and `stats` reach the acceptor (once, at bind).
    pub(crate) fn set_acceptor(&self, control: Arc<Control>) {
        let _ = self.acceptor.set(control);
    }

    /// One shard's inbox.
    pub(crate) fn inbox(&self, shard: usize) -> Option<&InboxSender> {
        self.shards.get(shard).map(|remote| &remote.inbox)
    }

    /// The exported counters of one shard (for that shard to update).
    pub(crate) fn exported(&self, shard: usize) -> Option<&ExportedStats> {
        self.shards.get(shard).map(|remote| &remote.stats)
    }

    /// The heartbeat of one shard (for the watchdog and the metrics).
    pub(crate) fn heartbeat(&self, shard: usize) -> Option<&Arc<Heartbeat>> {
        self.shards.get(shard).map(|remote| &remote.heartbeat)
    }

    /// Orders waiting in one shard's inbox now.
    pub(crate) fn inbox_depth(&self, shard: usize) -> usize {
        self.shards
            .get(shard)
            .map_or(0, |remote| remote.inbox.len())
    }

    /// Which shards have subscribers of which topic.
    pub(crate) fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Publishes in flight to each shard.
    pub(crate) fn credit(&self) -> &Credit {
        &self.credit
    }

    /// Wakes the shards whose paced publishers waited for credit (a shard
    /// just paid some back).
    pub(crate) fn wake_waiting(&self) {
        for (shard, remote) in self.shards.iter().enumerate() {
            if self.credit.take_waiting(shard) {
                remote.inbox.wake();
            }
        }
    }

    /// Whether every shard with subscribers of `topic` (every shard, for
    /// `None`: a payload for everyone) has credit for one more publish.
    pub(crate) fn has_credit(&self, topic: Option<&[u8]>) -> bool {
        if self.credit.bound() == 0 {
            return true;
        }
        let mut room = true;
        let mut check = |shard: usize| room &= self.credit.has_room(shard);
        match topic {
            Some(topic) => self.directory.for_each_shard(topic, &mut check),
            None => (0..self.shards()).for_each(check),
        }
        room
    }

    /// Each topic's offsets and recent publishes.
    pub(crate) fn histories(&self) -> &Histories {
        &self.histories
    }

    /// Who is subscribed to each topic.
    pub(crate) fn presence(&self) -> &Presence {
        &self.presence
    }

    /// Whether the history is shared with other processes through the
    /// backplane (Redis gives each publish its offset).
    pub(crate) fn shares_history(&self) -> bool {
        self.backplane.is_some() && self.histories.enabled()
    }

    /// A publish of `payload` to `topic` made in this process: the
    /// fan-out to deliver here now, or `None` if it goes to Redis first
    /// (a shared history, Redis up: it is delivered here as it comes
    /// back, with the offset Redis gave it, in Redis's order). With a
    /// history of its own, the server gives the offset now. A shared
    /// history with Redis away: delivered here at once without an offset
    /// (it never reaches the history; the backplane counts it lost).
    /// Call before looking up the shards it goes to: a subscriber that
    /// recovered up to the position before it is then in the directory
    /// already.
    pub(crate) fn publish(&self, topic: Bytes, payload: Bytes, now: Instant) -> Option<Fanout> {
        match &self.backplane {
            Some(backplane) if self.histories.enabled() => {
                if backplane.up() {
                    backplane.forward(&topic, &payload);
                    return None;
                }
                Some(Fanout::topic(topic, payload))
            }
            _ => Some(self.stamp(topic, payload, now)),
        }
    }

    /// A publish of `payload` to `topic`, with its offset (kept in the
    /// topic's history) if the server keeps one of its own.
    fn stamp(&self, topic: Bytes, payload: Bytes, now: Instant) -> Fanout {
        let offset = if self.histories.enabled() {
            self.histories.append(&topic, &payload, now)
        } else {
            0
        };
        Fanout::topic(topic, payload).at(offset)
    }

    /// Offers `order` to shard `shard`; hands it back if that inbox is
    /// full.
    pub(crate) fn offer(&self, shard: usize, order: Order) -> Result<(), Order> {
        match self.shards.get(shard) {
            Some(remote) => remote.inbox.offer(order),
            None => Ok(()),
        }
    }

    /// Delivers an order to a shard.
    pub(crate) fn order(&self, shard: usize, order: Order) -> Result<(), SendError> {
        let remote = self.shards.get(shard).ok_or(SendError::Stopped)?;
        remote.inbox.send(order)
    }

    /// Queues `data` for client `id` on its shard.
    pub(crate) fn send(&self, id: ConnId, data: Bytes) -> Result<(), SendError> {
        self.order(id.shard(), Order::Send(id, data))
    }

    /// Closes client `id` gracefully.
    pub(crate) fn close(&self, id: ConnId) -> Result<(), SendError> {
        self.order(id.shard(), Order::Close(id))
    }

    /// Takes a place for a new client; `false` at `max_connections`.
    pub(crate) fn reserve_connection(&self) -> bool {
        let max = self.max_connections;
        // Compare-and-swap, not add-then-undo: an undo in flight on another
        // shard must not make this one refuse below the limit.
        self.open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |open| {
                (open < max).then_some(open + 1)
            })
            .is_ok()
    }

    /// The server's spare descriptor, for refusing clients at `EMFILE`.
    pub(crate) fn spare(&self) -> &Spare {
        &self.spare
    }

    /// Hands a publish made in this process to the backplane, if there is
    /// one (a payload for everyone stays in the process).
    pub(crate) fn forward(&self, fanout: &Fanout) {
        if let (Some(backplane), Audience::Topic(topic)) = (self.backplane(), &fanout.audience) {
            backplane.forward(topic, &fanout.payload);
        }
    }

    /// Routes `fanout` from a thread that is not a shard (a handle, the
    /// backplane) to every shard it concerns: one order per shard, each
    /// inbox first in, first out, taking a publish's credit on each
    /// ([`has_credit`](Self::has_credit) says beforehand whether there is
    /// some). While an inbox is full, waits (yielding) as long as
    /// `keep_waiting` says so, else gives that shard up (paying its credit
    /// back) and says [`SendError::InboxFull`] (the others still get it):
    /// the backplane waits, reading no more from Redis meanwhile; a handle
    /// does not.
    pub(crate) fn fan_out(
        &self,
        fanout: Fanout,
        keep_waiting: impl Fn() -> bool,
    ) -> Result<(), SendError> {
        let mut result = Ok(());
        let mut offer = |shard: usize| {
            self.credit.take(shard);
            let mut order = Order::Fanout(vec![fanout.clone()]);
            while let Err(refused) = self.offer(shard, order) {
                if !keep_waiting() {
                    if self.credit.pay_back(shard, 1) {
                        self.wake_waiting();
                    }
                    result = Err(SendError::InboxFull);
                    return;
                }
                std::thread::yield_now();
                order = refused;
            }
        };
        match &fanout.audience {
            Audience::Topic(topic) => self.directory().for_each_shard(topic, &mut offer),
            Audience::Everyone => (0..self.shards()).for_each(offer),
        }
        result
    }

    /// Waits (yielding, then napping) until every shard with subscribers
    /// of `topic` has credit, as long as `keep_waiting` says so; returns
    /// whether they have. For the backplane: Redis keeps what comes
    /// meanwhile.
    pub(crate) fn wait_for_credit(&self, topic: &[u8], keep_waiting: impl Fn() -> bool) -> bool {
        let mut spins = 0u32;
        while !self.has_credit(Some(topic)) {
            if !keep_waiting() {
                return false;
            }
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                // A shard takes milliseconds to deliver a few hundred
                // publishes: no need to keep a core busy meanwhile.
                std::thread::sleep(CREDIT_NAP);
            }
        }
        true
    }

    /// Gives back the place of a client that closed.
    pub(crate) fn release_connection(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}
