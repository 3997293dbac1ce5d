//! A shard's inbox: bounded, woken once per round however many commands
//! arrive, and read with a per-round budget so a flood of commands cannot
//! starve the shard's clients.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam::channel::{self, Receiver, Sender, TrySendError};
use mio::Waker;

use crate::handler::id::ConnId;
use crate::shard::handoff::Handoff;

/// Why a command to a shard was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The shard's inbox is full (`Config::inbox_capacity` commands wait):
    /// the shard is far behind; try later or drop the message.
    #[error("the shard's inbox is full")]
    InboxFull,
    /// The shard has stopped (the server shut down), or there is no such
    /// shard.
    #[error("the shard has stopped")]
    Stopped,
}

/// Something another thread asks a shard to do.
pub(crate) enum Command {
    /// Send these bytes to this client (dropped if the id is stale).
    Send(ConnId, Bytes),
    /// Close this client gracefully (ignored if the id is stale).
    Close(ConnId),
    /// Deliver each payload to this shard's subscribers of its topic, in
    /// order: what one publisher (a shard's round, or one call of
    /// `ServerHandle::publish`) sent this shard.
    Publish(Vec<(Bytes, Bytes)>),
    /// Queue this payload for every client of the shard.
    Broadcast(Bytes),
    /// Stop accepting, drain, close everyone, and end the shard thread.
    Shutdown,
    /// Serve this client the acceptor accepted (least-loaded balancing).
    Handoff(Handoff),
}

/// The sending side, held by every [`ServerHandle`](crate::ServerHandle).
pub(crate) struct InboxSender {
    /// The bounded queue.
    queue: Sender<Command>,
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
    queue: Receiver<Command>,
    /// Shared with the senders; cleared before each read of the queue.
    wake_pending: Arc<AtomicBool>,
    /// Shutdown asked while the queue was full.
    stop: Arc<AtomicBool>,
}

/// A bounded inbox of `capacity` commands, woken through `waker`.
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
    /// Commands waiting now.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Queues `command` and wakes the shard unless a wake is already
    /// pending.
    pub(crate) fn send(&self, command: Command) -> Result<(), SendError> {
        self.queue.try_send(command).map_err(|err| match err {
            TrySendError::Full(_) => SendError::InboxFull,
            TrySendError::Disconnected(_) => SendError::Stopped,
        })?;
        // The command is in the queue before the flag is looked at: if the
        // shard cleared the flag already, this sender wakes it; if not,
        // the shard's next read of the queue (after it clears the flag)
        // finds the command.
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            // The eventfd write fails only if the descriptor is broken; the
            // command is queued all the same, so say so only as "stopped".
            self.waker.wake().map_err(|_| SendError::Stopped)?;
        }
        Ok(())
    }

    /// Queues `command` like [`send`](Self::send), but hands it back when
    /// the queue is full, to be offered again later. A stopped shard
    /// takes (and drops) it.
    pub(crate) fn offer(&self, command: Command) -> Result<(), Command> {
        match self.queue.try_send(command) {
            Ok(()) => {}
            Err(TrySendError::Full(command)) => return Err(command),
            Err(TrySendError::Disconnected(_)) => return Ok(()),
        }
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            // As in `send`: a broken eventfd means a stopped shard.
            let _ = self.waker.wake();
        }
        Ok(())
    }

    /// Queues `command` like [`send`](Self::send), but hands it back with
    /// the reason when it was not queued (full, or the shard stopped).
    pub(crate) fn try_send(&self, command: Command) -> Result<(), (Command, SendError)> {
        match self.queue.try_send(command) {
            Ok(()) => {}
            Err(TrySendError::Full(command)) => return Err((command, SendError::InboxFull)),
            Err(TrySendError::Disconnected(command)) => return Err((command, SendError::Stopped)),
        }
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            // As in `send`: a broken eventfd means a stopped shard, which
            // drops what its inbox holds when it ends.
            let _ = self.waker.wake();
        }
        Ok(())
    }

    /// Asks the shard to shut down; never waits. Queued as a command, so
    /// that what was sent before is applied first; if the queue is full,
    /// as a flag the shard looks at every time it reads the queue.
    ///
    /// Waiting for room instead would deadlock a handler that shuts the
    /// server down from its own shard while that shard's inbox is full:
    /// only that very thread can make room.
    pub(crate) fn request_shutdown(&self) -> Result<(), SendError> {
        match self.queue.try_send(Command::Shutdown) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.stop.store(true, Ordering::Release),
            Err(TrySendError::Disconnected(_)) => return Err(SendError::Stopped),
        }
        self.wake_pending.store(true, Ordering::Release);
        self.waker.wake().map_err(|_| SendError::Stopped)
    }
}

impl InboxReceiver {
    /// Whether shutdown was asked while the queue was full.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Re-arms the wake, then takes up to `budget` commands, oldest first.
    /// Returns whether commands may be left (the budget ran out).
    pub(crate) fn take(&self, budget: usize, mut each: impl FnMut(Command)) -> bool {
        // Acquire pairs with the senders' release `swap`: a command whose
        // sender saw the flag still set is visible to the reads below.
        self.wake_pending.swap(false, Ordering::AcqRel);
        for _ in 0..budget {
            match self.queue.try_recv() {
                Ok(command) => each(command),
                Err(_) => return false,
            }
        }
        true
    }
}
