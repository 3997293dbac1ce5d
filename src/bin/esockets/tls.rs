//! The `--tls-*` options: TLS on the listener, and their mapping onto
//! [`esockets::tls::TlsSettings`].
//!
//! Certificates and keys are files: a key never travels on the command
//! line (the path does), and a reload (SIGHUP) re-reads the files.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use esockets::tls::{CertificateFiles, Tls, TlsSettings};

use crate::cli::Cli;
use crate::reload::Running;
use crate::units::parse_duration;

/// The options a reload (SIGHUP) applies to new handshakes; the handshake
/// timeout and budget are read by the shards when they start, and need a
/// restart.
pub const RELOADED: &[&str] = &[
    "tls-cert",
    "tls-key",
    "tls-client-ca",
    "tls-client-auth",
    "tls-alpn",
    "tls-tickets",
];

/// The reload hook of [`RELOADED`]: re-reads the certificate, key and
/// client CA files (changed paths or not: a renewed certificate keeps its
/// name) and applies them to new handshakes; established connections keep
/// their session.
///
/// # Errors
///
/// A file at fault (the running TLS stays), or TLS turned on or off, which
/// needs a restart.
pub fn reload(new: &Cli, running: &Running) -> Result<(), String> {
    match (
        &running.config.tls,
        new.tls.settings(new.speaks_websocket())?,
    ) {
        (None, None) => Ok(()),
        (Some(tls), Some(settings)) => tls.replace(settings).map_err(|err| format!("TLS: {err}")),
        (None, Some(_)) => Err("TLS cannot be turned on without a restart".into()),
        (Some(_), None) => Err("TLS cannot be turned off without a restart".into()),
    }
}

/// The TLS options of the command line.
#[derive(Debug, Args)]
pub struct TlsFlags {
    /// Serve TLS (1.3 and 1.2) with this PEM certificate chain, leaf
    /// first; with --tls-key. Repeat both for several certificates: the
    /// client's server name (SNI) picks one by its names, the first
    /// serves clients that match none.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Vec<PathBuf>,

    /// The PEM private key of each --tls-cert, in the same order.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Vec<PathBuf>,

    /// Ask clients for a certificate signed by one of the CAs in this PEM
    /// file (device fleets); see --tls-client-auth.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// With --tls-client-ca: whether a client without a certificate is
    /// served (optional) or refused (required).
    #[arg(long, value_enum, default_value_t = ClientAuth::Required, requires = "tls_client_ca")]
    pub tls_client_auth: ClientAuth,

    /// ALPN protocols to agree on, in order of preference [default:
    /// http/1.1 for the WebSocket protocols, none otherwise].
    #[arg(
        long,
        value_name = "PROTOCOL,...",
        value_delimiter = ',',
        requires = "tls_cert"
    )]
    pub tls_alpn: Vec<String>,

    /// Session tickets, so a client reconnecting pays a resumed handshake
    /// instead of a full one (ticket keys rotate every 6 hours).
    #[arg(long, value_enum, default_value_t = OnOff::On, value_name = "on|off")]
    pub tls_tickets: OnOff,

    /// Close a client that keeps its TLS handshake waiting this long: from
    /// the connect to its hello, from the server's answer to its next
    /// flight. Time a client waits for a busy server does not count.
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = parse_duration)]
    pub tls_handshake_timeout: Duration,

    /// TLS handshake steps each shard runs per loop round at most, so a
    /// storm of new clients cannot starve established ones.
    #[arg(long, default_value_t = esockets::tls::DEFAULT_HANDSHAKE_BUDGET, value_name = "N")]
    pub tls_handshake_budget: usize,
}

/// `--tls-client-auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClientAuth {
    /// A client may go without a certificate.
    Optional,
    /// Every client must present one.
    Required,
}

/// An option that is on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

impl TlsFlags {
    /// Whether TLS is asked for.
    pub fn on(&self) -> bool {
        !self.tls_cert.is_empty()
    }

    /// The settings these options describe; `websocket`: the protocol is
    /// a WebSocket one (ALPN http/1.1 by default).
    ///
    /// # Errors
    ///
    /// A message naming the flag at fault.
    pub fn settings(&self, websocket: bool) -> Result<Option<TlsSettings>, String> {
        if !self.on() {
            return Ok(None);
        }
        if self.tls_cert.len() != self.tls_key.len() {
            return Err(format!(
                "--tls-cert and --tls-key go in pairs: {} certificate(s), {} key(s)",
                self.tls_cert.len(),
                self.tls_key.len()
            ));
        }
        if self.tls_handshake_budget == 0 {
            return Err("--tls-handshake-budget must be at least 1, got 0".into());
        }
        if self.tls_handshake_timeout.is_zero() {
            return Err("--tls-handshake-timeout must be longer than 0".into());
        }
        let alpn = if self.tls_alpn.is_empty() && websocket {
            vec!["http/1.1".to_owned()]
        } else {
            self.tls_alpn.clone()
        };
        Ok(Some(TlsSettings {
            certificates: self
                .tls_cert
                .iter()
                .zip(&self.tls_key)
                .map(|(chain, key)| CertificateFiles {
                    chain: chain.clone(),
                    key: key.clone(),
                })
                .collect(),
            client_ca: self.tls_client_ca.clone(),
            client_auth: match self.tls_client_auth {
                ClientAuth::Optional => esockets::tls::ClientAuth::Optional,
                ClientAuth::Required => esockets::tls::ClientAuth::Required,
            },
            alpn,
            tickets: self.tls_tickets == OnOff::On,
            handshake_timeout: self.tls_handshake_timeout,
            handshake_budget: self.tls_handshake_budget,
        }))
    }

    /// The listener's TLS, its files read and checked.
    ///
    /// # Errors
    ///
    /// A message naming the file or flag at fault.
    pub fn load(&self, websocket: bool) -> Result<Option<Tls>, String> {
        let Some(settings) = self.settings(websocket)? else {
            return Ok(None);
        };
        Tls::new(settings)
            .map(Some)
            .map_err(|err| format!("TLS: {err}"))
    }
}
