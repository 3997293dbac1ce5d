//! Who subscribes to and publishes on which topic: pure arithmetic, so
//! every worker and the final count agree without talking to each other.
//!
//! Subscriber `s` subscribes to topics `s, s+1, ..., s+K-1` (mod `T`).
//! Publisher `p` publishes its `j`-th message to topic `(p + j·M) mod T`:
//! it cycles over the topics congruent to `p` modulo `gcd(M, T)`, so the
//! `M` publishers together cover every topic, and topic `t` is published
//! to by the publishers `p ≡ t (mod gcd(M, T))`.
//!
//! With `--recover`, subscribers also leave and come back on a schedule
//! ([`Recovery`], from `--recover`).

use crate::front::cli::Protocol;
use crate::front::pubsub_args::Recovery;

/// The pub/sub layout of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Wire protocol.
    pub protocol: Protocol,
    /// Subscriber connections (`N`).
    pub subscribers: u64,
    /// Publisher connections (`M`).
    pub publishers: u64,
    /// Topics (`T`).
    pub topics: u64,
    /// Topics per subscriber (`K`, at most `T`).
    pub per_subscriber: u64,
    /// Subscribers leave and come back (`--recover`); `None`: they stay.
    pub recovery: Option<Recovery>,
    /// Every this many subscribers one is verified (`--verify-every`;
    /// 1: all of them).
    pub verify_every: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The name of topic `t` on the wire.
pub fn topic_name(t: u64) -> String {
    format!("lg.{t}")
}

/// The topic number of a topic name, if it is one of loadgen's.
pub fn topic_index(name: &[u8]) -> Option<u64> {
    let digits = name.strip_prefix(b"lg.")?;
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl Plan {
    /// Whether subscriber `s` has its deliveries checked and timed (else
    /// only counted).
    pub fn verified(&self, s: u64) -> bool {
        s % self.verify_every.max(1) == 0
    }

    /// How many subscribers are verified.
    pub fn verified_subscribers(&self) -> u64 {
        self.subscribers.div_ceil(self.verify_every.max(1))
    }

    /// Connections in all: subscribers and publishers.
    pub fn connections(&self) -> u64 {
        self.subscribers + self.publishers
    }

    /// The topics subscriber `s` subscribes to.
    pub fn subscriber_topics(&self, s: u64) -> impl Iterator<Item = u64> + '_ {
        (0..self.per_subscriber).map(move |i| (s + i) % self.topics)
    }

    /// How many subscribers the plan puts on topic `t`.
    pub fn subscribers_of(&self, t: u64) -> u64 {
        let (n, topics) = (self.subscribers, self.topics);
        (0..self.per_subscriber)
            .map(|i| {
                // Subscribers s with s ≡ t - i (mod T).
                let r = (t + topics - i % topics) % topics;
                n / topics + u64::from(r < n % topics)
            })
            .sum()
    }

    /// The topics publisher `p` cycles over, in publishing order.
    pub fn publisher_topics(&self, p: u64) -> Vec<u64> {
        let cycle = self.topics / gcd(self.publishers, self.topics);
        (0..cycle)
            .map(|j| (p + j * self.publishers) % self.topics)
            .collect()
    }

    /// The publishers that publish to topic `t`.
    pub fn publishers_of(&self, t: u64) -> impl Iterator<Item = u64> {
        let g = gcd(self.publishers, self.topics);
        (t % g..self.publishers).step_by(g as usize)
    }

    /// Whether publisher `p` publishes to topic `t`.
    pub fn publishes_to(&self, p: u64, t: u64) -> bool {
        let g = gcd(self.publishers, self.topics);
        p < self.publishers && t < self.topics && p % g == t % g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(n: u64, m: u64, t: u64, k: u64) -> Plan {
        Plan {
            protocol: Protocol::Pubsub,
            subscribers: n,
            publishers: m,
            topics: t,
            per_subscriber: k,
            recovery: None,
            verify_every: 1,
        }
    }

    #[test]
    fn every_topic_is_covered_and_counts_agree() {
        for (n, m, t, k) in [
            (200, 4, 4, 1),
            (10, 1, 1, 1),
            (7, 3, 5, 2),
            (30, 100, 1000, 3),
        ] {
            let p = plan(n, m, t, k);
            let mut subs = vec![0u64; t as usize];
            for s in 0..n {
                for topic in p.subscriber_topics(s) {
                    subs[topic as usize] += 1;
                }
            }
            let mut pubs = vec![Vec::new(); t as usize];
            for publisher in 0..m {
                for topic in p.publisher_topics(publisher) {
                    assert!(p.publishes_to(publisher, topic));
                    pubs[topic as usize].push(publisher);
                }
            }
            for topic in 0..t {
                assert_eq!(
                    p.subscribers_of(topic),
                    subs[topic as usize],
                    "{p:?} {topic}"
                );
                let want: Vec<u64> = p.publishers_of(topic).collect();
                assert_eq!(want, pubs[topic as usize], "{p:?} {topic}");
                assert!(!want.is_empty(), "topic {topic} has no publisher");
            }
        }
    }

    #[test]
    fn every_nth_subscriber_is_verified() {
        let mut p = plan(10, 1, 1, 1);
        assert_eq!(p.verified_subscribers(), 10);
        assert!((0..10).all(|s| p.verified(s)));
        p.verify_every = 4;
        let verified: Vec<u64> = (0..10).filter(|&s| p.verified(s)).collect();
        assert_eq!(verified, vec![0, 4, 8]);
        assert_eq!(p.verified_subscribers(), 3);
    }

    #[test]
    fn topic_names_round_trip() {
        assert_eq!(topic_index(topic_name(42).as_bytes()), Some(42));
        assert_eq!(topic_index(b"lg."), None);
        assert_eq!(topic_index(b"other"), None);
        assert_eq!(topic_index(b"lg.4x"), None);
    }
}
