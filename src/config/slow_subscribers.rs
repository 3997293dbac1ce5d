//! What happens to a subscriber that does not keep up.

/// What happens to a subscriber that does not keep up: its queued output
/// passed [`Config::output_high_water`](crate::Config::output_high_water).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlowSubscribers {
    /// Keep queuing; the client is closed with
    /// [`CloseReason::OutputOverflow`](crate::CloseReason::OutputOverflow)
    /// once its queue would pass `output_limit`, as for any client that
    /// does not read.
    #[default]
    Close,
    /// Skip deliveries to it while its queue is above the high-water mark
    /// and count them ([`ShardStats::dropped_slow`](crate::ShardStats));
    /// once it drains, [`ShardContext::take_missed`](crate::ShardContext::take_missed)
    /// says how many it missed, for the protocol to tell it.
    Drop,
}
