//! One pub/sub connection (a subscriber or a publisher): its socket, its
//! output queue, its unparsed input, and what it is owed or has sent.
//! Over WebSocket (`--ws`) each command goes out as one text message and
//! each message received becomes one line of input, so the line parser
//! is the same.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::time::Instant;

use super::verify::StreamCheck;
use crate::engine::fault::Fault;
use crate::engine::ws::{self, Link};

/// What a connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Subscriber number `s`.
    Subscriber(u64),
    /// Publisher number `p`.
    Publisher(u64),
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not yet started.
    Waiting,
    /// Connect in progress since the instant given.
    Connecting(Instant),
    /// Established.
    Open,
    /// Failed or closed; its socket is gone.
    Dead,
}

/// What falls due for a subscriber under `--recover`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// It closes its connection.
    Leave,
    /// It reconnects.
    Return,
}

/// A subscriber's side: its subscriptions and what it received.
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// Topics whose subscription the server has not confirmed yet, in
    /// the order asked, with when it was asked.
    pub pending: VecDeque<(u64, Instant)>,
    /// Topics the server confirmed.
    pub topics: Vec<u64>,
    /// Sequence numbers received per (publisher, topic).
    pub streams: HashMap<(u64, u64), StreamCheck>,
    /// Deliveries received by a subscriber that is only counted
    /// (`--verify-every`): its `streams` stay empty.
    pub counted: u64,
    /// `--recover since`: per topic, the offset of the last delivery
    /// handled and its epoch, what a return sends back with `SINCE`.
    pub positions: HashMap<u64, Position>,
    /// `--recover since`, back: the topics still catching up, each with
    /// the offset it must reach (the position the `SINCE` was answered
    /// with).
    pub catching_up: Vec<(u64, u64)>,
    /// `--recover`: back since this instant (when it was due to
    /// reconnect) and not yet caught up.
    pub back_since: Option<Instant>,
}

/// Where a positioned subscription stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The offset of the last delivery handled (the topic's newest when
    /// subscribed, before any).
    pub offset: u64,
    /// The epoch of the offsets, as the server sent it.
    pub epoch: Box<[u8]>,
}

/// A publisher's side: where its next message goes.
#[derive(Debug, Default)]
pub struct Publishing {
    /// The topics it cycles over.
    pub topics: Vec<u64>,
    /// Their names on the wire, same order.
    pub names: Vec<Vec<u8>>,
    /// Messages queued per topic (the next sequence number), same order.
    pub queued: Vec<u64>,
    /// Messages queued in all.
    pub total: u64,
    /// Open loop: messages due so far.
    pub owed: u64,
    /// Its position among its worker's publishers (open-loop schedule).
    pub slot: u64,
}

impl Publishing {
    /// Where message `total` goes: (index into `topics`, sequence number).
    pub fn next_slot(&self) -> (usize, u64) {
        let i = (self.total % self.topics.len().max(1) as u64) as usize;
        (i, self.queued.get(i).copied().unwrap_or(0))
    }
}

/// One connection.
#[derive(Debug)]
pub struct Client {
    /// The socket, while alive.
    pub stream: Option<crate::engine::tls::Stream>,
    /// Subscriber or publisher.
    pub role: Role,
    /// Global connection number (target and source are chosen by it).
    pub global: u64,
    /// Life stage.
    pub state: State,
    /// Replies the server owes (to subscribes or publishes).
    pub awaiting: u64,
    /// Its `AUTH` is not answered yet.
    pub authenticating: bool,
    /// It was established once (a return is not counted again).
    pub been_up: bool,
    /// Subscriber state (empty for a publisher).
    pub subs: Subscriptions,
    /// Publisher state (empty for a subscriber).
    pub publishing: Publishing,
    /// Bytes queued and not yet written.
    pub out: Vec<u8>,
    out_pos: usize,
    /// Bytes received and not yet parsed (a partial frame).
    pub input: Vec<u8>,
    /// WebSocket state (`--ws`); `None` over plain TCP.
    pub ws: Option<Box<Link>>,
    /// An event said the peer ended its side or the socket failed: reads
    /// go on past a short read to the end of stream (see
    /// [`crate::engine::echo::conn::Conn::peer_closed`]).
    pub peer_closed: bool,
}

