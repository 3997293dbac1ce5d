//! Each topic's recent past, shared by the whole server: the offset of
//! every publish (1, 2, 3, … per topic), the topic's epoch, and its last
//! publishes, so that a subscriber can recover what it missed.
//!
//! The offset is given under the topic's lock, and the publish joins the
//! history in the same step: whatever order shards then receive publishes
//! in, every offset up to the newest is in the history (unless it was
//! pushed out), which is what a shard fills a positioned subscriber's gap
//! from. Striped locks: shards publishing to different topics rarely meet.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::config::History as Limits;

/// Locks the topics are spread over.
const STRIPES: usize = 16;

/// A topic's position: its newest offset (0 before its first publish)
/// and its epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// The newest publish's offset, 0 if none.
    pub offset: u64,
    /// The token naming this run of offsets: another one means the
    /// history was lost (a restart without a shared history, or the topic
    /// pushed out), and offsets started again.
    pub epoch: Bytes,
}

/// What a recovery gets: the position it resumes from, and the publishes
/// after the offset it asked for, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The topic's position now.
    pub position: Position,
    /// Every publish after the offset asked for, with its offset, in order.
    pub missed: Vec<(u64, Bytes)>,
}

/// One publish kept.
#[derive(Debug)]
struct Entry {
    /// Its offset.
    offset: u64,
    /// When it was kept.
    at: Instant,
    /// What was published.
    payload: Bytes,
}

/// One topic's history.
#[derive(Debug)]
struct Log {
    /// Its epoch.
    epoch: Bytes,
    /// The newest offset.
    last: u64,
    /// The newest publishes, oldest first.
    entries: VecDeque<Entry>,
    /// The last publish (or creation), for pushing out the least recent.
    touched: Instant,
    /// Made here, and no publish given an offset elsewhere inserted yet.
    fresh: bool,
}

impl Log {
    /// Drops what is past the limits at `now`.
    fn trim(&mut self, limits: &Limits, now: Instant) {
        while self.entries.len() > limits.messages {
            self.entries.pop_front();
        }
        if let Some(age) = limits.max_age {
            while self
                .entries
                .front()
                .is_some_and(|e| now.saturating_duration_since(e.at) > age)
            {
                self.entries.pop_front();
            }
        }
    }

    /// The position now.
    fn position(&self) -> Position {
        Position {
            offset: self.last,
            epoch: self.epoch.clone(),
        }
    }

    /// Where the publishes after `after` begin in `entries`.
    fn index_after(&self, after: u64) -> usize {
        self.entries.partition_point(|e| e.offset <= after)
    }

    /// The publishes with offsets in `(after, until]`, oldest first.
    fn between(&self, after: u64, until: u64) -> Vec<(u64, Bytes)> {
        self.entries
            .range(self.index_after(after)..)
            .take_while(|e| e.offset <= until)
            .map(|e| (e.offset, e.payload.clone()))
            .collect()
    }

    /// Whether every publish after `after` is kept (a shared history's
    /// copy may have holes: publishes missed while Redis was away).
    fn holds_all_after(&self, after: u64) -> bool {
        let kept = self.entries.len() - self.index_after(after);
        kept as u64 == self.last.saturating_sub(after)
    }
}

/// Why a recovery was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unrecoverable {
    /// The server keeps no history.
    Off,
    /// Another epoch: the history asked about is gone.
    OtherEpoch,
    /// Some publish after the offset asked for is no longer kept (or the
    /// offset is past the newest: from another run).
    TooOld,
}

/// One lock's topics.
#[derive(Debug, Default)]
struct Stripe {
    /// Topic → its history.
    logs: HashMap<Bytes, Log>,
}

/// Every topic's history.
#[derive(Debug)]
pub(crate) struct Histories {
    /// The limits.
    limits: Limits,
    /// The topics, by a hash of their name.
    stripes: Vec<Mutex<Stripe>>,
    /// Chooses a topic's stripe, and makes epochs.
    hasher: std::collections::hash_map::RandomState,
    /// Epochs made so far (mixed into the next).
    epochs: AtomicU64,
    /// Publishes kept now, all topics (for the metrics).
    kept: AtomicU64,
    /// With a history shared through Redis, the shared history's own
    /// random token, once read from Redis: a topic's first epoch is made
    /// from it and the topic's name, the same in every process.
    generation: Mutex<Option<Bytes>>,
}

