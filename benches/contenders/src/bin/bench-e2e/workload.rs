//! The workloads: what loadgen is asked to do and which numbers are shown.

use crate::cli::{format_duration, Cli};
use crate::contender::{Contender, BASELINE, WS_BASELINE};

/// What a workload measures.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Closed-loop echo: each connection sends `size` bytes, waits for them.
    Echo {
        /// Concurrent connections.
        connections: usize,
        /// Message size in bytes.
        size: usize,
    },
    /// Echo at a fixed total rate; latencies are corrected for coordinated
    /// omission.
    OpenLoop,
    /// Resident memory per idle connection.
    IdleMemory,
    /// Closed-loop echo over WebSocket (`loadgen --ws`, binary messages).
    WsEcho {
        /// Concurrent connections.
        connections: usize,
        /// Message size in bytes.
        size: usize,
    },
    /// Resident memory per idle WebSocket connection, after the handshake.
    WsIdleMemory,
    /// Many connections from several source addresses (esockets only).
    Capacity,
    /// User-space instructions per echoed message, counted by callgrind.
    Callgrind,
}

/// A named workload.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Name on the command line and in the report.
    pub name: &'static str,
    /// What it does.
    pub kind: Kind,
}

/// One table column: a metric and its header.
pub type Column = (&'static str, &'static str);

/// Connections of the open-loop workload.
const OPEN_LOOP_CONNECTIONS: usize = 1000;
/// Connections of the callgrind workload.
pub const CALLGRIND_CONNECTIONS: usize = 10;

/// Every workload, in the order `all` runs them.
pub const ALL: [Workload; 10] = [
    Workload {
        name: "pingpong64-100",
        kind: Kind::Echo {
            connections: 100,
            size: 64,
        },
    },
    Workload {
        name: "pingpong64-1000",
        kind: Kind::Echo {
            connections: 1000,
            size: 64,
        },
    },
    Workload {
        name: "pingpong64-10000",
        kind: Kind::Echo {
            connections: 10_000,
            size: 64,
        },
    },
    Workload {
        name: "pingpong64-19000",
        kind: Kind::Echo {
            connections: 19_000,
            size: 64,
        },
    },
    Workload {
        name: "msg4k-1000",
        kind: Kind::Echo {
            connections: 1000,
            size: 4096,
        },
    },
    Workload {
        name: "msg64k-10",
        kind: Kind::Echo {
            connections: 10,
            size: 65536,
        },
    },
    Workload {
        name: "openloop",
        kind: Kind::OpenLoop,
    },
    Workload {
        name: "idle-memory",
        kind: Kind::IdleMemory,
    },
    Workload {
        name: "capacity",
        kind: Kind::Capacity,
    },
    Workload {
        name: "callgrind",
        kind: Kind::Callgrind,
    },
];

/// The WebSocket workloads (for the WebSocket contenders), in the order
/// `ws` runs them; `all` does not include them.
pub const WS: [Workload; 3] = [
    Workload {
        name: "ws-echo64-1000",
        kind: Kind::WsEcho {
            connections: 1000,
            size: 64,
        },
    },
    Workload {
        name: "ws-echo64-10000",
        kind: Kind::WsEcho {
            connections: 10_000,
            size: 64,
        },
    },
    Workload {
        name: "ws-idle-memory",
        kind: Kind::WsIdleMemory,
    },
];

/// Converts anything displayable into an argument.
fn s(value: impl ToString) -> String {
    value.to_string()
}

impl Workload {
    /// Looks up workloads by name; `all` means every plain TCP one, `ws`
    /// every WebSocket one.
    pub fn parse_list(names: &[String]) -> Result<Vec<Self>, String> {
        let mut found = Vec::new();
        for name in names.iter().map(|n| n.trim()) {
            match name {
                "all" => found.extend(ALL),
                "ws" => found.extend(WS),
                _ => found.push(
                    ALL.iter()
                        .chain(&WS)
                        .find(|w| w.name == name)
                        .copied()
                        .ok_or_else(|| {
                            let known: Vec<_> = ALL.iter().chain(&WS).map(|w| w.name).collect();
                            format!(
                                "unknown workload {name:?} (known: all, ws, {})",
                                known.join(", ")
                            )
                        })?,
                ),
            }
        }
        Ok(found)
    }

    /// Whether it runs over WebSocket.
    pub fn websocket(&self) -> bool {
        matches!(self.kind, Kind::WsEcho { .. } | Kind::WsIdleMemory)
    }

    /// Whether `contender` takes part: WebSocket workloads are for the
    /// WebSocket contenders and the rest for the others; capacity is an
    /// esockets-only check.
    pub fn applies_to(&self, contender: &Contender) -> bool {
        self.websocket() == contender.websocket()
            && (!matches!(self.kind, Kind::Capacity) || contender.name == BASELINE)
    }

