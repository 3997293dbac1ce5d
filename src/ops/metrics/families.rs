//! Every metric the endpoint serves: one table of per-shard families read
//! from the shards' published counters, plus the round-duration histogram
//! and the process-wide facts.
//!
//! A new counter in [`ShardStats`](crate::ShardStats) is one line in
//! [`SHARD_FAMILIES`]: a family of its own, or one more label value of a
//! family (`reason="..."`).

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::value::{encode_value, Kind};
use crate::hub::handle::ServerHandle;
use crate::hub::heartbeat::{RoundTimes, ROUND_BOUNDS_NANOS};
use crate::hub::stats::ShardStats;
use crate::net::fds;

/// What one scrape knows about one shard.
pub(crate) struct Sample {
    /// The shard's published counters.
    pub(crate) stats: ShardStats,
    /// Commands waiting in its inbox.
    pub(crate) inbox: u64,
    /// Its published round durations.
    pub(crate) rounds: RoundTimes,
    /// How long its current round has run, in seconds (0 while it waits
    /// for events).
    pub(crate) busy_seconds: f64,
}

impl Sample {
    /// Reads shard `shard` of `handle` now.
    pub(crate) fn take(handle: &ServerHandle, shard: usize) -> Self {
        let stats = handle
            .hub()
            .exported(shard)
            .map(|published| published.snapshot())
            .map(|stats| ShardStats {
                fanout_in_flight: handle.hub().credit().in_flight(shard) as u64,
                ..stats
            })
            .unwrap_or_default();
        let (rounds, busy_seconds) =
            handle
                .hub()
                .heartbeat(shard)
                .map_or_else(Default::default, |heartbeat| {
                    let busy = heartbeat.busy();
                    (
                        heartbeat.round_times(),
                        busy.map_or(0.0, |busy| busy.running.as_secs_f64()),
                    )
                });
        Self {
            stats,
            inbox: handle.hub().inbox_depth(shard) as u64,
            rounds,
            busy_seconds,
        }
    }
}

