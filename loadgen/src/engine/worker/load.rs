//! The load loop of every worker, one for all modes: from the start to
//! the end of the measured window it switches to measuring after the
//! warmup, hands the coordinator a sample each second, runs the mode's
//! timers, fires the open-loop sends that fell due, and polls. What the
//! traffic of a mode does at each step is behind [`Load`].

use std::time::{Duration, Instant};

use crossbeam::channel::Sender;

use super::{Core, OpenLoop, Window, INTERVAL};
use crate::engine::shared::Sample;

/// The traffic of one mode, as the load loop drives it.
pub trait Load {
    /// The worker's common state.
    fn core(&mut self) -> &mut Core;
    /// Whether the worker has nothing more to do before the end (all its
    /// connections gone for good, `--messages` reached).
    fn done(&self) -> bool {
        false
    }
    /// Handles the mode's timers due at `now`; returns when the next one
    /// is due.
    fn run_timers(&mut self, _now: Instant) -> Option<Instant> {
        None
    }
    /// Open loop: queues the send due at `due` on the worker's sender
    /// number `sender`.
    fn send_due(&mut self, sender: usize, due: Instant);
    /// Waits up to `wait` for events and handles them.
    fn poll_once(&mut self, wait: Duration);
    /// Hands the coordinator the sample of second `index`, `length` long
    /// (`messages` replaces the count of completed messages when given).
    fn send_sample(
        &mut self,
        samples: &Sender<Sample>,
        index: u64,
        length: Duration,
        messages: Option<u64>,
    );
}

/// Drives `load` until the end of `window` (or a stop, or `done`), with
/// the open-loop schedule when there is one; returns when sending
/// stopped.
pub fn drive(
    load: &mut impl Load,
    window: &mut Window,
    mut open_loop: Option<OpenLoop>,
    samples: &Sender<Sample>,
) -> Instant {
    loop {
        let now = Instant::now();
        load.core().measure_from(now, window.warm_end);
        if window.over(now) || load.core().shared.stopped() || load.done() {
            return Instant::now();
        }
        let measuring = load.core().rec.measuring;
        if let Some(tick) = window.sample_due(now, measuring) {
            load.send_sample(samples, tick, INTERVAL, None);
        }
        let next_timer = load.run_timers(now);
        let mut wait = window.wait(now, measuring);
        if let Some(at) = next_timer {
            wait = wait.min(at.saturating_duration_since(now));
        }
        if let Some(schedule) = open_loop.as_mut() {
            schedule.fire(now, &mut wait, |sender, due| load.send_due(sender, due));
        }
        let polled = Instant::now();
        load.poll_once(wait);
        let core = load.core();
        core.pause = core.pause.max(polled.elapsed().saturating_sub(wait));
    }
}
