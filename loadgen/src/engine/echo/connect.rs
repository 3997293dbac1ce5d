//! Connecting: the connect phase (ramped, bounded concurrency) and the
//! start of every connect, including those of churn and reconnects later.

use std::net::IpAddr;
use std::time::Instant;

use mio::{Interest, Token};

use super::timers::{Timer, TimerKind};
use super::Worker;
use crate::engine::echo::conn::State;
use crate::engine::errors::classify;
use crate::engine::net;
use crate::engine::tls::Stream;
use crate::engine::worker::{Connector, Ramp, MAX_WAIT};

impl Worker {
    /// Opens this worker's connections, at most `MAX_CONNECTING` at a time
    /// and at its share of `--connect-rate`.
    pub(super) fn connect_phase(&mut self) {
        let mut ramp = Ramp::new(&self.core.cfg, self.conns.len());
        while !self.core.shared.stopped() {
            let now = Instant::now();
            let mut wait = MAX_WAIT;
            ramp.start_due(self, now, &mut wait);
            self.run_timers(now, None);
            if ramp.started_all() && self.core.connecting == 0 {
                break;
            }
            if let Some(at) = self.timers.next() {
                wait = wait.min(at.saturating_duration_since(now));
            }
            self.poll_once(wait, None);
        }
    }
}

impl Connector for Worker {
    fn connecting(&self) -> usize {
        self.core.connecting
    }

    /// Starts connecting connection `i` (a new socket, a new generation)
    /// with a connect-timeout timer.
    fn start_connect(&mut self, i: usize, now: Instant) {
        let role = self.conns[i].role;
        let from: Option<IpAddr> = role.source.map(|s| self.core.cfg.sources[s]);
        let to = self.core.cfg.targets[role.target];
        let tls = self.core.cfg.tls.as_ref();
        let result = net::start_connect(to, from)
            .and_then(|tcp| Stream::new(tcp, tls, role.target))
            .and_then(|mut stream| {
                self.core.poll.registry().register(
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
                self.core.connecting += 1;
                self.timers.push(Timer {
                    at: now + self.core.cfg.connect_timeout,
                    conn: i,
                    generation: conn.generation,
                    kind: TimerKind::ConnectTimeout,
                });
            }
            Err(e) => self.connect_failed(i, classify(&e), now),
        }
    }
}
