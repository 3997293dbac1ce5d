//! One client as Python sees it: `send`/`sendall`, `close`, `recv` (the
//! original API), `subscribe`, `publish`, timers, its peer and descriptor,
//! and a `__dict__` for the handler's per-client state.
//!
//! The object is small (an id, a descriptor, a flag, the peer, and the
//! shard's [`Shared`]) and made only when a callback needs it: a handler
//! without `on_connect` gets none for a client until its first input.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use esockets::ConnId;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::current::{Request, Shared};
use crate::options::duration;

/// One client of the server.
#[pyclass(frozen, dict, module = "esockets._esockets")]
pub(crate) struct Client {
    /// The client's id, valid from any thread.
    pub(crate) id: ConnId,
    /// The client's socket descriptor.
    fd: i32,
    /// The shard closed the client.
    gone: AtomicBool,
    /// The peer's address.
    peer: SocketAddr,
    /// The client's shard: the running callback, the server's handle.
    shared: Arc<Shared>,
}

impl Client {
    /// The object for client `id` of the shard with `shared`.
    pub(crate) fn new(id: ConnId, fd: i32, peer: SocketAddr, shared: Arc<Shared>) -> Self {
        Self {
            id,
            fd,
            gone: AtomicBool::new(false),
            peer,
            shared,
        }
    }

    /// The shard closed the client: sends fail from now on.
    pub(crate) fn set_gone(&self) {
        self.gone.store(true, Ordering::Relaxed);
    }

    /// Queues `request`, which only the client's own callback may make.
    fn request(&self, what: &str, request: Request) -> PyResult<()> {
        match self.shared.current_of(self.id) {
            Some(mut current) => {
                current.requests.push(request);
                Ok(())
            }
            None => Err(PyRuntimeError::new_err(format!(
                "{what}: only in a callback of this client (on_connect, on_data, on_timer)"
            ))),
        }
    }
}

/// A topic or payload given as bytes or str (UTF-8).
#[derive(FromPyObject)]
pub(crate) enum Data {
    /// `bytes`, `bytearray`, `memoryview`...
    Bytes(Vec<u8>),
    /// `str`, sent as UTF-8.
    Text(String),
}

impl Data {
    /// The bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Bytes(bytes) => bytes,
            Self::Text(text) => text.into_bytes(),
        }
    }
}

#[pymethods]
impl Client {
    /// Returns up to `n` bytes the shard already read for this callback;
    /// never blocks (b'' when there are none, or outside the client's
    /// `handle_readable`).
    fn recv<'py>(&self, py: Python<'py>, n: isize) -> PyResult<Bound<'py, PyBytes>> {
        let n = usize::try_from(n)
            .map_err(|_| PyValueError::new_err(format!("n: must be >= 0, got {n}")))?;
        let Some(mut current) = self.shared.current_of(self.id) else {
            return Ok(PyBytes::new(py, b""));
        };
        let start = current.taken;
        let end = current.input.len().min(start.saturating_add(n));
        current.taken = end;
        Ok(PyBytes::new(py, &current.input[start..end]))
    }

    /// Queues `data` for the client with esockets' backpressure, from any
    /// thread: in the client's callback it is written when the callback
    /// returns, elsewhere it goes through the shard's inbox.
    fn sendall(&self, data: &[u8]) -> PyResult<()> {
        if self.gone.load(Ordering::Relaxed) {
            return Err(PyOSError::new_err("sendall: the client is closed"));
        }
        if let Some(mut current) = self.shared.current_of(self.id) {
            current.output.extend_from_slice(data);
            return Ok(());
        }
        self.shared
            .handle
            .send(self.id, data.to_vec())
            .map_err(|err| PyOSError::new_err(format!("sendall: {err}")))
    }

    /// Like `sendall`; returns `len(data)`.
    fn send(&self, data: &[u8]) -> PyResult<usize> {
        self.sendall(data)?;
        Ok(data.len())
    }

    /// Closes the client once what was queued for it is delivered.
    fn close(&self) {
        if self.gone.load(Ordering::Relaxed) {
            return;
        }
        if let Some(mut current) = self.shared.current_of(self.id) {
            current.close = true;
            return;
        }
        // A client already gone has nothing left to close.
        let _ = self.shared.handle.close(self.id);
    }

    /// Subscribes the client to `topic` (bytes or str): every publish to
    /// it, from any client, thread or (with a backplane) process, is
    /// written to the client as published, with no Python call. Only in
    /// the client's own callback.
    fn subscribe(&self, topic: Data) -> PyResult<()> {
        self.request("subscribe", Request::Subscribe(topic.into_bytes()))
    }

    /// Ends the client's subscription to `topic`. Only in its callback.
    fn unsubscribe(&self, topic: Data) -> PyResult<()> {
        self.request("unsubscribe", Request::Unsubscribe(topic.into_bytes()))
    }

    /// Publishes `data` to `topic`'s subscribers, from any thread.
    fn publish(&self, topic: Data, data: Data) -> PyResult<()> {
        let (topic, data) = (topic.into_bytes(), Bytes::from(data.into_bytes()));
        if let Some(mut current) = self.shared.current_of(self.id) {
            current.requests.push(Request::Publish(topic, data));
            return Ok(());
        }
        self.shared
            .handle
            .publish(&topic, data)
            .map_err(|err| PyOSError::new_err(format!("publish: {err}")))
    }

    /// Calls the handler's `on_timer(client, tag)` in `seconds` (a
    /// number >= 0). Only in the client's own callback.
    #[pyo3(signature = (seconds, tag = 0))]
    fn set_timer(&self, seconds: &Bound<'_, PyAny>, tag: u64) -> PyResult<()> {
        let after = duration("seconds", seconds)?;
        self.request("set_timer", Request::Timer(after, tag))
    }

    /// The client's id: a number unique among the server's clients, past
    /// and present.
    #[getter]
    fn id(&self) -> u128 {
        id_number(self.id)
    }

    /// Whether the shard closed the client.
    #[getter]
    fn closed(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    /// The client's socket descriptor.
    fn fileno(&self) -> i32 {
        self.fd
    }

    /// The peer's `(host, port)`.
    fn getpeername(&self) -> (String, u16) {
        (self.peer.ip().to_string(), self.peer.port())
    }

    /// Bytes read and not yet taken by `recv` in this callback.
    fn pending(&self) -> usize {
        self.shared
            .current_of(self.id)
            .map_or(0, |current| current.input.len() - current.taken)
    }

    fn __repr__(&self) -> String {
        format!(
            "<esockets client {} fd={} peer={}>",
            self.id, self.fd, self.peer
        )
    }
}

/// A client id as one number: shard, slot and generation side by side.
pub(crate) fn id_number(id: ConnId) -> u128 {
    (id.shard() as u128) << 64 | (id.slot() as u128) << 32 | u128::from(id.generation())
}
