//! The `--tls*` options of a load run, and their checked form
//! ([`crate::engine::tls::Client`]).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use crate::engine::tls;
use crate::Failure;

/// On or off.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

/// TLS options (`--tls` and the options it enables).
#[derive(Args, Debug, Clone)]
pub struct TlsArgs {
    /// Speak TLS 1.3 or 1.2 (rustls) on every connection, under every
    /// mode and under --ws; needs --tls-ca or --tls-insecure.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: PEM file of the certificates to trust.
    #[arg(long, requires = "tls", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// With --tls: accept any server certificate (nothing verified; the
    /// report says so).
    #[arg(long, requires = "tls", conflicts_with = "tls_ca")]
    pub tls_insecure: bool,
    /// With --tls: server name to send (SNI) and verify [default: each
    /// --addr's host].
    #[arg(long, requires = "tls", value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// With --tls: resume sessions with the tickets the server sent.
    #[arg(
        long,
        requires = "tls",
        value_enum,
        default_value = "on",
        value_name = "on|off"
    )]
    pub tls_resume: Switch,
    /// With --tls: ALPN protocols to offer, e.g. `http/1.1,h2`.
    #[arg(long, requires = "tls", value_delimiter = ',', value_name = "LIST")]
    pub tls_alpn: Vec<String>,
    /// With --tls: client certificate chain, PEM (with --tls-key).
    #[arg(long, requires_all = ["tls", "tls_key"], value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// With --tls: the client certificate's private key, PEM.
    #[arg(long, requires_all = ["tls", "tls_cert"], value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The run's TLS client (`None` without `--tls`); `addrs` are the
    /// targets as given (`HOST:PORT`). Unreadable or bad files are usage
    /// errors naming the file.
    pub fn client(
        &self,
        addrs: &[String],
        connections: u64,
    ) -> Result<Option<Arc<tls::Client>>, Failure> {
        if !self.tls {
            return Ok(None);
        }
        let options = tls::Options {
            ca: self.tls_ca.clone(),
            insecure: self.tls_insecure,
            server_name: self.tls_server_name.clone(),
            resume: self.tls_resume == Switch::On,
            alpn: self.tls_alpn.clone(),
            identity: self.tls_cert.clone().zip(self.tls_key.clone()),
        };
        let hosts: Vec<String> = addrs.iter().map(|a| host(a)).collect();
        let client = tls::Client::new(options, &hosts, connections).map_err(Failure::Usage)?;
        if self.tls_insecure {
            eprintln!("loadgen: warning: --tls-insecure: server certificates are NOT verified");
        }
        Ok(Some(Arc::new(client)))
    }
}

/// The host of `HOST:PORT` (brackets of an IPv6 address removed).
fn host(addr: &str) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::host;

    #[test]
    fn hosts_lose_their_port_and_brackets() {
        assert_eq!(host("localhost:443"), "localhost");
        assert_eq!(host("127.0.0.1:1234"), "127.0.0.1");
        assert_eq!(host("[::1]:8443"), "::1");
    }
}
