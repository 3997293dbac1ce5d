//! The run report: what gets printed, written as JSON, and decides the exit
//! code. The JSON keys are a contract (see the README).

use std::net::IpAddr;

use serde::Serialize;

use crate::cli::Mode;
use crate::errors::Errors;
use crate::histo::{ConnectSummary, Summary};
use crate::run::RunResult;

/// Below this share of the asked rate, the rate counts as not sustained.
pub const SUSTAINED_SHARE: f64 = 0.95;

/// Connection counts and connect times.
#[derive(Debug, Clone, Serialize)]
pub struct Connections {
    /// Asked for (`--connections`).
    pub asked: u64,
    /// Actually established.
    pub established: u64,
    /// Still open when the run ended.
    pub open_at_end: u64,
    /// Connect-time percentiles (µs).
    pub connect_us: ConnectSummary,
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
    pub unsent: u64,
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
}

/// The report of a run (or of merged logs).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Connections.
    pub connections: Connections,
    /// Measured seconds.
    pub duration_s: f64,
    /// Messages verified.
    pub messages: u64,
    /// Payload bytes verified (one direction).
    pub bytes: u64,
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Megabytes (10^6) of verified payload per second.
    pub mb_per_sec: f64,
    /// Open-loop rate, asked and achieved.
    pub rate: Rate,
    /// Latency (µs): from the intended send time in the open loop.
    pub latency_us: Summary,
    /// Latency (µs) from the actual send time; open loop only.
    pub latency_uncorrected_us: Option<Summary>,
    /// Errors by cause.
    pub errors: Errors,
    /// loadgen's own CPU use.
    pub cpu: Cpu,
    /// Traffic mode.
    pub mode: String,
    /// Message size.
    pub size: usize,
    /// Messages in flight per connection.
    pub pipeline: usize,
    /// Worker threads.
    pub threads: usize,
    /// Ctrl-C ended the run early.
    pub interrupted: bool,
    /// Reasons this run failed (non-zero exit); empty when all is well.
    pub problems: Vec<String>,
    /// Things worth knowing that are not failures.
    pub notes: Vec<String>,
}

fn per_sec(n: f64, secs: f64) -> f64 {
    if secs > 0.0 {
        n / secs
    } else {
        0.0
    }
}

impl Report {
    /// Builds the report of a run.
    pub fn from_run(r: &RunResult) -> Self {
        let cfg = &r.cfg;
        let secs = r.duration.as_secs_f64();
        let bytes = r.messages * cfg.size as u64;
        let achieved = per_sec(r.messages as f64, secs);
        let open_loop = cfg.rate.is_some();
        let mut report = Report {
            connections: Connections {
                asked: cfg.connections,
                established: r.established,
                open_at_end: r.open_at_end,
                connect_us: ConnectSummary::of(&r.connect),
                sources: r
                    .per_source
                    .iter()
                    .map(|&(addr, established)| SourceCount { addr, established })
                    .collect(),
            },
            duration_s: secs,
            messages: r.messages,
            bytes,
            messages_per_sec: achieved,
            mb_per_sec: per_sec(bytes as f64, secs) / 1e6,
            rate: Rate {
                asked: cfg.rate,
                achieved,
                sustained: cfg.rate.map(|asked| achieved >= asked * SUSTAINED_SHARE),
                unsent: r.unsent,
            },
            latency_us: Summary::of(&r.corrected),
            latency_uncorrected_us: open_loop.then(|| Summary::of(&r.uncorrected)),
            errors: r.errors,
            cpu: Cpu {
                user_s: r.cpu.user.as_secs_f64(),
                sys_s: r.cpu.sys.as_secs_f64(),
                percent: per_sec(
                    (r.cpu.user + r.cpu.sys).as_secs_f64(),
                    r.cpu_wall.as_secs_f64(),
                ) * 100.0,
            },
            mode: format!("{:?}", cfg.mode).to_lowercase(),
            size: cfg.size,
            pipeline: cfg.pipeline,
            threads: cfg.threads,
            interrupted: r.interrupted,
            problems: Vec::new(),
            notes: Vec::new(),
        };
        report.judge(cfg.mode, cfg.messages);
        report
    }

    /// Fills `problems` and `notes`.
    pub fn judge(&mut self, mode: Mode, messages: Option<u64>) {
        let c = &self.connections;
        if c.established < c.asked {
            self.problems.push(format!(
                "only {} of {} connections were established",
                c.established, c.asked
            ));
        }
        if self.errors.total > 0 {
            self.problems.push(format!(
                "{} errors: {}",
                self.errors.total,
                self.errors.summary()
            ));
        }
        if mode != Mode::Idle && self.messages == 0 && !self.interrupted {
            self.problems
                .push("no message was echoed in the measured window".to_string());
        }
        if let (Some(asked), Some(false)) = (self.rate.asked, self.rate.sustained) {
            self.notes.push(format!(
                "rate NOT sustained: asked {asked:.0} msg/s, achieved {:.0} msg/s ({:.0}%)",
                self.rate.achieved,
                100.0 * self.rate.achieved / asked
            ));
        }
        if self.rate.unsent > 0 {
            self.notes.push(format!(
                "{} messages fell due but were never sent (the server fell behind); \
                 their wait until the end of the run is in the corrected latency",
                self.rate.unsent
            ));
        }
        if let Some(n) = messages {
            if self.messages < n && !self.interrupted {
                self.problems.push(format!(
                    "--messages {n}: only {} verified before the run ended",
                    self.messages
                ));
            }
        }
        if self.interrupted {
            self.notes
                .push("interrupted by Ctrl-C: report covers what was measured".to_string());
        }
    }

    /// Whether the run passed (exit code 0).
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}
