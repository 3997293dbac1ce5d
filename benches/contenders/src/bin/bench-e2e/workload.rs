//! The workloads: what loadgen is asked to do and which numbers are shown.

use crate::cli::{format_duration, Cli};
use crate::contender::{Contender, BASELINE};

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

/// Converts anything displayable into an argument.
fn s(value: impl ToString) -> String {
    value.to_string()
}

impl Workload {
    /// Looks up workloads by name; `all` means every one.
    pub fn parse_list(names: &[String]) -> Result<Vec<Self>, String> {
        if names.iter().any(|n| n == "all") {
            return Ok(ALL.to_vec());
        }
        names
            .iter()
            .map(|name| {
                ALL.iter()
                    .find(|w| w.name == name.trim())
                    .copied()
                    .ok_or_else(|| {
                        let known: Vec<_> = ALL.iter().map(|w| w.name).collect();
                        format!(
                            "unknown workload {name:?} (known: all, {})",
                            known.join(", ")
                        )
                    })
            })
            .collect()
    }

    /// Whether `contender` takes part (capacity is an esockets-only check).
    pub fn applies_to(&self, contender: &Contender) -> bool {
        !matches!(self.kind, Kind::Capacity) || contender.name == BASELINE
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
            Kind::Echo { connections, size } => (connections, size),
            Kind::OpenLoop => (OPEN_LOOP_CONNECTIONS, 64),
            Kind::Capacity => (cli.capacity_connections, 64),
            Kind::IdleMemory | Kind::Callgrind => return None,
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
            _ => {}
        }
        Some(args)
    }

    /// The table columns: (metric, header).
    pub fn columns(&self) -> &'static [Column] {
        match self.kind {
            Kind::Echo { .. } => &[
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
            Kind::IdleMemory => &[
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
            Kind::Echo { .. } | Kind::Capacity => "msgs_per_sec",
            Kind::OpenLoop => "p99_us",
            Kind::IdleMemory => "bytes_per_conn",
            Kind::Callgrind => "ir_per_msg",
        }
    }
}
