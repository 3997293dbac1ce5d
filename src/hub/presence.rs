//! Who is subscribed to each topic, shared by the whole server: per topic,
//! each identity and how many of its subscriptions are open. Written when
//! a client subscribes, unsubscribes or closes (never per message).

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

/// Locks the topics are spread over.
const STRIPES: usize = 16;

/// The identity of a subscriber that gave none.
pub const ANONYMOUS: &str = "anonymous";

/// Who is subscribed to one topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Present {
    /// Subscriptions open (each client once per topic).
    pub count: u64,
    /// Their identities, each once, in byte order, up to the bound asked
    /// for (those with no identity as [`ANONYMOUS`]).
    pub identities: Vec<Arc<str>>,
}

/// One lock's topics: topic → identity → subscriptions.
type Stripe = HashMap<Bytes, BTreeMap<Arc<str>, u64>>;

/// Every topic's subscribers, by identity.
#[derive(Debug)]
pub(crate) struct Presence {
    /// The topics, by a hash of their name.
    stripes: Vec<Mutex<Stripe>>,
    /// Chooses a topic's stripe.
    hasher: std::collections::hash_map::RandomState,
    /// (topic, identity) entries now, all topics (for the metrics).
    entries: AtomicU64,
    /// [`ANONYMOUS`], shared by every subscriber without an identity.
    anonymous: Arc<str>,
    /// Other processes' subscribers, as the backplane last read them
    /// from Redis: topic → identity → subscriptions.
    remote: Mutex<HashMap<Bytes, BTreeMap<Arc<str>, u64>>>,
}

impl Default for Presence {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::default()).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            entries: AtomicU64::new(0),
            anonymous: ANONYMOUS.into(),
            remote: Mutex::default(),
        }
    }
}

impl Presence {
    /// The stripe of `topic`.
    fn stripe(&self, topic: &[u8]) -> &Mutex<Stripe> {
        &self.stripes[(self.hasher.hash_one(topic) as usize) % STRIPES]
    }

    /// The identity of subscribers that gave none.
    pub(crate) fn anonymous(&self) -> &Arc<str> {
        &self.anonymous
    }

    /// A subscription of `identity` to `topic` opened.
    pub(crate) fn join(&self, topic: &Bytes, identity: &Arc<str>) {
        let mut stripe = self.stripe(topic).lock();
        let identities = stripe.entry(topic.clone()).or_default();
        let count = identities.entry(Arc::clone(identity)).or_insert(0);
        if *count == 0 {
            self.entries.fetch_add(1, Ordering::Relaxed);
        }
        *count += 1;
    }

    /// A subscription of `identity` to `topic` ended.
    pub(crate) fn leave(&self, topic: &[u8], identity: &str) {
        let mut stripe = self.stripe(topic).lock();
        let Some(identities) = stripe.get_mut(topic) else {
            return;
        };
        if let Some(count) = identities.get_mut(identity) {
            *count -= 1;
            if *count == 0 {
                identities.remove(identity);
                self.entries.fetch_sub(1, Ordering::Relaxed);
            }
        }
        if identities.is_empty() {
            stripe.remove(topic);
        }
    }

    /// Who is subscribed to `topic`, in this process and (with a
    /// backplane) the others, listing `bound` identities at most.
    pub(crate) fn of(&self, topic: &[u8], bound: usize) -> Present {
        let mut merged = BTreeMap::new();
        if let Some(identities) = self.stripe(topic).lock().get(topic) {
            merged.clone_from(identities);
        }
        if let Some(identities) = self.remote.lock().get(topic) {
            for (identity, count) in identities {
                *merged.entry(Arc::clone(identity)).or_insert(0) += count;
            }
        }
        Present {
            count: merged.values().sum(),
            identities: merged.into_keys().take(bound).collect(),
        }
    }

    /// Every (topic, identity, subscriptions) of this process, for the
    /// backplane to share.
    pub(crate) fn local(&self) -> Vec<(Bytes, Arc<str>, u64)> {
        let mut all = Vec::new();
        for stripe in &self.stripes {
            for (topic, identities) in stripe.lock().iter() {
                for (identity, &count) in identities {
                    all.push((topic.clone(), Arc::clone(identity), count));
                }
            }
        }
        all
    }

    /// Replaces what is known of the other processes' subscribers.
    pub(crate) fn set_remote(&self, remote: HashMap<Bytes, BTreeMap<Arc<str>, u64>>) {
        *self.remote.lock() = remote;
    }

    /// (topic, identity) entries now.
    pub(crate) fn entries(&self) -> u64 {
        self.entries.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::Presence;

    #[test]
    fn identities_are_counted_and_listed_once() {
        let p = Presence::default();
        let t = Bytes::from_static(b"room");
        let (bob, ann): (Arc<str>, Arc<str>) = ("bob".into(), "ann".into());
        p.join(&t, &bob);
        p.join(&t, &ann);
        p.join(&t, &bob);
        let present = p.of(b"room", 10);
        assert_eq!(present.count, 3);
        assert_eq!(present.identities, [Arc::clone(&ann), Arc::clone(&bob)]);
        assert_eq!(p.of(b"room", 1).identities, std::slice::from_ref(&ann));
        assert_eq!(p.entries(), 2);
        p.leave(b"room", "bob");
        p.leave(b"room", "ann");
        assert_eq!(p.of(b"room", 10).count, 1);
        p.leave(b"room", "bob");
        assert_eq!(p.of(b"room", 10), Default::default());
        assert_eq!(p.entries(), 0);
        p.leave(b"room", "nobody"); // harmless
    }

    #[test]
    fn other_processes_subscribers_are_added() {
        let p = Presence::default();
        let t = Bytes::from_static(b"room");
        p.join(&t, &"bob".into());
        assert_eq!(p.local(), [(t.clone(), "bob".into(), 1)]);
        let remote = [(t, [("bob".into(), 2), ("cy".into(), 1)].into())].into();
        p.set_remote(remote);
        let present = p.of(b"room", 10);
        assert_eq!(present.count, 4);
        assert_eq!(present.identities, [Arc::<str>::from("bob"), "cy".into()]);
        assert_eq!(p.entries(), 1, "this process's own");
    }
}
