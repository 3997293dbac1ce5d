//! Stopping a server on SIGINT (Ctrl-C) or SIGTERM: the first signal
//! closes every client gracefully, a second one exits at once. Reloading
//! on SIGHUP: each one calls the program's reload function.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::error::Error;
use crate::hub::handle::ServerHandle;
use crate::ops::logging;
use crate::server::Server;

/// How long the last log line may take to reach stderr before a second
/// signal ends the process.
const EXIT_FLUSH: Duration = Duration::from_millis(200);

/// SIGINT and SIGTERM, caught from [`catch`](StopSignals::catch) on and held
/// until [`watch`](StopSignals::watch) acts on them.
///
/// Most programs want [`Server::run_until_signal`], which does both.
/// Catch before [`Server::bind`] when something (a deployer, a test) may
/// send SIGTERM as soon as the server accepts clients: a signal that
/// arrives between the two is then held and still means a graceful shutdown.
///
/// # Examples
///
/// ```no_run
/// use esockets::{protocols::Echo, Config, Server, StopSignals};
///
/// let signals = StopSignals::catch()?;
/// let server = Server::bind(Config::default(), |_shard| Echo)?;
/// signals.watch(server.handle())?;
/// server.join()?;
/// # Ok::<(), esockets::Error>(())
/// ```
#[derive(Debug)]
pub struct StopSignals {
    /// The caught signals, delivered to the watching thread.
    signals: Signals,
}

impl StopSignals {
    /// Starts catching SIGINT and SIGTERM: from now on they no longer end
    /// the process at once.
    ///
    /// # Errors
    ///
    /// [`Error::Signals`] if the handlers cannot be installed.
    pub fn catch() -> Result<Self, Error> {
        let signals =
            Signals::new([SIGINT, SIGTERM]).map_err(|source| Error::Signals { source })?;
        Ok(Self { signals })
    }

    /// Starts a thread that acts on the caught signals: the first one
    /// starts a graceful shutdown of `handle`'s server (see
    /// [`ServerHandle::shutdown`]); any further one ends the process at once
    /// with status 128 + the signal number (130 for SIGINT, 143 for
    /// SIGTERM), as an uncaught signal would.
    ///
    /// The thread calls `shutdown` before it logs anything, so a logger
    /// that blocks cannot hold the shutdown up.
    ///
    /// # Errors
    ///
    /// [`Error::Signals`] if the thread cannot be started.
    pub fn watch(self, handle: ServerHandle) -> Result<(), Error> {
        self.watch_with(handle, Arc::new(AtomicBool::new(false)))
    }

    /// [`watch`](Self::watch), sharing `stopping`: once it is set, any
    /// signal ends the process at once.
    fn watch_with(self, handle: ServerHandle, stopping: Arc<AtomicBool>) -> Result<(), Error> {
        let mut signals = self.signals;
        thread::Builder::new()
            .name("esockets-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if stopping.swap(true, Ordering::SeqCst) {
                        exit_at_once(signal);
                    }
                    handle.shutdown();
                    tracing::info!(
                        signal = %signal_name(signal),
                        "shutting down: no new clients, flushing their output (a second signal exits at once)"
                    );
                }
            })
            .map(drop)
            .map_err(|source| Error::Signals { source })
    }
}

/// SIGHUP, caught from [`catch`](ReloadSignals::catch) on and held until
/// [`watch`](ReloadSignals::watch) acts on them: each one then calls the
/// program's reload function, on a thread of its own. Catch it before
/// [`Server::bind`], as [`StopSignals`], so a SIGHUP sent as soon as the
/// server listens reloads instead of ending the process.
///
/// What a reload re-reads and applies is the program's to say (the
/// `esockets` binary re-reads its configuration file and the TLS files).
///
/// # Examples
///
/// ```no_run
/// use esockets::{protocols::Echo, Config, ReloadSignals, Server};
///
/// let reloads = ReloadSignals::catch()?;
/// let server = Server::bind(Config::default(), |_shard| Echo)?;
/// reloads.watch(|| tracing::info!("SIGHUP: nothing to reload"))?;
/// server.run_until_signal()?;
/// # Ok::<(), esockets::Error>(())
/// ```
#[derive(Debug)]
pub struct ReloadSignals {
    /// The caught signals, delivered to the watching thread.
    signals: Signals,
}