/// One series of a family: the value of its extra label (empty when the
/// family has none) and how to read it from a sample.
pub(crate) type Series = (&'static str, fn(&Sample) -> u64);

/// A per-shard family: every series is labelled `shard="i"`, and with
/// `label="value"` when the family is split.
pub(crate) struct Family {
    /// Metric name (a counter's `_total` is added when encoded).
    pub(crate) name: &'static str,
    /// Help text.
    pub(crate) help: &'static str,
    /// Counter or gauge.
    pub(crate) kind: Kind,
    /// The label that splits the family, or `""`.
    pub(crate) label: &'static str,
    /// Its series: one when not split.
    pub(crate) series: &'static [Series],
}

/// A family of one counter per shard.
const fn counter(name: &'static str, help: &'static str, series: &'static [Series]) -> Family {
    Family {
        name,
        help,
        kind: Kind::Counter,
        label: "",
        series,
    }
}

/// A family of one gauge per shard.
const fn gauge(name: &'static str, help: &'static str, series: &'static [Series]) -> Family {
    Family {
        name,
        help,
        kind: Kind::Gauge,
        label: "",
        series,
    }
}

/// A family of counters per shard, split by `label`.
const fn counter_by(
    name: &'static str,
    help: &'static str,
    label: &'static str,
    series: &'static [Series],
) -> Family {
    Family {
        name,
        help,
        kind: Kind::Counter,
        label,
        series,
    }
}

/// Every per-shard family, read from the published counters.
pub(crate) const SHARD_FAMILIES: &[Family] = &[
    gauge("esockets_connections_open", "Clients open now.", &[("", |s| s.stats.open)]),
    counter(
        "esockets_connections_accepted",
        "Clients accepted and set up (including those the handler refused).",
        &[("", |s| s.stats.accepted)],
    ),
    counter_by(
        "esockets_connections_refused",
        "Clients refused: by the handler in on_connect, at max_connections or the open-file limit, for their PROXY header (untrusted peer, invalid, timed out), for a failed TLS handshake, or because they could not be set up.",
        "reason",
        &[
            ("handler", |s| s.stats.handler_refused),
            ("over_limit", |s| s.stats.over_limit),
            ("proxy_untrusted", |s| s.stats.proxy_untrusted),
            ("proxy_invalid", |s| s.stats.proxy_invalid),
            ("proxy_timeout", |s| s.stats.proxy_timeouts),
            ("tls_handshake", |s| s.stats.tls_failed),
            ("error", |s| {
                let st = &s.stats;
                st.refused.saturating_sub(
                    st.handler_refused
                        + st.over_limit
                        + st.proxy_untrusted
                        + st.proxy_invalid
                        + st.proxy_timeouts
                        + st.tls_failed,
                )
            }),
        ],
    ),
    counter_by(
        "esockets_connections_closed",
        "Clients closed, by CloseReason.",
        "reason",
        &[
            ("peer_closed", |s| s.stats.peer_closed),
            ("reset", |s| s.stats.reset_closed),
            ("handler", |s| s.stats.handler_closed),
            ("server", |s| s.stats.server_closed),
            ("output_overflow", |s| s.stats.output_overflow_closed),
            ("input_overflow", |s| s.stats.input_overflow_closed),
            ("idle_timeout", |s| s.stats.idle_closed),
            ("shutdown", |s| s.stats.shutdown_closed),
            ("error", |s| s.stats.error_closed),
        ],
    ),
    counter(
        "esockets_connections_cut_off",
        "Graceful closes that ended with output still on its way (close deadline passed, or the client left first).",
        &[("", |s| s.stats.cut_off)],
    ),
    counter("esockets_received_bytes", "Bytes read from clients.", &[("", |s| s.stats.bytes_in)]),
    counter("esockets_sent_bytes", "Bytes written to clients.", &[("", |s| s.stats.bytes_out)]),
    gauge(
        "esockets_output_queued_bytes",
        "Bytes queued for clients now: output the kernel did not take yet.",
        &[("", |s| s.stats.queued_out)],
    ),
    gauge(
        "esockets_clients_paused",
        "Clients not read now because their queued output passed the high-water mark (backpressure).",
        &[("", |s| s.stats.paused)],
    ),
    counter(
        "esockets_accept_pauses",
        "Times accepting paused because the process or system ran out of descriptors or memory.",
        &[("", |s| s.stats.accept_pauses)],
    ),
    counter("esockets_loop_rounds", "Event-loop rounds completed.", &[("", |s| s.stats.rounds)]),
    counter(
        "esockets_stalls",
        "Event-loop rounds that ran past the stall threshold.",
        &[("", |s| s.stats.stalls)],
    ),
    gauge(
        "esockets_inbox_depth",
        "Commands from other threads waiting in the shard's inbox.",
        &[("", |s| s.inbox)],
    ),
    counter(
        "esockets_proxy_headers",
        "PROXY protocol: connections handed to the handler after a valid header (LOCAL ones included).",
        &[("", |s| s.stats.proxy_headers)],
    ),
    counter(
        "esockets_proxy_local",
        "PROXY protocol: LOCAL headers (the proxy's own connections, such as health checks).",
        &[("", |s| s.stats.proxy_local)],
    ),
    counter_by(
        "esockets_tls_handshakes",
        "TLS handshakes finished, full or resumed from a session ticket.",
        "kind",
        &[("full", |s| s.stats.tls_full), ("resumed", |s| s.stats.tls_resumed)],
    ),
    counter_by(
        "esockets_tls_handshake_failures",
        "TLS handshakes that failed: not TLS (a plaintext client), protocol (an alert was sent), certificate (the client's was missing or refused), closed (the client went away), timeout.",
        "reason",
        &[
            ("not_tls", |s| s.stats.tls_failed_not_tls),
            ("protocol", |s| s.stats.tls_failed_protocol),
            ("certificate", |s| s.stats.tls_failed_certificate),
            ("closed", |s| s.stats.tls_failed_closed),
            ("timeout", |s| s.stats.tls_failed_timeout),
        ],
    ),
    counter_by(
        "esockets_tls_versions",
        "TLS handshakes finished, by protocol version.",
        "version",
        &[("1.3", |s| s.stats.tls_v13), ("1.2", |s| s.stats.tls_v12)],
    ),
    counter_by(
        "esockets_tls_ciphers",
        "TLS handshakes finished, by the cipher of their suite.",
        "cipher",
        &[
            ("aes_128_gcm", |s| s.stats.tls_aes128_gcm),
            ("aes_256_gcm", |s| s.stats.tls_aes256_gcm),
            ("chacha20_poly1305", |s| s.stats.tls_chacha20),
        ],
    ),
    counter(
        "esockets_tls_deferred",
        "TLS handshake steps left for the next loop round by the per-round handshake budget.",
        &[("", |s| s.stats.tls_deferred)],
    ),
    counter(
        "esockets_pubsub_published",
        "Messages published by this shard's handler (once each, however many subscribers).",
        &[("", |s| s.stats.published)],
    ),
    counter(
        "esockets_pubsub_delivered",
        "Deliveries queued to this shard's subscribers (one per subscriber per message).",
        &[("", |s| s.stats.delivered)],
    ),
    counter(
        "esockets_pubsub_dropped",
        "Deliveries skipped because the subscriber was slow (slow subscribers: drop).",
        &[("", |s| s.stats.dropped_slow)],
    ),
    counter_by(
        "esockets_pubsub_auth_failures",
        "Pub/sub credentials refused, by reason (the client is closed).",
        "reason",
        &[
            ("malformed", |s| s.stats.auth_malformed),
            ("too_long", |s| s.stats.auth_too_long),
            ("bad_signature", |s| s.stats.auth_bad_signature),
            ("algorithm", |s| s.stats.auth_algorithm),
            ("expired", |s| s.stats.auth_expired),
            ("not_yet_valid", |s| s.stats.auth_not_yet_valid),
            ("claims", |s| s.stats.auth_claims),
            ("other", |s| s.stats.auth_other),
            ("timeout", |s| s.stats.auth_timeouts),
        ],
    ),
    counter(
        "esockets_pubsub_grants_lapsed",
        "Pub/sub clients closed because their token expired (no refresh in time).",
        &[("", |s| s.stats.grants_lapsed)],
    ),
    counter(
        "esockets_pubsub_not_allowed",
        "Pub/sub subscribes and publishes refused: outside the client's permissions.",
        &[("", |s| s.stats.not_allowed)],
    ),
    counter(
        "esockets_pubsub_rate_limited",
        "Pub/sub publishes refused (not delivered) for the client's publish rate.",
        &[("", |s| s.stats.rate_limited)],
    ),
    counter(
        "esockets_pubsub_flood_closed",
        "Pub/sub clients closed for flooding: publishing past their rate too many times in a row, or refreshing (AUTH) past its bound.",
        &[("", |s| s.stats.flood_closed)],
    ),
    counter(
        "esockets_pubsub_recovered",
        "Pub/sub publishes sent from the history to subscribers recovering what they missed (SUB ... SINCE).",
        &[("", |s| s.stats.recovered)],
    ),
    counter(
        "esockets_pubsub_recovery_failed",
        "Pub/sub recoveries refused (another epoch, or what was missed is no longer kept): the client must reload.",
        &[("", |s| s.stats.recovery_failed)],
    ),
    counter(
        "esockets_pubsub_unfilled",
        "Pub/sub positioned deliveries lost: a later publish reached the shard first and this one had left the history.",
        &[("", |s| s.stats.unfilled)],
    ),
    gauge(
        "esockets_pubsub_fanout_in_flight",
        "Publishes sent to this shard and not yet delivered and written by it (against --fanout-credit).",
        &[("", |s| s.stats.fanout_in_flight)],
    ),
    counter(
        "esockets_output_writes",
        "Write system calls that sent queued output (one writev each, however many messages it held).",
        &[("", |s| s.stats.output_writes)],
    ),
    counter(
        "esockets_flushes_carried_over",
        "Rounds whose flush of held deliveries reached its budget (1,024 clients) and left the rest for the next round.",
        &[("", |s| s.stats.flushes_carried_over)],
    ),
    counter(
        "esockets_pubsub_paced",
        "Times a publisher was paced: its publish found another shard past its fan-out credit, and its input waited until that shard caught up.",
        &[("", |s| s.stats.paced)],
    ),
    counter(
        "esockets_pubsub_lost_fanout",
        "Messages published here that never reached another shard: its inbox stayed full.",
        &[("", |s| s.stats.lost_fanout)],
    ),
];

/// Encodes every metric of a server on each scrape.
#[derive(Debug)]
pub(crate) struct ServerCollector {
    /// The server.
    pub(crate) handle: ServerHandle,
}

impl Collector for ServerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let samples: Vec<Sample> = (0..self.handle.shards())
            .map(|shard| Sample::take(&self.handle, shard))
            .collect();
        let shards: Vec<String> = (0..samples.len()).map(|shard| shard.to_string()).collect();
        for family in SHARD_FAMILIES {
            encode_family(&mut encoder, family, &samples, &shards)?;
        }
        encode_rounds(&mut encoder, &samples, &shards)?;
        encode_handshakes(&mut encoder, &samples, &shards)?;
        encode_process(&mut encoder, &self.handle)
    }
}

