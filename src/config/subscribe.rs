//! How a backplane on one Redis server subscribes.

/// How a backplane on one Redis server (`redis://`) subscribes: to every
/// topic at once (a pattern), or to each topic this process's clients
/// hold. A Redis Cluster and NATS always subscribe per topic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackplaneSubscribe {
    /// The backplane's own way: [`Pattern`](Self::Pattern) for one Redis
    /// (no subscriber misses a publish for want of a subscription: see
    /// docs/tuning.md for what the measurement found), per topic for a
    /// Redis Cluster and NATS.
    #[default]
    Auto,
    /// `PSUBSCRIBE esockets:*`: every process receives every publish of
    /// every topic, and a new subscriber never misses one from another
    /// process.
    Pattern,
    /// `SUBSCRIBE esockets:<topic>` for each topic with subscribers here
    /// (and `UNSUBSCRIBE` when the last leaves): a process receives only
    /// what it delivers; another process's publish sent while the first
    /// subscriber's `SUBSCRIBE` is on its way is missed.
    Topics,
}

impl BackplaneSubscribe {
    /// Whether one Redis is subscribed to per topic.
    pub fn per_topic(self) -> bool {
        self == Self::Topics
    }
}
