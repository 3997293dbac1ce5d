//! One shard's subscriptions: which of its clients listen to which topic.
//! Pure bookkeeping, no sockets; the shard delivers through it.

use std::collections::HashMap;
use std::hash::Hash;

use bytes::Bytes;
use indexmap::IndexSet;

/// What one client listens to.
#[derive(Debug, Default)]
struct Subscriber {
    /// The client's topics (a client has few: the protocol caps them).
    topics: Vec<Bytes>,
    /// Deliveries skipped because the client was slow, not yet reported.
    missed: u64,
}

/// The subscriptions of one shard's clients, keyed by `K` (the shard's
/// slot key).
#[derive(Debug)]
pub(crate) struct Topics<K> {
    /// Subscribers of each topic with at least one.
    by_topic: HashMap<Bytes, IndexSet<K>>,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subscribed {
    /// The client already listened to the topic.
    Already,
    /// Newly subscribed; `first` if no other client of the shard listened.
    New {
        /// The topic had no subscriber on this shard before.
        first: bool,
    },
}

impl<K: Copy + Eq + Hash> Topics<K> {
    /// Subscribes `client` to `topic`.
    pub(crate) fn subscribe(&mut self, client: K, topic: &[u8]) -> Subscribed {
        let (topic, first) = match self.by_topic.get_key_value(topic) {
            Some((shared, _)) => (shared.clone(), false),
            None => (Bytes::copy_from_slice(topic), true),
        };
        let subscribers = self.by_topic.entry(topic.clone()).or_default();
        if !subscribers.insert(client) {
            return Subscribed::Already;
        }
        self.by_client.entry(client).or_default().topics.push(topic);
        Subscribed::New { first }
    }

    /// Unsubscribes `client` from `topic`: `None` if it was not subscribed,
    /// else whether it was the topic's last subscriber on the shard.
    pub(crate) fn unsubscribe(&mut self, client: K, topic: &[u8]) -> Option<bool> {
        let subscriber = self.by_client.get_mut(&client)?;
        let at = subscriber.topics.iter().position(|t| t[..] == *topic)?;
        subscriber.topics.swap_remove(at);
        if subscriber.topics.is_empty() {
            self.by_client.remove(&client);
        }
        Some(self.forget(client, topic))
    }

    /// Drops every subscription of `client` (it closed); calls `emptied`
    /// with each topic left without a subscriber on the shard.
    pub(crate) fn remove_client(&mut self, client: K, mut emptied: impl FnMut(&Bytes)) {
        if self.by_client.is_empty() {
            return;
        }
        let Some(subscriber) = self.by_client.remove(&client) else {
            return;
        };
        for topic in &subscriber.topics {
            if self.forget(client, topic) {
                emptied(topic);
            }
        }
    }

    /// Removes `client` from `topic`'s subscribers; whether none is left.
    fn forget(&mut self, client: K, topic: &[u8]) -> bool {
        let Some(subscribers) = self.by_topic.get_mut(topic) else {
            return false;
        };
        subscribers.swap_remove(&client);
        let last = subscribers.is_empty();
        if last {
            self.by_topic.remove(topic);
        }
        last
    }

    /// The clients of the shard subscribed to `topic`.
    pub(crate) fn subscribers(&self, topic: &[u8]) -> Option<&IndexSet<K>> {
        self.by_topic.get(topic)
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
    use super::{Subscribed, Topics};

    fn sorted(topics: &Topics<u32>, topic: &[u8]) -> Vec<u32> {
        let mut clients: Vec<u32> = topics
            .subscribers(topic)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        clients.sort_unstable();
        clients
    }

    #[test]
    fn subscribe_unsubscribe_and_first_last() {
        let mut topics = Topics::default();
        assert_eq!(topics.subscribe(1, b"a"), Subscribed::New { first: true });
        assert_eq!(topics.subscribe(2, b"a"), Subscribed::New { first: false });
        assert_eq!(topics.subscribe(2, b"a"), Subscribed::Already);
        assert_eq!(topics.subscribe(2, b"b"), Subscribed::New { first: true });
        assert_eq!(sorted(&topics, b"a"), [1, 2]);
        assert_eq!(topics.count(2), 2);
        assert_eq!(topics.unsubscribe(1, b"a"), Some(false));
        assert_eq!(topics.unsubscribe(1, b"a"), None);
        assert_eq!(topics.unsubscribe(3, b"a"), None);
        assert_eq!(topics.unsubscribe(2, b"a"), Some(true));
        assert!(topics.subscribers(b"a").is_none());
        assert!(topics.by_topic.contains_key(&b"b"[..]));
    }

    #[test]
    fn a_closed_client_leaves_every_topic() {
        let mut topics = Topics::default();
        for topic in [&b"x"[..], b"y", b"z"] {
            topics.subscribe(7, topic);
        }
        topics.subscribe(8, b"y");
        let mut emptied = Vec::new();
        topics.remove_client(7, |t| emptied.push(t.to_vec()));
        emptied.sort();
        assert_eq!(emptied, [b"x".to_vec(), b"z".to_vec()]);
        assert_eq!(sorted(&topics, b"y"), [8]);
        assert_eq!(topics.count(7), 0);
        topics.remove_client(7, |_| panic!("nothing left"));
    }

    #[test]
    fn missed_deliveries_are_counted_and_taken_once() {
        let mut topics = Topics::default();
        topics.note_missed(1); // not a subscriber: ignored
        topics.subscribe(1, b"t");
        topics.note_missed(1);
        topics.note_missed(1);
        assert_eq!(topics.take_missed(1), 2);
        assert_eq!(topics.take_missed(1), 0);
    }

    #[test]
    fn topics_are_any_bytes() {
        let mut topics = Topics::default();
        let odd = [0u8, 255, b'\t', 0xC3];
        topics.subscribe(1, &odd);
        assert_eq!(sorted(&topics, &odd), [1]);
        assert!(topics.subscribers(&odd[..3]).is_none());
    }
}
