//! A shard's inbox: bounded, woken once per round however many commands
//! arrive, and read with a per-round budget so a flood of commands cannot
//! starve the shard's clients.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam::channel::{self, Receiver, Sender, TrySendError};
use mio::Waker;

use crate::handler::id::ConnId;
use crate::server::handle::SendError;

/// Something another thread asks a shard to do.
pub(crate) enum Command {
    /// Send these bytes to this client (dropped if the id is stale).
    Send(ConnId, Bytes),
    /// Close this client gracefully (ignored if the id is stale).
    Close(ConnId),
}

/// What the shard found in its inbox.
pub(crate) struct Taken {
    /// The budget ran out: commands may be left for the next round.
    pub(crate) more: bool,
    /// Shutdown was asked for.
    pub(crate) shutdown: bool,
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
    /// Shutdown was asked for: a flag beside the queue, so asking never
    /// waits for room in a full queue (and never deadlocks a handler that
    /// asks from its own shard).
    shutdown: Arc<AtomicBool>,
}

/// The shard's side.
pub(crate) struct InboxReceiver {
    /// The bounded queue.
    queue: Receiver<Command>,
    /// Shared with the senders; cleared before each read of the queue.
    wake_pending: Arc<AtomicBool>,
    /// Shared with the senders.
    shutdown: Arc<AtomicBool>,
}

/// A bounded inbox of `capacity` commands, woken through `waker`.
pub(crate) fn inbox(capacity: usize, waker: Waker) -> (InboxSender, InboxReceiver) {
    let (tx, rx) = channel::bounded(capacity);
    let wake_pending = Arc::new(AtomicBool::new(false));
    let shutdown = Arc::new(AtomicBool::new(false));
    (
        InboxSender {
            queue: tx,
            waker,
            wake_pending: Arc::clone(&wake_pending),
            shutdown: Arc::clone(&shutdown),
        },
        InboxReceiver {
            queue: rx,
            wake_pending,
            shutdown,
        },
    )
}

impl InboxSender {
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
            // A failed wake means the shard's poll is gone: it has stopped.
            self.waker.wake().map_err(|_| SendError::Stopped)?;
        }
        Ok(())
    }

    /// Asks the shard to shut down, and wakes it.
    pub(crate) fn shutdown(&self) -> Result<(), SendError> {
        self.shutdown.store(true, Ordering::Release);
        self.wake_pending.store(true, Ordering::Release);
        self.waker.wake().map_err(|_| SendError::Stopped)
    }
}

impl InboxReceiver {
    /// Re-arms the wake, then takes up to `budget` commands, oldest first.
    pub(crate) fn take(&self, budget: usize, mut each: impl FnMut(Command)) -> Taken {
        // Acquire pairs with the senders' release `swap`: a command whose
        // sender saw the flag still set is visible to the reads below.
        self.wake_pending.swap(false, Ordering::AcqRel);
        let shutdown = self.shutdown.load(Ordering::Acquire);
        for _ in 0..budget {
            match self.queue.try_recv() {
                Ok(command) => each(command),
                Err(_) => {
                    return Taken {
                        more: false,
                        shutdown,
                    }
                }
            }
        }
        Taken {
            more: true,
            shutdown,
        }
    }
}
