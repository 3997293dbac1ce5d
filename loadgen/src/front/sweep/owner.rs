//! Who owns a listening socket: the Linux `/proc` tables map a listening
//! TCP port to a socket inode (`/proc/net/tcp`, `/proc/net/tcp6`), and a
//! process's descriptors (`/proc/<pid>/fd/*`) to inodes. `loadgen sweep`
//! uses this to check that the server it started, and not a stray process,
//! is the one answering on the port.

use std::collections::HashSet;
use std::net::SocketAddr;

/// TCP state number of a listening socket in `/proc/net/tcp`.
const TCP_LISTEN: &str = "0A";

/// Inodes of the sockets listening on `port` (any local address).
pub fn listening_inodes(port: u16) -> std::io::Result<HashSet<u64>> {
    let mut found = HashSet::new();
    let mut read_any = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        read_any = true;
        found.extend(parse_listeners(&text, port));
    }
    if read_any {
        Ok(found)
    } else {
        Err(std::io::Error::other("cannot read /proc/net/tcp"))
    }
}

/// The inodes of `LISTEN` rows on `port` in one `/proc/net/tcp*` table.
pub fn parse_listeners(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let local = cols.get(1)?;
            let state = cols.get(3)?;
            let inode = cols.get(9)?.parse::<u64>().ok()?;
            let (_, hex_port) = local.rsplit_once(':')?;
            let p = u16::from_str_radix(hex_port, 16).ok()?;
            (p == port && *state == TCP_LISTEN).then_some(inode)
        })
        .collect()
}

/// Socket inodes among the open descriptors of `pid` (those it may read).
pub fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter_map(|target| {
            let name = target.to_string_lossy().into_owned();
            name.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse::<u64>()
                .ok()
        })
        .collect()
}

/// `pid` and its descendants (a wrapper such as `taskset` execs, but a
/// shell script may fork the real server).
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut tree = vec![pid];
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return tree;
    };
    let parents: Vec<(u32, u32)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            // The command name may hold spaces; fields resume after ')'.
            let rest = stat.rsplit_once(')')?.1;
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree
}

/// What [`check_owner`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// A socket listening on the port belongs to the process (tree).
    Ours,
    /// Sockets listen on the port, none of them ours.
    Foreign,
    /// Nothing could be learnt (no `/proc`, or no listener found).
    Unknown(String),
}

/// Whether the process tree of `pid` holds a socket listening on `addr`'s
/// port.
pub fn check_owner(pid: u32, addr: SocketAddr) -> Ownership {
    let listeners = match listening_inodes(addr.port()) {
        Ok(l) => l,
        Err(e) => return Ownership::Unknown(e.to_string()),
    };
    if listeners.is_empty() {
        return Ownership::Unknown(format!("no listening socket on port {}", addr.port()));
    }
    let ours = process_tree(pid)
        .into_iter()
        .any(|p| !socket_inodes(p).is_disjoint(&listeners));
    if ours {
        Ownership::Ours
    } else {
        Ownership::Foreign
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listen_rows_only() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:04D2 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0\n\
   1: 0100007F:04D2 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0\n\
   2: 0100007F:04D3 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4444 1 0\n";
        assert_eq!(parse_listeners(table, 1234), vec![4242]);
        assert_eq!(parse_listeners(table, 1235), vec![4444]);
        assert!(parse_listeners(table, 80).is_empty());
    }

    #[test]
    fn finds_our_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(check_owner(std::process::id(), addr), Ownership::Ours);
        // A child does not inherit the listener (close-on-exec).
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let theirs = check_owner(child.id(), addr);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(theirs, Ownership::Foreign);
    }
}
