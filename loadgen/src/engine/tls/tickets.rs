//! The client's session store: every TLS 1.3 ticket the servers send is
//! kept (up to a bound sized to the run's connections), so a fleet of N
//! connections reconnecting can all resume, not only the few that
//! rustls's default cache keeps per server name (8).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::pki_types::ServerName;
use rustls::NamedGroup;

/// What is remembered of one server name.
#[derive(Debug, Default)]
struct Entry {
    group: Option<NamedGroup>,
    tls12: Option<Tls12ClientSessionValue>,
    tls13: VecDeque<Tls13ClientSessionValue>,
}

/// Tickets per server name, at most `bound` TLS 1.3 tickets each (the
/// oldest is dropped first).
#[derive(Debug)]
pub struct Tickets {
    bound: usize,
    names: Mutex<HashMap<ServerName<'static>, Entry>>,
}

impl Tickets {
    /// A store keeping up to `bound` TLS 1.3 tickets per server name.
    pub fn new(bound: usize) -> Self {
        Self {
            bound: bound.max(1),
            names: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, name: &ServerName<'_>, f: impl FnOnce(&mut Entry) -> T) -> Option<T> {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        names.get_mut(&name.to_owned()).map(f)
    }

    fn entry<T>(&self, name: ServerName<'static>, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        f(names.entry(name).or_default())
    }
}

impl ClientSessionStore for Tickets {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.entry(server_name, |e| e.group = Some(group));
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.with(server_name, |e| e.group).flatten()
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.entry(server_name, |e| e.tls12 = Some(value));
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.with(server_name, |e| e.tls12.clone()).flatten()
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.with(server_name, |e| e.tls12 = None);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        let bound = self.bound;
        self.entry(server_name, |e| {
            if e.tls13.len() >= bound {
                e.tls13.pop_front();
            }
            e.tls13.push_back(value);
        });
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.with(server_name, |e| e.tls13.pop_back()).flatten()
    }
}
