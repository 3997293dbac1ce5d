//! Connections coming and going: established, failed connects, lifetimes
//! over (churn), reconnects with backoff, and the timers behind them.

use std::time::{Duration, Instant};

use rand::Rng;

use super::timers::{Timer, TimerKind};
use super::Worker;
use crate::engine::echo::conn::{State, Traffic};
use crate::engine::errors::Cause;
use crate::engine::lifecycle::next_backoff;
use crate::engine::worker::Connector;

impl Worker {
    /// Whether failed connections are brought back now: only during the
    /// load, not in the connect phase nor the drain.
    pub(super) fn retrying(&self) -> bool {
        self.loading
    }

    /// Connection `i` connected after starting at `since`.
    pub(super) fn established(&mut self, i: usize, since: Instant, now: Instant) {
        let took = (now.saturating_duration_since(since).as_nanos() as u64).max(1);
        if !self.loading {
            self.core.connect.saturating_record(took);
        } else if self.core.rec.measuring {
            self.life.connect_time.saturating_record(took);
            self.life.connects += 1;
        }
        let size = self.core.cfg.size;
        let conn = &mut self.conns[i];
        conn.opened(now, size);
        conn.backoff = Duration::ZERO;
        let role = conn.role;
        let first = !conn.ever_open;
        conn.ever_open = true;
        if let Some(down) = conn.down_since.take() {
            if self.core.rec.measuring {
                self.life.back_up(now.saturating_duration_since(down));
            }
        }
        if first {
            self.per_group[role.group].established += 1;
        }
        self.core.came_up(first, role.source, role.target);
        if self.loading {
            self.schedule_expiry(i, now, false);
        }
    }

    /// A connect of connection `i` failed with `cause`.
    pub(super) fn connect_failed(&mut self, i: usize, cause: Cause, now: Instant) {
        if matches!(self.conns[i].state, State::Connecting(_)) {
            self.core.connecting -= 1;
        }
        self.conns[i].kill();
        self.count(i, cause, 1);
        if self.retrying() {
            self.life.failed.add(cause, 1);
            if self.core.cfg.reconnect || self.core.cfg.lifetime.is_some() {
                self.conns[i].down_since.get_or_insert(now);
                self.schedule_retry(i, now);
            }
        }
    }

    /// Closes connection `i`, whose lifetime is over and which has nothing
    /// in flight, and connects it again at once.
    pub(super) fn churn_close(&mut self, i: usize, now: Instant) {
        self.conns[i].kill();
        self.core.went_down();
        if self.core.rec.measuring {
            self.life.closes += 1;
        }
        self.start_connect(i, now);
    }

    /// Sets connection `i`'s lifetime timer (churn), if lifetimes are on.
    /// `initial`: the connection was opened before the load began, so it
    /// gets a uniformly random share of a lifetime; this spreads the
    /// closes evenly from the start instead of in one wave. Later
    /// lifetimes count from the previous expiry, not from the reconnect,
    /// so each connection slot closes once per lifetime and the close rate
    /// is the one asked as long as reconnecting is quicker than a
    /// lifetime (if not, the connection expires at once and the shortfall
    /// shows as "churn NOT sustained").
    pub(super) fn schedule_expiry(&mut self, i: usize, now: Instant, initial: bool) {
        let Some((lo, hi)) = self.core.cfg.lifetime else {
            return;
        };
        let mut life = if hi > lo {
            self.rng.gen_range(lo..=hi)
        } else {
            lo
        };
        if initial {
            life = life.mul_f64(self.rng.gen_range(0.0..1.0));
        }
        // Behind by more than a lifetime (a long reconnect): catch up by
        // one expiry, not by a burst.
        let from = match self.conns[i].expires_at {
            Some(previous) if !initial => previous.max(now.checked_sub(life).unwrap_or(now)),
            _ => now,
        };
        let at = (from + life).max(now);
        self.conns[i].expires_at = Some(from + life);
        self.timers.push(Timer {
            at,
            conn: i,
            generation: self.conns[i].generation,
            kind: TimerKind::Expire,
        });
    }

    /// Reconnects connection `i` after its backoff, spread by ±50 % so
    /// that connections dropped together (a server restart) do not all
    /// come back in the same millisecond and overflow its listen queue.
    pub(super) fn schedule_retry(&mut self, i: usize, now: Instant) {
        let jitter = self.rng.gen_range(0.5..1.5);
        let conn = &mut self.conns[i];
        conn.backoff = next_backoff(conn.backoff);
        self.timers.push(Timer {
            at: now + conn.backoff.mul_f64(jitter),
            conn: i,
            generation: conn.generation,
            kind: TimerKind::Retry,
        });
    }

    /// Handles every timer due at `now`.
    pub(super) fn run_timers(&mut self, now: Instant, traffic: Option<&Traffic<'_>>) {
        while let Some(t) = self.timers.pop_due(now) {
            let conn = &mut self.conns[t.conn];
            if conn.generation != t.generation {
                continue;
            }
            match (t.kind, conn.state) {
                (TimerKind::Expire, State::Open) => {
                    conn.expired = true;
                    if conn.quiet() && traffic.is_some() {
                        self.churn_close(t.conn, now);
                    }
                }
                (TimerKind::ConnectTimeout, State::Connecting(_)) => {
                    self.connect_failed(t.conn, Cause::ConnectTimeout, now);
                }
                (TimerKind::Retry, State::Dead) if self.retrying() => {
                    self.start_connect(t.conn, now);
                }
                (TimerKind::ReadResume, State::Open) => {
                    self.conns[t.conn].resume_pending = false;
                    self.service(t.conn, traffic, true);
                }
                _ => {}
            }
        }
    }
}
