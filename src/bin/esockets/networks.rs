//! `--proxy-trusted`: networks written as CIDR (`10.0.0.0/8`) or as one
//! address (`192.168.1.5`, a network of that host alone).

use esockets::IpNet;

/// One trusted network: CIDR, or a bare address meaning that host.
///
/// # Errors
///
/// A message with the value and the forms accepted.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net);
    }
    text.parse::<std::net::IpAddr>()
        .map(IpNet::from)
        .map_err(|_| {
            format!(
                "{text:?} is not a network: write an address with its prefix length \
                 (10.0.0.0/8, fd00::/8) or one address (192.168.1.5)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::parse_network;

    #[test]
    fn networks_and_single_addresses() {
        assert_eq!(
            parse_network("10.0.0.0/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            parse_network(" 127.0.0.1 ").unwrap().to_string(),
            "127.0.0.1/32"
        );
        assert_eq!(parse_network("::1").unwrap().to_string(), "::1/128");
        let err = parse_network("10.0.0.0/33").unwrap_err();
        assert!(
            err.contains("10.0.0.0/33") && err.contains("prefix"),
            "{err}"
        );
        assert!(parse_network("proxy.example").is_err());
    }
}
