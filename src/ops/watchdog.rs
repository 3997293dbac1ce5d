//! The stall watchdog: a thread that looks at every shard's heartbeat and
//! warns about a loop round still running past the stall threshold,
//! naming the shard, how long it has run, and the callback it is in.
//!
//! A round that ends past the threshold is counted and logged by its shard
//! (see `shard/round.rs`); the watchdog is for the round that does not end
//! soon, or ever: a handler blocked on a lock, a socket or a sleep. Of the
//! two, whoever sees a stalled round first reports it (the heartbeat's
//! claim), so each stall gives one warning.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::core::log_limit::RateLimit;
use crate::hub::handle::ServerHandle;
use crate::hub::heartbeat::millis;
use crate::hub::heartbeat::Busy;

/// A round still stalled is reported again this often.
const REMIND_EVERY: Duration = Duration::from_secs(10);

/// Shortest and longest time between two looks.
const PERIOD_RANGE: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(1));

/// The running watchdog thread; dropping it stops the thread.
pub(crate) struct Watchdog {
    /// Asks the thread to end.
    stop: Arc<AtomicBool>,
    /// The thread.
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching every shard of `handle` for rounds longer than
    /// `threshold`. It looks twice per threshold: a stall is reported
    /// between 1 and 1.5 thresholds after its round began.
    ///
    /// # Errors
    ///
    /// The thread could not be started.
    pub(crate) fn start(handle: ServerHandle, threshold: Duration) -> io::Result<Self> {
        let period = (threshold / 2).clamp(PERIOD_RANGE.0, PERIOD_RANGE.1);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("esockets-watchdog".into())
            .spawn(move || {
                let mut watches: Vec<Watch> =
                    (0..handle.shards()).map(|_| Watch::default()).collect();
                while !stopping.load(Ordering::Relaxed) {
                    thread::park_timeout(period);
                    for (shard, watch) in watches.iter_mut().enumerate() {
                        watch.look(&handle, shard, threshold);
                    }
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            // It cannot panic: it only reads atomics and logs.
            let _ = thread.join();
        }
    }
}

/// What the watchdog remembers of one shard.
#[derive(Default)]
struct Watch {
    /// The stalled round it reported last (its beat word), and how long
    /// that round had run at the last report.
    reported: Option<(u64, Duration)>,
    /// One warning per second at most, for this shard.
    limit: RateLimit,
}

impl Watch {
    /// Looks at shard `shard`: a round past `threshold` is reported once,
    /// then again every [`REMIND_EVERY`] while it lasts.
    fn look(&mut self, handle: &ServerHandle, shard: usize, threshold: Duration) {
        let Some(busy) = handle
            .hub()
            .heartbeat(shard)
            .and_then(|heartbeat| heartbeat.busy())
        else {
            return;
        };
        if busy.running < threshold {
            return;
        }
        match self.reported {
            Some((beat, last)) if beat == busy.beat => {
                if busy.running >= last + REMIND_EVERY {
                    self.reported = Some((beat, busy.running));
                    warn(shard, &busy, threshold, 0, "still stalled");
                }
            }
            _ => {
                // The shard may have ended the round and reported it
                // itself a moment ago.
                let claimed = handle
                    .hub()
                    .heartbeat(shard)
                    .is_some_and(|heartbeat| heartbeat.claim_stall(busy.beat));
                if !claimed {
                    return;
                }
                self.reported = Some((busy.beat, busy.running));
                if let Some(suppressed) = self.limit.allow(Instant::now()) {
                    warn(shard, &busy, threshold, suppressed, "stalled");
                }
            }
        }
    }
}

/// The warning about a round still running.
fn warn(shard: usize, busy: &Busy, threshold: Duration, suppressed: u64, what: &str) {
    let running_ms = millis(u64::try_from(busy.running.as_nanos()).unwrap_or(u64::MAX));
    let threshold_ms = millis(u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX));
    let doing = busy.activity.name();
    tracing::warn!(
        shard,
        running_ms,
        threshold_ms,
        doing,
        suppressed,
        "shard {shard} {what}: its loop round has run {running_ms} ms so far (stall threshold \
         {threshold_ms} ms), in {doing}; its clients wait meanwhile"
    );
}
