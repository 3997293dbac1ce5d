//! The pub/sub part of a report: the `pubsub` object of the JSON report,
//! its lines in the text table, and what makes a pub/sub run fail.

use std::fmt::Write;

use serde::Serialize;

use crate::engine::histo::ConnectSummary;
use crate::engine::outcome::pubsub::PubsubOutcome;
use crate::front::cli::Protocol;
use crate::reports::recovery::RecoveryReport;
use crate::units::{fmt_rate, fmt_us, per_sec};

/// Subscriptions, publishes and deliveries of a `--mode pubsub` run.
#[derive(Debug, Clone, Serialize)]
pub struct PubsubReport {
    /// `pubsub` or `redis`.
    pub protocol: String,
    /// Subscriber connections.
    pub subscribers: u64,
    /// Publisher connections.
    pub publishers: u64,
    /// Topics.
    pub topics: u64,
    /// Topics each subscriber subscribes to.
    pub topics_per_subscriber: u64,
    /// Every this many subscribers one was verified (`--verify-every`;
    /// 1: all).
    pub verify_every: u64,
    /// Subscribers whose deliveries were checked and timed (numbers 0,
    /// `verify_every`, 2 × `verify_every`, ...); the others were counted.
    pub verified_subscribers: u64,
    /// Subscriptions asked for.
    pub subscriptions_asked: u64,
    /// Subscriptions the server confirmed.
    pub subscriptions: u64,
    /// Time from a subscribe to its confirmation (µs); `null` when none.
    pub subscribe_us: Option<ConnectSummary>,
    /// Messages published (sent), the whole run.
    pub published: u64,
    /// Messages published in the measured window.
    pub published_in_window: u64,
    /// Publishes the server answered with success.
    pub acknowledged: u64,
    /// Publishes per second in the window.
    pub publishes_per_sec: f64,
    /// For every confirmed subscription, every message published to its
    /// topic, the whole run.
    pub expected_deliveries: u64,
    /// Distinct deliveries received, the whole run.
    pub delivered: u64,
    /// Deliveries of messages published in the window.
    pub deliveries_in_window: u64,
    /// Those per second of the window.
    pub deliveries_per_sec: f64,
    /// Expected deliveries that never arrived (after the drain).
    pub lost: u64,
    /// Deliveries received more than once.
    pub duplicated: u64,
    /// Deliveries that arrived after a later message of the same
    /// publisher and topic.
    pub out_of_order: u64,
    /// Deliveries the server said it dropped (`MISSED n`, summed).
    pub missed_reported: u64,
    /// `MISSED` notices received.
    pub missed_notices: u64,
    /// Error replies received.
    pub server_errors: u64,
    /// The first error reply; `null` when none.
    pub first_server_error: Option<String>,
    /// The first wrong delivery or reply, described; `null` when none.
    pub first_mismatch: Option<String>,
    /// Redis: receivers counted by the replies to `PUBLISH`; `null` for
    /// the `pubsub` protocol, which does not say.
    pub redis_receivers: Option<u64>,
    /// With tokens (`--auth-jwt-secret-file`): what the server said to
    /// them; `null` without.
    pub auth: Option<AuthReport>,
    /// `--recover`: the reconnect-with-recovery shape; `null` without.
    pub recovery: Option<RecoveryReport>,
}

/// The `auth` object of a pub/sub report: tokens accepted and refused.
#[derive(Debug, Clone, Serialize)]
pub struct AuthReport {
    /// `AUTH` answered `+OK`.
    pub accepted: u64,
    /// `AUTH` answered `-ERR`.
    pub refused: u64,
}

impl PubsubReport {
    /// The section of `o` over a window of `secs` seconds in which
    /// `deliveries` deliveries were measured.
    pub fn of(o: &PubsubOutcome, secs: f64, deliveries: u64, auth: bool) -> Self {
        let p = &o.plan;
        let c = &o.counts;
        Self {
            protocol: match p.protocol {
                Protocol::Pubsub => "pubsub",
                Protocol::Redis => "redis",
            }
            .to_string(),
            subscribers: p.subscribers,
            publishers: p.publishers,
            topics: p.topics,
            topics_per_subscriber: p.per_subscriber,
            verify_every: p.verify_every,
            verified_subscribers: p.verified_subscribers(),
            subscriptions_asked: p.subscribers * p.per_subscriber,
            subscriptions: o.subscriptions,
            subscribe_us: (!o.subscribe.is_empty()).then(|| ConnectSummary::of(&o.subscribe)),
            published: c.published,
            published_in_window: c.published_measured,
            acknowledged: c.acknowledged,
            publishes_per_sec: per_sec(c.published_measured as f64, secs),
            expected_deliveries: o.expected,
            delivered: c.delivered,
            deliveries_in_window: deliveries,
            deliveries_per_sec: per_sec(deliveries as f64, secs),
            lost: o.lost,
            duplicated: c.duplicates,
            out_of_order: c.out_of_order,
            missed_reported: c.missed,
            missed_notices: c.missed_notices,
            server_errors: c.server_errors,
            first_server_error: c.first_server_error.clone(),
            first_mismatch: c.first_mismatch.clone(),
            redis_receivers: (p.protocol == Protocol::Redis).then_some(c.receivers),
            auth: auth.then_some(AuthReport {
                accepted: c.auth_accepted,
                refused: c.auth_refused,
            }),
            recovery: RecoveryReport::of(o),
        }
    }

