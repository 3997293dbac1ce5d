//! Test a service without sockets: [`Harness`] runs any [`Handler`] (and
//! any layer stack, such as [`WebSocket`](crate::websocket::WebSocket)) on
//! a real shard whose clients are in-memory pipes and whose clock moves
//! only when the test says so.
//!
//! Everything between the bytes and the handler is the server's own code:
//! input carried between reads, replies and their queue, backpressure at
//! the water marks (`on_drain`), graceful and failed closes, timers and
//! the idle timeout, deferred sends, pub/sub. Only the kernel (the
//! transport, readiness) and the clock are played by the harness, so a
//! test is deterministic and fast. Keep tests over loopback for what the
//! kernel does (sockets, limits, restarts).
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! use esockets::testing::Harness;
//! use esockets::{Config, Conn, Handler, ShardContext, Verdict};
//!
//! /// Answers each line with its length; says goodbye after 1 s of quiet.
//! struct Lengths;
//!
//! impl Handler for Lengths {
//!     type State = ();
//!
//!     fn on_data(
//!         &mut self,
//!         cx: &mut ShardContext<'_>,
//!         conn: &mut Conn<'_>,
//!         _state: &mut (),
//!         data: &[u8],
//!     ) -> Verdict {
//!         let mut used = 0;
//!         while let Some(end) = data[used..].iter().position(|&b| b == b'\n') {
//!             conn.send(format!("{}\n", end).as_bytes());
//!             used += end + 1;
//!         }
//!         cx.set_timer(conn.id(), Duration::from_secs(1), 0);
//!         Verdict::Consumed(used)
//!     }
//!
//!     fn on_timer(&mut self, _: &mut ShardContext<'_>, conn: &mut Conn<'_>, _: &mut (), _: u64) {
//!         conn.send(b"bye\n");
//!         conn.close();
//!     }
//! }
//!
//! let mut harness = Harness::new(Config::default(), Lengths);
//! let client = harness.connect().expect("accepted");
//! harness.send(client, b"hello\nwor");
//! assert_eq!(harness.take_output(client), b"5\n");
//! harness.send(client, b"ld\n"); // input carried over: "world"
//! assert_eq!(harness.take_output(client), b"5\n");
//! harness.advance(Duration::from_millis(999));
//! assert!(harness.take_output(client).is_empty());
//! harness.advance(Duration::from_millis(2));
//! assert_eq!(harness.take_output(client), b"bye\n");
//! assert!(harness.server_closed(client));
//! ```
//!
//! The README's shorter example, kept the same by a test:
//!
//! ```
//! use std::time::Duration;
//! use esockets::testing::Harness;
//!
//! let mut harness = Harness::new(esockets::Config::default(), esockets::protocols::LineEcho::new(64));
//! let client = harness.connect().expect("accepted");
//! harness.send(client, b"hello\nwor");
//! assert_eq!(harness.take_output(client), b"hello\n"); // "wor" waits for its newline
//! harness.advance(Duration::from_secs(1));               // timers fire as they would
//! ```

mod pipe;

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use crate::config::Config;
use crate::handler::context::ShardContext;
use crate::handler::Handler;
use crate::hub::handle::ServerHandle;
use crate::hub::id::ConnId;
use crate::hub::stats::ShardStats;
use crate::shard::io::Readiness;
use crate::shard::Shard;
use pipe::{Pipe, PipeEnd};

/// The address clients seem to come from, unless the test says otherwise.
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 40_000);

/// One shard serving in-memory clients, driven step by step by a test.
///
/// Every call runs the shard until it has nothing left to do at the
/// harness's clock (input past a read budget and orders past the inbox
/// budget included): a test never waits, and nothing happens between
/// calls.
pub struct Harness<H: Handler> {
    /// The shard, with no listener and a clock of its own.
    shard: Shard<H>,
    /// A handle to the one-shard server (publish, broadcast, send by id).
    handle: ServerHandle,
    /// Each client's pipe, by id (kept after it closes, to read what it
    /// was sent).
    pipes: HashMap<ConnId, Rc<RefCell<Pipe>>>,
}

impl<H: Handler> Harness<H> {
    /// A shard running `handler` with `config` (its address and thread
    /// settings are not used). Runs `on_start`.
    ///
    /// # Panics
    ///
    /// If the operating system cannot make an epoll instance (the shard's
    /// poll, never waited on): the test cannot run.
    pub fn new(config: Config, handler: H) -> Self {
        let addr = config.bind;
        let (shard, handle) = match Shard::driven(config, handler, addr) {
            Ok(made) => made,
            Err(err) => panic!("esockets::testing: cannot make a shard: {err}"),
        };
        Self {
            shard,
            handle,
            pipes: HashMap::new(),
        }
    }

    /// A client connects from the default peer address; runs
    /// `on_connect`. Its id, or `None` if refused (by the handler, or at
    /// `max_connections`).
    pub fn connect(&mut self) -> Option<ConnId> {
        self.connect_from(PEER)
    }

    /// A client connects from `peer`.
    pub fn connect_from(&mut self, peer: SocketAddr) -> Option<ConnId> {
        let pipe = Rc::new(RefCell::new(Pipe::default()));
        let id = self
            .shard
            .admit_driven(Box::new(PipeEnd(Rc::clone(&pipe))), peer)?;
        self.pipes.insert(id, pipe);
        Some(id)
    }

