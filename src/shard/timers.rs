//! Firing timers: the shard's own deadlines, and every client timer in
//! the wheel (idle checks, close deadlines, linger checks, the handler's).

use std::time::Instant;

use super::Shard;
use crate::core::client::Phase;
use crate::core::context::TimerTask;
use crate::core::wheel::TimerKey;
use crate::handler::context::ShardContext;
use crate::handler::{Conn, Handler};
use crate::hub::close_reason::CloseReason;
use crate::hub::heartbeat::Activity;
use crate::hub::id::ConnId;

/// The shard's own deadlines (not tied to a client).
#[derive(Default)]
pub(super) struct Deadlines {
    /// Accepting is paused until then (descriptor exhaustion).
    pub(super) accept_resume: Option<Instant>,
    /// Next `on_tick`.
    pub(super) tick: Option<Instant>,
    /// Shutdown began; every client is closed by then.
    pub(super) shutdown: Option<Instant>,
    /// Shutdown's grace (`Config::shutdown_grace`): clients are served as
    /// usual until then, or until none is left; then closing all begins.
    pub(super) grace: Option<Instant>,
}

impl Deadlines {
    /// Pauses accepting until `until`.
    pub(super) fn pause_accept(&mut self, until: Instant) {
        self.accept_resume = Some(until);
    }

    /// Whether accepting is paused at `now`.
    pub(super) fn accept_paused(&self, now: Instant) -> bool {
        self.accept_resume.is_some_and(|until| now < until)
    }

    /// Whether shutdown began.
    pub(super) fn shutting_down(&self) -> bool {
        self.shutdown.is_some()
    }

    /// Whether no deadline is set.
    pub(super) fn is_empty(&self) -> bool {
        self.accept_resume.is_none()
            && self.tick.is_none()
            && self.shutdown.is_none()
            && self.grace.is_none()
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        [self.accept_resume, self.tick, self.grace, self.shutdown]
            .into_iter()
            .flatten()
            .min()
    }
}

impl<H: Handler> Shard<H> {
    /// Acts on every deadline and timer that has passed.
    pub(super) fn fire_timers(&mut self) {
        if self.cx.wheel.is_empty() && self.deadlines.is_empty() {
            return; // the usual case for a plain echo: nothing to look at
        }
        let now = self.cx.now();
        if !self.cx.wheel.is_empty() {
            self.cx.wheel.expire(self.cx.now_tick());
            // One at a time: a callback of one may still cancel another due
            // at the same moment (`ShardContext::cancel_timer`), in O(1).
            while let Some((key, task)) = self.cx.wheel.pop_due() {
                self.fire(key, task);
                self.apply_deferred();
            }
        }
        if self.deadlines.accept_resume.is_some_and(|at| at <= now) {
            self.deadlines.accept_resume = None;
            self.resume_accept();
        }
        if let Some(at) = self.deadlines.tick.filter(|&at| at <= now) {
            let period = self.config.tick.unwrap_or_default();
            // Next tick a period after this one was due; skipped ticks (a
            // round that ran long) are not made up.
            self.deadlines.tick = Some((at + period).max(now));
            self.cx.enter(Activity::OnTick);
            self.handler.on_tick(&mut ShardContext::new(&mut self.cx));
            self.apply_deferred();
        }
        if self
            .deadlines
            .grace
            .is_some_and(|at| at <= now || self.clients.is_empty())
        {
            self.begin_closing_all();
        }
        if self.deadlines.shutdown.is_some_and(|at| at <= now) {
            self.sweep = None;
            self.close_all(CloseReason::Shutdown);
        }
    }

    /// Runs one fired timer.
    fn fire(&mut self, timer: TimerKey, task: TimerTask) {
        match task {
            TimerTask::Handler { owner, tag, layer } => self.fire_handler_timer(owner, tag, layer),
            TimerTask::AwaitingHeader(key) => self.header_timed_out(key, timer),
            TimerTask::Handshake(key) => self.handshake_timed_out(key, timer),
            TimerTask::Client(id) => {
                let Some(key) = self.key(id) else { return };
                let Some(client) = self.clients.get_mut(key) else {
                    return;
                };
                if client.timer != timer {
                    return; // replaced since; the current one is still set
                }
                client.timer = TimerKey::NONE;
                match client.io.phase {
                    Phase::Open => self.check_idle(key),
                    Phase::Closing(reason) | Phase::Failed(reason) => self.close_now(key, reason),
                    Phase::Lingering(reason) => self.check_lingering(key, reason),
                }
            }
        }
    }

    /// A handler timer fired: call `on_timer` if its client is still here.
    fn fire_handler_timer(&mut self, owner: ConnId, tag: u64, layer: bool) {
        let Some(key) = self.key(owner) else { return };
        let limit = self.config.output_limit;
        let Some(client) = self.clients.get_mut(key) else {
            return; // the client closed: its timers never fire
        };
        if !client.io.is_open() {
            return;
        }
        let mut conn = Conn::new(owner, &mut client.io, limit, &mut self.stats, 0);
        self.cx.enter(Activity::OnTimer);
        let mut cx = ShardContext::new(&mut self.cx);
        if layer {
            self.handler
                .on_layer_timer(&mut cx, &mut conn, &mut client.state, tag);
        } else {
            self.handler
                .on_timer(&mut cx, &mut conn, &mut client.state, tag);
        }
        self.settle(key);
    }

    /// Gives an open client its own idle timeout, counting from now.
    pub(super) fn set_idle(&mut self, key: crate::core::slots::Key, idle: u32) {
        let now = self.cx.now_tick();
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if !client.io.is_open() {
            return; // its one timer is the close deadline now
        }
        client.io.idle = idle;
        client.io.clock = now as u32;
        if let Some(timeout) = client.io.idle_timeout(self.idle_ticks) {
            self.arm(key, now + u64::from(timeout));
        }
    }

    /// The idle timer of an open client fired: close it if nothing arrived
    /// for the idle timeout and none of our output is on its way to it,
    /// else set the timer for when that would be.
    fn check_idle(&mut self, key: crate::core::slots::Key) {
        let now = self.cx.now_tick();
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        let Some(idle) = client.io.idle_timeout(self.idle_ticks) else {
            return; // turned off for this client since the timer was set
        };
        let quiet = (now as u32).wrapping_sub(client.io.clock);
        if quiet >= idle && client.io.output_in_flight() {
            // Still taking our output (a slow reader's window opens in
            // large steps, so its progress cannot be seen from here): not
            // idle. A reader that stopped is bounded by the output limit
            // and dropped by `user_timeout`.
            client.io.clock = now as u32;
            return self.arm(key, now + u64::from(idle));
        }
        if quiet >= idle {
            client.io.begin_close(CloseReason::IdleTimeout);
            self.settle(key);
        } else {
            self.arm(key, now + u64::from(idle - quiet));
        }
    }
}
