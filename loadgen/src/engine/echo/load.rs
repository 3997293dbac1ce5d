//! The load phase of an echo-style worker: its traffic (closed loop, or
//! the open-loop schedule) for the shared load loop (`EchoLoad`, driven
//! by `engine::worker::drive`), the drain, and the final count.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::Sender;

use super::{Worker, WorkerReport};
use crate::engine::echo::conn::{Pace, State, Traffic};
use crate::engine::errors::Cause;
use crate::engine::net;
use crate::engine::shared::Sample;
use crate::engine::worker::{drive, Core, Load, OpenLoop, Window, MAX_WAIT};
use crate::front::cli::Mode;

impl Worker {
    fn pace(&self, start: Instant) -> Pace {
        match self.core.cfg.rate {
            None => Pace::Closed,
            Some(rate) => {
                let senders_total: u64 = self
                    .core
                    .cfg
                    .groups
                    .iter()
                    .filter(|g| g.kind == crate::front::shape::GroupKind::Active)
                    .map(|g| g.connections)
                    .sum();
                let count = self.senders.len().max(1) as u64;
                let worker_rate = rate * count as f64 / senders_total.max(1) as f64;
                let step_ns = 1e9 / worker_rate;
                let offset = step_ns * self.core.index as f64 / self.core.cfg.threads as f64;
                Pace::Open {
                    start: start + Duration::from_nanos(offset as u64),
                    step_ns,
                    count,
                }
            }
        }
    }

    /// Sets lifetimes of the connections opened in the connect phase and
    /// schedules reconnects of those that failed there.
    fn begin_load(&mut self, start: Instant) {
        self.loading = true;
        for i in 0..self.conns.len() {
            match self.conns[i].state {
                State::Open => self.schedule_expiry(i, start, true),
                State::Dead if self.core.cfg.reconnect => {
                    // Dropped before the load began (or never connected):
                    // brought back from the start.
                    if self.conns[i].ever_open && self.core.rec.measuring {
                        self.life.disconnects += 1;
                    }
                    self.conns[i].down_since = Some(start);
                    self.schedule_retry(i, start);
                }
                _ => {}
            }
        }
    }

    /// Drives traffic from `start` to the end of the measured window, then
    /// drains; returns when sending stopped.
    pub(super) fn load_phase(&mut self, start: Instant, samples: &Sender<Sample>) -> Instant {
        let cfg = Arc::clone(&self.core.cfg);
        let shared = Arc::clone(&self.core.shared);
        let pattern = self.pattern.clone();
        let mut window = Window::new(start, &cfg);
        let warm_end = window.warm_end;
        let traffic = Traffic {
            pattern: &pattern,
            pipeline: cfg.pipeline,
            pace: self.pace(start),
            tickets: shared.tickets.as_ref(),
        };
        let sending = cfg.mode != Mode::Idle && !self.senders.is_empty();
        // The open loop wakes on a nanosecond timer.
        let open_loop = match traffic.pace {
            Pace::Open {
                start,
                step_ns,
                count,
            } if sending => Some(OpenLoop::new(
                start,
                step_ns,
                count,
                self.core.poll.registry(),
            )),
            _ => None,
        };
        self.core.rec.measuring = cfg.warmup.is_zero();
        self.begin_load(start);
        for i in 0..self.conns.len() {
            self.service(i, Some(&traffic), false);
        }
        let window_end = drive(
            &mut EchoLoad {
                w: self,
                traffic: &traffic,
            },
            &mut window,
            open_loop,
            samples,
        );
        self.loading = false;
        // Outages still going on at the end count too (up to the end of
        // the measured window), or a server that never came back would
        // show no downtime at all.
        if self.core.rec.measuring {
            for conn in &self.conns {
                if let Some(down) = conn.down_since {
                    let from = down.max(warm_end);
                    self.life
                        .still_down(window_end.saturating_duration_since(from));
                }
            }
        }
        if let Pace::Open {
            start,
            step_ns,
            count,
        } = traffic.pace
        {
            self.record_unsent(start, step_ns, count, warm_end, window_end);
        }
        let in_window = self.core.rec.interval_messages;
        self.drain();
        if self.core.rec.measuring {
            // The last, partial second ends with the window. Echoes that
            // arrive during the drain are in its histograms (and the
            // interval log), not in its message count: with many messages
            // in flight they would show as a burst of throughput.
            let (tick, length) = window.last(window_end);
            self.send_sample(samples, tick, length, Some(in_window));
        }
        window_end
    }

    /// Records every measured message that fell due on the open-loop
    /// schedule but was never sent (see `Recorder::record_unsent`).
    fn record_unsent(
        &mut self,
        start: Instant,
        step_ns: f64,
        count: u64,
        warm_end: Instant,
        window_end: Instant,
    ) {
        for conn in &self.conns {
            for seq in conn.unsent() {
                let slot = (seq * count + conn.role.slot) as f64 * step_ns;
                let intended = start + Duration::from_nanos(slot as u64);
                if intended >= warm_end && intended < window_end {
                    self.core.rec.record_unsent(intended, window_end);
                }
            }
        }
    }

