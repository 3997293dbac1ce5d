//! A real `redis-server` for the pub/sub tests: found on the PATH (a
//! missing one fails the test saying how to install it, as the project's
//! component tests do), started on a free loopback port without
//! persistence, killed by its PID when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long redis-server may take to start listening.
const DEADLINE: Duration = Duration::from_secs(20);

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

/// A running redis-server.
pub struct Redis {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl Redis {
    /// Starts one and waits (bounded) until it accepts connections.
    pub fn start() -> Self {
        let program = require("redis-server");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let redis = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
        };
        let end = Instant::now() + DEADLINE;
        while TcpStream::connect_timeout(&redis.addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < end,
                "redis-server did not listen on {} within {DEADLINE:?}",
                redis.addr
            );
            // Polling, not synchronisation: redis-server says nothing when
            // it is ready.
            std::thread::sleep(Duration::from_millis(10));
        }
        redis
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
