//! Least-loaded balancing, the acceptor's side: one thread accepts on the
//! server's listening socket(s), sets each client's socket options, and
//! hands it to the shard with the fewest clients that is not stalled,
//! through that shard's inbox.
//!
//! At shutdown it accepts the clients queued at that moment and hands
//! them over like the others, closes the listener, and only then asks the
//! shards to shut down: each inbox is first in, first out, so every
//! client handed over is admitted before its shard begins to close its clients, and
//! none is left in an inbox.

use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::config::Config;
use crate::core::log_limit::RateLimit;
use crate::hub::handle::ServerHandle;
use crate::hub::inbox::Handoff;
use crate::hub::inbox::{Order, SendError};
use crate::hub::least_loaded::Control;
use crate::hub::load::ShardLoad;
use crate::net::group::Group;
use crate::net::{listener, stream};
use crate::server::balance::{load_of, pick, Candidate};
use crate::shard::{classify, AcceptError, ACCEPT_BACKOFF};

/// Token of the acceptor's waker; listener `i` has token `i`.
const WAKER: Token = Token(usize::MAX);

/// How soon a client that no inbox had room for is offered again.
const RETRY: Duration = Duration::from_millis(1);

/// The acceptor, made on the caller's thread by `Server::bind` (so setup
/// errors come back at once) and started once the handle exists.
pub(crate) struct Acceptor {
    /// Polls the listeners and the waker.
    poll: Poll,
    /// The server's listening sockets; listener `i` has token `i`.
    listeners: Vec<TcpListener>,
    /// Shared with the handle.
    control: Arc<Control>,
    /// Each shard's published load.
    loads: Vec<Arc<ShardLoad>>,
    /// The server's listening sockets as seen at shutdown.
    group: Arc<Group>,
}

impl Acceptor {
    /// An acceptor over `listeners`, reading the shards' `loads`.
    pub(crate) fn new(
        mut listeners: Vec<TcpListener>,
        loads: Vec<Arc<ShardLoad>>,
        group: Arc<Group>,
    ) -> std::io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        for (index, listener) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(listener, Token(index), Interest::READABLE)?;
        }
        Ok(Self {
            poll,
            listeners,
            control: Arc::new(Control {
                stop: AtomicBool::new(false),
                finished: AtomicBool::new(false),
                waker,
                refused: AtomicU64::new(0),
                accept_pauses: AtomicU64::new(0),
            }),
            loads,
            group,
        })
    }

    /// How the handle reaches this acceptor.
    pub(crate) fn control(&self) -> Arc<Control> {
        Arc::clone(&self.control)
    }

    /// Starts the acceptor thread.
    pub(crate) fn start(
        self,
        handle: ServerHandle,
        config: Config,
    ) -> std::io::Result<JoinHandle<()>> {
        let shards = self.loads.len();
        let running = Running {
            ready: vec![true; self.listeners.len()],
            sent: vec![0; shards],
            stopped: vec![false; shards],
            candidates: Vec::with_capacity(shards),
            acceptor: self,
            handle,
            config,
            waiting: None,
            paused_until: None,
            refused_warning: RateLimit::default(),
            paused_warning: RateLimit::default(),
        };
        // If the thread cannot start, dropping `running` marks the
        // acceptor finished.
        thread::Builder::new()
            .name("esockets-acceptor".into())
            .spawn(move || running.run())
    }
}

impl Drop for Acceptor {
    /// Never started, or its thread is ending (normally, or in a panic):
    /// from now on a shutdown must reach the shards directly.
    fn drop(&mut self) {
        self.control.finished.store(true, Ordering::SeqCst);
    }
}

/// The acceptor thread's state.
struct Running {
    /// Poll, listeners, control, loads.
    acceptor: Acceptor,
    /// Reaches the shards' inboxes.
    handle: ServerHandle,
    /// The server's settings.
    config: Config,
    /// Listener `i` may have clients waiting (edge-triggered polling: set
    /// on its event, cleared when `accept` would block).
    ready: Vec<bool>,
    /// Clients handed to each shard (wrapping).
    sent: Vec<u32>,
    /// Shards whose thread has ended (an inbox that says "stopped").
    stopped: Vec<bool>,
    /// What `pick` looks at (memory reused).
    candidates: Vec<Candidate>,
    /// A client no inbox had room for, offered again first.
    waiting: Option<Handoff>,
    /// Accepting is paused until then (out of descriptors or memory).
    paused_until: Option<Instant>,
    /// Warnings about clients refused for lack of descriptors.
    refused_warning: RateLimit,
    /// Warnings about accepting paused.
    paused_warning: RateLimit,
}

