//! The run report: what gets printed, written as JSON, and decides the exit
//! code. The JSON keys are a contract (see the README and
//! `schema/report.json`); a value that is not known is `null`, never 0.

use std::net::IpAddr;

use serde::Serialize;

use crate::engine::errors::Errors;
use crate::engine::histo::{ConnectSummary, Summary};
use crate::engine::outcome::RunResult;
use crate::engine::outcome::Tally;
use crate::engine::timeline::{find_stalls, Stall, TimelinePoint};
use crate::front::cli::mode_name;
use crate::front::shape::Group;
use crate::units::per_sec;

/// Below this share of the asked rate, the rate counts as not sustained.
pub const SUSTAINED_SHARE: f64 = 0.95;

/// Connection counts and connect times.
#[derive(Debug, Clone, Serialize)]
pub struct Connections {
    /// Asked for (`--connections`).
    pub asked: u64,
    /// Established at least once.
    pub established: u64,
    /// Still open when the run ended.
    pub open_at_end: u64,
    /// Connect-time percentiles of the connect phase (µs); `null` when
    /// unknown.
    pub connect_us: Option<ConnectSummary>,
    /// Established connections per source address.
    pub sources: Vec<SourceCount>,
}

/// Connections from one source address.
#[derive(Debug, Clone, Serialize)]
pub struct SourceCount {
    /// The address.
    pub addr: IpAddr,
    /// Connections established from it.
    pub established: u64,
}

/// Asked and achieved message rate.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    /// `--rate`, if given (open loop).
    pub asked: Option<f64>,
    /// Messages per second verified.
    pub achieved: f64,
    /// Open loop: whether the achieved rate reached 95% of the asked one.
    pub sustained: Option<bool>,
    /// Open loop: messages due on the schedule that were never sent because
    /// the server fell behind; their wait is in the corrected latency.
    /// `null` when unknown (merged logs) or in the closed loop.
    pub unsent: Option<u64>,
}

/// CPU use of loadgen itself over the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct Cpu {
    /// User time.
    pub user_s: f64,
    /// Kernel time.
    pub sys_s: f64,
    /// (user + sys) / wall time, in percent of one core.
    pub percent: f64,
    /// CPU time per verified message (µs); `null` without messages.
    pub us_per_message: Option<f64>,
}

/// Results of one target server.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// `HOST:PORT`.
    pub addr: String,
    /// Connections asked for it.
    pub connections: u64,
    /// Established at least once.
    pub established: u64,
    /// Open at the end.
    pub open_at_end: u64,
    /// Messages verified.
    pub messages: u64,
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Errors on its connections.
    pub errors: u64,
}

/// Results of one connection group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    /// The group as asked.
    #[serde(flatten)]
    pub group: Group,
    /// Established at least once.
    pub established: u64,
    /// Open at the end.
    pub open_at_end: u64,
    /// Messages verified.
    pub messages: u64,
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Verified bytes per second per connection (what a slow reader got).
    pub bytes_per_sec_per_connection: f64,
    /// Latency (µs) of this group; `null` without messages.
    pub latency_us: Option<Summary>,
    /// Errors on its connections.
    pub errors: u64,
}

/// Connections coming and going during the load.
#[derive(Debug, Clone, Serialize)]
pub struct ChurnReport {
    /// Connects per second asked for (`--churn`, or population / mean
    /// lifetime).
    pub asked_per_sec: f64,
    /// Connects completed in the measured window.
    pub connects: u64,
    /// Connects per second achieved.
    pub connects_per_sec: f64,
    /// Connections closed because their lifetime was over.
    pub closes: u64,
    /// Time of those connects (µs); `null` when none completed.
    pub connect_us: Option<Summary>,
    /// Failed connects by cause.
    pub failed: Errors,
}

/// Reconnects after failures (`--reconnect`).
#[derive(Debug, Clone, Serialize)]
pub struct ReconnectReport {
    /// Connections that went down during the measured window.
    pub disconnects: u64,
    /// Connections brought back.
    pub reconnects: u64,
    /// Connects that failed while trying, by cause.
    pub failed: Errors,
    /// Sum over connections of the time they were down (s).
    pub downtime_s: f64,
    /// Longest time one connection was down (s).
    pub longest_outage_s: f64,
}

/// How late open-loop sends left against their schedule.
#[derive(Debug, Clone, Serialize)]
pub struct Pacing {
    /// Percentiles of the lateness (µs).
    pub lag_us: Summary,
}

/// The traffic asked for.
#[derive(Debug, Clone, Serialize)]
pub struct Shape {
    /// Traffic mode.
    pub mode: String,
    /// Over WebSocket (`--ws`): the kind of message sent, `binary` or
    /// `text`; `null` over plain TCP (or unknown).
    pub websocket: Option<String>,
    /// Message size (bytes).
    pub size: Option<usize>,
    /// Messages in flight per connection.
    pub pipeline: Option<usize>,
    /// Connections.
    pub connections: u64,
    /// `--rate` (open loop), `null` in the closed loop.
    pub rate: Option<f64>,
    /// Connection lifetime range (s), `null` without churn.
    pub lifetime_s: Option<[f64; 2]>,
    /// Connects per second asked for by churn, `null` without churn.
    pub churn_per_sec: Option<f64>,
    /// `--reconnect`.
    pub reconnect: Option<bool>,
    /// Connection groups.
    pub groups: Vec<Group>,
}

