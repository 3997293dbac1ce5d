//! The reconnect-with-recovery part of a pub/sub report (`--recover`):
//! how many subscribers left and came back, how long they took to have
//! everything again, what was sent again or skipped, and what makes such
//! a run fail (a return that never caught up, an offset out of place).

use std::fmt::Write;

use serde::Serialize;

use crate::engine::histo::ConnectSummary;
use crate::engine::outcome::pubsub::PubsubOutcome;
use crate::front::pubsub_args::RecoverMode;
use crate::units::fmt_us;

/// The `recovery` object of a pub/sub report.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    /// `since` (recovery with `SUB t SINCE`) or `plain` (resubscribe).
    pub mode: String,
    /// Time between two leaves of one subscriber, ms.
    pub every_ms: u64,
    /// Time away, ms.
    pub away_ms: u64,
    /// All subscribers left and came back at once.
    pub together: bool,
    /// Subscribers that left (and were due back).
    pub leaves: u64,
    /// Returns that caught up.
    pub recoveries: u64,
    /// Returns that never caught up.
    pub unrecovered: u64,
    /// From a return (when it was due) to having everything it missed
    /// (`since`) or its subscriptions confirmed (`plain`), µs; `null`
    /// when none caught up.
    pub recovery_us: Option<ConnectSummary>,
    /// `since`: messages sent again after a `SINCE`.
    pub recovered_messages: u64,
    /// `plain`: deliveries skipped while their subscriber was away.
    pub skipped_while_away: u64,
    /// `since`: deliveries whose offset jumped past the next one.
    pub offset_gaps: u64,
    /// `since`: deliveries whose offset was not past the last one.
    pub offset_repeats: u64,
}

impl RecoveryReport {
    /// The section of `o`, when its run had `--recover`.
    pub fn of(o: &PubsubOutcome) -> Option<Self> {
        let r = o.plan.recovery?;
        let c = &o.counts;
        Some(Self {
            mode: match r.mode {
                RecoverMode::Since => "since",
                RecoverMode::Plain => "plain",
            }
            .to_string(),
            every_ms: r.every.as_millis() as u64,
            away_ms: r.away.as_millis() as u64,
            together: r.together,
            leaves: c.leaves,
            recoveries: c.recoveries,
            unrecovered: c.unrecovered,
            recovery_us: (!o.recovery.is_empty()).then(|| ConnectSummary::of(&o.recovery)),
            recovered_messages: c.recovered,
            skipped_while_away: c.skipped,
            offset_gaps: c.offset_gaps,
            offset_repeats: c.offset_repeats,
        })
    }

    /// Reasons the run failed, and notes.
    pub fn judge(&self, problems: &mut Vec<String>, notes: &mut Vec<String>) {
        if self.unrecovered > 0 {
            problems.push(format!(
                "{} of {} returning subscribers never caught up (a reconnect failed, a SINCE was \
                 refused, or it was still catching up at the end)",
                self.unrecovered, self.leaves
            ));
        }
        if self.offset_gaps > 0 {
            problems.push(format!(
                "{} positioned deliveries skipped an offset",
                self.offset_gaps
            ));
        }
        if self.offset_repeats > 0 {
            problems.push(format!(
                "{} positioned deliveries repeated an offset",
                self.offset_repeats
            ));
        }
        if self.leaves == 0 {
            notes.push(
                "--recover: no subscriber left (the window is shorter than --recover-every plus \
                 --recover-away)"
                    .into(),
            );
        }
    }

    /// Its line of the text table.
    pub fn render(&self, out: &mut String) {
        let time = match &self.recovery_us {
            Some(s) => format!(
                "caught up after p50 {}  p99 {}  max {}",
                fmt_us(s.p50),
                fmt_us(s.p99),
                fmt_us(s.max)
            ),
            None => "none caught up".into(),
        };
        let what = if self.mode == "since" {
            format!(
                "{} recovered, offsets: {} gaps {} repeats",
                self.recovered_messages, self.offset_gaps, self.offset_repeats
            )
        } else {
            format!("{} skipped while away", self.skipped_while_away)
        };
        let _ = writeln!(
            out,
            "recovery      {}: {} left ({}away {} ms every {} ms), {} back and caught up, {} not; \
             {time}; {what}",
            self.mode,
            self.leaves,
            if self.together { "together, " } else { "" },
            self.away_ms,
            self.every_ms,
            self.recoveries,
            self.unrecovered
        );
    }
}