impl Running {
    /// Accepts and hands over until shutdown.
    fn run(mut self) {
        let mut events = Events::with_capacity(64);
        loop {
            let timeout = self.timeout();
            if let Err(err) = self.acceptor.poll.poll(&mut events, timeout) {
                if err.kind() == ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(%err, "the acceptor's poll failed; no more clients are accepted");
                self.acceptor.listeners.clear();
                self.end();
                return;
            }
            for event in events.iter() {
                if let Some(ready) = self.ready.get_mut(event.token().0) {
                    *ready = true;
                }
            }
            if self.acceptor.control.stop.load(Ordering::SeqCst) {
                break;
            }
            self.work();
        }
        self.finish();
    }

    /// How long the poll may sleep.
    fn timeout(&self) -> Option<Duration> {
        if self.waiting.is_some() {
            return Some(RETRY);
        }
        if let Some(until) = self.paused_until {
            return Some(until.saturating_duration_since(Instant::now()));
        }
        self.ready.contains(&true).then_some(Duration::ZERO)
    }

    /// Offers the waiting client again, then accepts from every ready
    /// listener, up to the accept budget each.
    fn work(&mut self) {
        if let Some(handoff) = self.waiting.take() {
            if let Err(handoff) = self.place(handoff) {
                self.waiting = Some(handoff);
                return;
            }
        }
        if let Some(until) = self.paused_until {
            if Instant::now() < until {
                return;
            }
            self.paused_until = None;
            self.handle.hub().spare().restore();
        }
        for index in 0..self.acceptor.listeners.len() {
            if self.ready[index] {
                self.accept_from(index, self.config.accept_budget);
                if self.waiting.is_some() || self.paused_until.is_some() {
                    return;
                }
            }
        }
    }

