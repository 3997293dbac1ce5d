//! One client connection: its socket, the messages in flight and their
//! timestamps, and the byte-by-byte check of what comes back. Buffers are
//! sized once (`pipeline × size`), so steady state allocates nothing.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::engine::fault::Fault;
use crate::engine::pattern::Pattern;
use crate::engine::recorder::{Recorder, Stamp};
use crate::engine::throttle::Throttle;
use crate::engine::ws::{self, decode::Piece, Link};

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

/// How sends are paced.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Send as soon as a pipeline slot is free.
    Closed,
    /// Message `seq` of local connection `i` is due at
    /// `start + (seq × count + i) × step_ns`.
    Open {
        /// Schedule origin.
        start: Instant,
        /// Nanoseconds between two sends of this worker.
        step_ns: f64,
        /// Connections of this worker.
        count: u64,
    },
}

/// What every connection of a worker sends, and how.
#[derive(Debug, Clone, Copy)]
pub struct Traffic<'a> {
    /// Payload generator and checker.
    pub pattern: &'a Pattern,
    /// Messages in flight per connection.
    pub pipeline: usize,
    /// Pacing.
    pub pace: Pace,
    /// Messages left to send over the whole run (`--messages`).
    pub tickets: Option<&'a AtomicU64>,
}

/// What a read left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadEnd {
    /// The socket is drained (a short read, or `EAGAIN`).
    Drained,
    /// The read-rate credit ran out; read again at this time.
    Throttled(Instant),
}

/// Where a connection sends, and how it behaves; fixed for its life.
#[derive(Debug, Clone, Copy)]
pub struct Role {
    /// Global connection number (payload seed).
    pub id: u32,
    /// Index of its source address, if any.
    pub source: Option<usize>,
    /// Index of its target server.
    pub target: usize,
    /// Index of its group.
    pub group: usize,
    /// Whether it sends (its group is not idle).
    pub sends: bool,
    /// Read rate limit in bytes per second, if any.
    pub read_rate: Option<u64>,
    /// Open loop: its position among the worker's sending connections.
    pub slot: u64,
}

/// One connection.
#[derive(Debug)]
pub struct Conn {
    /// The socket, while alive.
    pub stream: Option<crate::engine::tls::Stream>,
    /// Who it is.
    pub role: Role,
    /// Life stage.
    pub state: State,
    /// Open loop: messages due so far on this connection.
    pub owed: u64,
    /// Connect generation: bumped on every connect, so timers set for an
    /// earlier socket are ignored.
    pub generation: u32,
    /// A slow reader's resume timer is set: one at a time, however many
    /// reads end throttled before it fires.
    pub resume_pending: bool,
    /// Its lifetime is over: close and replace it once nothing is in
    /// flight.
    pub expired: bool,
    /// When its lifetime last ran out (or was set to run out): the next
    /// lifetime counts from there, so closes keep the asked cadence even
    /// though reconnecting takes time.
    pub expires_at: Option<Instant>,
    /// Has been established at least once.
    pub ever_open: bool,
    /// Down (failed, waiting to reconnect) since then.
    pub down_since: Option<Instant>,
    /// Next reconnect backoff.
    pub backoff: Duration,
    /// Measured messages completed (all its sockets).
    pub completed: u64,
    /// WebSocket state (`--ws`); `None` over plain TCP (boxed: a plain
    /// TCP connection pays one pointer for it).
    pub ws: Option<Box<Link>>,
    /// An event said the peer ended its side (FIN) or the socket failed:
    /// reads go on past a short read to the end of stream. Without it a
    /// FIN that came with the last echo is never seen (edge-triggered
    /// polling reports it once), and the connection looks open for good.
    pub peer_closed: bool,
    throttle: Option<Throttle>,
    send_seq: u64,
    recv_seq: u64,
    recv_off: usize,
    out: Vec<u8>,
    out_pos: usize,
    inflight: VecDeque<Stamp>,
}

