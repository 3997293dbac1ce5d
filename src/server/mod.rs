//! The server side of the API: `Server` (bind the shards, start their
//! threads, join them), its handle, configuration, errors and counters.

pub(crate) mod balance;
pub(crate) mod least_loaded;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use mio::net::TcpListener;
use mio::{Interest, Poll, Waker};

use crate::backplane::{Backplane, Running};
use crate::config::{Balance, BalanceChoice, BalanceReason, Config, RESERVED_DESCRIPTORS};
use crate::error::{ConfigError, Error};
use crate::handler::{Handler, ShardInfo};
use crate::hub::handle::ServerHandle;
use crate::hub::inbox;
use crate::hub::load::ShardLoad;
use crate::hub::outbox::Outbox;
use crate::hub::stats::ShardStats;
use crate::hub::{Hub, Remote};
use crate::net::fds;
use crate::net::group::Group;
use crate::net::listener::{self, ListenOptions};
use crate::net::steer;
use crate::ops::metrics::MetricsEndpoint;
use crate::ops::watchdog::Watchdog;
use crate::shard::{Shard, ShardParts, LISTENER, WAKER};
use least_loaded::Acceptor;

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
    /// The metrics endpoint, if on; stopped once the shards are joined.
    metrics: Option<MetricsEndpoint>,
    /// The stall watchdog, if on; stopped once the shards are joined.
    watchdog: Option<Watchdog>,
    /// The Redis backplane's threads, if any.
    backplane: Option<Running>,
    /// The acceptor thread, under least-loaded balancing.
    acceptor: Option<JoinHandle<()>>,
    /// The balance mode running, and why.
    balance: BalanceChoice,
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
        let backplane = backplane(&config)?;
        let listeners = listener::bind_group(
            config.bind,
            balance::listener_count(config.balance, config.threads, 1),
            listen_options(&config),
            config.reuseport_join,
        )?;
        Self::start(config, listeners, false, backplane, factory)
    }

    /// Like [`bind`](Server::bind), but serves listening sockets made
    /// elsewhere instead of binding `config.bind`: those systemd passed
    /// ([`systemd_listeners`](crate::systemd_listeners)), or the
    /// caller's own. Shard `i` accepts on socket `i mod K`; with fewer
    /// sockets than shards, the shards beyond them share the sockets
    /// through duplicate descriptors (see docs/architecture.md for why no
    /// new sockets are made). Keepalive and `TCP_USER_TIMEOUT` are set on
    /// them as configured; their backlog stays as their maker set it.
    ///
    /// At shutdown, clients queued in them are not accepted: the sockets
    /// outlive this server in whoever passed them (systemd keeps them
    /// open), and the clients wait there for the next server.
    ///
    /// # Errors
    ///
    /// As [`bind`](Server::bind); a [`ConfigError`](crate::ConfigError)
    /// for `threads` when there are more sockets than shards (every socket
    /// needs a shard to accept on it); [`Error::Passed`] if a socket
    /// cannot be set up.
    pub fn from_listeners<F, H>(
        config: Config,
        listeners: Vec<std::net::TcpListener>,
        factory: F,
    ) -> Result<Self, Error>
    where
        F: Fn(ShardInfo) -> H + Send + Sync + 'static,
        H: Handler + 'static,
    {
        config.validate()?;
        let backplane = backplane(&config)?;
        if listeners.len() > config.threads {
            return Err(ConfigError {
                field: "threads",
                reason: format!(
                    "must be at least {}, one per listening socket passed (got {})",
                    listeners.len(),
                    config.threads
                ),
            }
            .into());
        }
        if config.balance == Balance::ReceivingCpu {
            return Err(ConfigError {
                field: "balance",
                reason: "cpu needs listening sockets this server binds itself (the order of \
                         passed sockets in their group is not known): with passed sockets, use \
                         balance reuseport or least-loaded"
                    .into(),
            }
            .into());
        }
        let count = balance::listener_count(config.balance, config.threads, listeners.len());
        let listeners = listener::adopt_group(listeners, count, listen_options(&config))?;
        Self::start(config, listeners, true, backplane, factory)
    }

    /// Starts one shard per listener (`passed` if the listeners were made
    /// elsewhere), and the backplane if configured.
    fn start<F, H>(
        mut config: Config,
        listeners: Vec<TcpListener>,
        passed: bool,
        (backplane, outbox): (Option<Backplane>, Option<Outbox>),
        factory: F,
    ) -> Result<Self, Error>
    where
        F: Fn(ShardInfo) -> H + Send + Sync + 'static,
        H: Handler + 'static,
    {
        let local_addr = listeners[0]
            .local_addr()
            .map_err(|err| Error::listen(config.bind, err))?;
        let cores = if config.pin_threads {
            core_affinity::get_core_ids().filter(|ids| !ids.is_empty())
        } else {
            None
        };
        let setting = balance::Setting {
            threads: config.threads,
            pinned: config.pin_threads,
            cpus: cores.as_ref().map(Vec::len),
            joining: config.reuseport_join,
            passed,
        };
        let mut choice = balance::resolve(config.balance, setting);
        if choice.mode == Balance::ReceivingCpu {
            match steer_by_cpu(&listeners[0], cores.as_deref(), config.threads, local_addr) {
                Ok(()) => {}
                Err(Error::Steer { source, .. }) if choice.reason.by_default() => {
                    choice = BalanceChoice {
                        mode: Balance::ReusePort,
                        reason: BalanceReason::SteeringRefused(source.to_string()),
                    };
                }
                Err(err) => return Err(err),
            }
        }
        tracing::debug!(mode = ?choice.mode, reason = %choice.reason, "balance");
        config.balance = choice.mode;
        let group = Arc::new(Group::new(local_addr, &listeners, passed));
        let least_loaded = config.balance == Balance::LeastLoaded;
        let (shard_listeners, acceptor_listeners) =
            balance::split(config.balance, listeners, config.threads);
        let loads: Vec<Arc<ShardLoad>> = (0..config.threads).map(|_| Arc::default()).collect();
        let mut parts = Vec::with_capacity(config.threads);
        let mut remotes = Vec::with_capacity(config.threads);
        for (shard, mut listener) in shard_listeners.into_iter().enumerate() {
            let fail = |source| Error::Shard { shard, source };
            let poll = Poll::new().map_err(fail)?;
            let waker = Waker::new(poll.registry(), WAKER).map_err(fail)?;
            if let Some(listener) = &mut listener {
                poll.registry()
                    .register(listener, LISTENER, Interest::READABLE)
                    .map_err(fail)?;
            }
            let (sender, inbox) = inbox::inbox(config.inbox_capacity, waker);
            remotes.push(Remote {
                inbox: sender,
                stats: Default::default(),
                heartbeat: Arc::default(),
            });
            parts.push(ShardParts {
                poll,
                listener,
                inbox,
                load: least_loaded.then(|| Arc::clone(&loads[shard])),
                group: Arc::clone(&group),
            });
        }
        let acceptor = match acceptor_listeners {
            Some(listeners) => Some(
                Acceptor::new(listeners, loads, Arc::clone(&group))
                    .map_err(|source| Error::Shard { shard: 0, source })?,
            ),
            None => None,
        };
        let max_connections = config.effective_max_connections();
        pregrow_descriptor_table(max_connections, config.threads);
        let handle = ServerHandle::new(Hub::new(
            remotes,
            local_addr,
            max_connections,
            outbox,
            config.history,
            config.fanout_credit,
        ));
        // Before the shards start: a bad metrics address is an error with
        // nothing to undo.
        let metrics = match config.metrics {
            Some(addr) => Some(
                MetricsEndpoint::start(addr, handle.clone())
                    .map_err(|source| Error::Metrics { addr, source })?,
            ),
            None => None,
        };
        let watchdog = match config.stall_threshold {
            Some(threshold) => Some(
                Watchdog::start(handle.clone(), threshold)
                    .map_err(|source| Error::Watchdog { source })?,
            ),
            None => None,
        };
        let mut server = Self {
            handle,
            threads: Vec::with_capacity(config.threads),
            metrics,
            watchdog,
            backplane: None,
            acceptor: None,
            balance: choice,
        };
        if let Some(acceptor) = &acceptor {
            server.handle.hub().set_acceptor(acceptor.control());
        }
        if let Some(backplane) = backplane {
            let running = backplane
                .start(Arc::clone(server.handle.hub()))
                .map_err(|source| Error::Shard { shard: 0, source })?;
            server.backplane = Some(running);
        }
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
                // Dropping `server` shuts down and joins the shards started
                // (the acceptor, never started, first: then the shutdown
                // goes to the shards directly).
                Err(source) => {
                    drop(acceptor);
                    return Err(Error::Shard {
                        shard: index,
                        source,
                    });
                }
            }
        }
        if let Some(acceptor) = acceptor {
            tracing::debug!(shards = config.threads, "acceptor started");
            let thread = acceptor
                .start(server.handle.clone(), config)
                .map_err(|source| Error::Shard { shard: 0, source })?;
            server.acceptor = Some(thread);
        }
        Ok(server)
    }

    /// The address the server listens on (with the real port if 0 was
    /// asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// Where the metrics endpoint listens (the real port if 0 was asked),
    /// when [`Config::metrics`] is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(MetricsEndpoint::addr)
    }

    /// The balance mode running (never [`Balance::Auto`]: the default is
    /// resolved when the server starts) and why.
    pub fn balance(&self) -> &BalanceChoice {
        &self.balance
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

    /// Joins the threads, keeping the first panic; then stops the metrics
    /// endpoint and the watchdog.
    fn join_threads(&mut self) -> Result<(), Error> {
        let result = self.join_shards();
        self.metrics = None;
        self.watchdog = None;
        result
    }

    /// Joins the shard threads, keeping the first panic.
    fn join_shards(&mut self) -> Result<(), Error> {
        let mut result = Ok(());
        // The shards have stopped once joined; then the backplane.
        let _stop_backplane_last = self.backplane.take();
        // The acceptor ends first: it hands over its last clients, then
        // tells the shards to shut down. It runs no handler code.
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
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

/// The backplane `config` asks for, not started yet, and the outbox the
/// shards publish to it through.
///
/// # Errors
///
/// A [`ConfigError`] for a `backplane` that is no Redis or Redis Cluster
/// URL.
fn backplane(config: &Config) -> Result<(Option<Backplane>, Option<Outbox>), ConfigError> {
    match &config.backplane {
        None => Ok((None, None)),
        Some(url) => {
            let per_topic = config.backplane_subscribe.per_topic();
            let (backplane, outbox) = Backplane::new(url, config.backplane_resend, per_topic)
                .map_err(|reason| ConfigError {
                    field: "backplane",
                    reason,
                })?;
            Ok((Some(backplane), Some(outbox)))
        }
    }
}

/// Under [`Balance::ReceivingCpu`]: attaches the program that gives each
/// client to the shard pinned to the CPU that received it. Shard `i` runs
/// on `cores[i]`, so there must be a core for every shard; clients
/// received on the other cores this process may use are spread over the
/// shards in turn.
fn steer_by_cpu(
    listener: &TcpListener,
    cores: Option<&[core_affinity::CoreId]>,
    threads: usize,
    addr: SocketAddr,
) -> Result<(), Error> {
    let cores = cores.unwrap_or_default();
    if cores.is_empty() {
        return Err(ConfigError {
            field: "balance",
            reason: "cpu needs the cores this process may use, and the system did not list \
                     them"
                .into(),
        }
        .into());
    }
    if threads > cores.len() {
        return Err(ConfigError {
            field: "balance",
            reason: format!(
                "cpu needs one core for each shard: lower threads to {} or less (the cores \
                 this process may use), or use another balance",
                cores.len()
            ),
        }
        .into());
    }
    let routes: Vec<(usize, usize)> = cores
        .iter()
        .enumerate()
        .map(|(j, core)| (core.id, j % threads))
        .collect();
    steer::steer_by_cpu(listener, &routes, threads).map_err(|source| Error::Steer { addr, source })
}

/// How each listening socket is set up, from `config`.
fn listen_options(config: &Config) -> ListenOptions {
    ListenOptions {
        backlog: config.backlog,
        keepalive: config.keepalive,
        user_timeout: config.user_timeout,
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
        if !self.threads.is_empty() || self.acceptor.is_some() {
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
