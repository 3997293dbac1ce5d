//! Judging a report: what makes a run fail (`problems`, non-zero exit) and
//! what is worth a note (`notes`).

use crate::engine::errors::Cause;
use crate::reports::report::Report;

/// Open loop: sends later than this at p99 mean loadgen cannot keep its
/// own schedule (µs).
pub const PACING_LATE_US: f64 = 1_000.0;
/// Closed loop: loadgen busier than this share of its threads may itself
/// be the bottleneck.
pub const BUSY_SHARE: f64 = 0.9;

impl Report {
    /// Fills `problems` and `notes`; `messages` is `--messages`,
    /// `min_open` the fewest connections that must be open at the end
    /// (`None`: no minimum).
    pub fn judge(&mut self, messages: Option<u64>, min_open: Option<u64>) {
        let c = &self.connections;
        if c.established < c.asked {
            self.problems.push(format!(
                "only {} of {} connections were established",
                c.established, c.asked
            ));
        }
        let short = min_open.filter(|&min| c.open_at_end < min);
        if let Some(min) = short {
            let asked = if min < c.asked {
                format!(" (--min-open {min})")
            } else {
                String::new()
            };
            self.problems.push(format!(
                "only {} of {} connections were open at the end{asked}",
                c.open_at_end, c.asked
            ));
        }
        let reconnecting = self.reconnect.is_some();
        let churning = self.churn.is_some();
        if self.errors.total > 0 {
            // With --reconnect, a server going away is what is measured:
            // disconnects and failed connects are reported, not failures.
            // Wrong bytes always fail a run.
            let tolerated: u64 = Cause::ALL
                .iter()
                .filter(|c| reconnecting && c.is_disconnect())
                .map(|c| match c {
                    Cause::Closed => self.errors.closed,
                    Cause::Reset => self.errors.reset,
                    Cause::Refused => self.errors.refused,
                    Cause::ConnectTimeout => self.errors.connect_timeout,
                    Cause::Lost => self.errors.lost,
                    Cause::Unanswered => 0,
                    Cause::AddrNotAvailable => self.errors.addr_not_available,
                    Cause::Other => self.errors.other,
                    Cause::Mismatch | Cause::Handshake | Cause::Protocol => 0,
                })
                .sum();
            let line = format!("{} errors: {}", self.errors.total, self.errors.summary());
            if tolerated < self.errors.total {
                self.problems.push(line);
            } else if short.is_some() {
                // Not ridden out: connections are missing at the end.
                self.notes.push(line);
            } else {
                self.notes
                    .push(format!("{line} (ridden out with --reconnect)"));
            }
        }
        let sends = self
            .shape
            .groups
            .iter()
            .any(|g| g.kind == crate::front::shape::GroupKind::Active && g.connections > 0);
        if sends && self.messages == 0 && !self.interrupted {
            self.problems.push(if self.is_pubsub() {
                "no delivery in the measured window".to_string()
            } else {
                "no message was echoed in the measured window".to_string()
            });
        }
        if let Some(pubsub) = &self.pubsub {
            pubsub.judge(&mut self.problems, &mut self.notes);
        }
        if let (Some(asked), Some(false)) = (self.rate.asked, self.rate.sustained) {
            let what = if self.is_pubsub() {
                "publish rate"
            } else {
                "rate"
            };
            self.notes.push(format!(
                "{what} NOT sustained: asked {asked:.0} msg/s, achieved {:.0} msg/s ({:.0}%)",
                self.rate.achieved,
                100.0 * self.rate.achieved / asked
            ));
        }
        if let Some(unsent) = self.rate.unsent.filter(|&n| n > 0) {
            self.notes.push(format!(
                "{unsent} messages fell due but were never sent (the server fell behind); \
                 their wait until the end of the run is in the corrected latency"
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
        if let Some(churn) = &self.churn {
            if churn.asked_per_sec > 0.0 && churn.connects_per_sec < churn.asked_per_sec * 0.9 {
                self.notes.push(format!(
                    "churn NOT sustained: asked {:.0} connects/s, achieved {:.0}",
                    churn.asked_per_sec, churn.connects_per_sec
                ));
            }
        }
        self.bottleneck_notes();
        for stall in &self.stalls {
            self.notes.push(stall.text.clone());
        }
        if churning && self.connections.open_at_end < self.connections.asked {
            self.notes.push(format!(
                "{} connections were between a close and their replacement at the end",
                self.connections.asked - self.connections.open_at_end
            ));
        }
        if self.interrupted {
            self.notes
                .push("interrupted by Ctrl-C: report covers what was measured".to_string());
        }
    }

    /// Notes when loadgen itself, not the server, may have limited the run.
    fn bottleneck_notes(&mut self) {
        if let Some(p) = &self.pacing {
            if p.lag_us.p99 > PACING_LATE_US {
                self.notes.push(format!(
                    "loadgen fell behind its own send schedule (p99 {:.0} us late): loadgen may \
                     be the bottleneck; add --threads or load machines",
                    p.lag_us.p99
                ));
            }
            return;
        }
        if let Some(cpu) = &self.cpu {
            if cpu.percent >= 100.0 * BUSY_SHARE * self.threads as f64 {
                self.notes.push(format!(
                    "loadgen used {:.0}% of one core with {} threads: it may be the \
                     bottleneck; add --threads or load machines",
                    cpu.percent, self.threads
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::histo::{new_histogram, Summary};
    use crate::reports::hdrlog::{LogData, LogInterval};
    use crate::reports::report::{Cpu, Pacing, Report};

    const BOTTLENECK: &str = "may be the bottleneck";

    /// A healthy closed-loop report of 1000 echoed messages on `threads`
    /// threads (built by merging one interval log, the shortest way to a
    /// whole report), with loadgen at `cpu_percent` of one core.
    fn report(threads: usize, cpu_percent: f64) -> Report {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.saturating_record(v * 1000);
        }
        let mut log = LogData::default();
        log.meta.insert("size".into(), "64".into());
        log.meta.insert("rate".into(), "none".into());
        log.intervals.push(LogInterval {
            tag: None,
            start_s: 0.0,
            length_s: 1.0,
            histogram: h,
        });
        let mut r = crate::reports::merge::merge_logs(&[log]).report;
        r.threads = threads;
        r.cpu = Some(Cpu {
            user_s: 0.0,
            sys_s: 0.0,
            percent: cpu_percent,
            us_per_message: None,
        });
        r.notes.clear();
        r.problems.clear();
        r
    }

    /// The same report as an open-loop run whose sends were `p99_us`
    /// late at p99.
    fn open_loop(p99_us: f64) -> Report {
        let mut r = report(2, 50.0);
        r.rate.asked = Some(r.rate.achieved);
        r.rate.sustained = Some(true);
        r.pacing = Some(Pacing {
            lag_us: Summary {
                p50: p99_us / 10.0,
                p99: p99_us,
                max: p99_us,
                ..Summary::default()
            },
        });
        r
    }

    fn judged(mut r: Report) -> Report {
        r.judge(None, None);
        r
    }

    fn says_bottleneck(r: &Report) -> bool {
        r.notes.iter().any(|n| n.contains(BOTTLENECK))
    }

    #[test]
    fn busy_loadgen_in_the_closed_loop_is_noted() {
        // 2 threads: 90 % of them is 180 % of one core.
        let r = judged(report(2, 185.0));
        assert!(says_bottleneck(&r), "{:?}", r.notes);
        assert!(r.ok(), "a note, not a failure: {:?}", r.problems);
        let r = judged(report(2, 170.0));
        assert!(!says_bottleneck(&r), "{:?}", r.notes);
    }

    #[test]
    fn late_sends_in_the_open_loop_are_noted() {
        let r = judged(open_loop(2.0 * super::PACING_LATE_US));
        assert!(says_bottleneck(&r), "{:?}", r.notes);
        assert!(r.ok(), "a note, not a failure: {:?}", r.problems);
        let r = judged(open_loop(super::PACING_LATE_US / 10.0));
        assert!(!says_bottleneck(&r), "{:?}", r.notes);
    }

    #[test]
    fn fewer_open_at_the_end_than_asked_fails_unless_allowed() {
        let mut r = report(2, 50.0);
        r.connections.asked = 200;
        r.connections.established = 200;
        r.connections.open_at_end = 155;
        let mut all = report(2, 50.0);
        all.connections = r.connections.clone();
        all.judge(None, Some(200));
        assert!(!all.ok(), "{:?}", all.notes);
        assert!(
            all.problems
                .iter()
                .any(|p| p.contains("only 155 of 200 connections were open at the end")),
            "{:?}",
            all.problems
        );
        r.judge(None, Some(150));
        assert!(r.ok(), "--min-open 150 allows 155: {:?}", r.problems);
        // With --reconnect the disconnects are notes, "ridden out" only
        // when the connections came back.
        let mut gone = report(2, 50.0);
        gone.connections = all.connections.clone();
        gone.errors.add(crate::engine::errors::Cause::Closed, 45);
        gone.reconnect = Some(crate::reports::report::ReconnectReport {
            disconnects: 45,
            reconnects: 0,
            failed: crate::engine::errors::Errors::default(),
            downtime_s: 1.0,
            longest_outage_s: 1.0,
        });
        gone.judge(None, Some(200));
        assert!(!gone.ok(), "{:?}", gone.notes);
        assert!(
            gone.notes.iter().all(|n| !n.contains("ridden out")),
            "{:?}",
            gone.notes
        );
        let mut none = report(2, 50.0);
        none.connections = all.connections.clone();
        none.judge(None, None);
        assert!(none.ok(), "no minimum: {:?}", none.problems);
    }

    #[test]
    fn a_healthy_report_gets_no_bottleneck_note() {
        let r = judged(report(2, 50.0));
        assert!(r.ok(), "{:?}", r.problems);
        assert!(r.notes.is_empty(), "{:?}", r.notes);
    }
}
