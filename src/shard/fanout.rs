//! Fan-out on the shard: the one place where a payload for many clients
//! (a publish to a topic's subscribers, or a payload for everyone) reaches
//! this shard's clients, whichever way it came in, with one slow-subscriber
//! policy; and sending this round's publishes to the other shards.

use bytes::Bytes;

use super::Shard;
use crate::config::SlowSubscribers;
use crate::core::slots::Key;
use crate::core::topics::Due;
use crate::handler::Handler;
use crate::hub::events::Event;
use crate::hub::fanout::{Audience, Fanout};
use crate::hub::inbox::Order;

/// Publishes waiting for one other shard whose inbox is full, at most;
/// past it they are dropped and counted (`lost_fanout`).
const OUTBOUND_BACKLOG: usize = 1 << 16;

/// Bytes of deliveries held for one client before they are written
/// without waiting for the end of the round.
const HOLD_LIMIT: usize = 64 * 1024;

/// Clients a round's flush writes, at most ([`Shard::flush_held`]): past
/// it the rest wait for the next round, first held first written, and
/// keep gathering deliveries for the same write meanwhile. Measured
/// (docs/benchmarks.md, "Fan-out pacing: measured"): 1.3 to 2x the
/// deliveries per second, shorter tails at 1,000 subscribers and in
/// rooms, a longer one at 10,000 in one topic; it does not bound a round's
/// length (the inbox's fan-out dominates those rounds).
pub(super) const FLUSH_BUDGET: usize = 1024;

impl<H: Handler> Shard<H> {
    /// Delivers `fanout` to this shard's clients it is for: a topic's
    /// subscribers get the payload framed once by the handler
    /// ([`Handler::frame_delivery`]) and shared; everyone gets it byte for
    /// byte.
    pub(super) fn fan_out(&mut self, fanout: &Fanout) {
        let mut keys = std::mem::take(&mut self.subscribers);
        match &fanout.audience {
            Audience::Topic(topic) => {
                // Copied out: queuing may close a subscriber, which
                // changes the set.
                let mut due = std::mem::take(&mut self.due);
                self.cx
                    .topics
                    .due(topic, fanout.offset, fanout.reset, &mut keys, &mut due);
                self.deliver_framed(&keys, topic, &fanout.payload);
                if !due.is_empty() {
                    self.deliver_positioned(&due, topic, fanout);
                }
                due.clear();
                self.due = due;
            }
            Audience::Everyone => {
                keys.extend((0..self.clients.capacity()).filter_map(|i| self.clients.key_at(i)));
                for &key in &keys {
                    self.deliver_to(key, &fanout.payload);
                }
            }
        }
        keys.clear();
        self.subscribers = keys;
    }

    /// Delivers a publish to `topic` to the subscribers `keys`, each
    /// variant of its framing ([`Handler::delivery_variant`]) made once,
    /// at its first subscriber, and shared.
    fn deliver_framed(&mut self, keys: &[Key], topic: &[u8], payload: &Bytes) {
        if keys.is_empty() {
            return;
        }
        let mut framings = std::mem::take(&mut self.framings);
        for &key in keys {
            let Some(client) = self.clients.get(key) else {
                continue;
            };
            let variant = self.handler.delivery_variant(&client.state);
            let at = match framings.iter().position(|(v, _)| *v == variant) {
                Some(at) => at,
                None => {
                    let framed = self.handler.frame_variant(topic, payload, variant);
                    framings.push((variant, framed));
                    framings.len() - 1
                }
            };
            self.deliver_to(key, &framings[at].1);
        }
        framings.clear();
        self.framings = framings;
    }

    /// Delivers a publish at `fanout.offset` to positioned subscribers,
    /// framed with its offset once per variant and shared. A subscriber
    /// sent less than the offset before it first gets the publishes in
    /// between, from the history (they reached the history before this
    /// one got its offset, but this shard after it): each offset once, in
    /// order.
    fn deliver_positioned(&mut self, due: &[Due<Key>], topic: &[u8], fanout: &Fanout) {
        let mut framings = std::mem::take(&mut self.framings);
        for &Due { client: key, after } in due {
            let Some(client) = self.clients.get(key) else {
                continue;
            };
            let variant = self.handler.delivery_variant(&client.state);
            if after + 1 < fanout.offset {
                let until = fanout.offset - 1;
                let gap = self
                    .cx
                    .handle
                    .hub()
                    .histories()
                    .between(topic, after, until);
                let unfilled = (until - after).saturating_sub(gap.len() as u64);
                self.cx.events.add(Event::Unfilled, unfilled);
                for (offset, payload) in gap {
                    let framed = self
                        .handler
                        .frame_positioned(topic, offset, &payload, variant);
                    self.deliver_to(key, &framed);
                }
            }
            let at = match framings.iter().position(|(v, _)| *v == variant) {
                Some(at) => at,
                None => {
                    let framed = self.handler.frame_positioned(
                        topic,
                        fanout.offset,
                        &fanout.payload,
                        variant,
                    );
                    framings.push((variant, framed));
                    framings.len() - 1
                }
            };
            self.deliver_to(key, &framings[at].1);
        }
        framings.clear();
        self.framings = framings;
    }

