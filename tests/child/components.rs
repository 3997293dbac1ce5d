//! Real components the tests start (redis-server, haproxy, promtool,
//! chromium, Python's websockets), installed by `scripts/components.sh`.
//! A missing one fails the test with a message saying how to install it;
//! it is never skipped silently.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use super::DEADLINE;

/// The path of `program`, or a panic that says how to install it.
pub fn require(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{program} is not installed: run scripts/components.sh (as root), \
                 or the README's test command, which runs it"
            )
        })
}

/// A loopback port that was free a moment ago, for a component that
/// cannot be told to pick its own.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// Waits (up to [`DEADLINE`]) until something accepts connections on
/// `addr`: a component started in the background is ready.
pub fn wait_until_listening(addr: SocketAddr, what: &str) {
    let end = Instant::now() + DEADLINE;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < end,
            "{what} did not listen on {addr} within {DEADLINE:?}"
        );
        // Polling, not synchronisation: the component's start is what we
        // wait for, and it says nothing on its own.
        thread::sleep(Duration::from_millis(10));
    }
}

/// A `redis-server` of the test's own on a free loopback port, killed
/// when dropped.
pub struct Redis {
    /// The process, while it runs.
    child: Option<super::Child>,
    /// Its port (kept across restarts).
    pub port: u16,
}

impl Redis {
    /// Starts one (no persistence) and waits until it accepts clients.
    pub fn start() -> Self {
        let mut redis = Self {
            child: None,
            port: free_port(),
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.signal(libc::SIGKILL);
            child.wait_within(super::DEADLINE, "redis-server after SIGKILL");
        }
    }

    /// Starts it (again) on the same port.
    pub fn restart(&mut self) {
        let port = self.port.to_string();
        let mut command = std::process::Command::new(require("redis-server"));
        command
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--daemonize", "no"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        self.child = Some(super::Child::spawn(&mut command));
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        wait_until_listening(addr, "redis-server");
    }
}
