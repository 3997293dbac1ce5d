//! HdrHistogram interval logs, in the format of the Java
//! `HistogramLogWriter` (version 1.3) so existing tools read them: values
//! in nanoseconds, `Interval_Max` in milliseconds, one interval per second.
//!
//! Each interval is written untagged (latency from the intended send time,
//! what tools show by default), and in the open loop also as
//! `Tag=corrected` and `Tag=uncorrected` (from the actual send). Lines
//! starting `#[loadgen` carry the run's settings and totals for
//! `loadgen merge`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::engine::coordinator::IntervalLog;
use crate::engine::outcome::RunResult;
use crate::front::config::RunConfig;

/// Tag of the histogram from the intended send time.
pub const TAG_CORRECTED: &str = "corrected";
/// Tag of the histogram from the actual send time.
pub const TAG_UNCORRECTED: &str = "uncorrected";

/// Writes one interval log as the run goes.
pub struct HdrLogWriter {
    out: BufWriter<File>,
    ser: V2DeflateSerializer,
    buf: Vec<u8>,
    open_loop: bool,
    /// The instant of the `BaseTime` header: interval timestamps count
    /// from here.
    base: Instant,
}

impl std::fmt::Debug for HdrLogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HdrLogWriter").finish_non_exhaustive()
    }
}

fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl HdrLogWriter {
    /// Creates `path` and writes the headers; interval timestamps are
    /// seconds since now (the `BaseTime`).
    pub fn create(path: &Path, cfg: &RunConfig) -> io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        let base = Instant::now();
        let now = epoch_secs(SystemTime::now());
        writeln!(out, "#[Histogram log format version 1.3]")?;
        writeln!(
            out,
            "#[loadgen version={} mode={} websocket={} size={} connections={} threads={} pipeline={} rate={} targets={}]",
            env!("CARGO_PKG_VERSION"),
            crate::front::cli::mode_name(cfg.mode),
            cfg.ws.as_ref().map_or("none", |w| w.message_kind()),
            cfg.size,
            cfg.connections,
            cfg.threads,
            cfg.pipeline,
            cfg.rate
                .map_or_else(|| "none".to_string(), |r| r.to_string()),
            cfg.targets
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )?;
        writeln!(out, "#[StartTime: {now:.3} (seconds since epoch)]")?;
        writeln!(out, "#[BaseTime: {now:.3} (seconds since epoch)]")?;
        writeln!(
            out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        out.flush()?;
        Ok(Self {
            out,
            ser: V2DeflateSerializer::new(),
            buf: Vec::new(),
            open_loop: cfg.rate.is_some(),
            base,
        })
    }

    fn line(
        &mut self,
        tag: Option<&str>,
        at: Duration,
        len: Duration,
        h: &Histogram<u64>,
    ) -> io::Result<()> {
        self.buf.clear();
        self.ser
            .serialize(h, &mut self.buf)
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&self.buf);
        if let Some(tag) = tag {
            write!(self.out, "Tag={tag},")?;
        }
        writeln!(
            self.out,
            "{:.3},{:.3},{:.3},{encoded}",
            at.as_secs_f64(),
            len.as_secs_f64(),
            h.max() as f64 / 1e6
        )
    }
}

impl IntervalLog for HdrLogWriter {
    /// How long after the base time `t` is.
    fn since_base(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.base)
    }

    /// Appends one interval starting `at` after the base time.
    fn interval(
        &mut self,
        at: Duration,
        len: Duration,
        corrected: &Histogram<u64>,
        uncorrected: &Histogram<u64>,
    ) -> io::Result<()> {
        self.line(None, at, len, corrected)?;
        if self.open_loop {
            self.line(Some(TAG_CORRECTED), at, len, corrected)?;
            self.line(Some(TAG_UNCORRECTED), at, len, uncorrected)?;
        }
        self.out.flush()
    }

    /// Appends the run's totals as a comment `loadgen merge` reads.
    fn summary(&mut self, r: &RunResult) -> io::Result<()> {
        let e = &r.errors;
        writeln!(
            self.out,
            "#[loadgen-summary established={} open_at_end={} messages={} duration_s={:.6} \
             mismatch={} closed={} reset={} refused={} connect_timeout={} lost={} \
             unanswered={} addr_not_available={} handshake={} protocol={} other={}]",
            r.established,
            r.open_at_end,
            r.messages,
            r.duration.as_secs_f64(),
            e.mismatch,
            e.closed,
            e.reset,
            e.refused,
            e.connect_timeout,
            e.lost,
            e.unanswered,
            e.addr_not_available,
            e.handshake,
            e.protocol,
            e.other
        )?;
        self.out.flush()
    }
}

/// One interval read back from a log.
#[derive(Debug)]
pub struct LogInterval {
    /// Tag, if any.
    pub tag: Option<String>,
    /// Absolute start (seconds since the epoch when the log has a base
    /// time, else as written).
    pub start_s: f64,
    /// Length in seconds.
    pub length_s: f64,
    /// The histogram.
    pub histogram: Histogram<u64>,
}

/// A parsed interval log.
#[derive(Debug, Default)]
pub struct LogData {
    /// Intervals in file order.
    pub intervals: Vec<LogInterval>,
    /// `key=value` pairs from `#[loadgen ...]` comment lines.
    pub meta: BTreeMap<String, String>,
    /// The log's `BaseTime` (seconds since the epoch), if it has one.
    pub base_s: Option<f64>,
}

/// Reads an interval log written by loadgen (or any HdrHistogram tool).
pub fn read_log(path: &Path) -> Result<LogData, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut data = LogData::default();
    for line in String::from_utf8_lossy(&text).lines() {
        if let Some(rest) = line.strip_prefix("#[loadgen") {
            for pair in rest.trim_end_matches(']').split_whitespace() {
                if let Some((k, v)) = pair.split_once('=') {
                    data.meta.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    let mut base = 0.0;
    let mut deser = Deserializer::new();
    for entry in IntervalLogIterator::new(&text) {
        let entry =
            entry.map_err(|e| format!("{}: not an interval log ({e:?})", path.display()))?;
        match entry {
            LogEntry::BaseTime(t) => {
                base = t.as_secs_f64();
                data.base_s = Some(base);
            }
            LogEntry::StartTime(_) => {}
            LogEntry::Interval(iv) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(iv.encoded_histogram())
                    .map_err(|e| format!("{}: bad histogram encoding: {e}", path.display()))?;
                let histogram: Histogram<u64> = deser
                    .deserialize(&mut bytes.as_slice())
                    .map_err(|e| format!("{}: bad histogram: {e:?}", path.display()))?;
                data.intervals.push(LogInterval {
                    tag: iv.tag().map(|t| t.as_str().to_string()),
                    start_s: base + iv.start_timestamp().as_secs_f64(),
                    length_s: iv.duration().as_secs_f64(),
                    histogram,
                });
            }
        }
    }
    Ok(data)
}
