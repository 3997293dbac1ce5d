//! The metrics endpoint: `GET /metrics` in the Prometheus text format, on
//! a thread of its own (never a shard's), reading the counters the shards
//! publish. Anything else gets a 404.
//!
//! `tiny_http` serves HTTP (its own accept thread and a small pool of
//! connection threads); `prometheus-client` writes the exposition format.

mod backplane;
mod families;
mod value;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use tiny_http::{Header, Method, Request, Response};

use crate::hub::handle::ServerHandle;
use families::ServerCollector;

/// Pause after a failed `accept` (out of descriptors, say), so that the
/// endpoint does not spin on it.
const ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// The running endpoint; dropping it stops its threads.
pub(crate) struct MetricsEndpoint {
    /// The HTTP server, shared with the thread.
    http: Arc<tiny_http::Server>,
    /// Where it listens (the real port if 0 was asked).
    addr: SocketAddr,
    /// Asks the thread to end.
    stop: Arc<AtomicBool>,
    /// The thread answering requests.
    thread: Option<JoinHandle<()>>,
}

impl MetricsEndpoint {
    /// Listens on `addr` and answers scrapes of `handle`'s counters.
    ///
    /// # Errors
    ///
    /// The address cannot be listened on, or the thread cannot start.
    pub(crate) fn start(addr: SocketAddr, handle: ServerHandle) -> io::Result<Self> {
        let http = tiny_http::Server::http(addr).map_err(|err| {
            // tiny_http boxes the io::Error of its bind; keep its kind.
            match err.downcast::<io::Error>() {
                Ok(err) => *err,
                Err(err) => io::Error::other(err),
            }
        })?;
        let addr = http.server_addr().to_ip().unwrap_or(addr);
        let http = Arc::new(http);
        let stop = Arc::new(AtomicBool::new(false));
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ServerCollector { handle }));
        let (server, stopping) = (Arc::clone(&http), Arc::clone(&stop));
        let thread = thread::Builder::new()
            .name("esockets-metrics".into())
            .spawn(move || serve(&server, &registry, &stopping))?;
        Ok(Self {
            http,
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Where the endpoint listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.http.unblock();
        if let Some(thread) = self.thread.take() {
            // Panics were reported by the panic hook; nothing to add.
            let _ = thread.join();
        }
    }
}

/// Answers requests until asked to stop.
fn serve(http: &tiny_http::Server, registry: &Registry, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match http.recv() {
            Ok(request) => answer(request, registry),
            Err(_) if stop.load(Ordering::Relaxed) => return,
            Err(err) => {
                tracing::debug!(%err, "metrics endpoint: accepting failed");
                thread::sleep(ERROR_BACKOFF);
            }
        }
    }
}

/// Answers one request: the metrics for `GET /metrics`, 404 otherwise.
fn answer(request: Request, registry: &Registry) {
    let path = request.url().split('?').next().unwrap_or_default();
    let response = if *request.method() == Method::Get && path == "/metrics" {
        let mut body = String::new();
        match prometheus_text::encode(&mut body, registry) {
            Ok(()) => {
                Response::from_string(body).with_header(content_type(prometheus_text::CONTENT_TYPE))
            }
            Err(_) => Response::from_string("cannot encode the metrics\n").with_status_code(500),
        }
    } else {
        Response::from_string("not found: the metrics are at GET /metrics\n").with_status_code(404)
    };
    // A client that left before its answer is no concern of ours.
    let _ = request.respond(response);
}

/// The `Content-Type` header of the Prometheus text format.
fn content_type(value: &str) -> Header {
    Header::from_bytes(&b"Content-Type"[..], value.as_bytes())
        .expect("a constant ASCII header is valid")
}
