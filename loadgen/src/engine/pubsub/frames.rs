//! What a pub/sub worker does with each frame the server sends: answer
//! its `AUTH`, confirm subscriptions (with their positions), check and
//! time deliveries (placing positioned ones by offset), count replies to
//! publishes, `MISSED` notices and errors; anything a connection should
//! not get is a mismatch.

use std::time::{Duration, Instant};

use super::client::Role;
use super::payload;
use super::recovery::Placed;
use super::verify::Seen;
use super::wire::Frame;
use super::worker::Worker;
use crate::engine::recorder::Stamp;
use crate::front::plan::topic_index;
use crate::front::pubsub_args::RecoverMode;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned()
}

impl Worker {
    /// Handles one frame received on connection `i` at `now`.
    pub(super) fn on_frame(&mut self, i: usize, frame: Frame<'_>, now: Instant) {
        match frame {
            Frame::Missed(n) => {
                self.counts.missed += n;
                self.counts.missed_notices += 1;
            }
            Frame::Error(reply) => {
                self.counts.server_errors += 1;
                if self.counts.first_server_error.is_none() {
                    self.counts.first_server_error = Some(text(reply));
                }
                let client = &mut self.clients[i];
                if client.authenticating {
                    // The server closes it after a refused token.
                    client.authenticating = false;
                    self.counts.auth_refused += 1;
                    return;
                }
                match client.role {
                    Role::Subscriber(_) => {
                        client.subs.pending.pop_front();
                    }
                    Role::Publisher(_) => client.awaiting = client.awaiting.saturating_sub(1),
                }
            }
            Frame::Delivery { topic, payload } => self.on_delivery(i, topic, payload, now),
            Frame::Ok | Frame::Position { .. } | Frame::Subscribed(_) | Frame::Receivers(_) => {
                self.on_reply(i, frame, now)
            }
            Frame::Other(what) => {
                self.mismatch(i, || format!("unexpected frame '{}'", text(what)));
            }
        }
    }

    /// A success reply: a subscription confirmed, or a publish answered.
    fn on_reply(&mut self, i: usize, frame: Frame<'_>, now: Instant) {
        let client = &mut self.clients[i];
        if client.authenticating && frame == Frame::Ok {
            client.authenticating = false;
            self.counts.auth_accepted += 1;
            return;
        }
        match (client.role, frame) {
            (Role::Subscriber(_), Frame::Ok | Frame::Position { .. } | Frame::Subscribed(_)) => {
                let Some((topic, asked)) = client.subs.pending.pop_front() else {
                    return self.mismatch(i, || "a confirmation nobody asked for".into());
                };
                if let Frame::Subscribed(name) = frame {
                    if topic_index(name) != Some(topic) {
                        return self.mismatch(i, || {
                            format!("confirmed '{}', asked for topic {topic}", text(name))
                        });
                    }
                }
                if !client.subs.topics.contains(&topic) {
                    client.subs.topics.push(topic);
                    self.subscribe.saturating_record(
                        (now.saturating_duration_since(asked).as_nanos() as u64).max(1),
                    );
                }
                let position = match frame {
                    Frame::Position { offset, epoch } => Some((offset, epoch)),
                    _ => None,
                };
                self.confirmed(i, topic, position);
                self.check_caught_up(i, now);
            }
            (Role::Publisher(_), Frame::Ok | Frame::Receivers(_)) if client.awaiting > 0 => {
                client.awaiting -= 1;
                self.counts.acknowledged += 1;
                if let Frame::Receivers(n) = frame {
                    self.counts.receivers += n.max(0) as u64;
                }
            }
            _ => self.mismatch(i, || "a reply nobody asked for".into()),
        }
    }

    /// A delivery: check where it came from and its place in its stream,
    /// then time it.
    fn on_delivery(&mut self, i: usize, topic: &[u8], body: &[u8], now: Instant) {
        let Role::Subscriber(s) = self.clients[i].role else {
            return self.mismatch(i, || "a delivery to a publisher".into());
        };
        if !self.plan.verified(s) {
            return self.on_counted_delivery(i, body);
        }
        let Some(t) = topic_index(topic) else {
            return self.mismatch(i, || {
                format!("a delivery on unknown topic '{}'", text(topic))
            });
        };
        let subs = &self.clients[i].subs;
        if !subs.topics.contains(&t) && !subs.pending.iter().any(|&(p, _)| p == t) {
            return self.mismatch(i, || format!("a delivery on topic {t}, not subscribed"));
        }
        let mut placed = Placed::Live;
        let mut body = body;
        if self
            .plan
            .recovery
            .is_some_and(|r| r.mode == RecoverMode::Since)
        {
            let Some((offset, rest)) = super::wire::positioned(body) else {
                return self.mismatch(i, || {
                    format!(
                        "a delivery without an offset on topic {t}: '{}'",
                        text(body)
                    )
                });
            };
            placed = self.place(i, t, offset);
            body = rest;
        }
        let Some(h) = payload::parse(body, self.core.cfg.size, self.core.cfg.payload) else {
            return self.mismatch(i, || format!("a corrupt payload '{}'", text(body)));
        };
        if h.topic != t || !self.plan.publishes_to(h.publisher, t) {
            return self.mismatch(i, || {
                format!(
                    "payload of publisher {} for topic {} delivered on topic {t}",
                    h.publisher, h.topic
                )
            });
        }
        let seen = self.clients[i]
            .subs
            .streams
            .entry((h.publisher, t))
            .or_default()
            .see(h.seq);
        match seen {
            Seen::Duplicate => {
                self.counts.duplicates += 1;
                return;
            }
            Seen::Late => self.counts.out_of_order += 1,
            Seen::Resumed(skipped) => {
                self.counts.skipped += skipped;
                // Accounted for, so the drain does not wait for them.
                self.unshared_delivered += skipped;
            }
            Seen::InOrder => {}
        }
        self.counts.delivered += 1;
        self.unshared_delivered += 1;
        self.check_caught_up(i, now);
        if placed != Placed::Live {
            // Replayed: published while its subscriber was away, timed by
            // the recovery, not as a delivery.
            return;
        }
        if h.intended_ns >= self.warm_ns {
            let epoch = self.ps.epoch;
            let stamp = Stamp {
                intended: epoch + Duration::from_nanos(h.intended_ns),
                sent: epoch + Duration::from_nanos(h.sent_ns),
                measured: true,
            };
            if self.core.rec.record(stamp, now, 0) {
                let target = self.target(i);
                self.core.per_target[target].messages += 1;
            }
        }
    }

    /// A delivery to a subscriber that is only counted (`--verify-every`):
    /// its header says whether it falls in the window; nothing else is
    /// checked.
    fn on_counted_delivery(&mut self, i: usize, body: &[u8]) {
        let Some((h, _)) = payload::parse_header(body, self.core.cfg.size) else {
            return self.mismatch(i, || format!("a corrupt payload '{}'", text(body)));
        };
        self.clients[i].subs.counted += 1;
        self.counts.delivered += 1;
        self.unshared_delivered += 1;
        let epoch = self.ps.epoch;
        let stamp = Stamp {
            intended: epoch + Duration::from_nanos(h.intended_ns),
            sent: epoch + Duration::from_nanos(h.sent_ns),
            measured: h.intended_ns >= self.warm_ns,
        };
        if self.core.rec.count(stamp) {
            let target = self.target(i);
            self.core.per_target[target].messages += 1;
        }
    }
}