    /// Queues `payload` for one client, unless it is a slow subscriber
    /// under [`SlowSubscribers::Drop`].
    fn deliver_to(&mut self, key: Key, payload: &Bytes) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if self.config.slow_subscribers == SlowSubscribers::Drop
            && client.io.out.len() > self.config.output_high_water
        {
            self.stats.dropped_slow += 1;
            self.cx.topics.note_missed(key);
            return;
        }
        self.stats.delivered += 1;
        let newly_held =
            client
                .io
                .hold_bytes(payload.clone(), self.config.output_limit, &mut self.stats);
        // A delivery that would pass the output limit fails the client:
        // listed too, so the end-of-round flush settles (closes) it even
        // if no event ever comes from it again (a reader that stopped).
        if newly_held || (client.io.failure().is_some() && !client.io.held()) {
            client.io.mark_held();
            self.held.push(key);
        }
        // Holding is for coalescing small deliveries, not for queuing
        // much: past a modest amount, write now (the client stays listed
        // for the end-of-round flush), so the queue's length keeps saying
        // how far behind the client really is.
        if client.io.out.len() >= HOLD_LIMIT.min(self.config.output_high_water) {
            client.io.flush(&mut self.stats);
        }
    }

    /// Flushes up to `budget` of the clients that deliveries were held
    /// for, in the order they were held: one `write` (or `writev`) per
    /// client however many messages it got. The others stay held, ahead
    /// of any held meanwhile, for the next round (counted in
    /// `flushes_carried_over`); a client keeps getting deliveries while it
    /// waits, and they leave in the same write.
    pub(super) fn flush_held(&mut self, budget: usize) {
        let mut held = std::mem::take(&mut self.held);
        let now = held.len().min(budget);
        for &key in &held[..now] {
            let Some(client) = self.clients.get_mut(key) else {
                continue;
            };
            client.io.release();
            if client.io.failure().is_none() {
                client.io.flush(&mut self.stats);
            }
            self.settle(key);
        }
        held.drain(..now);
        if !held.is_empty() {
            self.stats.flushes_carried_over += 1;
        }
        // Those left first, then any a callback run by `settle` held; the
        // memory is kept.
        held.append(&mut self.held);
        self.held = held;
    }

    /// Sends each other shard this round's publishes for it, one order
    /// per shard. A full inbox keeps them for the next round (in order,
    /// behind nothing newer); past [`OUTBOUND_BACKLOG`] they are lost and
    /// counted.
    pub(super) fn send_outbound(&mut self) {
        if !std::mem::take(&mut self.cx.outbound_queued) && !self.outbound_pending {
            return;
        }
        self.outbound_pending = false;
        for shard in 0..self.cx.outbound.len() {
            if self.cx.outbound[shard].is_empty() {
                continue;
            }
            let batch = std::mem::take(&mut self.cx.outbound[shard]);
            let Err(Order::Fanout(batch)) = self.cx.handle.hub().offer(shard, Order::Fanout(batch))
            else {
                continue;
            };
            if batch.len() > OUTBOUND_BACKLOG {
                self.stats.lost_fanout += batch.len() as u64;
                let hub = self.cx.handle.hub();
                if hub.credit().pay_back(shard, batch.len()) {
                    hub.wake_waiting();
                }
                let now = self.cx.now();
                if let Some(suppressed) = self.warnings.fanout_lost.allow(now) {
                    tracing::warn!(
                        shard = self.index,
                        to = shard,
                        lost = batch.len(),
                        suppressed,
                        "publishes lost: the other shard's inbox stayed full"
                    );
                }
                continue;
            }
            self.cx.outbound[shard] = batch;
            self.outbound_pending = true;
        }
    }

    /// Drops the subscriptions of a client that is leaving.
    pub(super) fn unsubscribe_all(&mut self, key: Key) {
        self.cx.unsubscribe_all(key);
    }
}