/// One per-shard family, every shard and series.
fn encode_family(
    encoder: &mut DescriptorEncoder,
    family: &Family,
    samples: &[Sample],
    shards: &[String],
) -> Result<(), fmt::Error> {
    let metric_type = match family.kind {
        Kind::Counter => MetricType::Counter,
        Kind::Gauge => MetricType::Gauge,
    };
    let mut metric = encoder.encode_descriptor(family.name, family.help, None, metric_type)?;
    for (sample, shard) in samples.iter().zip(shards) {
        for (value, read) in family.series {
            let count = read(sample);
            if family.label.is_empty() {
                let labels = [("shard", shard.as_str())];
                encode_value(&mut metric.encode_family(&labels)?, family.kind, count)?;
            } else {
                let labels = [("shard", shard.as_str()), (family.label, value)];
                encode_value(&mut metric.encode_family(&labels)?, family.kind, count)?;
            }
        }
    }
    Ok(())
}

/// The round-duration histogram and the running round's age, per shard.
fn encode_rounds(
    encoder: &mut DescriptorEncoder,
    samples: &[Sample],
    shards: &[String],
) -> Result<(), fmt::Error> {
    let mut metric = encoder.encode_descriptor(
        "esockets_loop_round_duration_seconds",
        "How long event-loop rounds took (from the poll's return to the next poll).",
        None,
        MetricType::Histogram,
    )?;
    for (sample, shard) in samples.iter().zip(shards) {
        let buckets: Vec<(f64, u64)> = ROUND_BOUNDS_NANOS
            .iter()
            .map(|&nanos| nanos as f64 / 1e9)
            .chain([f64::INFINITY])
            .zip(sample.rounds.buckets)
            .collect();
        let count = sample.rounds.buckets.iter().sum();
        let sum = sample.rounds.sum_nanos as f64 / 1e9;
        let labels = [("shard", shard.as_str())];
        metric
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
    }
    let mut metric = encoder.encode_descriptor(
        "esockets_loop_busy_seconds",
        "How long the shard's current event-loop round has run (0 while it waits for events): grows without bound while a handler blocks.",
        None,
        MetricType::Gauge,
    )?;
    for (sample, shard) in samples.iter().zip(shards) {
        let labels = [("shard", shard.as_str())];
        metric
            .encode_family(&labels)?
            .encode_gauge(&sample.busy_seconds)?;
    }
    Ok(())
}

