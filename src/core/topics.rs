//! One shard's subscriptions: which of its clients listen to which topic,
//! as whom, and (for positioned subscriptions) up to which offset each has
//! been sent. Pure bookkeeping, no sockets; the shard delivers through it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use bytes::Bytes;
use indexmap::IndexSet;

/// What one client listens to.
#[derive(Debug)]
struct Subscriber {
    /// The client's topics (a client has few: the protocol caps them).
    topics: Vec<Bytes>,
    /// Deliveries skipped because the client was slow, not yet reported.
    missed: u64,
    /// Who it is, for presence.
    identity: Arc<str>,
}

/// The subscribers of one topic on the shard.
#[derive(Debug)]
pub(crate) struct Subscribers<K> {
    /// Every subscriber, positioned or not.
    pub(crate) all: IndexSet<K>,
    /// The positioned ones: the newest offset each has been sent (or
    /// recovered up to).
    pub(crate) positions: HashMap<K, u64>,
}

impl<K> Default for Subscribers<K> {
    fn default() -> Self {
        Self {
            all: IndexSet::default(),
            positions: HashMap::new(),
        }
    }
}

/// The subscriptions of one shard's clients, keyed by `K` (the shard's
/// slot key).
#[derive(Debug)]
pub(crate) struct Topics<K> {
    /// Subscribers of each topic with at least one.
    by_topic: HashMap<Bytes, Subscribers<K>>,
    /// Topics of each client with at least one subscription.
    by_client: HashMap<K, Subscriber>,
}

impl<K> Default for Topics<K> {
    fn default() -> Self {
        Self {
            by_topic: HashMap::new(),
            by_client: HashMap::new(),
        }
    }
}

/// The result of [`Topics::subscribe`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Subscribed {
    /// The client already listened to the topic.
    Already,
    /// Newly subscribed; `first` if no other client of the shard listened.
    New {
        /// The topic had no subscriber on this shard before.
        first: bool,
        /// The topic, shared with the shard's table.
        topic: Bytes,
    },
}

/// What a publish at some offset means for one positioned subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Due<K> {
    /// The subscriber.
    pub(crate) client: K,
    /// The newest offset it had been sent before this publish: the
    /// publishes between it and this one are due first.
    pub(crate) after: u64,
}

impl<K: Copy + Eq + Hash> Topics<K> {
    /// Subscribes `client` to `topic` as `identity` (the client's identity
    /// for all its subscriptions, from its first on).
    pub(crate) fn subscribe(&mut self, client: K, topic: &[u8], identity: &Arc<str>) -> Subscribed {
        let (topic, first) = match self.by_topic.get_key_value(topic) {
            Some((shared, _)) => (shared.clone(), false),
            None => (Bytes::copy_from_slice(topic), true),
        };
        let subscribers = self.by_topic.entry(topic.clone()).or_default();
        if !subscribers.all.insert(client) {
            return Subscribed::Already;
        }
        self.by_client
            .entry(client)
            .or_insert_with(|| Subscriber {
                topics: Vec::new(),
                missed: 0,
                identity: Arc::clone(identity),
            })
            .topics
            .push(topic.clone());
        Subscribed::New { first, topic }
    }

    /// Makes `client`'s subscription to `topic` positioned, sent up to
    /// `offset`; `false` if it has none.
    pub(crate) fn set_position(&mut self, client: K, topic: &[u8], offset: u64) -> bool {
        match self.by_topic.get_mut(topic) {
            Some(subscribers) if subscribers.all.contains(&client) => {
                subscribers.positions.insert(client, offset);
                true
            }
            _ => false,
        }
    }

    /// Unsubscribes `client` from `topic`: `None` if it was not subscribed,
    /// else whether it was the topic's last subscriber on the shard, and
    /// the client's identity.
    pub(crate) fn unsubscribe(&mut self, client: K, topic: &[u8]) -> Option<(bool, Arc<str>)> {
        let subscriber = self.by_client.get_mut(&client)?;
        let at = subscriber.topics.iter().position(|t| t[..] == *topic)?;
        subscriber.topics.swap_remove(at);
        let identity = Arc::clone(&subscriber.identity);
        if subscriber.topics.is_empty() {
            self.by_client.remove(&client);
        }
        Some((self.forget(client, topic), identity))
    }

