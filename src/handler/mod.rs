//! The handler-facing API: the callbacks a service implements, the shard
//! context and client view they receive, and what they return.

pub(crate) mod conn;
pub(crate) mod context;
pub(crate) mod outcome;

use std::net::SocketAddr;

use bytes::Bytes;

pub use crate::hub::close_reason::CloseReason;
pub use crate::hub::handle::ServerHandle;
pub use crate::hub::id::ConnId;
pub use conn::Conn;
pub use context::{ShardContext, ShardInfo, TimerId};
#[allow(deprecated)]
pub use outcome::Decision;
pub use outcome::{Admission, Verdict};

/// A service: the callbacks one shard runs for its clients.
///
/// One handler instance exists per shard, made on the shard's own thread by
/// the factory given to [`Server::bind`](crate::Server::bind), so a handler
/// needs neither `Send` nor locks. Every callback runs on that thread and
/// must not block: it holds up every client of the shard.
///
/// Each client carries a [`State`](Handler::State) of the handler's
/// choosing, stored inline in the shard's table (no map, no allocation;
/// `()` costs nothing). Every callback gets the [`ShardContext`]: the
/// shard's clock, timers, and the other clients of the shard.
///
/// Only [`on_data`](Handler::on_data) is required.
///
/// # Examples
///
/// ```
/// use esockets::{Conn, Handler, ShardContext, Verdict};
///
/// /// Replies to every chunk of input with the client's running total.
/// struct Count;
///
/// impl Handler for Count {
///     type State = u64;
///
///     fn on_data(
///         &mut self,
///         _cx: &mut ShardContext<'_>,
///         conn: &mut Conn<'_>,
///         total: &mut u64,
///         data: &[u8],
///     ) -> Verdict {
///         *total += data.len() as u64;
///         conn.send(format!("{total}\n").as_bytes());
///         Verdict::Consumed(data.len())
///     }
/// }
/// ```
pub trait Handler {
    /// Per-connection state, made by [`on_connect`](Handler::on_connect)
    /// (by default, `State::default()`) and handed back by value to
    /// [`on_close`](Handler::on_close).
    type State: Default;

    /// Runs once on the shard thread before the first client.
    fn on_start(&mut self, cx: &mut ShardContext<'_>) {
        let _ = cx;
    }

    /// A client connected from `peer`. The handler may greet it through
    /// `conn`, and accepts it with its initial state, or refuses it.
    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<Self::State> {
        let _ = (cx, conn, peer);
        Admission::Accept(Self::State::default())
    }

    /// Input arrived. `data` holds every byte not consumed yet: what earlier
    /// calls left ([`Conn::carried`] says how much), then the new bytes.
    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
        data: &[u8],
    ) -> Verdict;

    /// A timer set with [`ShardContext::set_timer`] for this client fired.
    fn on_timer(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
        tag: u64,
    ) {
        let _ = (cx, conn, state, tag);
    }

    /// A timer set with [`ShardContext::set_layer_timer`] for this client
    /// fired: for handlers that are layers over another handler. Only
    /// while the client is open.
    fn on_layer_timer(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
        tag: u64,
    ) {
        let _ = (cx, conn, state, tag);
    }

    /// The connection's queued output fell to the low-water mark after
    /// passing the high-water mark; reading from it has resumed (for a
    /// closing client, only its flush goes on).
    fn on_drain(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
    ) {
        let _ = (cx, conn, state);
    }

    /// The connection is gone; `id` will never be used again. `state` is
    /// the client's state, handed back.
    fn on_close(
        &mut self,
        cx: &mut ShardContext<'_>,
        id: ConnId,
        state: Self::State,
        reason: CloseReason,
    ) {
        let _ = (cx, id, state, reason);
    }

    /// Frames one publish for this shard's subscribers of `topic`, once
    /// per shard: the result is shared by every subscriber (never copied
    /// per client). Publishes travel as the payload published, between
    /// shards and through the backplane, so each protocol frames them its
    /// own way (a line for one, a WebSocket frame for another). By
    /// default the payload is delivered as it is.
    fn frame_delivery(&mut self, topic: &[u8], payload: &Bytes) -> Bytes {
        let _ = topic;
        payload.clone()
    }

    /// Which framing of a publish the client with `state` gets: 0, the
    /// default, for [`frame_delivery`](Self::frame_delivery)'s. A
    /// protocol whose subscribers need different bytes for one publish
    /// (WebSocket clients with and without compression) gives each kind
    /// its own number, and each number is framed once per shard and
    /// publish, by [`frame_variant`](Self::frame_variant).
    fn delivery_variant(&self, state: &Self::State) -> u8 {
        let _ = state;
        0
    }

    /// Frames one publish for this shard's subscribers of `variant` (see
    /// [`delivery_variant`](Self::delivery_variant)), once per shard, as
    /// [`frame_delivery`](Self::frame_delivery) does for all. By default,
    /// `frame_delivery`'s framing whatever the variant.
    fn frame_variant(&mut self, topic: &[u8], payload: &Bytes, variant: u8) -> Bytes {
        let _ = variant;
        self.frame_delivery(topic, payload)
    }

    /// Frames one publish at `offset` in its topic's history, for the
    /// shard's positioned subscribers of `variant`
    /// ([`ShardContext::subscribe_positioned`]): once per shard and
    /// publish, shared, like [`frame_variant`](Self::frame_variant)'s;
    /// a publish recovered or filled in from the history is framed for
    /// its one subscriber. By default, `frame_variant`'s framing (the
    /// offset not shown).
    fn frame_positioned(
        &mut self,
        topic: &[u8],
        offset: u64,
        payload: &Bytes,
        variant: u8,
    ) -> Bytes {
        let _ = offset;
        self.frame_variant(topic, payload, variant)
    }

    /// The shard handled every event of one round of its event loop
    /// (input, accepts, commands from other threads, timers, deliveries)
    /// and is about to wait for the next ones: called once per round,
    /// before the shard polls again. A handler that takes something for
    /// a whole round (a lock for its callbacks, a batch of replies)
    /// gives it back here, so nothing is held while the shard sleeps.
    /// Requests made here (sends, closes, publishes) are applied at
    /// once, before the poll; callbacks they cause (the `on_close` of a
    /// client whose write failed) come after it. By default nothing
    /// happens, and nothing is spent on it.
    #[inline]
    fn on_round_end(&mut self, cx: &mut ShardContext<'_>) {
        let _ = cx;
    }

    /// Runs every `Config::tick` (off by default), on each shard.
    fn on_tick(&mut self, cx: &mut ShardContext<'_>) {
        let _ = cx;
    }

    /// Shutdown began: the shard stopped accepting (and, with
    /// `Config::shutdown_grace`, served its clients that long, or until they
    /// all left) and is about to flush and close its clients. A service can
    /// still say goodbye here ([`ShardContext::send_to_all`]).
    fn on_shutting_down(&mut self, cx: &mut ShardContext<'_>) {
        let _ = cx;
    }

    /// Runs once on the shard thread after its last client is closed at
    /// shutdown.
    fn on_shutdown(&mut self, cx: &mut ShardContext<'_>) {
        let _ = cx;
    }
}