/// The TLS handshake-duration histogram (from accepting to the end of
/// the handshake) and the shard time handshakes took, per shard.
fn encode_handshakes(
    encoder: &mut DescriptorEncoder,
    samples: &[Sample],
    shards: &[String],
) -> Result<(), fmt::Error> {
    let mut metric = encoder.encode_descriptor(
        "esockets_tls_handshake_duration_seconds",
        "How long finished TLS handshakes took, from accepting the connection to the end of the handshake.",
        None,
        MetricType::Histogram,
    )?;
    for (sample, shard) in samples.iter().zip(shards) {
        let st = &sample.stats;
        let count = st.tls_full + st.tls_resumed;
        // The shard counts handshakes under each bound (cumulatively);
        // the encoder takes each bucket's own count and adds them up.
        let mut below = 0;
        let buckets: Vec<(f64, u64)> = [
            (0.001, st.tls_handshake_under_1ms),
            (0.01, st.tls_handshake_under_10ms),
            (0.1, st.tls_handshake_under_100ms),
            (1.0, st.tls_handshake_under_1s),
            (f64::INFINITY, count),
        ]
        .into_iter()
        .map(|(bound, under)| {
            let own = under.saturating_sub(below);
            below = below.max(under);
            (bound, own)
        })
        .collect();
        let sum = st.tls_handshake_nanos as f64 / 1e9;
        let labels = [("shard", shard.as_str())];
        metric
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
    }
    let mut metric = encoder.encode_descriptor(
        "esockets_tls_handshake_busy_seconds",
        "Shard time spent running TLS handshakes (their CPU cost), finished or not.",
        None,
        MetricType::Counter,
    )?;
    for (sample, shard) in samples.iter().zip(shards) {
        let busy = sample.stats.tls_handshake_busy_nanos as f64 / 1e9;
        let labels = [("shard", shard.as_str())];
        metric
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, f64, u64>(&busy, None)?;
    }
    Ok(())
}

