//! Kernel settings and counters the server reports: read from `/proc`,
//! never written.

use std::net::{IpAddr, SocketAddr};

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

/// Inode numbers of every listening TCP socket bound to exactly `addr` in
/// the calling thread's network namespace (this process's and any
/// other's), from `/proc/thread-self/net/tcp` or `tcp6` (`/proc/net` is
/// the main thread's namespace, which a thread may have left); `None` if
/// it cannot be read.
///
/// The kernel lists listening sockets before all others, so reading stops
/// at the first socket that is not listening: a server with 100,000
/// clients does not make this read 15 MB.
pub(crate) fn listening_inodes(addr: SocketAddr) -> Option<Vec<u64>> {
    use std::io::BufRead;
    let table = if addr.is_ipv4() { "tcp" } else { "tcp6" };
    let file = std::fs::File::open(format!("/proc/thread-self/net/{table}"))
        .or_else(|_| std::fs::File::open(format!("/proc/net/{table}")))
        .ok()?;
    let lines = std::io::BufReader::new(file).lines().map_while(Result::ok);
    Some(listening_on(lines, addr))
}

/// `/proc/net/tcp` state code of a listening socket.
const LISTEN_STATE: &str = "0A";

/// The inodes of the listening sockets bound to `addr` among `lines` of a
/// `/proc/net/tcp` table (header first), up to the first socket that is
/// not listening.
fn listening_on(lines: impl Iterator<Item = String>, addr: SocketAddr) -> Vec<u64> {
    let mut inodes = Vec::new();
    for line in lines.skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(&state), Some(inode)) =
            (fields.get(1), fields.get(3), fields.get(9))
        else {
            continue;
        };
        if state != LISTEN_STATE {
            break;
        }
        if parse_address(local) == Some(addr) {
            if let Ok(inode) = inode.parse() {
                inodes.push(inode);
            }
        }
    }
    inodes
}

/// A `/proc/net/tcp` address, `0100007F:04D2`: the address's 32-bit
/// words in hex as the kernel holds them in memory (so in this machine's
/// byte order), then the port.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for word in ip.as_bytes().chunks(8) {
        let word = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
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

    #[test]
    fn proc_addresses_read_in_machine_byte_order() {
        let v4 = format!("{:08X}:04D2", u32::from_ne_bytes([127, 0, 0, 1]));
        assert_eq!(
            super::parse_address(&v4),
            Some("127.0.0.1:1234".parse().unwrap())
        );
        let words: String = [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
            .iter()
            .map(|w| format!("{:08X}", u32::from_ne_bytes(*w)))
            .collect();
        assert_eq!(
            super::parse_address(&format!("{words}:0050")),
            Some("[::1]:80".parse().unwrap())
        );
        assert_eq!(super::parse_address("zz:1"), None);
    }

    #[test]
    fn only_listeners_on_the_address_count_and_reading_stops_after_them() {
        let addr: std::net::SocketAddr = "127.0.0.1:1234".parse().unwrap();
        let local = format!("{:08X}:04D2", u32::from_ne_bytes([127, 0, 0, 1]));
        let other = format!("{:08X}:04D3", u32::from_ne_bytes([127, 0, 0, 1]));
        let row = |local: &str, state: &str, inode: u64| {
            format!("0: {local} 00000000:0000 {state} 0:0 00:0 0 0 0 {inode} 1 0")
        };
        let table = [
            "  sl  local_address rem_address   st ...".to_owned(),
            row(&local, "0A", 11),
            row(&other, "0A", 12),
            row(&local, "0A", 13),
            row(&local, "01", 14),
            row(&local, "0A", 15),
        ];
        assert_eq!(super::listening_on(table.into_iter(), addr), vec![11, 13]);
    }

    #[test]
    fn a_listener_of_this_process_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let inode = crate::net::listener::inode(&listener).unwrap();
        assert_eq!(super::listening_inodes(addr), Some(vec![inode]));
    }
}
