//! A real HAProxy in front of a server under test: its config written to
//! a temporary folder, a free loopback port for its frontend, run in the
//! foreground (`-db`) and killed by its PID when dropped.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::components::{free_port, require};
use super::{Child, Lines, DEADLINE};

/// A running `haproxy` forwarding TCP from its frontend to one server.
pub struct Haproxy {
    /// The process; killed on drop.
    child: Child,
    /// Its stderr (warnings and alerts), for failure messages.
    lines: Lines,
    /// The folder holding its config; removed on drop.
    dir: PathBuf,
    /// Where clients connect.
    pub frontend: SocketAddr,
}

impl Haproxy {
    /// Starts HAProxy in TCP mode in front of `backend`, with
    /// `server_options` on its server line (`send-proxy`,
    /// `send-proxy-v2 check inter 100ms`, ...), and waits until its
    /// frontend accepts connections.
    pub fn start(backend: SocketAddr, server_options: &str) -> Self {
        let program = require("haproxy");
        let port = free_port();
        let frontend = SocketAddr::from(([127, 0, 0, 1], port));
        let dir =
            std::env::temp_dir().join(format!("esockets-haproxy-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the config folder");
        let config = dir.join("haproxy.cfg");
        std::fs::write(
            &config,
            format!(
                "global\n\
                 \x20   maxconn 1000\n\
                 defaults\n\
                 \x20   mode tcp\n\
                 \x20   timeout connect 5s\n\
                 \x20   timeout client 30s\n\
                 \x20   timeout server 30s\n\
                 frontend front\n\
                 \x20   bind {frontend}\n\
                 \x20   default_backend back\n\
                 backend back\n\
                 \x20   server esockets {backend} {server_options}\n"
            ),
        )
        .expect("write the config");
        let mut command = Command::new(program);
        command
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = Child::spawn(&mut command);
        let lines = child.stderr_lines();
        let mut haproxy = Self {
            child,
            lines,
            dir,
            frontend,
        };
        haproxy.wait_until_listening();
        haproxy
    }

    /// Waits until the frontend accepts a connection; panics with
    /// HAProxy's output if it exits or does not listen in time.
    fn wait_until_listening(&mut self) {
        let end = Instant::now() + DEADLINE;
        while TcpStream::connect_timeout(&self.frontend, Duration::from_millis(200)).is_err() {
            if let Some(status) = self.child.exited() {
                panic!("haproxy exited ({status}): {:#?}", self.output());
            }
            if Instant::now() >= end {
                let frontend = self.frontend;
                panic!(
                    "haproxy did not listen on {frontend} within {DEADLINE:?}: {:#?}",
                    self.output()
                );
            }
            // Polling, not synchronisation: its start is what we wait for.
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// What HAProxy printed so far.
    pub fn output(&mut self) -> Vec<String> {
        while self.lines.next_within(Duration::from_millis(50)).is_some() {}
        self.lines.seen.clone()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        self.child.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
