//! How a backplane on one Redis server subscribes.

/// How a backplane on one Redis server (`redis://`) subscribes: to every
/// topic at once (a pattern), or to each topic this process's clients
/// hold. A Redis Cluster and NATS always subscribe per topic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackplaneSubscribe {
    /// [`Topics`](Self::Topics) without a history, [`Pattern`](Self::Pattern)
    /// with one (a shared history needs every publish); the choice of
    /// docs/tuning.md's measurement.
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
    /// Whether one Redis is subscribed to per topic, the server keeping a
    /// history (`history`) or not.
    pub fn per_topic(self, history: bool) -> bool {
        match self {
            Self::Topics => true,
            Self::Pattern => false,
            Self::Auto => !history,
        }
    }
}
