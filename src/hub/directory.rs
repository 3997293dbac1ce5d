//! Which shards have subscribers of which topic, shared by the whole
//! server, so a publish goes only to the shards that need it.
//!
//! Written only when a topic gains its first or loses its last subscriber
//! on a shard; read once per publish. The lock is never taken on the
//! shards' I/O path.
//!
//! A backplane that subscribes per topic (Redis Cluster, NATS) watches it:
//! when a topic gains its first subscriber in the process, or loses its
//! last, the watch hears the topic's name (and looks up what holds now).

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use parking_lot::RwLock;

/// Told the name of each topic that appeared in the process or left it.
pub(crate) type Watch = Box<dyn Fn(&Bytes) + Send + Sync>;

/// Bits per word of a shard set.
const BITS: usize = u64::BITS as usize;

/// Topic → set of shards with at least one subscriber.
#[derive(Default)]
pub(crate) struct Directory {
    /// One bit per shard; a topic with no subscriber anywhere has no entry.
    topics: RwLock<HashMap<Bytes, Vec<u64>>>,
    /// The backplane's watch, if it subscribes per topic.
    watch: OnceLock<Watch>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("topics", &self.topics.read().len())
            .field("watched", &self.watch.get().is_some())
            .finish()
    }
}

impl Directory {
    /// Shard `shard` has its first subscriber of `topic`.
    pub(crate) fn add(&self, topic: &Bytes, shard: usize) {
        let mut topics = self.topics.write();
        let new = !topics.contains_key(topic);
        let words = topics.entry(topic.clone()).or_default();
        if words.len() <= shard / BITS {
            words.resize(shard / BITS + 1, 0);
        }
        words[shard / BITS] |= 1 << (shard % BITS);
        drop(topics);
        if new {
            self.tell(topic);
        }
    }

    /// Lets `watch` hear of topics that appear and leave (once, before
    /// the shards start; a second watch is ignored).
    pub(crate) fn set_watch(&self, watch: Watch) {
        let _ = self.watch.set(watch);
    }

    /// Tells the watch, if any, that `topic` appeared or left.
    fn tell(&self, topic: &Bytes) {
        if let Some(watch) = self.watch.get() {
            watch(topic);
        }
    }

    /// Whether some shard has subscribers of `topic`.
    pub(crate) fn contains(&self, topic: &[u8]) -> bool {
        self.topics.read().contains_key(topic)
    }

    /// Every topic with subscribers now.
    pub(crate) fn topics(&self) -> Vec<Bytes> {
        self.topics.read().keys().cloned().collect()
    }

    /// Shard `shard` lost its last subscriber of `topic`.
    pub(crate) fn remove(&self, topic: &[u8], shard: usize) {
        let mut topics = self.topics.write();
        let Some(words) = topics.get_mut(topic) else {
            return;
        };
        if let Some(word) = words.get_mut(shard / BITS) {
            *word &= !(1 << (shard % BITS));
        }
        if words.iter().all(|&w| w == 0) {
            if let Some((topic, _)) = topics.remove_entry(topic) {
                drop(topics);
                self.tell(&topic);
            }
        }
    }

    /// Calls `each` with every shard that has subscribers of `topic`.
    /// The lock is released before the first call.
    pub(crate) fn for_each_shard(&self, topic: &[u8], mut each: impl FnMut(usize)) {
        let first_words: [u64; 2];
        let rest: Vec<u64>;
        let words: &[u64] = {
            let topics = self.topics.read();
            match topics.get(topic) {
                None => return,
                Some(words) if words.len() <= 2 => {
                    let mut copy = [0; 2];
                    copy[..words.len()].copy_from_slice(words);
                    first_words = copy;
                    &first_words
                }
                Some(words) => {
                    rest = words.clone();
                    &rest
                }
            }
        };
        for (w, &word) in words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let bit = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                each(w * BITS + bit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::Directory;

    fn shards(directory: &Directory, topic: &[u8]) -> Vec<usize> {
        let mut found = Vec::new();
        directory.for_each_shard(topic, |s| found.push(s));
        found
    }

    #[test]
    fn shards_come_and_go() {
        let directory = Directory::default();
        let topic = Bytes::from_static(b"news");
        assert!(shards(&directory, b"news").is_empty());
        directory.add(&topic, 3);
        directory.add(&topic, 0);
        directory.add(&topic, 200);
        assert_eq!(shards(&directory, b"news"), [0, 3, 200]);
        directory.remove(b"news", 3);
        directory.remove(b"news", 200);
        assert_eq!(shards(&directory, b"news"), [0]);
        directory.remove(b"news", 0);
        assert!(directory.topics.read().is_empty(), "no entry is left");
        directory.remove(b"news", 0); // harmless
    }

    #[test]
    fn the_watch_hears_a_topic_come_and_go_once_each() {
        let directory = Directory::default();
        let heard = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&heard);
        directory.set_watch(Box::new(move |topic: &Bytes| {
            log.lock().push(topic.clone())
        }));
        let topic = Bytes::from_static(b"news");
        directory.add(&topic, 0);
        directory.add(&topic, 1);
        assert!(directory.contains(b"news"));
        directory.remove(b"news", 0);
        assert_eq!(heard.lock().len(), 1, "still held by shard 1");
        directory.remove(b"news", 1);
        assert!(!directory.contains(b"news"));
        assert_eq!(*heard.lock(), [topic.clone(), topic], "first in, last out");
        assert!(directory.topics().is_empty());
    }
}
