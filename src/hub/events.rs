//! What a pub/sub protocol counts about its clients (refused credentials,
//! refused topics, refused publishes), kept by the shard with its other
//! counters: [`ShardContext::count`](crate::ShardContext::count).

/// One thing a protocol counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A credential refused: not a token at all.
    AuthMalformed,
    /// A credential refused: longer than the protocol accepts.
    AuthTooLong,
    /// A credential refused: signed with another key.
    AuthBadSignature,
    /// A credential refused: an algorithm not accepted (`none` included).
    AuthAlgorithm,
    /// A credential refused: expired.
    AuthExpired,
    /// A credential refused: not valid yet.
    AuthNotYetValid,
    /// A credential refused: a claim missing or of the wrong type.
    AuthClaims,
    /// A credential refused for another reason (a refresh for another
    /// identity, a kind of credential not accepted).
    AuthOther,
    /// A client closed for not authenticating in time.
    AuthTimeout,
    /// A client closed because its grant ended (its token's `exp`).
    GrantLapsed,
    /// A subscribe or publish outside the client's permissions.
    NotAllowed,
    /// A publish refused for the client's rate.
    RateLimited,
    /// A client closed for flooding: publishing past its rate, or
    /// refreshing (`AUTH` again) past the pubsub protocol's bound.
    FloodClosed,
    /// A publish sent to a subscriber recovering what it missed.
    Recovered,
    /// A recovery refused (another epoch, or too old).
    RecoveryFailed,
    /// A positioned delivery that could not be sent in order: a later
    /// publish reached the shard first and this one was no longer in the
    /// history.
    Unfilled,
}

/// How many kinds of [`Event`].
pub(crate) const EVENTS: usize = 16;

const _: () = assert!(
    Event::Unfilled as usize + 1 == EVENTS,
    "EVENTS is the last + 1"
);

/// The count of each [`Event`], on one shard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Events(pub(crate) [u64; EVENTS]);

impl Events {
    /// Counts one `event`.
    pub(crate) fn count(&mut self, event: Event) {
        self.0[event as usize] += 1;
    }

    /// Counts `n` of `event`.
    pub(crate) fn add(&mut self, event: Event, n: u64) {
        self.0[event as usize] += n;
    }
}