/// Facts about the whole process.
fn encode_process(
    encoder: &mut DescriptorEncoder,
    handle: &ServerHandle,
) -> Result<(), fmt::Error> {
    let limit = fds::open_file_limit().map_or(0, |(soft, _)| soft);
    let (history_topics, history_messages) = handle.hub().histories().sizes();
    let facts: [(&str, &str, u64); 6] = [
        (
            "esockets_history_topics",
            "Topics with a history kept now (at most --history-topics).",
            history_topics,
        ),
        (
            "esockets_history_messages",
            "Publishes kept in the topics' histories now.",
            history_messages,
        ),
        (
            "esockets_presence_entries",
            "Presence entries now: one per topic and identity subscribed to it, in this process.",
            handle.hub().presence().entries(),
        ),
        (
            "esockets_open_files_limit",
            "The process's open-file limit (soft): every client takes one.",
            limit,
        ),
        (
            "esockets_max_connections",
            "The most clients served at once (max_connections).",
            handle.max_connections() as u64,
        ),
        (
            "esockets_shards",
            "Shards (event-loop threads).",
            handle.shards() as u64,
        ),
    ];
    for (name, help, value) in facts {
        let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        encode_value(&mut metric, Kind::Gauge, value)?;
    }
    super::backplane::encode(encoder, handle)?;
    let mut metric = encoder.encode_descriptor(
        "esockets_build",
        "The esockets build: its version, as a label.",
        None,
        MetricType::Info,
    )?;
    metric.encode_info(&[("version", env!("CARGO_PKG_VERSION"))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_close_reason_and_refusal_has_a_series() {
        let stats = ShardStats {
            closed: 9,
            peer_closed: 1,
            reset_closed: 1,
            handler_closed: 1,
            server_closed: 1,
            output_overflow_closed: 1,
            input_overflow_closed: 1,
            idle_closed: 1,
            shutdown_closed: 1,
            error_closed: 1,
            refused: 6,
            handler_refused: 2,
            over_limit: 3,
            ..ShardStats::default()
        };
        let sample = Sample {
            stats,
            inbox: 0,
            rounds: RoundTimes::default(),
            busy_seconds: 0.0,
        };
        let sum = |name: &str| -> u64 {
            let family = SHARD_FAMILIES
                .iter()
                .find(|family| family.name == name)
                .expect("family");
            family.series.iter().map(|(_, read)| read(&sample)).sum()
        };
        assert_eq!(sum("esockets_connections_closed"), stats.closed);
        assert_eq!(sum("esockets_connections_refused"), stats.refused);
    }

    #[test]
    fn names_are_unique_and_prometheus_shaped() {
        let mut names: Vec<&str> = SHARD_FAMILIES.iter().map(|family| family.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SHARD_FAMILIES.len());
        for family in SHARD_FAMILIES {
            assert!(family.name.starts_with("esockets_"), "{}", family.name);
            assert!(
                family
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                family.name
            );
            assert!(
                !family.name.ends_with("_total"),
                "{}: added when encoded",
                family.name
            );
            assert_eq!(
                family.label.is_empty(),
                family.series.len() == 1,
                "{}",
                family.name
            );
        }
    }
}
