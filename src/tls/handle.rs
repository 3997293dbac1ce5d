//! [`Tls`]: a listener's TLS configuration, shared by its shards and
//! reloadable while they run.

use std::fmt;
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::server::ProducesTickets;
use rustls::ServerConfig;

use super::build::server_config;
use super::error::TlsError;
use super::settings::TlsSettings;
use super::Served;

/// A TLS listener's configuration: built from [`TlsSettings`] (the files
/// read and checked), handed to the server in
/// [`Config::tls`](crate::Config::tls), and reloadable: a reload re-reads
/// the files and applies them to new handshakes, while established
/// connections keep the session they have.
///
/// Cloning shares it: keep a clone to reload.
#[derive(Clone)]
pub struct Tls {
    /// What the clones share.
    shared: Arc<Shared>,
}

/// The shared part of a [`Tls`].
struct Shared {
    /// The settings in force.
    settings: RwLock<TlsSettings>,
    /// What new handshakes use.
    config: RwLock<Arc<ServerConfig>>,
    /// The certificates it serves.
    served: RwLock<Vec<Served>>,
    /// Session ticket keys (rotating), kept across reloads.
    ticketer: Arc<dyn ProducesTickets>,
}

impl Tls {
    /// Reads and checks the files `settings` names.
    ///
    /// # Errors
    ///
    /// A file is missing or unreadable, holds no usable certificate or
    /// key, a certificate is expired or not valid yet, a key is not its
    /// certificate's: the error names the file.
    pub fn new(settings: TlsSettings) -> Result<Self, TlsError> {
        let ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
        let (config, served) = server_config(&settings, &ticketer)?;
        Ok(Self {
            shared: Arc::new(Shared {
                settings: RwLock::new(settings),
                config: RwLock::new(config),
                served: RwLock::new(served),
                ticketer,
            }),
        })
    }

    /// Re-reads the files (a renewed certificate under the same name, a
    /// new client CA) and applies them to new handshakes.
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new); the configuration in force stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let settings = self.settings();
        self.replace(settings)
    }

    /// Applies new settings to new handshakes: certificates, client CAs,
    /// ALPN and tickets. The handshake timeout and budget are read by
    /// the shards when they start, and need a restart to change.
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new); the configuration in force stays.
    pub fn replace(&self, settings: TlsSettings) -> Result<(), TlsError> {
        let (config, served) = server_config(&settings, &self.shared.ticketer)?;
        *self.shared.config.write() = config;
        *self.shared.served.write() = served;
        *self.shared.settings.write() = settings;
        Ok(())
    }

    /// The settings in force.
    pub fn settings(&self) -> TlsSettings {
        self.shared.settings.read().clone()
    }

    /// The certificates served now, in order (the first is the default).
    pub fn served(&self) -> Vec<Served> {
        self.shared.served.read().clone()
    }

    /// What a new handshake uses.
    pub(crate) fn current(&self) -> Arc<ServerConfig> {
        self.shared.config.read().clone()
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("settings", &*self.shared.settings.read())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Tls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}