impl Client {
    /// A connection not yet started.
    pub fn new(role: Role, global: u64) -> Self {
        Self {
            stream: None,
            role,
            global,
            state: State::Waiting,
            awaiting: 0,
            authenticating: false,
            been_up: false,
            subs: Subscriptions::default(),
            publishing: Publishing::default(),
            out: Vec::new(),
            out_pos: 0,
            input: Vec::new(),
            ws: None,
            peer_closed: false,
        }
    }

    /// Over WebSocket, turns the command line appended to `out` from
    /// `start` into one text message; over TCP it stays as it is.
    pub fn framed(&mut self, start: usize) {
        if let Some(link) = self.ws.as_mut() {
            link.frame_line(&mut self.out, start);
        }
    }

    /// The same for a command appended to `out`, this connection's
    /// output taken out while it is written.
    pub fn framed_into(&mut self, out: &mut Vec<u8>, start: usize) {
        if let Some(link) = self.ws.as_mut() {
            link.frame_line(out, start);
        }
    }

    /// TLS, then WebSocket: advances the handshakes of a connected socket to
    /// target server `target`, reading the response into `buf`;
    /// `Ok(true)` once it is done (at once over plain TCP).
    pub fn upgrade(&mut self, buf: &mut [u8], target: usize) -> Result<bool, Fault> {
        if let Some(stream) = self.stream.as_mut() {
            if !stream.handshake()? {
                return Ok(false);
            }
        }
        match self.ws.as_mut() {
            None => return Ok(true),
            Some(link) if link.is_open() => return Ok(true),
            Some(link) if !link.started() => link.start(&mut self.out, target),
            Some(_) => {}
        }
        self.flush()?;
        let (Some(stream), Some(link)) = (self.stream.as_mut(), self.ws.as_mut()) else {
            return Ok(false);
        };
        ws::read_upgrade(link, stream, buf)
    }

    /// Takes bytes read: over TCP they are input as they are; over
    /// WebSocket each complete message becomes one line of input (pings
    /// are answered into `out`).
    fn received(&mut self, data: &[u8]) -> Result<(), Fault> {
        let Some(link) = self.ws.as_mut() else {
            self.input.extend_from_slice(data);
            return Ok(());
        };
        let input = &mut self.input;
        let result = link.messages(data, &mut self.out, |message, _text| {
            input.extend_from_slice(message);
            input.push(b'\n');
        });
        match result {
            Ok(()) => Ok(()),
            Err(ws::End::Closed(_)) => {
                let _ = self.flush();
                Err(Fault::Closed)
            }
            Err(end) => {
                ws::warn_once(&format!("bad frame from the server: {end:?}"));
                Err(Fault::Protocol)
            }
        }
    }

    /// Bytes queued and not yet written.
    pub fn unwritten(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Writes queued bytes until done or the socket is full.
    pub fn flush(&mut self) -> Result<(), Fault> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        crate::engine::net::write_queued(stream, &mut self.out, &mut self.out_pos).map_err(|e| {
            if e.kind() == io::ErrorKind::WriteZero {
                Fault::Closed
            } else {
                Fault::Io(e)
            }
        })
    }

    /// Reads what the socket holds into `input` (up to `buf.len()` bytes
    /// a read); returns whether the socket is drained.
    pub fn read_some(&mut self, buf: &mut [u8]) -> Result<bool, Fault> {
        if let Some(early) = self.ws.as_mut().and_then(|link| link.take_pending()) {
            self.received(&early)?;
        }
        loop {
            let Some(stream) = self.stream.as_mut() else {
                return Ok(true);
            };
            match stream.read(buf) {
                Ok(0) => return Err(Fault::Closed),
                Ok(n) => {
                    self.received(&buf[..n])?;
                    // Once the peer closed, only the end of stream is
                    // the end: not drained, so the caller reads again.
                    return Ok(n < buf.len() && !self.peer_closed);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Fault::Io(e)),
            }
        }
    }

    /// Drops the socket (zero-linger) and marks the connection dead;
    /// over WebSocket an open connection first sends a close frame (best
    /// effort: one write that does not wait).
    pub fn kill(&mut self) {
        if let Some(link) = self.ws.as_mut() {
            link.close(&mut self.out, ws::CLOSE_NORMAL);
            let _ = self.flush();
            if let Some(link) = self.ws.as_mut() {
                link.reset();
            }
        }
        if let Some(stream) = self.stream.take() {
            crate::engine::net::close_reset(stream.into_tcp());
        }
        self.state = State::Dead;
        self.peer_closed = false;
        self.authenticating = false;
        self.out.clear();
        self.out_pos = 0;
        self.input.clear();
    }
}