fn take_ticket(tickets: &AtomicU64) -> bool {
    tickets
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

impl Conn {
    /// A connection not yet started, with buffers for `pipeline` messages
    /// of `size` bytes.
    pub fn new(role: Role, size: usize, pipeline: usize) -> Self {
        Self {
            stream: None,
            role,
            state: State::Waiting,
            owed: 0,
            generation: 0,
            resume_pending: false,
            expired: false,
            expires_at: None,
            ever_open: false,
            down_since: None,
            backoff: Duration::ZERO,
            completed: 0,
            ws: None,
            peer_closed: false,
            throttle: None,
            send_seq: 0,
            recv_seq: 0,
            recv_off: 0,
            out: Vec::with_capacity(size * pipeline),
            out_pos: 0,
            inflight: VecDeque::with_capacity(pipeline),
        }
    }

    /// Marks the connection established at `now` (read credit starts
    /// from zero).
    pub fn opened(&mut self, now: Instant, size: usize) {
        self.state = State::Open;
        self.expired = false;
        self.throttle = self.role.read_rate.map(|r| Throttle::new(r, size, now));
    }

    /// Messages queued so far (the next sequence number).
    pub fn sent(&self) -> u64 {
        self.send_seq
    }

    /// Whether nothing is in flight or waiting to be written.
    pub fn quiet(&self) -> bool {
        self.inflight.is_empty() && self.out.is_empty()
    }

    /// Messages sent and not yet fully echoed.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Sequence numbers that fell due (open loop) but were not sent.
    pub fn unsent(&self) -> std::ops::Range<u64> {
        self.send_seq..self.owed.max(self.send_seq)
    }

    /// Queues as many messages as pacing, pipeline and tickets allow.
    /// `local` is this connection's index in its worker; `measured` says
    /// whether warmup is over (only measured messages take tickets).
    pub fn fill(&mut self, t: &Traffic<'_>, now: Instant, measured: bool) {
        if !self.role.sends || self.expired {
            return;
        }
        let local = self.role.slot;
        while self.inflight.len() < t.pipeline {
            let intended = match t.pace {
                Pace::Closed => now,
                Pace::Open {
                    start,
                    step_ns,
                    count,
                } => {
                    if self.send_seq >= self.owed {
                        break;
                    }
                    let slot = (self.send_seq * count + local) as f64 * step_ns;
                    start + Duration::from_nanos(slot as u64)
                }
            };
            if let (Some(tickets), true) = (t.tickets, measured) {
                if !take_ticket(tickets) {
                    break;
                }
            }
            let (id, seq) = (self.role.id, self.send_seq);
            match self.ws.as_mut() {
                Some(link) => link.message(&mut self.out, t.pattern.size(), |out| {
                    t.pattern.write(id, seq, out)
                }),
                None => t.pattern.write(id, seq, &mut self.out),
            }
            self.inflight.push_back(Stamp {
                intended,
                sent: now,
                measured,
            });
            self.send_seq += 1;
        }
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

    /// Reads until the socket is empty (or the read-rate credit is used
    /// up), checking every byte against what was sent and recording each
    /// completed message. A read that returns less than asked means the
    /// socket is drained (TCP hands over everything queued), so a message
    /// that is already there costs one receive, not two; except once the
    /// peer closed (`peer_closed`), when only the end of stream says so.
    pub fn read(
        &mut self,
        buf: &mut [u8],
        pattern: &Pattern,
        rec: &mut Recorder,
    ) -> Result<ReadEnd, Fault> {
        if let Some(early) = self.ws.as_mut().and_then(|link| link.take_pending()) {
            self.receive(&early, pattern, Instant::now(), rec)?;
        }
        loop {
            let Some(stream) = self.stream.as_mut() else {
                return Ok(ReadEnd::Drained);
            };
            let now = Instant::now();
            let limit = match self.throttle.as_mut() {
                Some(t) => {
                    let allowed = t.allowance(now);
                    if allowed == 0 {
                        return Ok(ReadEnd::Throttled(t.ready_at(pattern.size(), now)));
                    }
                    allowed.min(buf.len())
                }
                None => buf.len(),
            };
            match stream.read(&mut buf[..limit]) {
                Ok(0) => return Err(Fault::Closed),
                Ok(n) => {
                    if let Some(t) = self.throttle.as_mut() {
                        t.spend(n);
                    }
                    self.receive(&buf[..n], pattern, Instant::now(), rec)?;
                    if n < limit && !self.peer_closed {
                        return Ok(ReadEnd::Drained);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(ReadEnd::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Fault::Io(e)),
            }
        }
    }

    /// Handles bytes read: checked as they are, or over WebSocket as
    /// frames whose message payloads are checked.
    fn receive(
        &mut self,
        data: &[u8],
        pattern: &Pattern,
        now: Instant,
        rec: &mut Recorder,
    ) -> Result<(), Fault> {
        if self.ws.is_none() {
            return self.consume(data, pattern, now, rec);
        }
        let mut data = data;
        loop {
            let Some(link) = self.ws.as_mut() else {
                return Ok(());
            };
            let piece = match link.next(&mut data) {
                Ok(Some(piece)) => piece,
                Ok(None) => return Ok(()),
                Err(e) => {
                    ws::warn_once(&format!("bad frame from the server: {e}"));
                    link.close(&mut self.out, ws::CLOSE_PROTOCOL_ERROR);
                    return Err(Fault::Protocol);
                }
            };
            match piece {
                Piece::Data {
                    bytes, offset, end, ..
                } => {
                    // Each WebSocket message carries exactly one message
                    // of the pattern.
                    let size = pattern.size() as u64;
                    let upto = offset + bytes.len() as u64;
                    if upto > size || (end && upto != size) {
                        self.inflight.pop_front();
                        return Err(Fault::Mismatch);
                    }
                    self.consume(bytes, pattern, now, rec)?;
                }
                Piece::Inflated { .. } => {
                    // The whole message at once, checked as it came.
                    let inflated = link.take_inflated();
                    if inflated.len() != pattern.size() {
                        self.inflight.pop_front();
                        return Err(Fault::Mismatch);
                    }
                    let checked = self.consume(&inflated, pattern, now, rec);
                    if let Some(link) = self.ws.as_mut() {
                        link.restore_inflated(inflated);
                    }
                    checked?;
                }
                Piece::Ping(payload) => link.pong(&mut self.out, payload.as_slice()),
                Piece::Pong(_) => {}
                Piece::Close { code, .. } => {
                    // Answer with the same code (none: normal), then the
                    // connection counts as closed by the server.
                    link.close(&mut self.out, code.unwrap_or(ws::CLOSE_NORMAL));
                    let _ = self.flush();
                    return Err(Fault::Closed);
                }
            }
        }
    }

    /// TLS, then WebSocket: advances the handshakes of a connected socket,
    /// reading the response into `buf`; `Ok(true)` once they are done (at
    /// once over plain TCP).
    pub fn upgrade(&mut self, buf: &mut [u8]) -> Result<bool, Fault> {
        if let Some(stream) = self.stream.as_mut() {
            if !stream.handshake()? {
                return Ok(false);
            }
        }
        match self.ws.as_mut() {
            None => return Ok(true),
            Some(link) if link.is_open() => return Ok(true),
            Some(link) if !link.started() => link.start(&mut self.out, self.role.target),
            Some(_) => {}
        }
        self.flush()?;
        let (Some(stream), Some(link)) = (self.stream.as_mut(), self.ws.as_mut()) else {
            return Ok(false);
        };
        ws::read_upgrade(link, stream, buf)
    }

    fn consume(
        &mut self,
        mut data: &[u8],
        pattern: &Pattern,
        now: Instant,
        rec: &mut Recorder,
    ) -> Result<(), Fault> {
        let size = pattern.size();
        while !data.is_empty() {
            if self.inflight.is_empty() {
                return Err(Fault::Mismatch);
            }
            let n = (size - self.recv_off).min(data.len());
            if !pattern.matches(self.role.id, self.recv_seq, self.recv_off, &data[..n]) {
                self.inflight.pop_front();
                return Err(Fault::Mismatch);
            }
            self.recv_off += n;
            data = &data[n..];
            if self.recv_off == size {
                if let Some(stamp) = self.inflight.pop_front() {
                    if rec.record(stamp, now, self.role.group) {
                        self.completed += 1;
                    }
                }
                self.recv_seq += 1;
                self.recv_off = 0;
            }
        }
        Ok(())
    }

    /// Drops the socket (zero-linger) and marks the connection dead;
    /// returns the messages that were still in flight. Sequence numbers
    /// carry on on the next socket, so the open-loop schedule is kept and
    /// no two messages of a connection ever look alike.
    /// Over WebSocket, an open connection first sends a close frame
    /// (best effort: one write that does not wait), so the server sees a
    /// normal close before the reset.
    pub fn kill(&mut self) -> u64 {
        if let Some(link) = self.ws.as_mut() {
            // Queued after whole frames, so the stream stays well-formed.
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
        let lost = self.inflight.len() as u64;
        self.inflight.clear();
        self.out.clear();
        self.out_pos = 0;
        self.recv_seq = self.send_seq;
        self.recv_off = 0;
        self.throttle = None;
        lost
    }
}
