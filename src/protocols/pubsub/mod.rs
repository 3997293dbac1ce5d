//! `pubsub`: a small text protocol over the library's topics, usable with
//! `nc`. Grammar and examples: docs/protocols.md.
//!
//! The commands run the same over any transport: [`execute`] takes one
//! command and publishes payloads as they are; each front end frames a
//! delivery its own way in [`Handler::frame_delivery`] (a line here, a
//! WebSocket text frame there), once per shard, shared by every
//! subscriber. So lines and WebSocket clients of one topic, in one process
//! or across a backplane, each get their own framing.

mod command;
mod websocket;

use bytes::{BufMut, Bytes, BytesMut};

pub use command::{parse, Request, RequestError, MAX_TOPIC};
pub use websocket::{PubSubWs, WsText, CHAT_PAGE};

use crate::lines::Lines;
use crate::{Conn, Handler, ShardContext, Verdict};

/// Most topics one client may subscribe to at once, by default.
pub const MAX_SUBSCRIPTIONS: usize = 1024;

/// How a transport wraps one message (a reply or a delivery).
pub trait Framing {
    /// One framed message holding `parts`, concatenated, in one buffer.
    fn frame(&self, parts: &[&[u8]]) -> Bytes;
}

/// Messages as `\n`-terminated lines.
#[derive(Clone, Copy, Debug, Default)]
pub struct LineFraming;

impl Framing for LineFraming {
    fn frame(&self, parts: &[&[u8]]) -> Bytes {
        let len = parts.iter().map(|p| p.len()).sum::<usize>() + 1;
        let mut message = BytesMut::with_capacity(len);
        for part in parts {
            message.put_slice(part);
        }
        message.put_u8(b'\n');
        message.freeze()
    }
}

/// Runs one command (`line` without its `\n`) for `conn` and returns the
/// reply to send it, without framing: `+OK`, `+PONG` or `-ERR reason`. A
/// `PUB` publishes its payload as it is (see [`delivery`]).
pub fn execute(
    cx: &mut ShardContext<'_>,
    conn: &Conn<'_>,
    line: &[u8],
    max_subscriptions: usize,
) -> &'static [u8] {
    match parse(line) {
        Err(err) => err.reply(),
        Ok(Request::Ping) => b"+PONG",
        Ok(Request::Sub(topic)) => {
            if cx.subscriptions(conn) >= max_subscriptions {
                b"-ERR too many subscriptions"
            } else {
                cx.subscribe(conn, topic);
                b"+OK"
            }
        }
        Ok(Request::Unsub(topic)) => {
            if cx.unsubscribe(conn, topic) {
                b"+OK"
            } else {
                b"-ERR not subscribed"
            }
        }
        Ok(Request::Pub(topic, payload)) => {
            cx.publish(topic, Bytes::copy_from_slice(payload));
            b"+OK"
        }
    }
}

/// The delivery of a publish to `topic`, `MSG topic payload`, framed by
/// `framing`: what every front end's [`Handler::frame_delivery`] sends.
pub fn delivery(framing: &impl Framing, topic: &[u8], payload: &[u8]) -> Bytes {
    framing.frame(&[b"MSG ", topic, b" ", payload])
}

/// What a client gets before it is closed for an over-long line.
pub const LINE_TOO_LONG: &[u8] = b"-ERR line too long\n";

/// The `pubsub` protocol over `\n`-terminated lines.
///
/// Replies come in the order of the commands; deliveries may come between
/// them. A line longer than `max_line` gets [`LINE_TOO_LONG`] and the
/// client is closed (the commands before it still run). A slow
/// subscriber whose deliveries were skipped (under
/// [`SlowSubscribers::Drop`](crate::SlowSubscribers::Drop)) gets
/// `MISSED count` once it has caught up.
#[derive(Debug)]
pub struct PubSub {
    /// Longest command line, without its newline.
    max_line: usize,
    /// Most topics per client.
    max_subscriptions: usize,
    /// Replies to one read's commands, sent in one write (memory reused).
    replies: Vec<u8>,
}

impl PubSub {
    /// The protocol with lines of up to `max_line` bytes and
    /// [`MAX_SUBSCRIPTIONS`] topics per client.
    pub fn new(max_line: usize) -> Self {
        Self {
            max_line,
            max_subscriptions: MAX_SUBSCRIPTIONS,
            replies: Vec::new(),
        }
    }

    /// The same, with at most `max` topics per client.
    pub fn with_max_subscriptions(mut self, max: usize) -> Self {
        self.max_subscriptions = max;
        self
    }
}

impl Handler for PubSub {
    type State = ();

    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        let mut lines = Lines::new(data, conn.carried(), self.max_line);
        self.replies.clear();
        for line in &mut lines {
            let reply = execute(cx, conn, line, self.max_subscriptions);
            self.replies.extend_from_slice(reply);
            self.replies.push(b'\n');
        }
        conn.send(&self.replies);
        if lines.too_long() {
            conn.send(LINE_TOO_LONG);
            return Verdict::Close;
        }
        Verdict::Consumed(lines.consumed())
    }

    fn frame_delivery(&mut self, topic: &[u8], payload: &Bytes) -> Bytes {
        delivery(&LineFraming, topic, payload)
    }

    fn on_drain(&mut self, cx: &mut ShardContext<'_>, conn: &mut Conn<'_>, _state: &mut ()) {
        let missed = cx.take_missed(conn);
        if missed > 0 {
            conn.send(format!("MISSED {missed}\n").as_bytes());
        }
    }
}