    /// Accepts up to `budget` clients from listener `index` and hands them
    /// over.
    fn accept_from(&mut self, index: usize, budget: usize) {
        for _ in 0..budget {
            match self.acceptor.listeners[index].accept() {
                Ok((stream, peer)) => {
                    if self.handle.hub().spare().is_missing() {
                        // The spare is not back since `EMFILE`: refused,
                        // so this client's number becomes the spare again.
                        self.refuse(stream, peer);
                        self.handle.hub().spare().restore();
                        continue;
                    }
                    if let Err(err) = stream::set_up(&stream, self.config.nodelay) {
                        tracing::debug!(%peer, %err, "cannot set TCP_NODELAY; dropping client");
                        continue;
                    }
                    if let Err(handoff) = self.place(Handoff { stream, peer }) {
                        self.waiting = Some(handoff);
                        return;
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    self.ready[index] = false;
                    return;
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => match classify(&err) {
                    AcceptError::Client => tracing::debug!(%err, "accept failed for one client"),
                    AcceptError::OutOfDescriptors => {
                        if !self.refuse_with_spare(index) {
                            self.pause(&err);
                            return;
                        }
                    }
                    AcceptError::Resources => {
                        self.pause(&err);
                        return;
                    }
                },
            }
        }
    }

    /// Hands `handoff` to the least-loaded shard that takes it; gives it
    /// back when every inbox is full (or every shard has stopped).
    fn place(&mut self, mut handoff: Handoff) -> Result<(), Handoff> {
        self.candidates.clear();
        for (shard, cell) in self.acceptor.loads.iter().enumerate() {
            // The round the shard is in, by its heartbeat (a shard whose
            // handler panicked stays in its last round for ever).
            let busy = self
                .handle
                .hub()
                .heartbeat(shard)
                .and_then(|beat| beat.busy());
            let running = busy.map_or(0, |busy| {
                u64::try_from(busy.running.as_nanos()).unwrap_or(u64::MAX)
            });
            self.candidates.push(Candidate {
                load: load_of(cell.read(), self.sent[shard]),
                running,
                full: self.stopped[shard],
            });
        }
        while let Some(shard) = pick(&self.candidates) {
            let Some(inbox) = self.handle.hub().inbox(shard) else {
                self.candidates[shard].full = true;
                continue;
            };
            match inbox.try_send(Order::Handoff(handoff)) {
                Ok(()) => {
                    self.sent[shard] = self.sent[shard].wrapping_add(1);
                    return Ok(());
                }
                Err((command, why)) => {
                    let Order::Handoff(back) = command else {
                        return Ok(()); // only a handoff was sent
                    };
                    handoff = back;
                    self.candidates[shard].full = true;
                    if why == SendError::Stopped {
                        self.stopped[shard] = true;
                    }
                }
            }
        }
        Err(handoff)
    }

    /// At `EMFILE`: lends the server's spare descriptor to accept one
    /// client and refuse it at once, then takes the spare back into the
    /// number it freed. Returns whether accepting can go on (a client was
    /// refused, or none was waiting).
    fn refuse_with_spare(&mut self, index: usize) -> bool {
        let listener = &self.acceptor.listeners[index];
        let Some(accepted) = self.handle.hub().spare().lend(|| listener.accept()) else {
            return false;
        };
        let go_on = match accepted {
            Ok((stream, peer)) => {
                self.refuse(stream, peer);
                true
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                self.ready[index] = false;
                true
            }
            // Only this thread accepts: the number went to something else
            // (a file a handler opened), so pause rather than retry.
            Err(_) => false,
        };
        // The refused client is closed: its number becomes the spare again.
        self.handle.hub().spare().restore();
        go_on
    }

    /// Refuses a client for lack of descriptors: the refuse message (best
    /// effort, as a shard does), the close, the count, and a warning at
    /// most once a second.
    fn refuse(&mut self, mut stream: mio::net::TcpStream, peer: SocketAddr) {
        if let Some(message) = &self.config.refuse_message {
            let _ = stream.write(message);
        }
        drop(stream);
        self.acceptor
            .control
            .refused
            .fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = self.refused_warning.allow(Instant::now()) {
            tracing::warn!(
                %peer,
                suppressed,
                "refusing clients: the process is out of file descriptors (raise the \
                 open-file limit, or lower --max-connections)"
            );
        }
    }

    /// Stops accepting for a while: the process or system is out of a
    /// resource and no client could be refused instead.
    fn pause(&mut self, err: &std::io::Error) {
        self.acceptor
            .control
            .accept_pauses
            .fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = self.paused_warning.allow(Instant::now()) {
            tracing::warn!(
                %err,
                suppressed,
                "cannot accept more clients now; pausing accept for {} ms",
                ACCEPT_BACKOFF.as_millis()
            );
        }
        self.paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
    }

    /// Shutdown: hands over the clients queued in the listeners now (as a
    /// shard accepts its queue before closing its listener, unless another
    /// server takes them: `Group::leaves_queued`), closes the listeners,
    /// then asks every shard to shut down.
    fn finish(mut self) {
        let mut dropped = 0usize;
        if let Some(handoff) = self.waiting.take() {
            dropped += usize::from(self.place(handoff).is_err());
        }
        let take_queued = !self.acceptor.group.leaves_queued();
        for index in (0..self.acceptor.listeners.len()).filter(|_| take_queued) {
            let listener = &self.acceptor.listeners[index];
            let most = listener::queued(listener).unwrap_or_else(|_| {
                usize::try_from(self.config.backlog)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1)
            });
            for _ in 0..most {
                let Ok((stream, peer)) = self.acceptor.listeners[index].accept() else {
                    break;
                };
                if stream::set_up(&stream, self.config.nodelay).is_err() {
                    continue;
                }
                // Every inbox full: the client is closed rather than left.
                dropped += usize::from(self.place(Handoff { stream, peer }).is_err());
            }
        }
        self.acceptor.listeners.clear();
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "shutdown: every shard's inbox was full; closed clients still queued"
            );
        }
        // `stop` is set: `end` asks the shards to shut down.
        self.end();
    }

    /// The acceptor thread ends: says so, and passes on a shutdown asked
    /// meanwhile that the asker left to it.
    fn end(&self) {
        let control = &self.acceptor.control;
        control.finished.store(true, Ordering::SeqCst);
        if control.stop.load(Ordering::SeqCst) {
            self.handle.hub().shutdown_shards();
        }
    }
}