    /// Drops every subscription of `client` (it closed); calls `left` with
    /// each topic, the client's identity, and whether the topic is left
    /// without a subscriber on the shard.
    pub(crate) fn remove_client(&mut self, client: K, mut left: impl FnMut(&Bytes, &str, bool)) {
        if self.by_client.is_empty() {
            return;
        }
        let Some(subscriber) = self.by_client.remove(&client) else {
            return;
        };
        for topic in &subscriber.topics {
            let emptied = self.forget(client, topic);
            left(topic, &subscriber.identity, emptied);
        }
    }

    /// Removes `client` from `topic`'s subscribers; whether none is left.
    fn forget(&mut self, client: K, topic: &[u8]) -> bool {
        let Some(subscribers) = self.by_topic.get_mut(topic) else {
            return false;
        };
        subscribers.all.swap_remove(&client);
        subscribers.positions.remove(&client);
        let last = subscribers.all.is_empty();
        if last {
            self.by_topic.remove(topic);
        }
        last
    }

    /// The clients of the shard subscribed to `topic`.
    #[cfg(test)]
    pub(crate) fn subscribers(&self, topic: &[u8]) -> Option<&Subscribers<K>> {
        self.by_topic.get(topic)
    }

    /// For a publish to `topic` at `offset`: adds to `plain` the
    /// subscribers that are not positioned, and to `due` each positioned
    /// one not sent `offset` yet (then counted as sent up to it). A
    /// positioned subscriber sent `offset` already (recovered, or filled
    /// in from the history) is skipped: no duplicate.
    ///
    /// After a `reset` (the history was lost: a new epoch), every
    /// positioned subscriber starts again just before `offset`.
    pub(crate) fn due(
        &mut self,
        topic: &[u8],
        offset: u64,
        reset: bool,
        plain: &mut Vec<K>,
        due: &mut Vec<Due<K>>,
    ) {
        let Some(subscribers) = self.by_topic.get_mut(topic) else {
            return;
        };
        if reset {
            for sent in subscribers.positions.values_mut() {
                *sent = offset.saturating_sub(1);
            }
        }
        // Without an offset (no history, or Redis away from a shared
        // one), positioned subscribers get it as everyone does.
        if subscribers.positions.is_empty() || offset == 0 {
            plain.extend(subscribers.all.iter().copied());
            return;
        }
        for client in &subscribers.all {
            match subscribers.positions.get_mut(client) {
                None => plain.push(*client),
                Some(sent) if *sent < offset => {
                    due.push(Due {
                        client: *client,
                        after: *sent,
                    });
                    *sent = offset;
                }
                Some(_) => {}
            }
        }
    }

    /// How many topics `client` listens to.
    pub(crate) fn count(&self, client: K) -> usize {
        self.by_client.get(&client).map_or(0, |s| s.topics.len())
    }

    /// Notes one delivery skipped for `client`.
    pub(crate) fn note_missed(&mut self, client: K) {
        if let Some(subscriber) = self.by_client.get_mut(&client) {
            subscriber.missed += 1;
        }
    }

    /// Deliveries skipped for `client` since last asked; resets the count.
    pub(crate) fn take_missed(&mut self, client: K) -> u64 {
        self.by_client
            .get_mut(&client)
            .map_or(0, |s| std::mem::take(&mut s.missed))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Due, Subscribed, Topics};

    fn anon() -> Arc<str> {
        "anonymous".into()
    }

    fn sorted(topics: &Topics<u32>, topic: &[u8]) -> Vec<u32> {
        let mut clients: Vec<u32> = topics
            .subscribers(topic)
            .map(|s| s.all.iter().copied().collect())
            .unwrap_or_default();
        clients.sort_unstable();
        clients
    }

