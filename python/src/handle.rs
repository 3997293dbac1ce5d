//! `esockets.ServerHandle`: a running server as any Python thread may
//! use it, cheap to copy: send to a client, close it, publish to a topic,
//! write to every client, read the counters, shut down.

use esockets::{ServerHandle, ShardStats};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::client::{Client, Data};

/// A handle on a running server, usable from any thread.
#[pyclass(frozen, name = "ServerHandle", module = "esockets._esockets")]
pub(crate) struct Handle {
    /// The server's own handle.
    pub(crate) inner: ServerHandle,
}

/// An `OSError` saying what `what` met.
fn failed(what: &str, err: impl std::fmt::Display) -> PyErr {
    PyOSError::new_err(format!("{what}: {err}"))
}

#[pymethods]
impl Handle {
    /// Queues `data` for `client` (through its shard's inbox).
    fn send(&self, client: &Bound<'_, Client>, data: Data) -> PyResult<()> {
        self.inner
            .send(client.get().id, data.into_bytes())
            .map_err(|err| failed("send", err))
    }

    /// Closes `client` once what was queued for it is delivered.
    fn close(&self, client: &Bound<'_, Client>) -> PyResult<()> {
        self.inner
            .close(client.get().id)
            .map_err(|err| failed("close", err))
    }

    /// Publishes `data` to every subscriber of `topic` (in every process,
    /// with a backplane).
    fn publish(&self, topic: Data, data: Data) -> PyResult<()> {
        self.inner
            .publish(&topic.into_bytes(), data.into_bytes())
            .map_err(|err| failed("publish", err))
    }

    /// Writes `data` to every client of the server.
    fn broadcast(&self, data: Data) -> PyResult<()> {
        self.inner
            .broadcast(data.into_bytes())
            .map_err(|err| failed("broadcast", err))
    }

    /// The bound port.
    #[getter]
    fn port(&self) -> u16 {
        self.inner.local_addr().port()
    }

    /// The number of shards.
    #[getter]
    fn shards(&self) -> usize {
        self.inner.shards()
    }

    /// The counters of all shards, summed (at most 10 ms old), as a dict:
    /// accepted, refused, open, closed, bytes_in, bytes_out, published,
    /// delivered, rounds, stalls.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let total: ShardStats = self.inner.stats().into_iter().sum();
        let dict = PyDict::new(py);
        for (name, value) in [
            ("accepted", total.accepted),
            ("refused", total.refused),
            ("open", total.open),
            ("closed", total.closed),
            ("bytes_in", total.bytes_in),
            ("bytes_out", total.bytes_out),
            ("published", total.published),
            ("delivered", total.delivered),
            ("rounds", total.rounds),
            ("stalls", total.stalls),
        ] {
            dict.set_item(name, value)?;
        }
        Ok(dict)
    }

    /// Starts the graceful shutdown, as SIGINT does for the binary: stop
    /// accepting, flush every client, close.
    fn shutdown(&self) {
        self.inner.shutdown();
    }
}
