//! Which shard serves a new client: the kernel's `SO_REUSEPORT` hash, the
//! same group steered by the CPU that received the client, or one acceptor
//! handing each client to the least-loaded shard.
//!
//! In least-loaded mode each shard publishes its load in one word (clients
//! open, handoffs taken from its inbox); the acceptor adds the handoffs it
//! sent but the shard has not taken yet, and skips shards whose current
//! loop round has run too long, by the shard's heartbeat (the one the
//! stall watchdog reads).

use std::time::Duration;

use mio::net::TcpListener;

use crate::config::Balance;
use crate::hub::load::Exported;

/// How many listening sockets to bind or adopt for `threads` shards: one
/// per shard, or under least-loaded balancing the `acceptor_takes` the
/// acceptor accepts on (one when binding; every socket passed in).
pub(crate) fn listener_count(balance: Balance, threads: usize, acceptor_takes: usize) -> usize {
    match balance {
        Balance::ReusePort | Balance::ReceivingCpu => threads,
        Balance::LeastLoaded => acceptor_takes,
    }
}

/// Who accepts on the bound `listeners`: each shard on its own (one per
/// shard), or the acceptor on all of them (the shards get none).
pub(crate) fn split(
    balance: Balance,
    listeners: Vec<TcpListener>,
    shards: usize,
) -> (Vec<Option<TcpListener>>, Option<Vec<TcpListener>>) {
    match balance {
        Balance::ReusePort | Balance::ReceivingCpu => {
            (listeners.into_iter().map(Some).collect(), None)
        }
        Balance::LeastLoaded => ((0..shards).map(|_| None).collect(), Some(listeners)),
    }
}

/// [`Balance::STALLED_AFTER`].
pub(crate) const STALLED_AFTER: Duration = Balance::STALLED_AFTER;

/// What the acceptor knows of one shard when it picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// Clients open or on their way (sent, not yet taken).
    pub(crate) load: u64,
    /// How long the shard's current loop round has run by its heartbeat,
    /// in nanoseconds (0 while it waits for events); from
    /// [`STALLED_AFTER`] on it is stalled.
    pub(crate) running: u64,
    /// The shard's inbox refused a handoff this time round.
    pub(crate) full: bool,
}

impl Candidate {
    /// Whether the shard's round has run past [`STALLED_AFTER`].
    fn stalled(&self) -> bool {
        self.running >= STALLED_AFTER.as_nanos() as u64
    }
}

/// The shard a new client goes to: the least-loaded of those neither
/// stalled nor full, the first of equals; if every shard is stalled, the
/// one whose round began last (most likely back first: a shard the
/// scheduler paused briefly rather than one blocked in a callback);
/// `None` when every inbox is full.
pub(crate) fn pick(candidates: &[Candidate]) -> Option<usize> {
    let open = || candidates.iter().enumerate().filter(|(_, c)| !c.full);
    open()
        .filter(|(_, c)| !c.stalled())
        .min_by_key(|(_, c)| c.load)
        .or_else(|| open().min_by_key(|(_, c)| c.running))
        .map(|(index, _)| index)
}

/// The load the acceptor counts for a shard: what it published, plus the
/// handoffs `sent` to it that it has not taken yet.
pub(crate) fn load_of(published: Exported, sent: u32) -> u64 {
    u64::from(published.open) + u64::from(sent.wrapping_sub(published.taken))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::load::ShardLoad;

    /// A round this old (nanoseconds) is past the limit.
    const STALLED: u64 = 2 * STALLED_AFTER.as_nanos() as u64;

    fn free(load: u64) -> Candidate {
        Candidate {
            load,
            running: 0,
            full: false,
        }
    }

    #[test]
    fn the_least_loaded_shard_wins_and_ties_go_to_the_first() {
        assert_eq!(pick(&[free(3), free(1), free(2)]), Some(1));
        assert_eq!(pick(&[free(2), free(2)]), Some(0));
    }

    #[test]
    fn stalled_and_full_shards_are_skipped() {
        let stalled = Candidate {
            running: STALLED,
            ..free(0)
        };
        let full = Candidate {
            full: true,
            ..free(0)
        };
        assert_eq!(pick(&[stalled, free(9)]), Some(1));
        assert_eq!(pick(&[full, free(9)]), Some(1));
        assert_eq!(pick(&[full, full]), None);
    }

    #[test]
    fn when_every_shard_is_stalled_the_one_stalled_least_long_gets_it() {
        let stalled = |load, running| Candidate {
            running,
            ..free(load)
        };
        assert_eq!(
            pick(&[stalled(0, STALLED * 9), stalled(9, STALLED)]),
            Some(1)
        );
        // Busy but within the limit: load decides.
        assert_eq!(pick(&[stalled(3, STALLED / 4), stalled(1, 0)]), Some(1));
        assert_eq!(pick(&[stalled(1, STALLED / 4), stalled(3, 0)]), Some(0));
    }

    #[test]
    fn handoffs_on_their_way_count_until_taken() {
        let cell = ShardLoad::default();
        cell.export(Exported { open: 5, taken: 7 });
        assert_eq!(cell.read(), Exported { open: 5, taken: 7 });
        assert_eq!(load_of(cell.read(), 10), 8, "3 sent, not taken");
        // The counts wrap without a jump in load.
        let wrapped = Exported {
            open: 1,
            taken: u32::MAX,
        };
        assert_eq!(load_of(wrapped, 1), 3);
    }
}
