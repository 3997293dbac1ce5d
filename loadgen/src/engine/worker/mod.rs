//! What every worker thread does the same way, whatever the traffic of
//! its mode (the echo-style modes in `engine::echo`, pub/sub in
//! `engine::pubsub`): pinning, the connect ramp (bounded concurrency, an
//! optional rate), reading poll events, waiting for the common start, and
//! the open-loop send schedule, the clock of the measured window, and
//! the load loop itself ([`drive`]), with the traffic of each mode behind
//! [`Load`]. A mode's worker implements [`Connector`]
//! and hands its own sends to [`OpenLoop::fire`].

pub mod core;
pub mod load;
pub mod open_loop;
pub mod pacer;
pub mod window;

use std::io;
use std::time::{Duration, Instant};

use mio::event::Event;

use crate::engine::errors::{classify, Cause};
use crate::engine::fault::Fault;
use crate::engine::shared::Shared;
use crate::front::config::RunConfig;

pub use self::core::Core;
pub use load::{drive, Load};
pub use open_loop::OpenLoop;
pub use window::Window;

/// Connects in progress at once per worker (keeps SYNs under the server's
/// listen backlog).
pub const MAX_CONNECTING: usize = 256;
/// Longest poll wait, so Ctrl-C is noticed promptly.
pub const MAX_WAIT: Duration = Duration::from_millis(50);
/// One per-second sample.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Pins worker `index` to core `index mod cores` when `--pin` asks.
pub fn pin(cfg: &RunConfig, index: usize) {
    if cfg.pin {
        if let Some(ids) = core_affinity::get_core_ids() {
            if !ids.is_empty() {
                core_affinity::set_for_current(ids[index % ids.len()]);
            }
        }
    }
}

/// What one poll event says about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// There is something to read (data, or the end of the stream).
    pub readable: bool,
    /// The peer ended its side (FIN) or the socket failed: a short read
    /// is then not the end, only the end of stream is (edge-triggered
    /// polling reports a FIN once, often with the last data).
    pub peer_closed: bool,
}

impl Ready {
    /// What `event` says.
    pub fn of(event: &Event) -> Self {
        let peer_closed = event.is_read_closed() || event.is_error();
        Self {
            readable: event.is_readable() || event.is_read_closed(),
            peer_closed,
        }
    }
}

/// Where a connect in progress stands after an event on its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// Still going (TCP, or the handshake above it).
    Pending,
    /// Connected, and upgraded where there is an upgrade.
    Up,
    /// Failed, for this cause.
    Failed(Cause),
}

/// Where a connect stands: `connected` is what `net::connect_result`
/// said of its socket; once connected, `upgrade` finishes what comes
/// above TCP (the WebSocket handshake; done at once over plain TCP).
pub fn connect_step(
    connected: io::Result<bool>,
    upgrade: impl FnOnce() -> Result<bool, Fault>,
) -> Connect {
    match connected {
        Ok(true) => match upgrade() {
            Ok(true) => Connect::Up,
            Ok(false) => Connect::Pending,
            Err(fault) => Connect::Failed(fault.cause()),
        },
        Ok(false) => Connect::Pending,
        Err(e) => Connect::Failed(classify(&e)),
    }
}

/// A worker's connections as the connect ramp sees them.
pub trait Connector {
    /// Connects in progress.
    fn connecting(&self) -> usize;
    /// Starts connecting connection `i`.
    fn start_connect(&mut self, i: usize, now: Instant);
}

/// The connect phase's ramp: connection `next` starts once fewer than
/// [`MAX_CONNECTING`] are in progress and, with `--connect-rate`, once
/// its turn at this worker's share of the rate has come.
#[derive(Debug)]
pub struct Ramp {
    t0: Instant,
    /// Connects per second of this worker; 0: as fast as possible.
    rate: f64,
    next: usize,
    count: usize,
}

impl Ramp {
    /// A ramp over `count` connections, starting now.
    pub fn new(cfg: &RunConfig, count: usize) -> Self {
        Self {
            t0: Instant::now(),
            rate: cfg.connect_rate as f64 / cfg.threads as f64,
            next: 0,
            count,
        }
    }

    /// Starts every connect that is due at `now`; shortens `wait` to the
    /// next one that is not.
    pub fn start_due(&mut self, w: &mut impl Connector, now: Instant, wait: &mut Duration) {
        while self.next < self.count && w.connecting() < MAX_CONNECTING {
            if self.rate > 0.0 {
                let due = self.t0 + Duration::from_secs_f64(self.next as f64 / self.rate);
                if due > now {
                    *wait = (*wait).min(due - now);
                    break;
                }
            }
            w.start_connect(self.next, now);
            self.next += 1;
        }
    }

    /// Whether every connect has been started.
    pub fn started_all(&self) -> bool {
        self.next >= self.count
    }
}

/// Runs `poll(wait)` until the coordinator publishes the start time (or
/// the run is stopped, then: now).
pub fn await_start(shared: &Shared, mut poll: impl FnMut(Duration)) -> Instant {
    loop {
        if let Some(start) = shared.start.get() {
            return *start;
        }
        if shared.stopped() {
            return Instant::now();
        }
        poll(Duration::from_millis(5));
    }
}
