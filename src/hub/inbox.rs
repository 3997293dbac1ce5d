//! A shard's inbox: bounded, woken once per round however many orders
//! arrive, and read with a per-round budget so a flood of orders cannot
//! starve the shard's clients.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam::channel::{self, Receiver, Sender, TrySendError};
use mio::Waker;

use std::net::SocketAddr;

use mio::net::TcpStream;

use super::fanout::Fanout;
use super::id::ConnId;

/// Why an order to a shard was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The shard's inbox is full (`Config::inbox_capacity` orders wait):
    /// the shard is far behind; try later or drop the message.
    #[error("the shard's inbox is full")]
    InboxFull,
    /// The shard has stopped (the server shut down), or there is no such
    /// shard.
    #[error("the shard has stopped")]
    Stopped,
    /// A shard with subscribers already has its fan-out credit in flight
    /// (`Config::fanout_credit` publishes it has not delivered yet):
    /// nothing was sent; try again shortly (it is back once that shard
    /// writes its deliveries).
    #[error("a shard's fan-out credit is spent")]
    NoCredit,
}

/// Something another thread orders a shard to do.
pub(crate) enum Order {
    /// Send these bytes to this client (dropped if the id is stale).
    Send(ConnId, Bytes),
    /// Close this client gracefully (ignored if the id is stale).
    Close(ConnId),
    /// Deliver each fan-out to this shard's clients it is for, in order:
    /// what one publisher (a shard's round, a handle, the backplane) sent
    /// this shard.
    Fanout(Vec<Fanout>),
    /// Stop accepting, close everyone gracefully, and end the shard thread.
    Shutdown,
    /// Serve this client the acceptor accepted (least-loaded balancing).
    Handoff(Handoff),
}

/// The sending side, held by every [`ServerHandle`](crate::ServerHandle).
pub(crate) struct InboxSender {
    /// The bounded queue.
    queue: Sender<Order>,
    /// Wakes the shard's poll.
    waker: Waker,
    /// Set by the first sender after the shard last looked: later senders
    /// skip the wake (an `eventfd` write each) until the shard clears it.
    wake_pending: Arc<AtomicBool>,
    /// Shutdown asked while the queue was full.
    stop: Arc<AtomicBool>,
}

/// The shard's side.
pub(crate) struct InboxReceiver {
    /// The bounded queue.
    queue: Receiver<Order>,
    /// Shared with the senders; cleared before each read of the queue.
    wake_pending: Arc<AtomicBool>,
    /// Shutdown asked while the queue was full.
    stop: Arc<AtomicBool>,
}

/// A bounded inbox of `capacity` orders, woken through `waker`.
pub(crate) fn inbox(capacity: usize, waker: Waker) -> (InboxSender, InboxReceiver) {
    let (tx, rx) = channel::bounded(capacity);
    let wake_pending = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    (
        InboxSender {
            queue: tx,
            waker,
            wake_pending: Arc::clone(&wake_pending),
            stop: Arc::clone(&stop),
        },
        InboxReceiver {
            queue: rx,
            wake_pending,
            stop,
        },
    )
}

impl InboxSender {
    /// Orders waiting now.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Queues `order` and wakes the shard unless a wake is already
    /// pending.
    pub(crate) fn send(&self, order: Order) -> Result<(), SendError> {
        self.queue.try_send(order).map_err(|err| match err {
            TrySendError::Full(_) => SendError::InboxFull,
            TrySendError::Disconnected(_) => SendError::Stopped,
        })?;
        // The order is in the queue before the flag is looked at: if the
        // shard cleared the flag already, this sender wakes it; if not,
        // the shard's next read of the queue (after it clears the flag)
        // finds the order.
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            // The eventfd write fails only if the descriptor is broken; the
            // order is queued all the same, so say so only as "stopped".
            self.waker.wake().map_err(|_| SendError::Stopped)?;
        }
        Ok(())
    }

    /// Queues `order` like [`send`](Self::send), but hands it back when
    /// the queue is full, to be offered again later. A stopped shard
    /// takes (and drops) it.
    pub(crate) fn offer(&self, order: Order) -> Result<(), Order> {
        match self.queue.try_send(order) {
            Ok(()) => {}
            Err(TrySendError::Full(order)) => return Err(order),
            Err(TrySendError::Disconnected(_)) => return Ok(()),
        }
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            // As in `send`: a broken eventfd means a stopped shard.
            let _ = self.waker.wake();
        }
        Ok(())
    }

    /// Queues `order` like [`send`](Self::send), but hands it back with
    /// the reason when it was not queued (full, or the shard stopped).
    pub(crate) fn try_send(&self, order: Order) -> Result<(), (Order, SendError)> {
        match self.queue.try_send(order) {
            Ok(()) => {}
            Err(TrySendError::Full(order)) => return Err((order, SendError::InboxFull)),
            Err(TrySendError::Disconnected(order)) => return Err((order, SendError::Stopped)),
        }
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            // As in `send`: a broken eventfd means a stopped shard, which
            // drops what its inbox holds when it ends.
            let _ = self.waker.wake();
        }
        Ok(())
    }

    /// Wakes the shard with no order (paced publishers of its may go on),
    /// unless a wake is already pending.
    pub(crate) fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            // As in `offer`: a broken eventfd means a stopped shard.
            let _ = self.waker.wake();
        }
    }

    /// Asks the shard to shut down; never waits. Queued as an order, so
    /// that what was sent before is applied first; if the queue is full,
    /// as a flag the shard looks at every time it reads the queue.
    ///
    /// Waiting for room instead would deadlock a handler that shuts the
    /// server down from its own shard while that shard's inbox is full:
    /// only that very thread can make room.
    pub(crate) fn request_shutdown(&self) -> Result<(), SendError> {
        match self.queue.try_send(Order::Shutdown) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.stop.store(true, Ordering::Release),
            Err(TrySendError::Disconnected(_)) => return Err(SendError::Stopped),
        }
        self.wake_pending.store(true, Ordering::Release);
        self.waker.wake().map_err(|_| SendError::Stopped)
    }
}

impl InboxReceiver {
    /// Whether a sender woke the shard since it last took its orders: what
    /// the shard's poll would report as the waker's event.
    pub(crate) fn woken(&self) -> bool {
        self.wake_pending.load(Ordering::Acquire)
    }

    /// Whether shutdown was asked while the queue was full.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Re-arms the wake, then takes up to `budget` orders, oldest first.
    /// Returns whether orders may be left (the budget ran out).
    pub(crate) fn take(&self, budget: usize, mut each: impl FnMut(Order)) -> bool {
        // Acquire pairs with the senders' release `swap`: an order whose
        // sender saw the flag still set is visible to the reads below.
        self.wake_pending.swap(false, Ordering::AcqRel);
        for _ in 0..budget {
            match self.queue.try_recv() {
                Ok(order) => each(order),
                Err(_) => return false,
            }
        }
        true
    }
}

/// A client the acceptor accepted for a shard, its socket options set.
pub(crate) struct Handoff {
    /// The connected socket.
    pub(crate) stream: TcpStream,
    /// The client's address.
    pub(crate) peer: SocketAddr,
}