    /// Reasons the run failed, and notes.
    pub fn judge(&self, problems: &mut Vec<String>, notes: &mut Vec<String>) {
        if self.lost > 0 {
            let reported = if self.missed_reported > 0 {
                format!(
                    " ({} reported by the server in {} MISSED notices)",
                    self.missed_reported, self.missed_notices
                )
            } else {
                String::new()
            };
            problems.push(format!(
                "{} of {} expected deliveries lost (not received by the end of the drain)\
                 {reported}",
                self.lost, self.expected_deliveries
            ));
        } else if self.missed_reported > 0 {
            notes.push(format!(
                "the server reported {} dropped deliveries (MISSED) yet none was missing",
                self.missed_reported
            ));
        }
        if self.duplicated > 0 {
            problems.push(format!("{} deliveries duplicated", self.duplicated));
        }
        if self.out_of_order > 0 {
            problems.push(format!(
                "{} deliveries out of order (after a later message of their publisher and topic)",
                self.out_of_order
            ));
        }
        if self.server_errors > 0 {
            problems.push(format!(
                "{} error replies from the server (first: {})",
                self.server_errors,
                self.first_server_error.as_deref().unwrap_or("?")
            ));
        }
        if let Some(auth) = &self.auth {
            if auth.refused > 0 {
                problems.push(format!(
                    "{} tokens refused by the server (first: {})",
                    auth.refused,
                    self.first_server_error.as_deref().unwrap_or("?")
                ));
            }
        }
        if let Some(recovery) = &self.recovery {
            recovery.judge(problems, notes);
        }
        if let Some(first) = &self.first_mismatch {
            notes.push(format!("first mismatch: {first}"));
        }
        if let Some(receivers) = self.redis_receivers {
            if receivers != self.expected_deliveries {
                notes.push(format!(
                    "redis counted {receivers} receivers in its PUBLISH replies, {} deliveries \
                     were expected",
                    self.expected_deliveries
                ));
            }
        }
    }

    /// Its lines of the text table.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "pubsub        {} protocol: {} subscribers x {} topic(s) each over {} topics, {} publishers; \
             {}/{} subscriptions confirmed",
            self.protocol,
            self.subscribers,
            self.topics_per_subscriber,
            self.topics,
            self.publishers,
            self.subscriptions,
            self.subscriptions_asked
        );
        if let Some(s) = &self.subscribe_us {
            let _ = writeln!(
                out,
                "subscribe     confirmed after p50 {}  p99 {}  max {}",
                fmt_us(s.p50),
                fmt_us(s.p99),
                fmt_us(s.max)
            );
        }
        let _ = writeln!(
            out,
            "publishes     {} msg/s  ({} in the window, {} in all, {} answered)",
            fmt_rate(self.publishes_per_sec),
            self.published_in_window,
            self.published,
            self.acknowledged
        );
        let _ = writeln!(
            out,
            "deliveries    {} /s  ({} in the window)  expected {}  delivered {}  lost {}  \
             duplicated {}  out of order {}  MISSED reported {}",
            fmt_rate(self.deliveries_per_sec),
            self.deliveries_in_window,
            self.expected_deliveries,
            self.delivered,
            self.lost,
            self.duplicated,
            self.out_of_order,
            self.missed_reported
        );
        if self.verify_every > 1 {
            let _ = writeln!(
                out,
                "verified      1 subscriber in {} ({} of {}: numbers 0, {}, {}, ...) checked \
                 and timed; the others counted (a shortfall is lost, a duplicate unseen)",
                self.verify_every,
                self.verified_subscribers,
                self.subscribers,
                self.verify_every,
                2 * self.verify_every
            );
        }
        if let Some(auth) = &self.auth {
            let _ = writeln!(
                out,
                "auth          HS256 tokens: {} accepted, {} refused",
                auth.accepted, auth.refused
            );
        }
        if let Some(recovery) = &self.recovery {
            recovery.render(out);
        }
    }
}
