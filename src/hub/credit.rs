//! Fan-out credit: how many publishes each shard has been sent and not
//! yet delivered, against a bound (`Config::fanout_credit`). A publisher
//! whose publish finds a shard past the bound is paced: its shard reads no
//! more of its input until that shard is back to half the bound. Only the
//! shards' own delivery pays the credit back, never a subscriber's
//! reading, so a slow subscriber paces nobody.
//!
//! Taken by whoever routes a publish to another shard (a shard's round, a
//! handle, the backplane), one per publish and shard; paid back by the
//! shard that delivered it, once the round that delivered it has written
//! its deliveries.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam::utils::CachePadded;

/// One shard's account.
#[derive(Debug, Default)]
struct Account {
    /// Publishes sent to the shard (queued for it, in its inbox, or being
    /// delivered) and not paid back yet.
    in_flight: AtomicUsize,
}

/// Every shard's fan-out credit, shared by the server's threads.
#[derive(Debug)]
pub(crate) struct Credit {
    /// Publishes in flight per shard, at most; 0: no bound (nobody is
    /// paced).
    bound: usize,
    /// Each shard's account, by index, on its own cache line (the senders
    /// and the shard touch it once per publish and once per round).
    accounts: Vec<CachePadded<Account>>,
    /// Shards with publishers paced now, by index: woken when a shard's
    /// account falls back to half the bound.
    waiting: Vec<CachePadded<AtomicBool>>,
}

impl Credit {
    /// Credit of `bound` publishes in flight for each of `shards` shards
    /// (0: unbounded).
    pub(crate) fn new(shards: usize, bound: usize) -> Self {
        Self {
            bound,
            accounts: (0..shards).map(|_| CachePadded::default()).collect(),
            waiting: (0..shards).map(|_| CachePadded::default()).collect(),
        }
    }

    /// The bound (0: none).
    pub(crate) fn bound(&self) -> usize {
        self.bound
    }

    /// Publishes in flight to `shard` now.
    pub(crate) fn in_flight(&self, shard: usize) -> usize {
        self.accounts
            .get(shard)
            .map_or(0, |a| a.in_flight.load(Ordering::Relaxed))
    }

    /// Takes one publish's credit on `shard`; returns whether the shard is
    /// past the bound with it (its publisher is to be paced).
    pub(crate) fn take(&self, shard: usize) -> bool {
        let Some(account) = self.accounts.get(shard) else {
            return false;
        };
        let before = account.in_flight.fetch_add(1, Ordering::Relaxed);
        self.bound != 0 && before >= self.bound
    }

    /// Whether `shard` has credit left for one more publish (always, with
    /// no bound).
    pub(crate) fn has_room(&self, shard: usize) -> bool {
        self.bound == 0 || self.in_flight(shard) < self.bound
    }

    /// Whether a publisher paced for `shard` may go on: the shard is back
    /// to half the bound (so it still has work while the publisher
    /// refills it).
    pub(crate) fn resumes(&self, shard: usize) -> bool {
        // SeqCst: the waiting shard's re-check (see `pay_back`).
        self.accounts
            .get(shard)
            .map_or(0, |a| a.in_flight.load(Ordering::SeqCst))
            <= self.bound / 2
    }

    /// Shard `shard` delivered `n` publishes and wrote them: pays them
    /// back. Returns whether paced publishers may go on now: the shard is
    /// back to half the bound and some shard waits (the caller wakes the
    /// waiting shards, [`take_waiting`](Self::take_waiting)).
    pub(crate) fn pay_back(&self, shard: usize, n: usize) -> bool {
        let Some(account) = self.accounts.get(shard) else {
            return false;
        };
        // SeqCst with `wait`'s store and re-check: either the waiting
        // shard's re-check sees this payment, or this load sees its flag.
        let before = account.in_flight.fetch_sub(n, Ordering::SeqCst);
        let now = before.saturating_sub(n);
        now <= self.bound / 2 && self.waiting.iter().any(|flag| flag.load(Ordering::SeqCst))
    }

    /// Shard `shard` has paced publishers: wake it when credit comes
    /// back. The caller checks the credit again after this call.
    pub(crate) fn wait(&self, shard: usize) {
        if let Some(flag) = self.waiting.get(shard) {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// Whether shard `shard` waited; clears the flag (it is woken once,
    /// and waits again if its publishers are still paced).
    pub(crate) fn take_waiting(&self, shard: usize) -> bool {
        self.waiting
            .get(shard)
            .is_some_and(|flag| flag.swap(false, Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::Credit;

    #[test]
    fn a_publisher_is_paced_past_the_bound_and_goes_on_at_half() {
        let credit = Credit::new(2, 4);
        let paced: Vec<bool> = (0..6).map(|_| credit.take(1)).collect();
        assert_eq!(paced, [false, false, false, false, true, true]);
        assert!(!credit.has_room(1));
        assert!(credit.has_room(0), "each shard has its own account");
        credit.wait(0);
        assert!(!credit.pay_back(1, 3), "6 - 3 = 3 is above half the bound");
        assert!(!credit.resumes(1));
        assert!(credit.pay_back(1, 1), "back to half, and shard 0 waits");
        assert!(credit.resumes(1));
        assert!(credit.take_waiting(0));
        assert!(!credit.take_waiting(0), "woken once");
        assert!(!credit.pay_back(1, 2), "nobody waits any more");
        assert_eq!(credit.in_flight(1), 0);
    }

    #[test]
    fn no_bound_paces_nobody() {
        let credit = Credit::new(1, 0);
        assert!((0..100_000).all(|_| !credit.take(0)));
        assert!(credit.has_room(0));
        assert_eq!(credit.in_flight(0), 100_000);
    }
}
