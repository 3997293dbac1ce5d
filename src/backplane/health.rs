//! What the backplane tells the operator about one of its connections to
//! Redis: a warning at once when it cannot be made (at start) or breaks, a
//! reminder while it stays down, an info line when it is back; never a
//! warning per attempt. And, for the publishing side, the local publishes
//! lost meanwhile, rate-limited.

use std::time::{Duration, Instant};

/// While Redis stays unreachable, how often a reminder is logged.
pub(super) const REMINDER: Duration = Duration::from_secs(30);

/// Publishes lost are logged at most once per this interval.
pub(super) const LOST_INTERVAL: Duration = Duration::from_secs(5);

/// What [`Health::down`] logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Said {
    /// A warning: the connection was up and broke.
    Lost,
    /// A warning: it could not be made, and never was.
    Unreachable,
    /// A warning: it is still down, a [`REMINDER`] after the last one.
    Reminder,
    /// Only a debug line: the operator was told already.
    Quiet,
}

/// The state of one connection (publishing or listening), for the log.
pub(super) struct Health {
    /// What is reached: `Redis` or `NATS`.
    engine: &'static str,
    /// `publishing` or `listening`.
    role: &'static str,
    /// Where Redis is (`host:port`).
    addr: String,
    /// Whether the connection was ever made.
    was_up: bool,
    /// Since when it is down, if it is.
    down_since: Option<Instant>,
    /// When a warning or reminder was last logged.
    last_said: Option<Instant>,
    /// Failed attempts since it went down.
    attempts: u64,
}

impl Health {
    /// A connection that was never made yet, to Redis at `client`.
    pub(super) fn new(role: &'static str, client: &redis::Client) -> Self {
        Self::to(
            "Redis",
            role,
            client.get_connection_info().addr().to_string(),
        )
    }

    /// A connection that was never made yet, to `engine` (`Redis`,
    /// `NATS`) at `addr` (a cluster's seed nodes, say).
    pub(super) fn to(engine: &'static str, role: &'static str, addr: String) -> Self {
        Self {
            engine,
            role,
            addr,
            was_up: false,
            down_since: None,
            last_said: None,
            attempts: 0,
        }
    }

    /// The connection is up (again).
    pub(super) fn up(&mut self, now: Instant) {
        let (engine, role, addr) = (self.engine, self.role, &self.addr);
        match self.down_since.take() {
            _ if !self.was_up => tracing::info!("backplane: {role} to {engine} at {addr}"),
            Some(since) => tracing::info!(
                "backplane: {role} to {engine} at {addr} again: reconnected after {:.1}s down \
                 ({} attempts)",
                now.saturating_duration_since(since).as_secs_f64(),
                self.attempts
            ),
            None => tracing::info!("backplane: {role} to {engine} at {addr} again: reconnected"),
        }
        self.was_up = true;
        self.attempts = 0;
        self.last_said = None;
    }

    /// An attempt to connect failed, or the connection broke, with `err`;
    /// `what_is_lost` says what that costs ("local publishes are counted
    /// lost").
    pub(super) fn down(
        &mut self,
        now: Instant,
        err: &dyn std::fmt::Display,
        what_is_lost: &str,
    ) -> Said {
        let (engine, role, addr) = (self.engine, self.role, &self.addr);
        self.attempts += 1;
        let Some(since) = self.down_since else {
            self.down_since = Some(now);
            self.last_said = Some(now);
            if self.was_up {
                tracing::warn!(
                    %err,
                    "backplane: lost {engine} at {addr} ({role}); {what_is_lost} until it is back; \
                     reconnecting"
                );
                return Said::Lost;
            }
            tracing::warn!(
                %err,
                "backplane: cannot reach {engine} at {addr} ({role}); {what_is_lost} until it \
                 is reachable; retrying"
            );
            return Said::Unreachable;
        };
        let due = self
            .last_said
            .is_none_or(|last| now.saturating_duration_since(last) >= REMINDER);
        if due {
            self.last_said = Some(now);
            tracing::warn!(
                %err,
                "backplane: {engine} at {addr} still unreachable ({role}) after {:.0}s and {} \
                 attempts; {what_is_lost}",
                now.saturating_duration_since(since).as_secs_f64(),
                self.attempts
            );
            Said::Reminder
        } else {
            tracing::debug!(%err, "backplane: {engine} still unreachable ({role}), retrying");
            Said::Quiet
        }
    }
}

/// Logs local publishes lost, at most once per [`LOST_INTERVAL`].
#[derive(Default)]
pub(super) struct LostReport {
    /// The lost counter when it was last logged.
    reported: u64,
    /// When that was.
    last: Option<Instant>,
}

impl LostReport {
    /// Logs the publishes lost since the last line, if any and if one is
    /// due; `lost` is the counter's value now.
    pub(super) fn note(&mut self, now: Instant, lost: u64) {
        if lost <= self.reported
            || self
                .last
                .is_some_and(|last| now.saturating_duration_since(last) < LOST_INTERVAL)
        {
            return;
        }
        tracing::warn!(
            lost = lost - self.reported,
            total_lost = lost,
            "backplane: local publishes lost, not sent to Redis (it was unreachable, or the \
             outbox was full); local subscribers got them, other processes' did not"
        );
        self.reported = lost;
        self.last = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::{Health, LostReport, Said, LOST_INTERVAL, REMINDER};
    use std::time::{Duration, Instant};

    #[test]
    fn one_warning_when_down_a_reminder_later_quiet_in_between() {
        let client = redis::Client::open("redis://127.0.0.1:1").expect("a URL");
        let err =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let start = Instant::now();
        let mut health = Health::new("listening", &client);
        assert_eq!(health.down(start, &err, "x"), Said::Unreachable);
        for n in 1..6 {
            let now = start + Duration::from_millis(100 * n);
            assert_eq!(health.down(now, &err, "x"), Said::Quiet, "attempt {n}");
        }
        assert_eq!(health.down(start + REMINDER, &err, "x"), Said::Reminder);
        assert_eq!(health.down(start + REMINDER, &err, "x"), Said::Quiet);
        health.up(start + REMINDER * 2);
        assert_eq!(health.down(start + REMINDER * 2, &err, "x"), Said::Lost);
        assert_eq!(health.down(start + REMINDER * 2, &err, "x"), Said::Quiet);
    }

    #[test]
    fn lost_publishes_are_reported_at_most_once_per_interval() {
        let start = Instant::now();
        let mut report = LostReport::default();
        report.note(start, 0);
        assert_eq!((report.reported, report.last), (0, None), "nothing lost");
        report.note(start, 2);
        assert_eq!(report.reported, 2);
        report.note(start + LOST_INTERVAL / 2, 5);
        assert_eq!(report.reported, 2, "held back");
        report.note(start + LOST_INTERVAL, 5);
        assert_eq!(report.reported, 5);
    }
}
