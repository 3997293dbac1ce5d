//! Pacing publishers by the other shards' delivery: a client whose
//! publish found a shard past its fan-out credit (`hub/credit.rs`) is read
//! no further until that shard is back to half the credit; and paying back
//! the credit of the publishes this shard delivered.
//!
//! What a paced client was sent still goes out, and its deliveries too:
//! only its input waits (the part its handler left unconsumed, then its
//! socket, then the kernel's buffers, until its own sends block), which is
//! what withholds the replies to its next commands. A handler that stops
//! at the publish that was paced ([`ShardContext::paced`]) has the rest of
//! its input handed back first when the client goes on. A shard never
//! waits for itself: its own subscribers get a publish in the same round,
//! before its publisher's input is read again.
//!
//! [`ShardContext::paced`]: crate::ShardContext::paced

use super::io::unconsumed;
use super::Shard;
use crate::core::slots::Key;
use crate::handler::context::ShardContext;
use crate::handler::{Conn, Handler};
use crate::hub::close_reason::CloseReason;
use crate::hub::heartbeat::Activity;

impl<H: Handler> Shard<H> {
    /// Stops reading the client `key`: a publish of its found shard
    /// `shard` past its fan-out credit.
    pub(super) fn pace(&mut self, key: Key, shard: usize) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if !client.io.is_open() {
            return; // its input is no longer handed to the handler
        }
        client.io.set_paced(true);
        self.paced.push((key, shard));
        self.stats.paced += 1;
        // Up before the credit is looked at again (`paced_may_resume`,
        // before the poll sleeps): a payment made meanwhile is seen there,
        // or it wakes this shard.
        self.cx.handle.hub().credit().wait(usize::from(self.index));
    }

    /// Whether some paced client's shard is back to half its credit: the
    /// poll must not sleep.
    pub(super) fn paced_may_resume(&self) -> bool {
        let credit = self.cx.handle.hub().credit();
        self.paced.iter().any(|&(_, shard)| credit.resumes(shard))
    }

    /// Goes on with the paced clients whose shard is back to half its
    /// credit: the input their handler left is handed back, then they are
    /// read again (on the ready list).
    pub(super) fn resume_paced(&mut self) {
        if self.paced.is_empty() {
            return;
        }
        let me = usize::from(self.index);
        let mut paced = std::mem::take(&mut self.paced);
        let credit = self.cx.handle.hub().credit();
        // Up before looking, so that a shard paying back after the look
        // wakes this one (`Credit::pay_back`).
        credit.wait(me);
        let mut resumed = Vec::new();
        paced.retain(|&(key, shard)| {
            let going_on = credit.resumes(shard);
            if going_on {
                resumed.push(key);
            }
            !going_on
        });
        if paced.is_empty() {
            credit.take_waiting(me);
        }
        self.paced = paced;
        for key in resumed {
            let Some(client) = self.clients.get_mut(key) else {
                continue;
            };
            client.io.set_paced(false);
            if !client.io.input.is_empty() {
                self.hand_back(key);
            }
            if self
                .clients
                .get(key)
                .is_some_and(|c| !c.io.reading_stopped())
            {
                self.ready.push(key);
            }
        }
    }

    /// Hands a resumed client's unconsumed input to the handler again,
    /// from its start (it holds whole commands the handler left when it
    /// was paced).
    fn hand_back(&mut self, key: Key) {
        let id = self.id(key);
        let Self {
            clients,
            handler,
            stats,
            config,
            cx,
            ..
        } = self;
        let Some(client) = clients.get_mut(key) else {
            return;
        };
        if !client.io.is_open() {
            return;
        }
        let mut input = client.io.input.take();
        let mut conn = Conn::new(id, &mut client.io, config.output_limit, stats, 0);
        cx.enter(Activity::OnData);
        let mut context = ShardContext::new(cx);
        let verdict = handler.on_data(&mut context, &mut conn, &mut client.state, &input);
        let rest = unconsumed(&mut client.io, verdict, &input).len();
        if rest > config.input_limit && client.io.is_open() && !context.paced() {
            client.io.fail(CloseReason::InputOverflow);
            input.clear();
        } else {
            input.drain(..input.len() - rest);
        }
        client.io.input.put(input);
        self.apply_then_settle(key, true);
    }

    /// Pays back the credit of the publishes this shard delivered since
    /// the last time, once their deliveries were written (the end-of-round
    /// flush); wakes the shards whose paced publishers may go on.
    pub(super) fn pay_back_credit(&mut self) {
        if !self.held.is_empty() {
            // Some deliveries wait for the next round's flush: not yet
            // written, so not yet paid back.
            return;
        }
        let delivered = std::mem::take(&mut self.credit_owed);
        if delivered == 0 {
            return;
        }
        let hub = self.cx.handle.hub();
        if hub.credit().pay_back(usize::from(self.index), delivered) {
            hub.wake_waiting();
        }
    }
}