impl Histories {
    /// Histories within `limits` (none kept if they keep no message).
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            stripes: (0..STRIPES).map(|_| Mutex::default()).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            epochs: AtomicU64::new(0),
            kept: AtomicU64::new(0),
            generation: Mutex::new(None),
        }
    }

    /// The shared history's token (read from Redis), from which every
    /// process makes the same first epoch for a topic. Another token than
    /// before means Redis lost the shared history: the copy forgets every
    /// topic (their next publishes restart positioned subscribers).
    pub(crate) fn set_generation(&self, generation: Bytes) {
        let mut known = self.generation.lock();
        if known.as_ref().is_some_and(|known| *known != generation) {
            for stripe in &self.stripes {
                stripe.lock().logs.clear();
            }
            self.kept.store(0, Ordering::Relaxed);
        }
        *known = Some(generation);
    }

    /// The limits.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether any history is kept.
    pub(crate) fn enabled(&self) -> bool {
        self.limits.enabled()
    }

    /// The stripe of `topic`.
    fn stripe(&self, topic: &[u8]) -> &Mutex<Stripe> {
        &self.stripes[(self.hasher.hash_one(topic) as usize) % STRIPES]
    }

    /// A new epoch for `topic`: 16 hexadecimal digits, random per
    /// process; or, with a shared history, made from its token and the
    /// topic, the same in every process (FNV-1a).
    fn new_epoch(&self, topic: &[u8]) -> Bytes {
        if let Some(generation) = self.generation.lock().as_ref() {
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for &b in generation.iter().chain(&[0xff]).chain(topic) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            return Bytes::from(format!("{hash:016x}"));
        }
        let mut hasher = self.hasher.build_hasher();
        hasher.write_u64(self.epochs.fetch_add(1, Ordering::Relaxed));
        hasher.write_u32(std::process::id());
        Bytes::from(format!("{:016x}", hasher.finish()))
    }

    /// Runs `f` on `topic`'s log (made if it has none, pushing out the
    /// least recently published topic of its stripe past the limit).
    fn with_log<R>(&self, topic: &[u8], now: Instant, f: impl FnOnce(&mut Log) -> R) -> R {
        let mut stripe = self.stripe(topic).lock();
        if !stripe.logs.contains_key(topic) {
            let per_stripe = self.limits.topics.div_ceil(STRIPES).max(1);
            if stripe.logs.len() >= per_stripe {
                let oldest = stripe
                    .logs
                    .iter()
                    .min_by_key(|(_, log)| log.touched)
                    .map(|(topic, _)| topic.clone());
                if let Some(log) = oldest.and_then(|t| stripe.logs.remove(&t)) {
                    self.kept
                        .fetch_sub(log.entries.len() as u64, Ordering::Relaxed);
                }
            }
            let log = Log {
                epoch: self.new_epoch(topic),
                last: 0,
                entries: VecDeque::new(),
                touched: now,
                fresh: true,
            };
            stripe.logs.insert(Bytes::copy_from_slice(topic), log);
        }
        let Some(log) = stripe.logs.get_mut(topic) else {
            unreachable!("inserted above");
        };
        let before = log.entries.len();
        log.trim(&self.limits, now);
        let result = f(log);
        log.trim(&self.limits, now);
        let after = log.entries.len();
        if after >= before {
            self.kept
                .fetch_add((after - before) as u64, Ordering::Relaxed);
        } else {
            self.kept
                .fetch_sub((before - after) as u64, Ordering::Relaxed);
        }
        result
    }

    /// Keeps a publish of `payload` to `topic` and returns its offset.
    pub(crate) fn append(&self, topic: &[u8], payload: &Bytes, now: Instant) -> u64 {
        self.with_log(topic, now, |log| {
            log.last += 1;
            log.touched = now;
            log.entries.push_back(Entry {
                offset: log.last,
                at: now,
                payload: payload.clone(),
            });
            log.last
        })
    }

    /// `topic`'s position now (a topic never published to gets its epoch
    /// here, offset 0).
    pub(crate) fn position(&self, topic: &[u8], now: Instant) -> Position {
        self.with_log(topic, now, |log| log.position())
    }

    /// The position now and every publish after `offset`, if the history
    /// of `epoch` still holds all of them.
    pub(crate) fn since(
        &self,
        topic: &[u8],
        offset: u64,
        epoch: &[u8],
        now: Instant,
    ) -> Result<Recovered, Unrecoverable> {
        if !self.enabled() {
            return Err(Unrecoverable::Off);
        }
        if !self.stripe(topic).lock().logs.contains_key(topic) {
            // Not made here: an epoch nobody was given cannot be this one.
            return Err(Unrecoverable::OtherEpoch);
        }
        self.with_log(topic, now, |log| {
            if log.epoch != epoch {
                return Err(Unrecoverable::OtherEpoch);
            }
            if offset > log.last || !log.holds_all_after(offset) {
                return Err(Unrecoverable::TooOld);
            }
            Ok(Recovered {
                position: log.position(),
                missed: log.between(offset, log.last),
            })
        })
    }

    /// Keeps a publish given `offset` in history `epoch` elsewhere (by
    /// Redis, for a history shared between processes): in its place, once
    /// (`false` if it was kept already, or is older than what is kept). A
    /// new epoch means the shared history was lost: what was kept of the
    /// old one is dropped, and `reset` is set.
    pub(crate) fn insert(
        &self,
        topic: &[u8],
        epoch: &[u8],
        offset: u64,
        payload: &Bytes,
        now: Instant,
        reset: &mut bool,
    ) -> bool {
        self.with_log(topic, now, |log| {
            // A topic the copy did not hold (forgotten, pushed out) restarts
            // positioned subscribers too: what they were sent is not known.
            if std::mem::take(&mut log.fresh) {
                *reset = true;
            }
            if log.epoch != epoch {
                log.epoch = Bytes::copy_from_slice(epoch);
                log.entries.clear();
                log.last = 0;
                *reset = true;
            }
            log.touched = now;
            let at = log.index_after(offset);
            let kept = at > 0 && log.entries[at - 1].offset == offset;
            let too_old = log.entries.len() >= self.limits.messages && at == 0;
            log.last = log.last.max(offset);
            if kept || too_old {
                return false;
            }
            let entry = Entry {
                offset,
                at: now,
                payload: payload.clone(),
            };
            log.entries.insert(at, entry);
            true
        })
    }

    /// The publishes to `topic` with offsets in `(after, until]` still
    /// kept, oldest first: what a shard fills a subscriber's gap with.
    pub(crate) fn between(&self, topic: &[u8], after: u64, until: u64) -> Vec<(u64, Bytes)> {
        let stripe = self.stripe(topic).lock();
        stripe
            .logs
            .get(topic)
            .map(|log| log.between(after, until))
            .unwrap_or_default()
    }

    /// Topics with a history, and publishes kept, now.
    pub(crate) fn sizes(&self) -> (u64, u64) {
        let topics = self
            .stripes
            .iter()
            .map(|s| s.lock().logs.len() as u64)
            .sum();
        (topics, self.kept.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use bytes::Bytes;

    use super::{Histories, Unrecoverable};
    use crate::config::History;

    fn histories(messages: usize, topics: usize) -> Histories {
        Histories::new(History {
            messages,
            max_age: Some(Duration::from_secs(60)),
            topics,
        })
    }

    fn payload(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    #[test]
    fn offsets_count_per_topic_and_recovery_returns_what_was_missed() {
        let h = histories(3, 100);
        let now = Instant::now();
        let start = h.position(b"t", now);
        assert_eq!(start.offset, 0);
        for (i, text) in ["a", "b", "c", "d"].iter().enumerate() {
            assert_eq!(h.append(b"t", &payload(text), now), i as u64 + 1);
        }
        assert_eq!(h.append(b"other", &payload("x"), now), 1);
        let epoch = start.epoch.clone();
        let got = h.since(b"t", 2, &epoch, now).expect("recovers");
        assert_eq!(got.position.offset, 4);
        assert_eq!(got.missed, [(3, payload("c")), (4, payload("d"))]);
        assert_eq!(
            h.since(b"t", 4, &epoch, now).expect("none missed").missed,
            []
        );
        // Offset 1 is pushed out (3 kept): 2, 3 and 4 are kept, so from 1 on works.
        assert_eq!(h.since(b"t", 1, &epoch, now).expect("kept").missed.len(), 3);
        assert_eq!(h.since(b"t", 0, &epoch, now), Err(Unrecoverable::TooOld));
        assert_eq!(h.since(b"t", 5, &epoch, now), Err(Unrecoverable::TooOld));
        assert_eq!(
            h.since(b"t", u64::MAX, &epoch, now),
            Err(Unrecoverable::TooOld)
        );
        assert_eq!(
            h.since(b"t", 3, b"other", now),
            Err(Unrecoverable::OtherEpoch)
        );
        assert_eq!(h.between(b"t", 2, 3), [(3, payload("c"))]);
        assert_eq!(h.sizes(), (2, 4));
    }

    #[test]
    fn old_publishes_expire_but_the_offset_goes_on() {
        let h = histories(100, 100);
        let then = Instant::now();
        h.append(b"t", &payload("old"), then);
        let later = then + Duration::from_secs(61);
        let epoch = h.position(b"t", later).epoch;
        assert_eq!(h.since(b"t", 0, &epoch, later), Err(Unrecoverable::TooOld));
        assert_eq!(
            h.since(b"t", 1, &epoch, later).expect("up to date").missed,
            []
        );
        assert_eq!(h.append(b"t", &payload("new"), later), 2);
        assert_eq!(h.sizes().1, 1);
    }

    #[test]
    fn a_topic_pushed_out_comes_back_with_another_epoch() {
        // One topic per stripe at most.
        let h = histories(10, 1);
        let now = Instant::now();
        let first = h.position(b"t", now);
        h.append(b"t", &payload("a"), now);
        // Topics until one shares t's stripe and pushes it out.
        for i in 0..1000 {
            h.append(
                format!("other{i}").as_bytes(),
                &payload("x"),
                now + Duration::from_secs(1),
            );
        }
        let again = h.position(b"t", now + Duration::from_secs(2));
        assert_ne!(again.epoch, first.epoch);
        assert_eq!(again.offset, 0);
        assert_eq!(
            h.since(b"t", 1, &first.epoch, now),
            Err(Unrecoverable::OtherEpoch)
        );
        assert!(h.sizes().0 <= 16);
    }

    #[test]
    fn a_shared_history_is_kept_in_place_once_and_holes_refuse_recovery() {
        let h = histories(4, 100);
        let now = Instant::now();
        let mut reset = false;
        // The first sight of a topic restarts its positioned subscribers.
        assert!(h.insert(b"t", b"E", 1, &payload("a"), now, &mut reset));
        assert!(reset);
        reset = false;
        assert!(h.insert(b"t", b"E", 2, &payload("b"), now, &mut reset));
        assert!(h.insert(b"t", b"E", 4, &payload("d"), now, &mut reset));
        assert!(
            !h.insert(b"t", b"E", 4, &payload("d"), now, &mut reset),
            "kept once"
        );
        assert_eq!(
            h.since(b"t", 1, b"E", now),
            Err(Unrecoverable::TooOld),
            "3 is missing"
        );
        assert!(
            h.insert(b"t", b"E", 3, &payload("c"), now, &mut reset),
            "in its place"
        );
        let got = h.since(b"t", 1, b"E", now).expect("2, 3, 4 kept");
        assert_eq!(got.position.offset, 4);
        assert_eq!(
            got.missed,
            [(2, payload("b")), (3, payload("c")), (4, payload("d"))]
        );
        assert_eq!(
            h.between(b"t", 2, 4),
            [(3, payload("c")), (4, payload("d"))]
        );
        // Another epoch: the shared history was lost, offsets start again.
        assert!(!reset);
        assert!(h.insert(b"t", b"F", 1, &payload("new"), now, &mut reset));
        assert!(reset);
        assert_eq!(h.position(b"t", now).offset, 1);
        assert_eq!(h.since(b"t", 3, b"E", now), Err(Unrecoverable::OtherEpoch));
        assert_eq!(h.sizes(), (1, 1));
    }

    #[test]
    fn without_history_nothing_is_recovered() {
        let h = Histories::new(History::default());
        assert!(!h.enabled());
        assert_eq!(
            h.since(b"t", 0, b"e", Instant::now()),
            Err(Unrecoverable::Off)
        );
    }
}