    #[test]
    fn subscribe_unsubscribe_and_first_last() {
        let mut topics = Topics::default();
        let new = |first, topic: &'static [u8]| Subscribed::New {
            first,
            topic: topic.into(),
        };
        assert_eq!(topics.subscribe(1, b"a", &anon()), new(true, b"a"));
        assert_eq!(topics.subscribe(2, b"a", &anon()), new(false, b"a"));
        assert_eq!(topics.subscribe(2, b"a", &anon()), Subscribed::Already);
        assert_eq!(topics.subscribe(2, b"b", &anon()), new(true, b"b"));
        assert_eq!(sorted(&topics, b"a"), [1, 2]);
        assert_eq!(topics.count(2), 2);
        assert_eq!(topics.unsubscribe(1, b"a"), Some((false, anon())));
        assert_eq!(topics.unsubscribe(1, b"a"), None);
        assert_eq!(topics.unsubscribe(3, b"a"), None);
        assert_eq!(topics.unsubscribe(2, b"a"), Some((true, anon())));
        assert!(topics.subscribers(b"a").is_none());
        assert!(topics.by_topic.contains_key(&b"b"[..]));
    }

    #[test]
    fn a_closed_client_leaves_every_topic() {
        let mut topics = Topics::default();
        for topic in [&b"x"[..], b"y", b"z"] {
            topics.subscribe(7, topic, &"seven".into());
        }
        topics.subscribe(8, b"y", &anon());
        let mut emptied = Vec::new();
        topics.remove_client(7, |t, who, last| {
            assert_eq!(who, "seven");
            if last {
                emptied.push(t.to_vec());
            }
        });
        emptied.sort();
        assert_eq!(emptied, [b"x".to_vec(), b"z".to_vec()]);
        assert_eq!(sorted(&topics, b"y"), [8]);
        assert_eq!(topics.count(7), 0);
        topics.remove_client(7, |_, _, _| panic!("nothing left"));
    }

    #[test]
    fn missed_deliveries_are_counted_and_taken_once() {
        let mut topics = Topics::default();
        topics.note_missed(1); // not a subscriber: ignored
        topics.subscribe(1, b"t", &anon());
        topics.note_missed(1);
        topics.note_missed(1);
        assert_eq!(topics.take_missed(1), 2);
        assert_eq!(topics.take_missed(1), 0);
    }

    #[test]
    fn topics_are_any_bytes() {
        let mut topics = Topics::default();
        let odd = [0u8, 255, b'\t', 0xC3];
        topics.subscribe(1, &odd, &anon());
        assert_eq!(sorted(&topics, &odd), [1]);
        assert!(topics.subscribers(&odd[..3]).is_none());
    }

    #[test]
    fn positioned_subscribers_get_each_offset_once() {
        let mut topics = Topics::default();
        topics.subscribe(1, b"t", &anon());
        topics.subscribe(2, b"t", &anon());
        assert!(topics.set_position(2, b"t", 5));
        assert!(!topics.set_position(3, b"t", 5));
        let (mut plain, mut due) = (Vec::new(), Vec::new());
        topics.due(b"t", 5, false, &mut plain, &mut due);
        assert_eq!((plain.as_slice(), due.as_slice()), (&[1][..], &[][..]));
        plain.clear();
        topics.due(b"t", 8, false, &mut plain, &mut due);
        assert_eq!(
            due,
            [Due {
                client: 2,
                after: 5
            }]
        );
        due.clear();
        topics.due(b"t", 7, false, &mut plain, &mut due);
        assert!(due.is_empty(), "7 was filled in before 8");
        topics.due(b"t", 1, true, &mut plain, &mut due);
        assert_eq!(
            due,
            [Due {
                client: 2,
                after: 0
            }],
            "a new epoch starts again"
        );
        due.clear();
        topics.unsubscribe(2, b"t");
        assert!(topics
            .subscribers(b"t")
            .is_some_and(|s| s.positions.is_empty()));
    }
}
