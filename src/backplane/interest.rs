//! Which topics a backplane that subscribes per topic (Redis Cluster,
//! NATS) holds, against which it should: those with subscribers in this process (the topic
//! directory). The directory's watch says which topic changed; the
//! thread then looks what holds now, so a topic that came and went
//! between two looks costs nothing, and one whose change was not heard
//! (the queue was full) is caught by a full comparison.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam::channel::{self, Receiver};

use crate::hub::directory::Directory;
use crate::hub::Hub;

/// Changes heard and not yet looked at, at most; past it the next look
/// compares everything.
const QUEUE: usize = 4096;

/// The topics held, and the changes heard.
pub(super) struct Interest {
    /// Topics that appeared or left, from the directory's watch.
    changes: Receiver<Bytes>,
    /// A change was not queued: compare everything next time.
    overflow: Arc<AtomicBool>,
    /// Woken by each change.
    pub(super) wake: Arc<tokio::sync::Notify>,
    /// Topics subscribed on the cluster (confirmed).
    held: HashSet<Bytes>,
    /// Topics with a subscribe or unsubscribe in flight: not planned
    /// again until it settles.
    pending: HashSet<Bytes>,
    /// Topics whose request settled: looked at again by the next plan
    /// (the process may have changed its mind meanwhile).
    settled: Vec<Bytes>,
}

/// What to do so that the cluster holds what the process wants.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Plan {
    /// Topics to subscribe to.
    pub(super) subscribe: Vec<Bytes>,
    /// Topics to unsubscribe from.
    pub(super) unsubscribe: Vec<Bytes>,
}

impl Interest {
    /// Watches `hub`'s directory. Nothing is held yet: the first plan
    /// subscribes to every topic the process has.
    pub(super) fn watch(hub: &Hub) -> Self {
        let (queue, changes) = channel::bounded(QUEUE);
        let overflow = Arc::new(AtomicBool::new(true));
        let wake = Arc::new(tokio::sync::Notify::new());
        let (full, woken) = (Arc::clone(&overflow), Arc::clone(&wake));
        hub.directory().set_watch(Box::new(move |topic: &Bytes| {
            if queue.try_send(topic.clone()).is_err() {
                full.store(true, Ordering::Relaxed);
            }
            woken.notify_one();
        }));
        Self {
            changes,
            overflow,
            wake,
            held: HashSet::new(),
            pending: HashSet::new(),
            settled: Vec::new(),
        }
    }

    /// What to subscribe to and unsubscribe from, by what `directory`
    /// holds now; each is pending until [`settle`](Self::settle) says how
    /// it went.
    pub(super) fn plan(&mut self, directory: &Directory) -> Plan {
        let mut plan = Plan::default();
        if self.overflow.swap(false, Ordering::Relaxed) {
            self.changes.try_iter().for_each(drop);
            self.settled.clear();
            let wanted: HashSet<Bytes> = directory.topics().into_iter().collect();
            plan.subscribe = wanted.difference(&self.held).cloned().collect();
            plan.unsubscribe = self.held.difference(&wanted).cloned().collect();
        } else {
            let mut seen = HashSet::new();
            let settled = std::mem::take(&mut self.settled);
            for topic in settled.into_iter().chain(self.changes.try_iter()) {
                if !seen.insert(topic.clone()) {
                    continue;
                }
                match (directory.contains(&topic), self.held.contains(&topic)) {
                    (true, false) => plan.subscribe.push(topic),
                    (false, true) => plan.unsubscribe.push(topic),
                    _ => {}
                }
            }
        }
        plan.subscribe.retain(|topic| !self.pending.contains(topic));
        plan.unsubscribe
            .retain(|topic| !self.pending.contains(topic));
        for topic in plan.subscribe.iter().chain(&plan.unsubscribe) {
            self.pending.insert(topic.clone());
        }
        plan
    }

