//! Fan-out: one payload for many clients, whichever way it enters (a
//! client's publish, [`ServerHandle::publish`](crate::ServerHandle::publish)
//! or `broadcast`, the backplane). This is the one type they all travel
//! as (routed from other threads by `Hub::fan_out`); each shard then
//! delivers it to its own clients in one place (`shard/fanout.rs`), with
//! one slow-subscriber policy.

use bytes::Bytes;

/// Who a fan-out is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Audience {
    /// The subscribers of this topic. The payload is the message as
    /// published; each shard frames it once for its protocol.
    Topic(Bytes),
    /// Every client, the payload byte for byte.
    Everyone,
}

/// One payload for many clients, shared by all of them (never copied per
/// client).
#[derive(Clone, Debug)]
pub(crate) struct Fanout {
    /// Who gets it.
    pub(crate) audience: Audience,
    /// What they get.
    pub(crate) payload: Bytes,
    /// Its offset in the topic's history; 0 without one.
    pub(crate) offset: u64,
    /// The topic's history was lost just before it (a new epoch):
    /// positioned subscribers start again from its offset.
    pub(crate) reset: bool,
}

impl Fanout {
    /// A publish to `topic`'s subscribers.
    pub(crate) fn topic(topic: Bytes, payload: Bytes) -> Self {
        Self {
            audience: Audience::Topic(topic),
            payload,
            offset: 0,
            reset: false,
        }
    }

    /// The same publish, the first of a new epoch seen here.
    pub(crate) fn after_reset(mut self) -> Self {
        self.reset = true;
        self
    }

    /// The same publish at `offset` in its topic's history.
    pub(crate) fn at(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    /// A payload for every client.
    pub(crate) fn everyone(payload: Bytes) -> Self {
        Self {
            audience: Audience::Everyone,
            payload,
            offset: 0,
            reset: false,
        }
    }
}