    fn out_of_tickets(&self, traffic: &Traffic<'_>) -> bool {
        match traffic.tickets {
            Some(t) if t.load(Ordering::Relaxed) == 0 => {
                self.conns.iter().all(|c| c.in_flight() == 0)
            }
            _ => false,
        }
    }

    /// Hands the coordinator this interval's sample; `messages` replaces
    /// the count of completed messages when given.
    fn send_sample(
        &mut self,
        samples: &Sender<Sample>,
        index: u64,
        length: Duration,
        messages: Option<u64>,
    ) {
        let connects = self.life.connects - self.connects_mark;
        self.connects_mark = self.life.connects;
        self.core
            .send_sample(samples, index, length, messages, connects);
    }

    /// Waits (bounded) for the echoes of messages still in flight.
    fn drain(&mut self) {
        let deadline = Instant::now() + self.core.cfg.drain_timeout;
        loop {
            let now = Instant::now();
            if now >= deadline || self.conns.iter().all(|c| c.in_flight() == 0) {
                return;
            }
            // Slow readers resume on timers; nothing is sent or replaced.
            self.run_timers(now, None);
            let mut wait = MAX_WAIT.min(deadline - now);
            if let Some(at) = self.timers.next() {
                wait = wait.min(at.saturating_duration_since(now));
            }
            self.poll_once(wait, None);
        }
    }

    /// Counts what never came back, checks which connections are still
    /// open, closes everything with a reset.
    pub(super) fn finish(mut self, window_end: Instant) -> WorkerReport {
        let mut open_at_end = 0;
        for i in 0..self.conns.len() {
            let role = self.conns[i].role;
            self.core.per_target[role.target].messages += self.conns[i].completed;
            self.per_group[role.group].messages += self.conns[i].completed;
            match self.conns[i].state {
                State::Open => {}
                State::Connecting(_) => {
                    self.conns[i].kill();
                    continue;
                }
                _ => continue,
            }
            let alive = self.conns[i]
                .stream
                .as_ref()
                .is_some_and(|s| net::still_open(s.tcp()));
            if alive {
                open_at_end += 1;
                self.core.per_target[role.target].open_at_end += 1;
                self.per_group[role.group].open_at_end += 1;
            } else {
                self.count(i, Cause::Closed, 1);
            }
            let lost = self.conns[i].kill();
            // Unanswered on a connection the server kept open: swallowed.
            let cause = if alive {
                Cause::Unanswered
            } else {
                Cause::Lost
            };
            self.count(i, cause, lost);
            self.core.shared.open.fetch_sub(1, Ordering::Relaxed);
        }
        WorkerReport {
            recorder: self.core.rec,
            connect: self.core.connect,
            errors: self.core.errors,
            established: self.core.established,
            open_at_end,
            per_source: self.core.per_source,
            per_target: self.core.per_target,
            per_group: self.per_group,
            life: self.life,
            window_end,
        }
    }
}

/// An echo-style worker in its load phase, with the traffic it sends.
struct EchoLoad<'a, 't> {
    w: &'a mut Worker,
    traffic: &'a Traffic<'t>,
}

impl Load for EchoLoad<'_, '_> {
    fn core(&mut self) -> &mut Core {
        &mut self.w.core
    }

    /// All of this worker's connections failed and none comes back, or
    /// `--messages` is reached and nothing is in flight.
    fn done(&self) -> bool {
        let (w, cfg) = (&self.w, &self.w.core.cfg);
        let dead =
            w.core.live == 0 && w.core.connecting == 0 && !cfg.reconnect && cfg.lifetime.is_none();
        dead || w.out_of_tickets(self.traffic)
    }

    fn run_timers(&mut self, now: Instant) -> Option<Instant> {
        self.w.run_timers(now, Some(self.traffic));
        self.w.timers.next()
    }

    fn send_due(&mut self, sender: usize, due: Instant) {
        let w = &mut *self.w;
        let i = w.senders[sender];
        let before = w.conns[i].sent();
        w.conns[i].owed += 1;
        w.service(i, Some(self.traffic), false);
        if w.conns[i].sent() > before {
            w.core
                .rec
                .record_pacing(Instant::now().saturating_duration_since(due));
        }
    }

    fn poll_once(&mut self, wait: Duration) {
        self.w.poll_once(wait, Some(self.traffic));
    }

    fn send_sample(
        &mut self,
        samples: &Sender<Sample>,
        index: u64,
        length: Duration,
        messages: Option<u64>,
    ) {
        self.w.send_sample(samples, index, length, messages);
    }
}
