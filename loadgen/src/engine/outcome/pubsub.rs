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
    /// `--recover`: times from a subscriber's return (when it was due to
    /// reconnect) to having received everything it missed (`since`), or
    /// to its subscriptions confirmed (`plain`), in ns.
    pub recovery: Histogram<u64>,
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
    /// Tokens the server accepted (`AUTH` answered `+OK`).
    pub auth_accepted: u64,
    /// Tokens the server refused (`AUTH` answered `-ERR`).
    pub auth_refused: u64,
    /// `--recover`: subscribers that left (and were due back).
    pub leaves: u64,
    /// `--recover`: returns that caught up (see
    /// [`PubsubOutcome::recovery`]).
    pub recoveries: u64,
    /// `--recover since`: messages sent again after a `SINCE`, published
    /// while their subscriber was away.
    pub recovered: u64,
    /// `--recover plain`: deliveries skipped while their subscriber was
    /// away.
    pub skipped: u64,
    /// `--recover since`: positioned deliveries whose offset jumped past
    /// the next one.
    pub offset_gaps: u64,
    /// `--recover since`: positioned deliveries whose offset was not past
    /// the last one.
    pub offset_repeats: u64,
    /// `--recover`: returns that never caught up (a failed reconnect, a
    /// refused `SINCE`, or still catching up at the end).
    pub unrecovered: u64,
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
        self.auth_accepted += other.auth_accepted;
        self.auth_refused += other.auth_refused;
        self.leaves += other.leaves;
        self.recoveries += other.recoveries;
        self.recovered += other.recovered;
        self.skipped += other.skipped;
        self.offset_gaps += other.offset_gaps;
        self.offset_repeats += other.offset_repeats;
        self.unrecovered += other.unrecovered;
        if self.first_server_error.is_none() {
            self.first_server_error
                .clone_from(&other.first_server_error);
        }
        if self.first_mismatch.is_none() {
            self.first_mismatch.clone_from(&other.first_mismatch);
        }
    }
}
