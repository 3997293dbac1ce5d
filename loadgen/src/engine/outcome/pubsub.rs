//! What a pub/sub run found beyond what every run reports: the layout,
//! the subscriptions, and the event counts of the deliveries checked.

use hdrhistogram::Histogram;

use crate::front::plan::Plan;

/// What a pub/sub run found, beyond what every run reports.
#[derive(Debug, Clone)]
pub struct PubsubOutcome {
    /// The layout.
    pub plan: Plan,
    /// Subscriptions the server confirmed.
    pub subscriptions: u64,
    /// Subscribe-to-confirmation times (ns).
    pub subscribe: Histogram<u64>,
    /// Event counts over all workers.
    pub counts: Counts,
    /// Deliveries expected: for every confirmed subscription, every
    /// message published to its topic.
    pub expected: u64,
    /// Expected deliveries that never arrived.
    pub lost: u64,
}

/// Pub/sub event counts of one worker (or, merged, of the run).
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Publishes queued (sent), the whole run.
    pub published: u64,
    /// Publishes whose intended send time is in the measured window.
    pub published_measured: u64,
    /// Publishes the server answered with success.
    pub acknowledged: u64,
    /// Distinct deliveries received, the whole run.
    pub delivered: u64,
    /// Deliveries received a second time.
    pub duplicates: u64,
    /// Deliveries that arrived after a later one of their stream.
    pub out_of_order: u64,
    /// Deliveries the server said it dropped (`MISSED n`, summed).
    pub missed: u64,
    /// `MISSED` notices received.
    pub missed_notices: u64,
    /// Error replies (`-ERR`) received.
    pub server_errors: u64,
    /// Redis: receivers counted by the replies to `PUBLISH`.
    pub receivers: u64,
    /// The first error reply, as sent.
    pub first_server_error: Option<String>,
    /// The first protocol violation or wrong payload, described.
    pub first_mismatch: Option<String>,
}

impl Counts {
    /// Adds `other` into `self` (first texts: the earlier worker's).
    pub fn merge(&mut self, other: &Counts) {
        self.published += other.published;
        self.published_measured += other.published_measured;
        self.acknowledged += other.acknowledged;
        self.delivered += other.delivered;
        self.duplicates += other.duplicates;
        self.out_of_order += other.out_of_order;
        self.missed += other.missed;
        self.missed_notices += other.missed_notices;
        self.server_errors += other.server_errors;
        self.receivers += other.receivers;
        if self.first_server_error.is_none() {
            self.first_server_error
                .clone_from(&other.first_server_error);
        }
        if self.first_mismatch.is_none() {
            self.first_mismatch.clone_from(&other.first_mismatch);
        }
    }
}
