//! What pub/sub workers count and share: the totals they keep in common
//! during the run (for the drain), and what each hands over at the end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Instant;

use hdrhistogram::Histogram;

use super::verify::StreamCheck;
use crate::engine::errors::Errors;
use crate::engine::outcome::pubsub::Counts;
use crate::engine::outcome::Tally;
use crate::engine::recorder::Recorder;

/// Counters all pub/sub workers share. Touched once per poll round, not
/// per message.
#[derive(Debug)]
pub struct PubsubShared {
    /// The epoch of send times in payloads: one `Instant` (monotonic
    /// clock) all threads of the process share.
    pub epoch: Instant,
    /// Confirmed subscriptions per topic (complete before the start).
    pub topic_subscribers: Vec<AtomicU64>,
    /// Deliveries expected so far: each publish adds its topic's
    /// subscribers.
    pub expected: AtomicU64,
    /// Distinct deliveries received so far.
    pub delivered: AtomicU64,
    /// Workers whose publishers are done (written and answered).
    pub publishing_done: AtomicUsize,
}

impl PubsubShared {
    /// Fresh counters for `topics` topics, the epoch now.
    pub fn new(topics: u64) -> Self {
        Self {
            epoch: Instant::now(),
            topic_subscribers: (0..topics).map(|_| AtomicU64::new(0)).collect(),
            expected: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            publishing_done: AtomicUsize::new(0),
        }
    }
}

/// What one subscriber received, for the final count of losses.
#[derive(Debug)]
pub struct SubscriberEnd {
    /// Topics the server confirmed.
    pub topics: Vec<u64>,
    /// Sequence numbers received per (publisher, topic).
    pub streams: HashMap<(u64, u64), StreamCheck>,
    /// `Some(deliveries)` for a subscriber that was only counted
    /// (`--verify-every`), whose `streams` are empty.
    pub counted: Option<u64>,
}

/// What a pub/sub worker measured.
#[derive(Debug)]
pub struct WorkerEnd {
    /// Delivery latency histograms and counts.
    pub recorder: Recorder,
    /// Connect times (ns).
    pub connect: Histogram<u64>,
    /// Subscribe-to-confirmation times (ns).
    pub subscribe: Histogram<u64>,
    /// `--recover`: return-to-caught-up times (ns).
    pub recovery: Histogram<u64>,
    /// Errors by cause.
    pub errors: Errors,
    /// Connections established.
    pub established: u64,
    /// Connections still open at the end.
    pub open_at_end: u64,
    /// Established connections per source address index.
    pub per_source: Vec<u64>,
    /// Counts per target server.
    pub per_target: Vec<Tally>,
    /// When it stopped publishing.
    pub window_end: Instant,
    /// Its subscribers.
    pub subscribers: Vec<SubscriberEnd>,
    /// Its publishers: (publisher, [(topic, messages published to it)]).
    pub published: Vec<(u64, Vec<(u64, u64)>)>,
    /// Event counts.
    pub counts: Counts,
}