/// The report of a run (or of merged logs).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// loadgen's version.
    pub loadgen_version: String,
    /// The command line that produced this report.
    pub command_line: Vec<String>,
    /// When the run started (RFC 3339, UTC); `null` when unknown.
    pub started_at: Option<String>,
    /// Per target server.
    pub targets: Vec<TargetReport>,
    /// The traffic asked for.
    pub shape: Shape,
    /// Connections.
    pub connections: Connections,
    /// Measured seconds.
    pub duration_s: f64,
    /// Messages verified.
    pub messages: u64,
    /// Payload bytes verified (one direction); `null` when sizes differ.
    pub bytes: Option<u64>,
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Megabytes (10^6) of verified payload per second.
    pub mb_per_sec: Option<f64>,
    /// Open-loop rate, asked and achieved.
    pub rate: Rate,
    /// Latency (µs): from the intended send time in the open loop;
    /// `null` when no message completed.
    pub latency_us: Option<Summary>,
    /// Latency (µs) from the actual send time; open loop only.
    pub latency_uncorrected_us: Option<Summary>,
    /// Open loop: send lateness against the schedule.
    pub pacing: Option<Pacing>,
    /// Errors by cause.
    pub errors: Errors,
    /// Churn (`--churn`, `--lifetime`), else `null`.
    pub churn: Option<ChurnReport>,
    /// Reconnects (`--reconnect`), else `null`.
    pub reconnect: Option<ReconnectReport>,
    /// Per connection group.
    pub groups: Vec<GroupReport>,
    /// One point per second of the measured window.
    pub timeline: Vec<TimelinePoint>,
    /// Stalls found in the timeline (closed loop).
    pub stalls: Vec<Stall>,
    /// loadgen's own CPU use; `null` when unknown.
    pub cpu: Option<Cpu>,
    /// Traffic mode.
    pub mode: String,
    /// Message size; `null` when unknown.
    pub size: Option<usize>,
    /// Messages in flight per connection; `null` when unknown.
    pub pipeline: Option<usize>,
    /// Worker threads.
    pub threads: usize,
    /// Ctrl-C ended the run early.
    pub interrupted: bool,
    /// Reasons this run failed (non-zero exit); empty when all is well.
    pub problems: Vec<String>,
    /// Things worth knowing that are not failures.
    pub notes: Vec<String>,
    /// `--mode pubsub`: subscriptions, publishes, deliveries and their
    /// checks; `null` in the other modes.
    pub pubsub: Option<crate::reports::pubsub::PubsubReport>,
    /// `--tls`: verification, handshakes and their times; `null` over
    /// plain TCP.
    pub tls: Option<crate::reports::tls::TlsReport>,
}

/// `Summary::of`, or `None` for an empty histogram.
pub fn summary(h: &hdrhistogram::Histogram<u64>) -> Option<Summary> {
    (!h.is_empty()).then(|| Summary::of(h))
}

/// RFC 3339 text of a wall-clock time (UTC, milliseconds).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn tally_rate(t: &Tally, secs: f64) -> f64 {
    per_sec(t.messages as f64, secs)
}

