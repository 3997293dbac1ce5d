//! Parsing of `--source` lists: `127.0.0.1,127.0.0.2-127.0.0.9,::1`.

use std::net::{IpAddr, Ipv4Addr};

/// Most addresses one list may expand to.
const MAX_SOURCES: usize = 65_536;

/// Expands a comma-separated list of addresses and IPv4 ranges
/// (`A-B`, inclusive) into the addresses, in order.
pub fn parse_sources(list: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("empty entry in '{list}'"));
        }
        match item.split_once('-') {
            Some((a, b)) => {
                let a: Ipv4Addr = parse_v4(a)?;
                let b: Ipv4Addr = parse_v4(b)?;
                let (lo, hi) = (u32::from(a), u32::from(b));
                if lo > hi {
                    return Err(format!("range '{item}' runs backwards"));
                }
                if (hi - lo) as usize >= MAX_SOURCES {
                    return Err(format!("range '{item}' is too large"));
                }
                out.extend((lo..=hi).map(|n| IpAddr::V4(Ipv4Addr::from(n))));
            }
            None => out.push(
                item.parse()
                    .map_err(|_| format!("'{item}' is not an IP address"))?,
            ),
        }
        if out.len() > MAX_SOURCES {
            return Err(format!("more than {MAX_SOURCES} addresses"));
        }
    }
    Ok(out)
}

fn parse_v4(s: &str) -> Result<Ipv4Addr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("'{s}' is not an IPv4 address (ranges are IPv4 only)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_lists_and_ranges() {
        let got = parse_sources("127.0.0.1,127.0.0.3-127.0.0.5").unwrap();
        let want: Vec<IpAddr> = ["127.0.0.1", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
        assert_eq!(parse_sources("::1").unwrap().len(), 1);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_sources("127.0.0.9-127.0.0.1").is_err());
        assert!(parse_sources("nope").is_err());
        assert!(parse_sources("127.0.0.1,").is_err());
        assert!(parse_sources("10.0.0.0-10.255.255.255").is_err());
    }
}
