//! The project's `esockets` binary as a child process: started on a free
//! loopback port (it binds `127.0.0.1:0` and says where in its log),
//! stopped by PID when dropped. `cargo test --workspace` builds it next
//! to loadgen; alone, build it first (`cargo build -p esockets`).
#![allow(clippy::unwrap_used, dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the server may take to say it is listening.
const READY: Duration = Duration::from_secs(30);

/// A running `esockets`.
pub struct Esockets {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

/// The `esockets` binary beside loadgen's.
fn binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_loadgen")).with_file_name("esockets");
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build -p esockets), or run \
         cargo test --workspace, which does",
        path.display()
    );
    path
}

impl Esockets {
    /// Starts `esockets --bind 127.0.0.1:0 ARGS` and waits for its
    /// `esockets listening` line.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(binary())
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("esockets listening addr=") {
                    let rest = &line[at + "esockets listening addr=".len()..];
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(addr.parse::<SocketAddr>());
                }
                // Read on to the end, so the server never blocks on a full pipe.
            }
        });
        let addr = match rx.recv_timeout(READY) {
            Ok(Ok(addr)) => addr,
            other => {
                let _ = child.kill();
                panic!("esockets {args:?} did not say where it listens: {other:?}");
            }
        };
        Self { addr, child }
    }

    /// `addr` as an argument.
    pub fn addr_arg(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Esockets {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