impl Report {
    /// Builds the report of a run.
    pub fn from_run(r: &RunResult) -> Self {
        let cfg = &r.cfg;
        let secs = r.duration.as_secs_f64();
        let bytes = r.messages * cfg.size as u64;
        let achieved = per_sec(r.messages as f64, secs);
        let open_loop = cfg.rate.is_some();
        let latency = summary(&r.corrected);
        let groups: Vec<GroupReport> = cfg
            .groups
            .iter()
            .zip(&r.per_group)
            .enumerate()
            .map(|(i, (g, t))| GroupReport {
                group: g.clone(),
                established: t.established,
                open_at_end: t.open_at_end,
                messages: t.messages,
                messages_per_sec: tally_rate(t, secs),
                bytes_per_sec_per_connection: per_sec(
                    (t.messages * cfg.size as u64) as f64,
                    secs * g.connections.max(1) as f64,
                ),
                latency_us: match r.group_latency.get(i) {
                    Some(h) => summary(h),
                    None => latency,
                },
                errors: t.errors,
            })
            .collect();
        let cpu_s = (r.cpu.user + r.cpu.sys).as_secs_f64();
        // Slow readers are slow by design: their latency says nothing
        // about stalls of the server.
        let throttled = cfg.groups.iter().any(|g| g.read_rate.is_some());
        let quiet_mode = matches!(
            cfg.mode,
            crate::front::cli::Mode::Idle | crate::front::cli::Mode::Pubsub
        );
        let stalls = if open_loop || throttled || quiet_mode {
            Vec::new()
        } else {
            find_stalls(
                &r.timeline,
                latency.map_or(0.0, |l| l.p99),
                achieved,
                cfg.stall_floor.as_secs_f64() * 1e6,
            )
        };
        let mut report = Report {
            loadgen_version: env!("CARGO_PKG_VERSION").to_string(),
            command_line: cfg.command_line.clone(),
            started_at: Some(rfc3339(r.started_at)),
            targets: cfg
                .targets
                .iter()
                .zip(&r.per_target)
                .map(|(addr, t)| TargetReport {
                    addr: addr.to_string(),
                    connections: t.connections,
                    established: t.established,
                    open_at_end: t.open_at_end,
                    messages: t.messages,
                    messages_per_sec: tally_rate(t, secs),
                    errors: t.errors,
                })
                .collect(),
            shape: Shape {
                mode: mode_name(cfg.mode),
                websocket: cfg.ws.as_ref().map(|w| w.message_kind().to_string()),
                size: Some(cfg.size),
                pipeline: Some(cfg.pipeline),
                connections: cfg.connections,
                rate: cfg.rate,
                lifetime_s: cfg
                    .lifetime
                    .map(|(lo, hi)| [lo.as_secs_f64(), hi.as_secs_f64()]),
                churn_per_sec: cfg.churn,
                reconnect: Some(cfg.reconnect),
                groups: cfg.groups.clone(),
            },
            connections: Connections {
                asked: cfg.connections,
                established: r.established,
                open_at_end: r.open_at_end,
                connect_us: (!r.connect.is_empty()).then(|| ConnectSummary::of(&r.connect)),
                sources: r
                    .per_source
                    .iter()
                    .map(|&(addr, established)| SourceCount { addr, established })
                    .collect(),
            },
            duration_s: secs,
            messages: r.messages,
            bytes: Some(bytes),
            messages_per_sec: achieved,
            mb_per_sec: Some(per_sec(bytes as f64, secs) / 1e6),
            rate: Rate {
                asked: cfg.rate,
                achieved,
                sustained: cfg.rate.map(|asked| achieved >= asked * SUSTAINED_SHARE),
                unsent: open_loop.then_some(r.unsent),
            },
            latency_us: latency,
            latency_uncorrected_us: if open_loop {
                summary(&r.uncorrected)
            } else {
                None
            },
            pacing: if open_loop {
                summary(&r.pacing).map(|lag_us| Pacing { lag_us })
            } else {
                None
            },
            errors: r.errors,
            churn: cfg.lifetime.map(|_| ChurnReport {
                asked_per_sec: cfg.churn.unwrap_or(0.0),
                connects: r.life.connects,
                connects_per_sec: per_sec(r.life.connects as f64, secs),
                closes: r.life.closes,
                connect_us: summary(&r.life.connect_time),
                failed: r.life.failed,
            }),
            reconnect: cfg.reconnect.then_some(ReconnectReport {
                disconnects: r.life.disconnects,
                reconnects: r.life.reconnects,
                failed: r.life.failed,
                downtime_s: r.life.downtime.as_secs_f64(),
                longest_outage_s: r.life.longest_outage.as_secs_f64(),
            }),
            groups,
            timeline: r.timeline.clone(),
            stalls,
            cpu: Some(Cpu {
                user_s: r.cpu.user.as_secs_f64(),
                sys_s: r.cpu.sys.as_secs_f64(),
                percent: per_sec(cpu_s, r.cpu_wall.as_secs_f64()) * 100.0,
                us_per_message: (r.messages > 0).then(|| cpu_s * 1e6 / r.messages as f64),
            }),
            mode: mode_name(cfg.mode),
            size: Some(cfg.size),
            pipeline: Some(cfg.pipeline),
            threads: cfg.threads,
            interrupted: r.interrupted,
            problems: Vec::new(),
            notes: Vec::new(),
            pubsub: r.pubsub.as_ref().map(|o| {
                crate::reports::pubsub::PubsubReport::of(o, secs, r.messages, cfg.auth.is_some())
            }),
            tls: cfg.tls.as_deref().map(crate::reports::tls::TlsReport::of),
        };
        if let Some(p) = &report.pubsub {
            // The rate asked is of publishes; deliveries are the messages.
            report.rate.achieved = p.publishes_per_sec;
            report.rate.sustained = cfg
                .rate
                .map(|asked| p.publishes_per_sec >= asked * SUSTAINED_SHARE);
            // Payloads are at least their header, which may pass --size.
            report.bytes = None;
            report.mb_per_sec = None;
        }
        report.judge(cfg.messages, cfg.min_open);
        if report.tls.as_ref().is_some_and(|t| !t.verified) {
            report.notes.push(
                "--tls-insecure: server certificates were NOT verified; anyone could have answered"
                    .into(),
            );
        }
        report
    }

    /// Whether this is the report of a pub/sub run.
    pub fn is_pubsub(&self) -> bool {
        self.pubsub.is_some()
    }

    /// Whether the run passed (exit code 0).
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}