    /// The contender the "vs" column divides by.
    pub fn baseline(&self) -> &'static str {
        if self.websocket() {
            WS_BASELINE
        } else {
            BASELINE
        }
    }

    /// Runs per contender: callgrind counts instructions, so once is enough.
    pub fn runs(&self, asked: usize) -> usize {
        match self.kind {
            Kind::Callgrind => 1,
            _ => asked,
        }
    }

    /// Loadgen arguments of a timed echo workload; `None` for the
    /// workloads that drive loadgen their own way (idle-memory, callgrind).
    pub fn loadgen_args(&self, cli: &Cli) -> Option<Vec<String>> {
        let (connections, size) = match self.kind {
            Kind::Echo { connections, size } | Kind::WsEcho { connections, size } => {
                (connections, size)
            }
            Kind::OpenLoop => (OPEN_LOOP_CONNECTIONS, 64),
            Kind::Capacity => (cli.capacity_connections, 64),
            Kind::IdleMemory | Kind::WsIdleMemory | Kind::Callgrind => return None,
        };
        let mut args = vec![
            s("--mode"),
            s("echo"),
            s("--connections"),
            s(connections),
            s("--size"),
            s(size),
            s("--threads"),
            s(cli.client_threads),
            s("--duration"),
            format_duration(cli.duration),
            s("--warmup"),
            format_duration(cli.warmup),
        ];
        match self.kind {
            Kind::OpenLoop => args.extend([s("--rate"), s(cli.rate)]),
            Kind::Capacity => args.extend([s("--source"), cli.capacity_source.clone()]),
            Kind::WsEcho { .. } => args.push(s("--ws")),
            _ => {}
        }
        Some(args)
    }

    /// The table columns: (metric, header).
    pub fn columns(&self) -> &'static [Column] {
        match self.kind {
            Kind::Echo { .. } | Kind::WsEcho { .. } => &[
                ("msgs_per_sec", "msgs/s"),
                ("mb_per_sec", "MB/s"),
                ("p50_us", "p50 µs"),
                ("p99_us", "p99 µs"),
                ("errors", "errors"),
            ],
            Kind::OpenLoop => &[
                ("rate_achieved", "achieved msgs/s"),
                ("p50_us", "p50 µs"),
                ("p99_us", "p99 µs (corrected)"),
                ("p999_us", "p99.9 µs (corrected)"),
                ("p99_uncorrected_us", "p99 µs (uncorrected)"),
                ("errors", "errors"),
            ],
            Kind::IdleMemory | Kind::WsIdleMemory => &[
                ("connections", "connections"),
                ("rss_before_mib", "RSS before MiB"),
                ("rss_after_mib", "RSS after MiB"),
                ("bytes_per_conn", "bytes/conn"),
            ],
            Kind::Capacity => &[
                ("established", "established"),
                ("errors", "errors"),
                ("msgs_per_sec", "msgs/s"),
                ("p99_us", "p99 µs"),
            ],
            Kind::Callgrind => &[
                ("ir_per_msg", "instructions/msg"),
                ("ir_base", "Ir (short run)"),
                ("ir_full", "Ir (long run)"),
            ],
        }
    }

    /// The metric the "vs esockets" column divides.
    pub fn ratio_metric(&self) -> &'static str {
        match self.kind {
            Kind::Echo { .. } | Kind::WsEcho { .. } | Kind::Capacity => "msgs_per_sec",
            Kind::OpenLoop => "p99_us",
            Kind::IdleMemory | Kind::WsIdleMemory => "bytes_per_conn",
            Kind::Callgrind => "ir_per_msg",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contender::{KNOWN, WS_KNOWN};

    fn names(list: &[&str]) -> Vec<&'static str> {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        Workload::parse_list(&list)
            .expect("known workloads")
            .iter()
            .map(|w| w.name)
            .collect()
    }

    #[test]
    fn websocket_workloads_are_asked_for_by_name_or_as_ws() {
        assert!(!names(&["all"]).iter().any(|n| n.starts_with("ws-")));
        assert_eq!(
            names(&["ws"]),
            ["ws-echo64-1000", "ws-echo64-10000", "ws-idle-memory"]
        );
        assert_eq!(names(&["ws-echo64-1000"]), ["ws-echo64-1000"]);
        assert!(Workload::parse_list(&["ws-nope".to_string()]).is_err());
    }

    #[test]
    fn websocket_workloads_take_websocket_contenders_only() {
        let contender = |name: &str| {
            (KNOWN.iter().chain(&WS_KNOWN))
                .find(|c| c.name == name)
                .copied()
                .expect(name)
        };
        let ws = WS[0];
        let tcp = ALL[0];
        assert!(ws.applies_to(&contender("esockets-ws")));
        assert!(ws.applies_to(&contender("tokio-tungstenite")));
        assert!(!ws.applies_to(&contender("esockets")));
        assert!(!tcp.applies_to(&contender("tokio-tungstenite")));
        assert!(tcp.applies_to(&contender("tokio")));
        assert_eq!(ws.baseline(), "esockets-ws");
        assert_eq!(tcp.baseline(), "esockets");
        let cli = <crate::cli::Cli as clap::Parser>::parse_from(["bench-e2e"]);
        let args = ws.loadgen_args(&cli).expect("timed");
        assert!(args.contains(&"--ws".to_string()), "{args:?}");
        assert!(!tcp
            .loadgen_args(&cli)
            .expect("timed")
            .contains(&"--ws".to_string()));
    }
}
