//! Starting and stopping one contender server.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::child::{pinned, Guard};
use crate::contender::Contender;
use crate::env::Env;
use crate::net::{wait_accepting, wait_port_free};

/// How long a previous server's port may stay busy.
const PORT_FREE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a native server may take to accept its first connection.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// The same under valgrind, which starts programs very slowly.
const VALGRIND_START_TIMEOUT: Duration = Duration::from_secs(180);
/// Grace period between SIGTERM and SIGKILL (natively / under valgrind).
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Valgrind writes its profile at exit, which takes a while.
const VALGRIND_STOP_GRACE: Duration = Duration::from_secs(120);

/// A running contender server, accepting on `addr`.
pub struct Server {
    /// The server process (killed if this is dropped).
    guard: Guard,
    /// Where it accepts connections.
    pub addr: SocketAddr,
    /// How long `stop` waits after SIGTERM.
    grace: Duration,
}

impl Server {
    /// Starts `contender` with `threads` threads, pinned to the server CPUs,
    /// under callgrind when `callgrind_out` is given; returns once it accepts.
    pub fn start(
        env: &Env,
        contender: &Contender,
        threads: usize,
        callgrind_out: Option<&Path>,
        tag: &str,
    ) -> Result<Self, String> {
        let addr = contender.addr(&env.cli.host)?;
        let binary = env.binary(contender)?;
        wait_port_free(addr, PORT_FREE_TIMEOUT)?;
        let mut cmd = match callgrind_out {
            Some(out) => {
                let mut cmd = pinned(&env.server_cpus, "valgrind");
                cmd.arg("--tool=callgrind")
                    .arg(format!("--callgrind-out-file={}", out.display()))
                    .arg(binary);
                cmd
            }
            None => pinned(&env.server_cpus, binary),
        };
        cmd.arg("--threads")
            .arg(threads.to_string())
            .arg("--bind")
            .arg(addr.to_string())
            .args(contender.args);
        let log = env.file(&format!("{tag}.server.log"));
        let mut guard = Guard::spawn(contender.name, &mut cmd, &log)?;
        let (start, grace) = match callgrind_out {
            Some(_) => (VALGRIND_START_TIMEOUT, VALGRIND_STOP_GRACE),
            None => (START_TIMEOUT, STOP_GRACE),
        };
        wait_accepting(addr, &mut guard, start)
            .map_err(|e| format!("{e} (log: {})", log.display()))?;
        Ok(Self { guard, addr, grace })
    }

    /// The server's process id (taskset and valgrind keep the same pid).
    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// Stops the server: SIGTERM, then SIGKILL after the grace period.
    pub fn stop(self) -> Result<(), String> {
        self.guard.stop(self.grace).map(drop)
    }
}
