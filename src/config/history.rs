//! How much of each topic's past a server keeps, for subscribers that
//! recover what they missed.

use std::time::Duration;

/// What each topic keeps of its past: its last `messages` publishes, none
/// older than `max_age`, for at most `topics` topics. `messages: 0` (the
/// default) keeps no history: publishes carry no offset, and subscribing
/// with positions is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct History {
    /// Publishes kept per topic (the newest). 0: no history.
    pub messages: usize,
    /// Publishes older than this are dropped (checked when the topic is
    /// next published to or read). `None`: kept until pushed out.
    pub max_age: Option<Duration>,
    /// Topics with a history at most; a new one past it pushes out the
    /// topic published to least recently (its history, offset and epoch
    /// are forgotten: a client recovering on it is told it cannot).
    pub topics: usize,
}

/// Topics with a history, at most, by default.
pub const HISTORY_TOPICS: usize = 10_000;

impl Default for History {
    fn default() -> Self {
        Self {
            messages: 0,
            max_age: None,
            topics: HISTORY_TOPICS,
        }
    }
}

impl History {
    /// Whether a history is kept at all.
    pub fn enabled(&self) -> bool {
        self.messages > 0
    }
}