    /// A subscribe (`subscribed`) or unsubscribe of `topic` from a plan
    /// came back, done or not (`done`). Whatever the outcome, the next
    /// plan looks at the topic again.
    pub(super) fn settle(&mut self, topic: Bytes, subscribed: bool, done: bool) {
        self.pending.remove(&topic);
        match (subscribed, done) {
            (true, true) | (false, false) => {
                self.held.insert(topic.clone());
            }
            (false, true) | (true, false) => {
                self.held.remove(&topic);
            }
        }
        self.settled.push(topic);
    }

    /// The cluster dropped `topic` by itself (a `SUNSUBSCRIBE` push when
    /// its slot moved, or its node turned replica): the next plan
    /// subscribes again if the process still wants it. Returns whether it
    /// was held. The confirmation of an unsubscribe of ours in flight is
    /// not one.
    pub(super) fn dropped(&mut self, topic: &[u8]) -> bool {
        if self.pending.contains(topic) {
            return false;
        }
        let Some(topic) = self.held.take(topic) else {
            return false;
        };
        self.settled.push(topic);
        true
    }

    /// Everything is to be subscribed to again (a new connection, or a
    /// node lost: its topics go to whichever node owns them next).
    /// Requests in flight still settle.
    pub(super) fn forget(&mut self) {
        self.held.clear();
        self.overflow.store(true, Ordering::Relaxed);
    }

    /// How many topics are held.
    pub(super) fn count(&self) -> usize {
        self.held.len()
    }

    /// The topics held.
    pub(super) fn held(&self) -> impl Iterator<Item = &Bytes> {
        self.held.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use bytes::Bytes;

    use super::{Interest, Plan};
    use crate::config::History;
    use crate::hub::Hub;

    fn hub() -> std::sync::Arc<Hub> {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        Hub::new(Vec::new(), addr, 1, None, History::default(), 0)
    }

    fn sorted(mut topics: Vec<Bytes>) -> Vec<Bytes> {
        topics.sort();
        topics
    }

    #[test]
    fn plans_follow_the_directory() {
        let hub = hub();
        let directory = hub.directory();
        let (a, b) = (Bytes::from_static(b"a"), Bytes::from_static(b"b"));
        directory.add(&a, 0);
        let mut interest = Interest::watch(&hub);
        // First: everything the process has.
        let plan = interest.plan(directory);
        assert_eq!(plan.subscribe, std::slice::from_ref(&a));
        assert_eq!(interest.plan(directory), Plan::default(), "in flight");
        interest.settle(a.clone(), true, true);
        assert_eq!(interest.plan(directory), Plan::default());
        assert_eq!(interest.count(), 1);
        // A topic that came and went between two looks costs nothing.
        directory.add(&b, 0);
        directory.remove(b"b", 0);
        directory.remove(b"a", 0);
        let plan = interest.plan(directory);
        assert!(plan.subscribe.is_empty(), "{plan:?}");
        assert_eq!(plan.unsubscribe, std::slice::from_ref(&a));
        interest.settle(a.clone(), false, true);
        assert_eq!(interest.count(), 0);
        // Wanted again while the subscribe was in flight, then not: the
        // subscription made is undone.
        directory.add(&a, 1);
        assert_eq!(interest.plan(directory).subscribe, std::slice::from_ref(&a));
        directory.remove(b"a", 1);
        assert_eq!(interest.plan(directory), Plan::default(), "in flight");
        interest.settle(a.clone(), true, true);
        assert_eq!(
            interest.plan(directory).unsubscribe,
            std::slice::from_ref(&a)
        );
        interest.settle(a.clone(), false, true);
        // A failed subscribe is tried again; one dropped by the cluster
        // while still wanted is subscribed again.
        directory.add(&a, 1);
        directory.add(&b, 1);
        let plan = interest.plan(directory);
        assert_eq!(sorted(plan.subscribe), [a.clone(), b.clone()]);
        interest.settle(a.clone(), true, false);
        interest.settle(b.clone(), true, true);
        assert_eq!(interest.plan(directory).subscribe, std::slice::from_ref(&a));
        interest.settle(a.clone(), true, true);
        assert!(interest.dropped(b"b"));
        assert!(!interest.dropped(b"b"), "once");
        assert_eq!(interest.plan(directory).subscribe, [b]);
    }
}