    /// The client sends `bytes`: the shard reads them (in reads of up to
    /// `Config::read_buffer` bytes, as from a socket) and runs `on_data`.
    pub fn send(&mut self, client: ConnId, bytes: &[u8]) {
        if let Some(pipe) = self.pipes.get(&client) {
            pipe.borrow_mut().inbound.extend(bytes);
        }
        self.ready(client, true, false, false);
    }

    /// Takes every byte the server wrote to the client so far.
    pub fn take_output(&mut self, client: ConnId) -> Vec<u8> {
        self.pipes
            .get(&client)
            .map(|pipe| std::mem::take(&mut pipe.borrow_mut().outbound))
            .unwrap_or_default()
    }

    /// From now on the client's "kernel" takes at most `bytes` more before
    /// writes say `WouldBlock` (a client that stopped reading); `None`
    /// takes everything again. What the server cannot write it queues;
    /// past `Config::output_high_water` it stops reading the client.
    pub fn set_window(&mut self, client: ConnId, bytes: Option<usize>) {
        if let Some(pipe) = self.pipes.get(&client) {
            pipe.borrow_mut().window = bytes;
        }
    }

    /// The client reads: its window grows by `bytes` (or opens fully with
    /// `None`) and the shard flushes what it queued; below
    /// `Config::output_low_water` reading resumes and `on_drain` runs.
    pub fn open_window(&mut self, client: ConnId, bytes: Option<usize>) {
        if let Some(pipe) = self.pipes.get(&client) {
            let mut pipe = pipe.borrow_mut();
            pipe.window = match (pipe.window, bytes) {
                (Some(window), Some(more)) => Some(window.saturating_add(more)),
                _ => None,
            };
        }
        self.ready(client, false, true, false);
    }

    /// The client closes its sending side (end of stream).
    pub fn close(&mut self, client: ConnId) {
        if let Some(pipe) = self.pipes.get(&client) {
            pipe.borrow_mut().client_closed = true;
        }
        self.ready(client, true, false, true);
    }

    /// The connection breaks (the client reset it): the server's next read
    /// or write fails.
    pub fn reset(&mut self, client: ConnId) {
        if let Some(pipe) = self.pipes.get(&client) {
            pipe.borrow_mut().reset = true;
        }
        self.ready(client, true, true, true);
    }

    /// Moves the clock forward by `by` and runs every timer due meanwhile
    /// (the handler's, idle timeouts, close deadlines), in order, each at
    /// its own time: the clock jumps from one due timer to the next.
    pub fn advance(&mut self, by: Duration) {
        let end = self.shard.clock() + by;
        while self.shard.clock() < end {
            let now = self.shard.clock();
            // At least a millisecond on (the wheel's resolution), at most
            // to the end.
            let next = self
                .shard
                .next_due()
                .map_or(end, |due| due.max(now + Duration::from_millis(1)))
                .min(end);
            self.shard.set_clock(next);
        }
    }

    /// Whether the server still holds the client (open, or closing with
    /// output to flush).
    pub fn is_connected(&self, client: ConnId) -> bool {
        self.shard.holds(client)
    }

    /// Whether the server ended its sending side to the client (a
    /// graceful close sends FIN once its output is flushed).
    pub fn server_closed(&self, client: ConnId) -> bool {
        self.pipes
            .get(&client)
            .is_some_and(|pipe| pipe.borrow().server_closed)
    }

    /// The shard's counters.
    pub fn stats(&self) -> ShardStats {
        self.shard.counters()
    }

    /// A handle to the one-shard server: `publish`, `broadcast`, `send`
    /// and `close` by id act at the next call of the harness (or at once
    /// with [`settle`](Self::settle)).
    pub fn handle(&self) -> &ServerHandle {
        &self.handle
    }

    /// Runs what is pending (orders from the handle) without moving the
    /// clock.
    pub fn settle(&mut self) {
        self.shard.turn();
    }

    /// The handler, to read what it recorded.
    pub fn handler(&mut self) -> &mut H {
        self.shard.handler_mut()
    }

    /// Runs `f` as a callback of the shard would run (with its context:
    /// publish, send to a client by id, set timers), then applies what it
    /// asked.
    pub fn with_context<R>(&mut self, f: impl FnOnce(&mut H, &mut ShardContext<'_>) -> R) -> R {
        self.shard.with_context(f)
    }

    /// Starts a graceful shutdown and runs it to its end, moving the clock
    /// from one due timer to the next (the grace, close deadlines) until
    /// every client is closed; runs `on_shutting_down`, closes every
    /// client, then `on_shutdown`.
    ///
    /// # Panics
    ///
    /// If clients are left with nothing due that would close them (the
    /// shard could never finish).
    pub fn shutdown(&mut self) {
        self.shard.shutdown_driven();
        while !self.shard.finished() {
            let Some(due) = self.shard.next_due() else {
                panic!("esockets::testing: shutdown cannot finish: clients left, nothing due");
            };
            let now = self.shard.clock();
            self.shard
                .set_clock(due.max(now + Duration::from_millis(1)));
        }
        self.shard.finish();
    }

    /// Tells the shard the client's pipe is ready.
    fn ready(&mut self, client: ConnId, readable: bool, writable: bool, read_closed: bool) {
        self.shard.ready_driven(
            client,
            Readiness {
                readable,
                writable,
                read_closed,
            },
        );
    }
}
