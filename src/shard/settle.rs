//! Bringing a client's registration, backpressure, timer and closing in
//! line with its state, after anything touched it.

use mio::{Interest, Token};

use super::Shard;
use crate::core::client::Phase;
use crate::core::context::TimerTask;
use crate::core::slots::Key;
use crate::handler::Handler;

impl<H: Handler> Shard<H> {
    /// Runs after anything touched the client: closes a failed one,
    /// pauses or resumes reading at the water marks, finishes a graceful
    /// close once output is flushed, and keeps WRITABLE interest exactly
    /// while output is queued.
    pub(super) fn settle(&mut self, key: Key) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        let io = &mut client.io;
        let reason = match io.phase {
            Phase::Failed(reason) => return self.close_now(key, reason),
            Phase::Lingering(_) => return, // only its end or deadline matters now
            Phase::Closing(reason) => Some(reason),
            Phase::Open => None,
        };
        let queued = io.out.len();
        if !io.paused() && queued > self.config.output_high_water {
            io.set_paused(true);
            self.stats.paused += 1;
        } else if io.paused() && queued <= self.config.output_low_water {
            io.set_paused(false);
            self.stats.paused -= 1;
            self.ready.push(key);
            self.notify_drain(key);
            return self.settle(key);
        }
        if reason.is_some() {
            if queued == 0 && !io.stream.pending() {
                return self.close_gracefully(key);
            }
            self.arm_close_deadline(key);
        }
        self.update_interest(key);
    }

    /// Registers WRITABLE interest exactly while output is queued: one
    /// `epoll_ctl` per transition, none per message.
    pub(super) fn update_interest(&mut self, key: Key) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        let want_writable = client.io.output_queued();
        if want_writable == client.io.writable_interest() {
            return;
        }
        let interest = if want_writable {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let token = Token(key.to_token());
        match client
            .io
            .stream
            .reregister(self.poll.registry(), token, interest)
        {
            Ok(()) => client.io.set_writable_interest(want_writable),
            Err(err) => self.close_now(key, crate::CloseReason::from_io(&err)),
        }
    }

    /// Sets the client's one shard timer to fire at wheel tick `at`,
    /// replacing the one it had.
    pub(super) fn arm(&mut self, key: Key, at: u64) {
        let id = self.id(key);
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if !client.timer.is_none() {
            self.cx.wheel.cancel(client.timer);
        }
        client.timer = self.cx.wheel.insert(at, TimerTask::Client(id));
    }

    /// A closing client with output still queued must be closed by the
    /// close deadline: set it once, replacing the idle timer.
    fn arm_close_deadline(&mut self, key: Key) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if client.io.deadline_armed() {
            return;
        }
        client.io.set_deadline_armed();
        // Never early: the wheel counts whole milliseconds.
        let deadline = self.cx.deadline_after(self.config.close_timeout);
        client.io.clock = deadline as u32;
        self.arm(key, deadline);
    }
}
