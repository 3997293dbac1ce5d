//! The server side of the API: `Server` (bind the shards, start their
//! threads, join them), its handle, configuration, errors and counters.

pub mod config;
pub mod error;
pub mod handle;
pub mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use mio::{Interest, Poll, Waker};

use crate::handler::{Handler, ShardInfo};
use crate::net::fds;
use crate::net::listener::{self, ListenOptions};
use crate::pubsub::backplane::{Backplane, Running};
use crate::shard::inbox;
use crate::shard::{Shard, ShardParts, LISTENER, WAKER};
use config::{Config, RESERVED_DESCRIPTORS};
use error::ConfigError;
use error::Error;
use handle::{Remote, ServerHandle};
use stats::ShardStats;

/// A running server: one pinned thread per shard, each with its own
/// `SO_REUSEPORT` listener, poll and handler.
///
/// Dropping a `Server` shuts it down and waits for its threads; call
/// [`join`](Server::join) to learn whether a shard panicked.
///
/// # Examples
///
/// ```
/// use esockets::{protocols::Echo, Config, Server};
///
/// let config = Config { bind: "127.0.0.1:0".parse().unwrap(), threads: 2, ..Config::default() };
/// let server = Server::bind(config, |_shard| Echo).expect("bind");
/// println!("echo on {}", server.local_addr());
/// server.shutdown();
/// server.join().expect("clean shutdown");
/// ```
pub struct Server {
    /// Reaches the shards.
    handle: ServerHandle,
    /// The shard threads, by index; empty once joined.
    threads: Vec<JoinHandle<()>>,
    /// The Redis backplane's threads, if any.
    backplane: Option<Running>,
}

impl Server {
    /// Validates `config`, binds every shard's listener on the caller's
    /// thread, then starts the shard threads. `factory` runs once on each
    /// shard thread to make that shard's handler.
    ///
    /// # Errors
    ///
    /// A bad config, an address in use or not available, or a failure to
    /// create a poll or thread, all before any client is served.
    pub fn bind<F, H>(config: Config, factory: F) -> Result<Self, Error>
    where
        F: Fn(ShardInfo) -> H + Send + Sync + 'static,
        H: Handler + 'static,
    {
        config.validate()?;
        let (backplane, outbox) = match &config.backplane {
            None => (None, None),
            Some(url) => {
                let (backplane, outbox) = Backplane::new(url).map_err(|err| ConfigError {
                    field: "backplane",
                    reason: format!("{url:?} is not a Redis URL (redis://HOST:PORT): {err}"),
                })?;
                (Some(backplane), Some(outbox))
            }
        };
        let options = ListenOptions {
            backlog: config.backlog,
            keepalive: config.keepalive,
            user_timeout: config.user_timeout,
        };
        let listeners = listener::bind_group(config.bind, config.threads, options)?;
        let local_addr = listeners[0]
            .local_addr()
            .map_err(|err| Error::listen(config.bind, err))?;
        let mut parts = Vec::with_capacity(config.threads);
        let mut remotes = Vec::with_capacity(config.threads);
        for (shard, mut listener) in listeners.into_iter().enumerate() {
            let fail = |source| Error::Shard { shard, source };
            let poll = Poll::new().map_err(fail)?;
            let waker = Waker::new(poll.registry(), WAKER).map_err(fail)?;
            poll.registry()
                .register(&mut listener, LISTENER, Interest::READABLE)
                .map_err(fail)?;
            let (sender, inbox) = inbox::inbox(config.inbox_capacity, waker);
            remotes.push(Remote {
                inbox: sender,
                stats: Default::default(),
            });
            parts.push(ShardParts {
                poll,
                listener,
                inbox,
            });
        }
        let max_connections = config.effective_max_connections();
        pregrow_descriptor_table(max_connections, config.threads);
        let mut server = Self {
            handle: ServerHandle::new(remotes, local_addr, max_connections, outbox),
            threads: Vec::with_capacity(config.threads),
            backplane: None,
        };
        if let Some(backplane) = backplane {
            let running = backplane
                .start(server.handle.clone())
                .map_err(|source| Error::Shard { shard: 0, source })?;
            server.backplane = Some(running);
        }
        let cores = if config.pin_threads {
            core_affinity::get_core_ids().filter(|ids| !ids.is_empty())
        } else {
            None
        };
        let factory = Arc::new(factory);
        for (index, parts) in parts.into_iter().enumerate() {
            let core = cores.as_ref().map(|ids| ids[index % ids.len()]);
            let (handle, factory, config) =
                (server.handle.clone(), Arc::clone(&factory), config.clone());
            let spawned = thread::Builder::new()
                .name(format!("esockets-shard-{index}"))
                .spawn(move || {
                    let core = core.filter(|&id| core_affinity::set_for_current(id));
                    let core = core.map(|id| id.id);
                    match core {
                        Some(core) => tracing::info!(shard = index, core, "shard started"),
                        None => tracing::info!(shard = index, "shard started, not pinned"),
                    }
                    let info = ShardInfo {
                        index,
                        core,
                        handle: handle.clone(),
                    };
                    let handler = factory(info);
                    Shard::new(index, parts, handle, handler, config).run();
                });
            match spawned {
                Ok(thread) => server.threads.push(thread),
                // Dropping `server` shuts down and joins the shards started.
                Err(source) => {
                    return Err(Error::Shard {
                        shard: index,
                        source,
                    })
                }
            }
        }
        Ok(server)
    }

    /// The address the server listens on (with the real port if 0 was
    /// asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// A handle usable from any thread.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Starts a graceful shutdown; see [`ServerHandle::shutdown`].
    pub fn shutdown(&self) {
        self.handle.shutdown();
    }

    /// The latest counters of every shard.
    pub fn stats(&self) -> Vec<ShardStats> {
        self.handle.stats()
    }

    /// Waits for every shard thread to end (after a shutdown).
    ///
    /// # Errors
    ///
    /// [`Error::ShardPanicked`] for the first shard that panicked; the
    /// others are still joined.
    pub fn join(mut self) -> Result<(), Error> {
        self.join_threads()
    }

    /// Joins the threads, keeping the first panic.
    fn join_threads(&mut self) -> Result<(), Error> {
        let mut result = Ok(());
        // The shards have stopped once joined; then the backplane.
        let _stop_backplane_last = self.backplane.take();
        for (shard, thread) in self.threads.drain(..).enumerate() {
            if let Err(panic) = thread.join() {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic".to_owned());
                if result.is_ok() {
                    result = Err(Error::ShardPanicked { shard, message });
                }
            }
        }
        result
    }
}

/// Grows the descriptor table for every client and the server's own files
/// before the shard threads start (see `fds::pregrow_table`), up to the
/// soft open-file limit.
fn pregrow_descriptor_table(max_connections: usize, threads: usize) {
    let wanted = max_connections.saturating_add(RESERVED_DESCRIPTORS + 4 * threads);
    let soft = fds::open_file_limit().map_or(wanted as u64, |(soft, _)| soft);
    let slots = wanted.min(usize::try_from(soft).unwrap_or(usize::MAX));
    match fds::pregrow_table(slots) {
        Ok(size) => tracing::info!(
            "descriptor table sized for {size} files before the shards start (growing it later \
             would stall every thread)"
        ),
        Err(err) => tracing::debug!("cannot size the descriptor table for {slots} files: {err}"),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.handle.shutdown();
            // Panics were already reported by the panic hook.
            let _ = self.join_threads();
        }
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr())
            .field("shards", &self.handle.shards())
            .finish()
    }
}
