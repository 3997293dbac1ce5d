//! The reconnect-with-recovery shape (`--recover`): subscribers leave on
//! a schedule while the publishers go on, come back, and subscribe again
//! (`SUB t SINCE offset epoch`, or a plain `SUB t`); what a positioned
//! subscriber receives is checked offset by offset (each the one after
//! the last, none twice, none skipped), and the time from a return to
//! having everything it missed is measured.
//!
//! A subscriber leaves only if it is back before the end of the window,
//! and not while it is still catching up from its last return. Returns
//! start their connects under the same bound as the connect phase
//! ([`MAX_CONNECTING`]); the recovery time counts from when the return
//! was due, so waiting for that bound is in it.

use std::cmp::Reverse;
use std::time::Instant;

use super::client::{Position, State, Step};
use super::worker::Worker;
use crate::engine::worker::{Connector, MAX_CONNECTING};
use crate::front::pubsub_args::RecoverMode;

/// What a positioned delivery was, offset-wise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placed {
    /// The next offset, live.
    Live,
    /// The next offset, sent again after a `SINCE` (published while away).
    Replayed,
    /// Not the next offset (counted).
    Misplaced,
}

impl Worker {
    /// Schedules every subscriber's first leave, for a load starting at
    /// `start` and sending until `end`.
    pub(super) fn plan_leaves(&mut self, start: Instant, end: Instant) {
        let Some(recovery) = self.plan.recovery else {
            return;
        };
        self.load_end = end;
        for i in 0..self.clients.len() {
            if let super::client::Role::Subscriber(s) = self.clients[i].role {
                let at = start + recovery.first_leave(s, self.plan.subscribers);
                self.schedule_leave(i, at);
            }
        }
    }

    /// Schedules subscriber `i` to leave at `at`, if it can be back
    /// before the end.
    fn schedule_leave(&mut self, i: usize, at: Instant) {
        if let Some(recovery) = self.plan.recovery {
            if at + recovery.away <= self.load_end {
                self.comebacks.push(Reverse((at, i, Step::Leave)));
            }
        }
    }

    /// Runs the leaves and returns due at `now`, starts the reconnects
    /// the bound allows, and the connect timeouts; returns when the next
    /// step is due.
    pub(super) fn run_comebacks(&mut self, now: Instant) -> Option<Instant> {
        let recovery = self.plan.recovery?;
        while let Some(&Reverse((at, i, step))) = self.comebacks.peek() {
            if at > now {
                break;
            }
            self.comebacks.pop();
            match step {
                Step::Leave => {
                    let subs = &self.clients[i].subs;
                    let busy = self.clients[i].state != State::Open
                        || subs.back_since.is_some()
                        || !subs.pending.is_empty();
                    if !busy {
                        self.core.went_down();
                        self.clients[i].kill();
                        self.counts.leaves += 1;
                        self.comebacks
                            .push(Reverse((at + recovery.away, i, Step::Return)));
                    }
                    self.schedule_leave(i, at + recovery.every);
                }
                Step::Return => {
                    self.clients[i].subs.back_since = Some(at);
                    self.returning.push_back(i);
                }
            }
        }
        while self.core.connecting < MAX_CONNECTING {
            let Some(i) = self.returning.pop_front() else {
                break;
            };
            self.start_connect(i, now);
        }
        self.run_deadlines(now);
        let next = self.comebacks.peek().map(|Reverse((at, _, _))| *at);
        let deadline = self.deadlines.front().map(|&(at, _)| at);
        next.into_iter().chain(deadline).min()
    }

    /// The subscribe command for topic `topic` of subscriber `i`, as the
    /// shape asks: `None` for a plain `SUB`, `Some(None)` for `POS`,
    /// `Some(Some(position))` for a return's `SINCE`.
    pub(super) fn since(&self, i: usize, topic: u64) -> Option<Option<&Position>> {
        match self.plan.recovery?.mode {
            RecoverMode::Plain => None,
            RecoverMode::Since => Some(self.clients[i].subs.positions.get(&topic)),
        }
    }

    /// Subscriber `i`'s subscription to `topic` was confirmed at
    /// `offset` of `epoch` (`None`: a plain `+OK`).
    pub(super) fn confirmed(&mut self, i: usize, topic: u64, position: Option<(u64, &[u8])>) {
        let returning = self.clients[i].subs.back_since.is_some();
        match (position, self.plan.recovery.map(|r| r.mode)) {
            (Some((offset, epoch)), Some(RecoverMode::Since)) => {
                let subs = &mut self.clients[i].subs;
                match subs.positions.get(&topic) {
                    Some(last) if returning => {
                        if *last.epoch != *epoch {
                            let last = String::from_utf8_lossy(&last.epoch).into_owned();
                            let now = String::from_utf8_lossy(epoch).into_owned();
                            return self.mismatch(i, || {
                                format!("topic {topic} came back in epoch {now}, left in {last}")
                            });
                        }
                        if offset > last.offset {
                            self.counts.recovered += offset - last.offset;
                            subs.catching_up.push((topic, offset));
                        }
                    }
                    // A delivery that came before the confirmation set it.
                    Some(_) => {}
                    None => {
                        let epoch = epoch.into();
                        subs.positions.insert(topic, Position { offset, epoch });
                    }
                }
            }
            (_, Some(RecoverMode::Plain)) if returning => {
                let subs = &mut self.clients[i].subs;
                for p in self.plan.publishers_of(topic) {
                    subs.streams.entry((p, topic)).or_default().resume();
                }
            }
            _ => {}
        }
    }

    /// A positioned delivery at `offset` on `topic` for subscriber `i`:
    /// checks it is the next one and moves the position on.
    pub(super) fn place(&mut self, i: usize, topic: u64, offset: u64) -> Placed {
        let subs = &mut self.clients[i].subs;
        let position = subs.positions.entry(topic).or_insert(Position {
            offset: offset.saturating_sub(1),
            epoch: Box::default(),
        });
        let last = position.offset;
        if offset > last {
            position.offset = offset;
        }
        let replayed = match subs.catching_up.iter().position(|&(t, _)| t == topic) {
            Some(at) => {
                let target = subs.catching_up[at].1;
                if offset >= target {
                    subs.catching_up.swap_remove(at);
                }
                offset <= target
            }
            None => false,
        };
        if offset == last + 1 {
            return if replayed {
                Placed::Replayed
            } else {
                Placed::Live
            };
        }
        if offset > last {
            self.counts.offset_gaps += 1;
            self.mismatch(i, || {
                format!("topic {topic}: offset {offset} after {last} (a gap)")
            });
        } else {
            self.counts.offset_repeats += 1;
            self.mismatch(i, || {
                format!("topic {topic}: offset {offset} again (after {last})")
            });
        }
        Placed::Misplaced
    }

    /// Records subscriber `i`'s recovery at `now` if it is back and has
    /// everything: its subscriptions confirmed and (`since`) every topic
    /// caught up.
    pub(super) fn check_caught_up(&mut self, i: usize, now: Instant) {
        let open = self.clients[i].state == State::Open;
        let subs = &mut self.clients[i].subs;
        let Some(since) = subs.back_since else {
            return;
        };
        if !open || !subs.pending.is_empty() || !subs.catching_up.is_empty() {
            return;
        }
        subs.back_since = None;
        self.counts.recoveries += 1;
        let took = now.saturating_duration_since(since).as_nanos() as u64;
        self.recovery.saturating_record(took.max(1));
    }
}
