//! A Redis Cluster of the test's own: `redis-server --cluster-enabled
//! yes` on free loopback ports, joined by `redis-cli --cluster create`,
//! each node killed by its PID when the cluster is dropped (or when the
//! test kills it, as a crash would, and perhaps starts it again).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::components::{free_port, require, wait_until_listening};
use super::{Child, DEADLINE};

/// How long a node may go unanswered before its replica takes over: short,
/// so a failover test takes a few seconds.
const NODE_TIMEOUT_MS: &str = "1000";

/// One node: its port, how it is started and, while it runs, its
/// process.
struct Node {
    /// Its port.
    port: u16,
    /// `redis-server` and its arguments.
    command: Vec<std::ffi::OsString>,
    /// The process, until killed.
    child: Option<Child>,
}

impl Node {
    /// Starts (or starts again) its process; it keeps its cluster
    /// configuration file, so it comes back as the same node.
    fn spawn(&mut self, dir: &std::path::Path) {
        let mut command = Command::new(&self.command[0]);
        command
            .args(&self.command[1..])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(Child::spawn(&mut command));
    }
}

/// A running cluster.
pub struct RedisCluster {
    /// Every node, masters first (as `--cluster create` assigns them).
    nodes: Vec<Node>,
    /// Where the nodes keep their cluster configuration files.
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts `masters` masters with `replicas` replicas each and waits
    /// until every node says the cluster is ok.
    pub fn start(masters: usize, replicas: usize) -> Self {
        Self::start_with(masters, replicas, &[])
    }

    /// The same, each node given `extra` configuration too (e.g.
    /// `--cluster-allow-pubsubshard-when-down no`).
    pub fn start_with(masters: usize, replicas: usize, extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "esockets-cluster-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("make the cluster's directory");
        let server = require("redis-server");
        let mut nodes = Vec::new();
        for _ in 0..masters * (1 + replicas) {
            let port = free_port();
            let config = dir.join(format!("nodes-{port}.conf"));
            let mut command: Vec<std::ffi::OsString> = vec![server.clone().into()];
            let port_arg = port.to_string();
            let args = [
                "--port",
                &port_arg,
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-node-timeout",
                NODE_TIMEOUT_MS,
                // A replica takes over however long ago it heard from its
                // master: the test kills one seconds after the start.
                "--cluster-replica-validity-factor",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ];
            command.extend(args.iter().chain(extra).map(Into::into));
            command.push("--cluster-config-file".into());
            command.push(config.into());
            let mut node = Node {
                port,
                command,
                child: None,
            };
            node.spawn(&dir);
            nodes.push(node);
        }
        for node in &nodes {
            wait_until_listening(
                SocketAddr::from(([127, 0, 0, 1], node.port)),
                "redis-server",
            );
        }
        let status = Command::new(require("redis-cli"))
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)))
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .expect("run redis-cli --cluster create");
        assert!(status.success(), "redis-cli --cluster create: {status}");
        let cluster = Self { nodes, dir };
        for node in &cluster.nodes {
            cluster.wait_until(
                &format!("node {} says the cluster is ok", node.port),
                || cluster.state_is(node.port, "ok"),
            );
        }
        cluster
    }

    /// `redis-cluster://127.0.0.1:P1,127.0.0.1:P2` (the first two nodes as
    /// seeds: the client learns the rest).
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self
            .nodes
            .iter()
            .take(2)
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        format!("redis-cluster://{}", seeds.join(","))
    }

    /// The ports of the nodes still running.
    pub fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|node| node.child.is_some())
            .map(|node| node.port)
            .collect()
    }

    /// `args` sent to the node at `port`; `None` if it did not answer.
    pub fn try_query<T: redis::FromRedisValue>(&self, port: u16, args: &[&str]) -> Option<T> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
        let mut connection = client
            .get_connection_with_timeout(Duration::from_secs(1))
            .ok()?;
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query(&mut connection).ok()
    }

    /// The port of the master that owns `key`'s slot now, as the live
    /// nodes see it.
    pub fn master_of(&self, key: &str) -> u16 {
        self.try_master_of(key)
            .unwrap_or_else(|| panic!("no live master owns the slot of {key}"))
    }

    /// The same, `None` while no live master owns it (in a failover).
    pub fn try_master_of(&self, key: &str) -> Option<u16> {
        let port = self.live_ports()[0];
        let slot: u16 = self
            .try_query(port, &["CLUSTER", "KEYSLOT", key])
            .expect("CLUSTER KEYSLOT");
        let nodes: String = self
            .try_query(port, &["CLUSTER", "NODES"])
            .expect("CLUSTER NODES");
        nodes
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let owns = fields.iter().skip(8).any(|range| {
                    let (low, high) = range.split_once('-').unwrap_or((range, range));
                    matches!(
                        (low.parse::<u16>(), high.parse::<u16>()),
                        (Ok(low), Ok(high)) if (low..=high).contains(&slot)
                    )
                });
                let address = fields.get(1)?.split('@').next()?;
                owns.then(|| address.rsplit(':').next()?.parse().ok())?
            })
    }

    /// Subscribers of the shard channel `channel` on all live nodes.
    pub fn shard_subscribers(&self, channel: &str) -> u64 {
        self.live_ports()
            .into_iter()
            .filter_map(|port| {
                self.try_query::<(String, u64)>(port, &["PUBSUB", "SHARDNUMSUB", channel])
            })
            .map(|(_, count)| count)
            .sum()
    }

    /// Kills the node at `port` at once (SIGKILL), as a crash would.
    pub fn kill(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|node| node.port == port)
            .expect("a node of this cluster");
        if let Some(mut child) = node.child.take() {
            child.signal(libc::SIGKILL);
            child.wait_within(DEADLINE, "redis-server after SIGKILL");
        }
    }

    /// Starts the node at `port` again (killed before), as the same node,
    /// and waits until it accepts clients.
    pub fn restart(&mut self, port: u16) {
        let dir = self.dir.clone();
        let node = self
            .nodes
            .iter_mut()
            .find(|node| node.port == port)
            .expect("a node of this cluster");
        assert!(node.child.is_none(), "node {port} still runs");
        node.spawn(&dir);
        wait_until_listening(SocketAddr::from(([127, 0, 0, 1], port)), "redis-server");
    }

    /// Whether the node at `port` says the cluster is in `state` (`ok`,
    /// `fail`).
    pub fn state_is(&self, port: u16, state: &str) -> bool {
        self.try_query::<String>(port, &["CLUSTER", "INFO"])
            .is_some_and(|info| info.contains(&format!("cluster_state:{state}")))
    }

    /// Waits (up to [`DEADLINE`]) until `done` holds; panics saying `what`.
    pub fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let end = Instant::now() + DEADLINE;
        while !done() {
            assert!(Instant::now() < end, "not within {DEADLINE:?}: {what}");
            // Polling, not synchronisation: the cluster says nothing on
            // its own.
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                child.kill();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
