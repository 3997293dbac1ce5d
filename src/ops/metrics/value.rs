//! How one series' value is written: a counter or a gauge.

use std::fmt;

use prometheus_client::encoding::NoLabelSet;

/// Whether a family counts up or goes up and down.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// Only goes up (`_total` is added to the name).
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One series' value, as a counter or a gauge.
pub(super) fn encode_value(
    metric: &mut prometheus_client::encoding::MetricEncoder,
    kind: Kind,
    value: u64,
) -> Result<(), fmt::Error> {
    match kind {
        Kind::Counter => metric.encode_counter::<NoLabelSet, _, u64>(&value, None),
        // Gauges of counts stay far below 2^63.
        Kind::Gauge => metric.encode_gauge(&i64::try_from(value).unwrap_or(i64::MAX)),
    }
}
