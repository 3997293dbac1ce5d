//! The servers being compared and how each is started.

use std::net::SocketAddr;

/// One contender: a server binary taking `--threads N --bind ADDR`.
#[derive(Debug, Clone, Copy)]
pub struct Contender {
    /// Short name used on the command line and in tables.
    pub name: &'static str,
    /// Executable name in the binary directory.
    pub binary: &'static str,
    /// Port it listens on (each contender has its own, so one's leftover
    /// TIME_WAIT sockets never slow down the next one's start).
    pub port: u16,
    /// Extra arguments, after `--threads N --bind ADDR`.
    pub args: &'static [&'static str],
}

/// Every contender the harness knows, in default order.
pub const KNOWN: [Contender; 7] = [
    Contender {
        name: "esockets",
        binary: "esockets",
        port: 1234,
        args: &[],
    },
    Contender {
        name: "tokio",
        binary: "tokio-echo",
        port: 1235,
        args: &[],
    },
    Contender {
        name: "epoll",
        binary: "epoll-echo",
        port: 1236,
        args: &[],
    },
    // esockets with an idle timeout every client resets on every message:
    // what the timer facility costs on the echo path.
    Contender {
        name: "esockets-idle",
        binary: "esockets",
        port: 1237,
        args: &["--idle-timeout", "60s"],
    },
    // An earlier build of esockets, copied into the binary directory as
    // `esockets-baseline`: before/after figures of a change, run by run.
    Contender {
        name: "esockets-baseline",
        binary: "esockets-baseline",
        port: 1238,
        args: &[],
    },
    // esockets serving its Prometheus metrics (the stall watchdog is on by
    // default): what metrics and stall detection cost on the echo path.
    Contender {
        name: "esockets-metrics",
        binary: "esockets",
        port: 1239,
        args: &["--metrics", "127.0.0.1:0"],
    },
    // esockets with stall detection off (no watchdog thread) and no
    // metrics endpoint: the heartbeat and counters alone.
    Contender {
        name: "esockets-quiet",
        binary: "esockets",
        port: 1240,
        args: &["--stall-threshold", "off"],
    },
];

/// The WebSocket contenders: they take the WebSocket workloads (`ws-*`)
/// only, and the contenders of [`KNOWN`] only the plain TCP ones.
pub const WS_KNOWN: [Contender; 3] = [
    // esockets' WebSocket echo: each message sent back as it came.
    Contender {
        name: "esockets-ws",
        binary: "esockets",
        port: 1241,
        args: &["--protocol", "ws-echo"],
    },
    // The ordinary Rust WebSocket echo server (tokio + tungstenite).
    Contender {
        name: "tokio-tungstenite",
        binary: "tokio-tungstenite-echo",
        port: 1242,
        args: &[],
    },
    // The same with a 4 KiB read buffer per connection instead of
    // tungstenite's 128 KiB: what a user tuning for many connections does.
    Contender {
        name: "tokio-tungstenite-4k",
        binary: "tokio-tungstenite-echo",
        port: 1243,
        args: &["--read-buffer-size", "4096"],
    },
];

/// esockets under each balancing mode besides the default: plain TCP
/// contenders, for comparing `--balance` settings (e.g. on `skew-1000`).
pub const BALANCE_KNOWN: [Contender; 3] = [
    // One acceptor hands each client to the least-loaded shard.
    Contender {
        name: "esockets-least-loaded",
        binary: "esockets",
        port: 1244,
        args: &["--balance", "least-loaded"],
    },
    // Each client to the shard pinned to the CPU that received it.
    Contender {
        name: "esockets-cpu",
        binary: "esockets",
        port: 1245,
        args: &["--balance", "cpu"],
    },
    // The kernel's hash alone: the default's fallback (and the default
    // before the rule chose steering).
    Contender {
        name: "esockets-reuseport",
        binary: "esockets",
        port: 1246,
        args: &["--balance", "reuseport"],
    },
];

/// The contender every ratio of the plain TCP workloads is taken against.
pub const BASELINE: &str = "esockets";

/// The contender every ratio of the WebSocket workloads is taken against.
pub const WS_BASELINE: &str = "esockets-ws";

impl Contender {
    /// Looks up contenders by name, keeping the order given.
    pub fn parse_list(names: &[String]) -> Result<Vec<Self>, String> {
        names
            .iter()
            .map(|name| {
                KNOWN
                    .iter()
                    .chain(&WS_KNOWN)
                    .chain(&BALANCE_KNOWN)
                    .find(|c| c.name == name.trim())
                    .copied()
                    .ok_or_else(|| {
                        let known: Vec<_> = KNOWN
                            .iter()
                            .chain(&WS_KNOWN)
                            .chain(&BALANCE_KNOWN)
                            .map(|c| c.name)
                            .collect();
                        format!("unknown contender {name:?} (known: {})", known.join(", "))
                    })
            })
            .collect()
    }

    /// Whether it speaks WebSocket (one of [`WS_KNOWN`]).
    pub fn websocket(&self) -> bool {
        WS_KNOWN.iter().any(|c| c.name == self.name)
    }

    /// The address it listens on for `host`.
    pub fn addr(&self, host: &str) -> Result<SocketAddr, String> {
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        format!("{host}:{}", self.port)
            .parse()
            .map_err(|e| format!("bad host {host:?}: {e}"))
    }
}
