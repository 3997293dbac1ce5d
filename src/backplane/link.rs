//! What both backplane threads share: the wire format on Redis, the
//! origin id, and waiting between attempts to reach Redis.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{CHANNEL_PREFIX, MAX_BACKOFF, STOP_CHECK};
use crate::hub::outbox::Counters;

/// A random id for this process, so it can tell its own publishes apart
/// when Redis hands them back.
pub(super) fn origin_id() -> u64 {
    // `RandomState` is seeded from the operating system's randomness.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// The Redis channel of `topic`.
pub(super) fn channel(topic: &[u8]) -> Vec<u8> {
    [CHANNEL_PREFIX, topic].concat()
}

/// The Redis message for `payload`: the origin id, then the payload.
pub(super) fn message(origin: u64, payload: &[u8]) -> Vec<u8> {
    [&origin.to_be_bytes()[..], payload].concat()
}

/// Splits a Redis message into its origin and payload; `None` if it is
/// not one of ours.
pub(super) fn parse_message(message: &[u8]) -> Option<(u64, &[u8])> {
    let (origin, payload) = message.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*origin), payload))
}

/// The topic of a Redis channel; `None` if it is not one of ours.
pub(super) fn topic_of(channel: &[u8]) -> Option<&[u8]> {
    channel.strip_prefix(CHANNEL_PREFIX)
}

/// Waits out a back-off (doubling from 50 ms up to [`MAX_BACKOFF`]),
/// returning early when the server stops. Returns whether it stopped.
pub(super) fn back_off(counters: &Counters, backoff: &mut Duration) -> bool {
    let end = Instant::now() + *backoff;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    while Instant::now() < end {
        if counters.stop.load(Ordering::Relaxed) {
            return true;
        }
        std::thread::sleep(STOP_CHECK.min(end.saturating_duration_since(Instant::now())));
    }
    counters.stop.load(Ordering::Relaxed)
}

/// Adds `n` to a process-wide counter and to the same counter of the
/// node it is about (`sent`, `received`, `lost`, ...).
pub(super) fn count(total: &AtomicU64, node: &AtomicU64, n: u64) {
    total.fetch_add(n, Ordering::Relaxed);
    node.fetch_add(n, Ordering::Relaxed);
}

/// The first back-off after a failure.
pub(super) const FIRST_BACKOFF: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::{channel, message, parse_message, topic_of};

    #[test]
    fn messages_and_channels_round_trip() {
        let wire = message(42, b"MSG t hi");
        assert_eq!(parse_message(&wire), Some((42, &b"MSG t hi"[..])));
        assert_eq!(parse_message(b"short"), None);
        assert_eq!(topic_of(&channel(b"\x00odd")), Some(&b"\x00odd"[..]));
        assert_eq!(topic_of(b"other:topic"), None);
    }
}