impl ReloadSignals {
    /// Starts catching SIGHUP: from now on it no longer ends the process.
    ///
    /// # Errors
    ///
    /// [`Error::Signals`] if the handler cannot be installed.
    pub fn catch() -> Result<Self, Error> {
        let signals = Signals::new([SIGHUP]).map_err(|source| Error::Signals { source })?;
        Ok(Self { signals })
    }

    /// Starts a thread that calls `reload` once per SIGHUP caught (one
    /// call for several that arrive while a call runs, as the kernel
    /// merges pending signals).
    ///
    /// # Errors
    ///
    /// [`Error::Signals`] if the thread cannot be started.
    pub fn watch<F>(self, mut reload: F) -> Result<(), Error>
    where
        F: FnMut() + Send + 'static,
    {
        let mut signals = self.signals;
        thread::Builder::new()
            .name("esockets-reload".into())
            .spawn(move || {
                for _ in signals.forever() {
                    reload();
                }
            })
            .map(drop)
            .map_err(|source| Error::Signals { source })
    }
}

impl Server {
    /// Runs the server until SIGINT (Ctrl-C) or SIGTERM, then shuts it down
    /// gracefully and waits for it: every shard stops accepting, flushes
    /// queued output (up to [`Config::close_timeout`](crate::Config)) and
    /// closes its clients. A second signal during the graceful close ends the process
    /// at once (status 130 for SIGINT, 143 for SIGTERM), and so does any
    /// signal after this returns.
    ///
    /// The signals are caught from this call on; to hold one that arrives
    /// between [`Server::bind`] and this call, catch them first and use
    /// [`Server::run_until`]. Once per
    /// process: the signal watcher stays after the server ended, and a
    /// later signal ends the process, so a program that runs servers one
    /// after another stops each with [`ServerHandle::shutdown`](crate::ServerHandle::shutdown).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use esockets::{protocols::Echo, Config, Server};
    ///
    /// let _log = esockets::logging::init();
    /// let server = Server::bind(Config::default(), |_shard| Echo)?;
    /// server.run_until_signal()?;
    /// # Ok::<(), esockets::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Signals`] if the signals cannot be caught (the server is
    /// then shut down), or what [`join`](Server::join) returns.
    pub fn run_until_signal(self) -> Result<(), Error> {
        self.run_until(StopSignals::catch()?)
    }

    /// [`run_until_signal`](Server::run_until_signal) with signals caught
    /// earlier, before [`Server::bind`]: a signal that arrives while the
    /// server starts (a script that stops it as soon as it says it is
    /// listening) still shuts it down gracefully instead of ending it. Once per
    /// process, as `run_until_signal`: a signal after this returns ends the
    /// process.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use esockets::{protocols::Echo, Config, Server, StopSignals};
    ///
    /// let signals = StopSignals::catch()?;
    /// let server = Server::bind(Config::default(), |_shard| Echo)?;
    /// server.run_until(signals)?;
    /// # Ok::<(), esockets::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Signals`] if the watching thread cannot start (the server
    /// is then shut down), or what [`join`](Server::join) returns.
    pub fn run_until(self, signals: StopSignals) -> Result<(), Error> {
        let stopping = Arc::new(AtomicBool::new(false));
        signals.watch_with(self.handle(), Arc::clone(&stopping))?;
        let joined = self.join();
        stopping.store(true, Ordering::SeqCst);
        joined
    }
}

/// Ends the process on a signal received while already stopping.
fn exit_at_once(signal: i32) -> ! {
    tracing::warn!(
        signal = %signal_name(signal),
        "second signal: exiting without flushing"
    );
    logging::flush(EXIT_FLUSH);
    std::process::exit(128 + signal)
}

/// The usual name of a signal we catch.
fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "signal",
    }
}
