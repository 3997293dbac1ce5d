//! Handling poll events: finishing connects, reading and checking echoes,
//! queueing and writing messages.

use std::time::{Duration, Instant};

use super::timers::{Timer, TimerKind};
use super::Worker;
use crate::engine::echo::conn::{ReadEnd, State, Traffic};
use crate::engine::errors::Cause;
use crate::engine::fault::Fault;
use crate::engine::net;
use crate::engine::worker::{connect_step, Connect, Ready};

impl Worker {
    /// Waits up to `wait` for events and handles them.
    pub(super) fn poll_once(&mut self, wait: Duration, traffic: Option<&Traffic<'_>>) {
        let Some(events) = self.core.wait(wait) else {
            return;
        };
        for event in events.iter() {
            let i = event.token().0;
            if i < self.conns.len() {
                let ready = Ready::of(event);
                self.conns[i].peer_closed |= ready.peer_closed;
                self.service(i, traffic, ready.readable);
            }
        }
        self.core.restore(events);
    }

    /// Advances connection `i`: finishes its connect, reads and checks
    /// echoes, replaces it when its lifetime is over, queues and writes
    /// messages.
    pub(super) fn service(&mut self, i: usize, traffic: Option<&Traffic<'_>>, readable: bool) {
        match self.conns[i].state {
            State::Connecting(since) => {
                let Some(stream) = self.conns[i].stream.as_ref() else {
                    return;
                };
                let connected = net::connect_result(stream.tcp());
                let (conn, buf) = (&mut self.conns[i], &mut self.core.buf);
                match connect_step(connected, || conn.upgrade(buf)) {
                    Connect::Up => {
                        self.core.connecting -= 1;
                        self.established(i, since, Instant::now());
                        // Traffic may already be flowing (late connect);
                        // frames may have come with the upgrade, or
                        // plaintext with the TLS handshake's last read.
                        let early = self.conns[i].ws.is_some()
                            || self.conns[i].stream.as_ref().is_some_and(|s| s.is_tls());
                        self.service(i, traffic, readable || early);
                    }
                    Connect::Pending => {}
                    Connect::Failed(cause) => self.connect_failed(i, cause, Instant::now()),
                }
            }
            State::Open => {
                let measuring = self.core.rec.measuring;
                let conn = &mut self.conns[i];
                let mut result = Ok(());
                if readable {
                    match conn.read(&mut self.core.buf, &self.pattern, &mut self.core.rec) {
                        Ok(ReadEnd::Drained) => {}
                        Ok(ReadEnd::Throttled(at)) if !conn.resume_pending => {
                            conn.resume_pending = true;
                            self.timers.push(Timer {
                                at,
                                conn: i,
                                generation: conn.generation,
                                kind: TimerKind::ReadResume,
                            });
                        }
                        Ok(ReadEnd::Throttled(_)) => {} // its timer is set
                        Err(fault) => result = Err(fault),
                    }
                }
                let now = Instant::now();
                if result.is_ok() {
                    if conn.expired && conn.quiet() && traffic.is_some() {
                        self.churn_close(i, now);
                        return;
                    }
                    if let Some(t) = traffic {
                        conn.fill(t, now, measuring);
                    }
                    result = conn.flush();
                }
                if let Err(fault) = result {
                    self.fail(i, fault, now);
                }
            }
            State::Waiting | State::Dead => {}
        }
    }

    /// Connection `i` failed while open: count why and what was in flight,
    /// and reconnect later when `--reconnect` asks for it.
    pub(super) fn fail(&mut self, i: usize, fault: Fault, now: Instant) {
        let cause = fault.cause();
        self.count(i, cause, 1);
        let lost = self.conns[i].kill();
        self.count(i, Cause::Lost, lost);
        self.core.went_down();
        if self.retrying() && self.core.cfg.reconnect && cause.is_disconnect() {
            if self.core.rec.measuring {
                self.life.disconnects += 1;
            }
            self.conns[i].down_since = Some(now);
            self.schedule_retry(i, now);
        }
    }
}
