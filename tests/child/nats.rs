//! A NATS cluster of the test's own: `nats-server` processes on free
//! loopback ports, routed to each other, each killed by its PID when the
//! cluster is dropped (or when the test kills it, as a crash would).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::components::{free_port, require, wait_until_listening};
use super::scrape::request;
use super::{Child, DEADLINE};

/// One server: its ports and, while it runs, its process.
struct Node {
    /// Where clients connect.
    port: u16,
    /// Its monitoring endpoint (`/routez`).
    monitor: u16,
    /// The process, until killed.
    child: Option<Child>,
}

/// A running NATS cluster.
pub struct NatsCluster {
    /// Every server.
    nodes: Vec<Node>,
}

impl NatsCluster {
    /// Starts `servers` servers routed to each other and waits until each
    /// has a route to every other.
    pub fn start(servers: usize) -> Self {
        let program = require("nats-server");
        let routes: Vec<u16> = (0..servers).map(|_| free_port()).collect();
        let mut nodes = Vec::new();
        for (index, &route) in routes.iter().enumerate() {
            let (port, monitor) = (free_port(), free_port());
            let others: Vec<String> = routes
                .iter()
                .filter(|&&other| other != route)
                .map(|other| format!("nats://127.0.0.1:{other}"))
                .collect();
            let mut command = Command::new(&program);
            command
                .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .args(["-m", &monitor.to_string(), "-n", &format!("n{index}")])
                .args(["--cluster_name", "esockets-test"])
                .args(["--cluster", &format!("nats://127.0.0.1:{route}")])
                .args(["--routes", &others.join(",")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            nodes.push(Node {
                port,
                monitor,
                child: Some(Child::spawn(&mut command)),
            });
        }
        let cluster = Self { nodes };
        for node in &cluster.nodes {
            wait_until_listening(SocketAddr::from(([127, 0, 0, 1], node.port)), "nats-server");
            let monitor = SocketAddr::from(([127, 0, 0, 1], node.monitor));
            wait_until_listening(monitor, "nats-server monitoring");
            let want = format!("\"num_routes\": {}", servers - 1);
            let end = Instant::now() + DEADLINE;
            while !request(monitor, "GET", "/routez").body.contains(&want) {
                assert!(
                    Instant::now() < end,
                    "{} not routed within {DEADLINE:?}",
                    node.port
                );
                // Polling, not synchronisation: the routes say nothing on
                // their own.
                thread::sleep(Duration::from_millis(20));
            }
        }
        cluster
    }

    /// `nats://127.0.0.1:PORT` of server `index` only (the client learns
    /// the others from the cluster).
    pub fn url(&self, index: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[index].port)
    }

    /// Kills server `index` at once (SIGKILL), as a crash would.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].child.take() {
            child.signal(libc::SIGKILL);
            child.wait_within(DEADLINE, "nats-server after SIGKILL");
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                child.kill();
            }
        }
    }
}
