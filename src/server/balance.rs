//! Which shard serves a new client: the kernel's `SO_REUSEPORT` hash, the
//! same group steered by the CPU that received the client, or one acceptor
//! handing each client to the least-loaded shard; and which of those the
//! default ([`Balance::Auto`]) runs.
//!
//! In least-loaded mode each shard publishes its load in one word (clients
//! open, handoffs taken from its inbox); the acceptor adds the handoffs it
//! sent but the shard has not taken yet, and skips shards whose current
//! loop round has run too long, by the shard's heartbeat (the one the
//! stall watchdog reads).

use std::time::Duration;

use mio::net::TcpListener;

use crate::config::{Balance, BalanceChoice, BalanceReason};
use crate::hub::load::Exported;

/// What decides the mode [`Balance::Auto`] runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Setting {
    /// The shards.
    pub(crate) threads: usize,
    /// `Config::pin_threads`.
    pub(crate) pinned: bool,
    /// The CPUs this process may use, if the system listed them.
    pub(crate) cpus: Option<usize>,
    /// `Config::reuseport_join`.
    pub(crate) joining: bool,
    /// The listening sockets were passed in.
    pub(crate) passed: bool,
}

/// The mode `asked` resolves to: itself when named, else by the rule of
/// [`Balance::Auto`] (steering unless something in `setting` rules it
/// out), with the reason. Whether the kernel takes the program is only
/// known when it is attached; the caller falls back then.
pub(crate) fn resolve(asked: Balance, setting: Setting) -> BalanceChoice {
    let choice = |mode, reason| BalanceChoice { mode, reason };
    if asked != Balance::Auto {
        return choice(asked, BalanceReason::Asked);
    }
    let fallback = |reason| choice(Balance::ReusePort, reason);
    let shards = setting.threads;
    match setting.cpus {
        _ if !setting.pinned => fallback(BalanceReason::NotPinned),
        Some(cpus) if shards > cpus => fallback(BalanceReason::MoreShardsThanCpus { shards, cpus }),
        _ if setting.joining => fallback(BalanceReason::Joining),
        _ if setting.passed => fallback(BalanceReason::Passed),
        None | Some(0) => fallback(BalanceReason::NoCpuList),
        Some(cpus) => choice(
            Balance::ReceivingCpu,
            BalanceReason::Steerable { shards, cpus },
        ),
    }
}

/// How many listening sockets to bind or adopt for `threads` shards: one
/// per shard, or under least-loaded balancing the `acceptor_takes` the
/// acceptor accepts on (one when binding; every socket passed in).
pub(crate) fn listener_count(balance: Balance, threads: usize, acceptor_takes: usize) -> usize {
    match balance {
        Balance::LeastLoaded => acceptor_takes,
        _ => threads,
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
        Balance::LeastLoaded => ((0..shards).map(|_| None).collect(), Some(listeners)),
        _ => (listeners.into_iter().map(Some).collect(), None),
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

    /// Two pinned shards on two CPUs, binding their own sockets.
    const STEERABLE: Setting = Setting {
        threads: 2,
        pinned: true,
        cpus: Some(2),
        joining: false,
        passed: false,
    };

    #[test]
    fn the_default_steers_by_cpu_when_nothing_rules_it_out() {
        let choice = resolve(Balance::Auto, STEERABLE);
        assert_eq!(choice.mode, Balance::ReceivingCpu);
        assert_eq!(
            choice.reason,
            BalanceReason::Steerable { shards: 2, cpus: 2 }
        );
        assert!(choice.reason.by_default());
        let fewer = resolve(
            Balance::Auto,
            Setting {
                threads: 1,
                ..STEERABLE
            },
        );
        assert_eq!(fewer.mode, Balance::ReceivingCpu);
    }

    #[test]
    fn the_default_falls_back_to_the_hash_with_the_reason() {
        let cases = [
            (
                Setting {
                    pinned: false,
                    ..STEERABLE
                },
                BalanceReason::NotPinned,
            ),
            (
                Setting {
                    threads: 3,
                    ..STEERABLE
                },
                BalanceReason::MoreShardsThanCpus { shards: 3, cpus: 2 },
            ),
            (
                Setting {
                    joining: true,
                    ..STEERABLE
                },
                BalanceReason::Joining,
            ),
            (
                Setting {
                    passed: true,
                    ..STEERABLE
                },
                BalanceReason::Passed,
            ),
            (
                Setting {
                    cpus: None,
                    ..STEERABLE
                },
                BalanceReason::NoCpuList,
            ),
        ];
        for (setting, reason) in cases {
            let choice = resolve(Balance::Auto, setting);
            assert_eq!(choice.mode, Balance::ReusePort, "{setting:?}");
            assert_eq!(choice.reason, reason, "{setting:?}");
        }
    }

    #[test]
    fn a_mode_asked_for_is_kept_whatever_the_setting() {
        let unpinned = Setting {
            pinned: false,
            ..STEERABLE
        };
        for mode in [
            Balance::ReusePort,
            Balance::ReceivingCpu,
            Balance::LeastLoaded,
        ] {
            let choice = resolve(mode, unpinned);
            assert_eq!(choice.mode, mode);
            assert_eq!(choice.reason, BalanceReason::Asked);
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
