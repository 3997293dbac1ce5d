//! Connecting: the connect phase (ramped, bounded concurrency) and the
//! start of every connect, including those of churn and reconnects later.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use mio::{Interest, Token};

use super::timers::{Timer, TimerKind};
use super::{Worker, MAX_CONNECTING, MAX_WAIT};
use crate::engine::echo::conn::State;
use crate::engine::errors::classify;
use crate::engine::net;

impl Worker {
    /// Opens this worker's connections, at most `MAX_CONNECTING` at a time
    /// and at its share of `--connect-rate`.
    pub(super) fn connect_phase(&mut self) {
        let n = self.conns.len();
        let rate = self.cfg.connect_rate as f64 / self.cfg.threads as f64;
        let t0 = Instant::now();
        let mut next = 0usize;
        while !self.shared.stopped() {
            let now = Instant::now();
            let mut wait = MAX_WAIT;
            while next < n && self.connecting < MAX_CONNECTING {
                if rate > 0.0 {
                    let due = t0 + Duration::from_secs_f64(next as f64 / rate);
                    if due > now {
                        wait = wait.min(due - now);
                        break;
                    }
                }
                self.start_connect(next, now);
                next += 1;
            }
            self.run_timers(now, None);
            if next >= n && self.connecting == 0 {
                break;
            }
            if let Some(at) = self.timers.next() {
                wait = wait.min(at.saturating_duration_since(now));
            }
            self.poll_once(wait, None);
        }
    }

    /// Starts connecting connection `i` (a new socket, a new generation)
    /// with a connect-timeout timer.
    pub(super) fn start_connect(&mut self, i: usize, now: Instant) {
        let role = self.conns[i].role;
        let from: Option<IpAddr> = role.source.map(|s| self.cfg.sources[s]);
        let to = self.cfg.targets[role.target];
        let result = net::start_connect(to, from).and_then(|mut stream| {
            self.poll.registry().register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        let conn = &mut self.conns[i];
        conn.generation = conn.generation.wrapping_add(1);
        conn.resume_pending = false;
        match result {
            Ok(stream) => {
                conn.stream = Some(stream);
                conn.state = State::Connecting(now);
                self.connecting += 1;
                self.timers.push(Timer {
                    at: now + self.cfg.connect_timeout,
                    conn: i,
                    generation: conn.generation,
                    kind: TimerKind::ConnectTimeout,
                });
            }
            Err(e) => self.connect_failed(i, classify(&e), now),
        }
    }
}
