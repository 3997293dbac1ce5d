//! `--mode pubsub`: subscribers and publishers against a pub/sub server
//! (esockets' `pubsub` protocol, or Redis). Every delivery is checked: it
//! belongs to a topic its subscriber asked for, its payload is intact, and
//! per (publisher, topic) each subscriber gets every message once, in
//! publish order. Deliveries are timed from the publish (from its intended
//! time in the open loop).
//!
//! ```text
//!   execute ─ coordinator::coordinate ─ worker × N (subscribers and publishers)
//!                                  ├─ client (socket, queues)
//!                                  ├─ wire (text lines / RESP)
//!                                  ├─ frames (replies, deliveries)
//!                                  ├─ payload (header, padding)
//!                                  └─ verify (one stream's order)
//!   plan: who subscribes and publishes where · counts: shared totals
//! ```

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::engine::coordinator::{coordinate, IntervalLog};
use crate::engine::histo::{self, new_histogram};
use crate::engine::outcome::RunResult;
use crate::engine::shared::Shared;
use crate::front::config::RunConfig;
use crate::Failure;

mod client;
mod counts;
mod frames;
pub mod payload;
mod recovery;
pub mod verify;
pub mod wire;
mod worker;

pub use crate::engine::outcome::pubsub::{Counts, PubsubOutcome};

/// Runs a pub/sub load.
pub fn execute(
    cfg: &RunConfig,
    stop: Arc<AtomicBool>,
    mut log: Option<&mut (dyn IntervalLog + 'static)>,
) -> Result<RunResult, Failure> {
    let plan = cfg
        .pubsub
        .ok_or_else(|| Failure::Usage("--mode pubsub without a pub/sub plan".into()))?;
    let shared = Arc::new(Shared::new(stop, None));
    let pubsub = Arc::new(counts::PubsubShared::new(plan.topics));
    let cfg_arc = Arc::new(cfg.clone());
    let mut run = coordinate(cfg, &shared, log.as_deref_mut(), |index, samples| {
        let spec = worker::Spec {
            index,
            cfg: Arc::clone(&cfg_arc),
            plan,
            shared: Arc::clone(&shared),
            pubsub: Arc::clone(&pubsub),
            samples,
        };
        move || worker::run(spec)
    })?;
    let ends = std::mem::take(&mut run.reports);
    let mut result = RunResult::empty(cfg, run.cpu, run.cpu_wall, shared.stopped());
    let mut outcome = PubsubOutcome {
        plan,
        subscriptions: 0,
        subscribe: new_histogram(),
        recovery: new_histogram(),
        counts: Counts::default(),
        expected: 0,
        lost: 0,
    };
    let mut published: HashMap<(u64, u64), u64> = HashMap::new();
    for end in &ends {
        for (p, topics) in &end.published {
            for &(t, n) in topics {
                published.insert((*p, t), n);
            }
        }
    }
    let mut skipped = 0;
    for w in ends {
        result.established += w.established;
        result.open_at_end += w.open_at_end;
        histo::add(&mut result.connect, &w.connect);
        histo::add(&mut result.corrected, &w.recorder.corrected);
        histo::add(&mut result.uncorrected, &w.recorder.uncorrected);
        histo::add(&mut result.pacing, &w.recorder.pacing);
        histo::add(&mut outcome.subscribe, &w.subscribe);
        histo::add(&mut outcome.recovery, &w.recovery);
        result.errors.merge(&w.errors);
        result.messages += w.recorder.messages;
        result.unsent += w.recorder.unsent;
        result.duration = result
            .duration
            .max(w.window_end.saturating_duration_since(run.warm_end));
        for (slot, n) in result.per_source.iter_mut().zip(&w.per_source) {
            slot.1 += n;
        }
        for (slot, t) in result.per_target.iter_mut().zip(&w.per_target) {
            slot.merge(t);
        }
        outcome.counts.merge(&w.counts);
        for sub in &w.subscribers {
            outcome.subscriptions += sub.topics.len() as u64;
            if let Some(counted) = sub.counted {
                let owed: u64 = sub
                    .topics
                    .iter()
                    .flat_map(|&t| plan.publishers_of(t).map(move |p| (p, t)))
                    .map(|key| published.get(&key).copied().unwrap_or(0))
                    .sum();
                outcome.expected += owed;
                outcome.lost += owed.saturating_sub(counted);
                continue;
            }
            for &t in &sub.topics {
                for p in plan.publishers_of(t) {
                    let n = published.get(&(p, t)).copied().unwrap_or(0);
                    outcome.expected += n;
                    outcome.lost += match sub.streams.get(&(p, t)) {
                        Some(stream) => stream.lost(n),
                        None => n,
                    };
                    skipped += sub.streams.get(&(p, t)).map_or(0, |s| s.skipped(n));
                }
            }
        }
    }
    outcome.counts.skipped += skipped;
    if let Some(group) = result.per_group.first_mut() {
        for t in &result.per_target {
            group.merge(t);
        }
    }
    result.pubsub = Some(outcome);
    run.finish(&mut result, log);
    Ok(result)
}
