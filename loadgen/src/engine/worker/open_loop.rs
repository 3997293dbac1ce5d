//! The open-loop schedule of one worker: send `f` is due at
//! `start + f × step`, on the worker's sender `f mod count`. Sends that
//! fall due are fired; the poll then waits until the next one, woken on
//! time by the [`Pacer`] (a `timerfd`), or does not sleep at all when the
//! next send is closer than a wake-up takes.

use std::time::{Duration, Instant};

use mio::Registry;

use super::pacer::Pacer;

/// A send due sooner than this is waited for by polling without sleeping:
/// a timer wake-up takes about 50 µs on the machines measured, so at high
/// rates (sends closer together than that) sleeping would make every send
/// late by a wake-up. Spinning happens only then: at 20k msg/s (50 µs
/// apart) the loop still sleeps between sends.
const SPIN_BELOW: Duration = Duration::from_micros(40);

/// Extra poll timeout beyond an armed pacer's instant: the pacer wakes the
/// poll; the timeout only guards against a timer that never fires.
const FALLBACK_SLACK: Duration = Duration::from_millis(2);

/// One worker's open-loop schedule and where it has got to.
#[derive(Debug)]
pub struct OpenLoop {
    start: Instant,
    step_ns: f64,
    count: u64,
    /// Sends fired so far.
    fired: u64,
    /// The send the pacer is armed for.
    armed_for: Option<Instant>,
    /// Without one (no timerfd) the poll's millisecond timeout wakes it.
    pacer: Option<Pacer>,
}

impl OpenLoop {
    /// Send `f` due at `start + f × step_ns` on sender `f mod count`
    /// (`count` at least 1), with a pacer registered in `registry`.
    pub fn new(start: Instant, step_ns: f64, count: u64, registry: &Registry) -> Self {
        Self {
            start,
            step_ns,
            count: count.max(1),
            fired: 0,
            armed_for: None,
            pacer: Pacer::new(registry).ok(),
        }
    }

    /// Fires every send due at `now`: `send(sender, due)` for each, in
    /// order; then shortens `wait` to the next send (arming the pacer).
    pub fn fire(
        &mut self,
        now: Instant,
        wait: &mut Duration,
        mut send: impl FnMut(usize, Instant),
    ) {
        loop {
            let due = self.start + Duration::from_nanos((self.fired as f64 * self.step_ns) as u64);
            if due > now {
                let until = due - now;
                if until < SPIN_BELOW {
                    // Sooner than a timer wake-up takes here: poll
                    // without sleeping until it falls due.
                    *wait = Duration::ZERO;
                } else if until < *wait {
                    *wait = until;
                    if let Some(p) = &self.pacer {
                        // Armed: the poll wakes on time; its own
                        // (millisecond) timeout is only a fallback. Still
                        // armed for this send: no new syscall.
                        if self.armed_for == Some(due) || p.arm(until).is_ok() {
                            self.armed_for = Some(due);
                            *wait = until + FALLBACK_SLACK;
                        }
                    }
                }
                return;
            }
            send((self.fired % self.count) as usize, due);
            self.fired += 1;
        }
    }
}
