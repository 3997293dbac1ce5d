//! The `--bind` and `--metrics` addresses: an IP address and port, or a
//! host name and port (resolved once, at start-up); a missing port gets an
//! error that shows what to type instead, for the flag that was typed.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The port suggested when `--bind` has none: the server's default.
const SUGGESTED_PORT: u16 = 1234;

/// The port suggested when `--metrics` has none: the one its help shows.
const SUGGESTED_METRICS_PORT: u16 = 9100;

/// Reads `--bind`: `127.0.0.1:1234`, `[::1]:1234`, or `HOST:PORT` with a
/// host name, which resolves to its first IPv4 address (or its first
/// address if it has no IPv4 one).
///
/// # Errors
///
/// A message saying what to type instead, for clap to show after the flag.
pub fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    parse_address(text, "--bind", SUGGESTED_PORT)
}

/// Reads `--metrics`, as [`parse_bind`] reads `--bind`.
///
/// # Errors
///
/// A message saying what to type instead, naming `--metrics`.
pub fn parse_metrics(text: &str) -> Result<SocketAddr, String> {
    parse_address(text, "--metrics", SUGGESTED_METRICS_PORT)
}

/// Reads the address of `flag`, whose hints suggest `suggested_port`.
fn parse_address(text: &str, flag: &str, suggested_port: u16) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        let example = SocketAddr::new(ip, suggested_port);
        return Err(format!(
            "'{text}' has no port: type {flag} {example} (port 0 picks a free port)"
        ));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        if let Ok(port) = text.parse::<u16>() {
            return Err(format!(
                "'{text}' is a port without an address: type {flag} 127.0.0.1:{port} \
                 (or 0.0.0.0:{port} for every interface)"
            ));
        }
        return Err(format!(
            "'{text}' has no port: type {flag} {text}:{suggested_port} \
             (or an address, e.g. {flag} 127.0.0.1:{suggested_port})"
        ));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!(
            "'{port}' is not a port (0 to 65535): type e.g. {flag} {host}:{suggested_port}"
        ));
    }
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|err| {
            format!(
                "cannot resolve '{host}' ({err}): type an IP address, \
                 e.g. {flag} 127.0.0.1:{port} or {flag} 0.0.0.0:{port}"
            )
        })?
        .collect();
    addrs
        .iter()
        .find(|addr| addr.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| {
            format!("'{host}' has no address: type an IP address, e.g. {flag} 127.0.0.1:{port}")
        })
}

#[cfg(test)]
mod tests {
    use super::{parse_bind, parse_metrics};

    #[test]
    fn addresses_with_ports() {
        assert_eq!(
            parse_bind("127.0.0.1:1234"),
            Ok("127.0.0.1:1234".parse().unwrap())
        );
        assert_eq!(parse_bind("[::1]:0"), Ok("[::1]:0".parse().unwrap()));
    }

    #[test]
    fn localhost_resolves_to_loopback() {
        let addr = parse_bind("localhost:1234").expect("localhost resolves");
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_eq!(addr.port(), 1234);
    }

    #[test]
    fn a_missing_port_says_what_to_type() {
        let err = parse_bind("0.0.0.0").unwrap_err();
        assert!(err.contains("--bind 0.0.0.0:1234"), "{err}");
        let err = parse_bind("::1").unwrap_err();
        assert!(err.contains("--bind [::1]:1234"), "{err}");
        let err = parse_bind("[::1]").unwrap_err();
        assert!(err.contains("--bind [::1]:1234"), "{err}");
        let err = parse_bind("localhost").unwrap_err();
        assert!(err.contains("--bind localhost:1234"), "{err}");
    }

    #[test]
    fn a_metrics_address_without_a_port_hints_at_metrics() {
        let err = parse_metrics("127.0.0.1").unwrap_err();
        assert!(err.contains("--metrics 127.0.0.1:9100"), "{err}");
        assert!(!err.contains("--bind"), "{err}");
        let err = parse_metrics("9100").unwrap_err();
        assert!(err.contains("--metrics 127.0.0.1:9100"), "{err}");
        let err = parse_metrics("localhost").unwrap_err();
        assert!(err.contains("--metrics localhost:9100"), "{err}");
    }

    #[test]
    fn a_bad_port_or_host_says_what_to_type() {
        let err = parse_bind("127.0.0.1:http").unwrap_err();
        assert!(err.contains("not a port"), "{err}");
        let err = parse_bind("no-such-host.invalid:1234").unwrap_err();
        assert!(err.contains("--bind 127.0.0.1:1234"), "{err}");
    }
}
