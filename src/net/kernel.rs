//! Kernel settings and counters the server reports: read from `/proc`,
//! never written.

/// `net.core.somaxconn`: the cap on every listen backlog.
pub fn somaxconn() -> Option<u32> {
    read_number("/proc/sys/net/core/somaxconn")
}

/// `net.ipv4.tcp_migrate_req`: when 1, clients queued on a listener that
/// closes move to another listener of its `SO_REUSEPORT` group instead of
/// being reset (Linux 5.14+). `None` where the kernel lacks it.
pub fn tcp_migrate_req() -> Option<u32> {
    read_number("/proc/sys/net/ipv4/tcp_migrate_req")
}

/// `TcpExt: ListenOverflows` of this network namespace: connections
/// dropped because an accept queue was full. A machine-wide (namespace-
/// wide) counter; report its change over a run.
pub fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if !names.starts_with("TcpExt:") {
            continue;
        }
        let column = names
            .split_whitespace()
            .position(|name| name == "ListenOverflows")?;
        return values.split_whitespace().nth(column)?.parse().ok();
    }
    None
}

/// A number in a `/proc` file.
fn read_number<T: std::str::FromStr>(path: &str) -> Option<T> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn counters_are_readable_on_linux() {
        assert!(super::somaxconn().is_some_and(|n| n > 0));
        assert!(super::listen_overflows().is_some());
    }
}
