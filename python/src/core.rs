//! `esockets._esockets.Core`: one server, bound when made (so a port in
//! use is an `OSError` at once), served by `run` with the interpreter
//! lock released, stopped by `stop` or any handle's `shutdown`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use esockets::{Error, Server, ServerHandle};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::handle::Handle;
use crate::handler::{Callbacks, PyHandler};
use crate::options::{options, Options};

/// How long `run` waits, after the shards ended, for their last log lines.
const LOG_FLUSH: Duration = Duration::from_secs(1);

/// A server made from Python.
#[pyclass(module = "esockets._esockets")]
pub(crate) struct Core {
    /// The server, until `run` takes it.
    server: Mutex<Option<Server>>,
    /// For `stop`, sends and the counters.
    handle: ServerHandle,
}

/// The callback `name` of `callbacks`, if given and not None.
fn callback(callbacks: &Bound<'_, PyDict>, name: &str) -> PyResult<Option<PyObject>> {
    match callbacks.get_item(name)? {
        Some(f) if f.is_none() => Ok(None),
        Some(f) if f.is_callable() => Ok(Some(f.unbind())),
        Some(_) => Err(PyTypeError::new_err(format!("{name}: expected a callable"))),
        None => Ok(None),
    }
}

/// The callbacks of a Python service, from `callbacks` (`original`, and
/// the functions by event name).
fn callbacks(callbacks: &Bound<'_, PyDict>) -> PyResult<Callbacks> {
    let original = match callbacks.get_item("original")? {
        Some(flag) => flag.is_truthy()?,
        None => false,
    };
    Ok(Callbacks {
        original,
        connect: callback(callbacks, "connect")?,
        data: callback(callbacks, "data")?,
        close: callback(callbacks, "close")?,
        timer: callback(callbacks, "timer")?,
        tick: callback(callbacks, "tick")?,
    })
}

/// A bind error as the Python exception it is: a bad option is a
/// `ValueError` naming it, the rest `OSError`s.
fn bind_error(err: Error, options_bind: std::net::SocketAddr) -> PyErr {
    match err {
        Error::Config(err) => PyValueError::new_err(format!("{}: {}", err.field, err.reason)),
        err => PyOSError::new_err(format!("cannot serve {options_bind}: {err}")),
    }
}

impl Drop for Core {
    /// A server never run is shut down and joined here, with the
    /// interpreter lock released: its shards give their thread states
    /// back as they end, which needs the lock.
    fn drop(&mut self) {
        let server = self
            .server
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(server) = server {
            server.shutdown();
            Python::with_gil(|py| {
                py.allow_threads(|| {
                    // Its shards ended; what they said is of no use now.
                    let _ = server.join();
                });
            });
        }
    }
}

#[pymethods]
impl Core {
    /// Binds a server: Python `callbacks` (a dict, see `Callbacks`) or a
    /// built-in `protocol`, with the options in `kwargs`.
    #[new]
    #[pyo3(signature = (callbacks=None, protocol=None, **kwargs))]
    fn new(
        py: Python<'_>,
        callbacks: Option<&Bound<'_, PyDict>>,
        protocol: Option<&str>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let options = match kwargs {
            Some(kwargs) => options(kwargs)?,
            None => options(&PyDict::new(py))?,
        };
        let bind = options.config.bind;
        // The shards' stall warnings and the server's own lines, on stderr.
        std::mem::forget(esockets::logging::init());
        let server = match (callbacks, protocol) {
            (Some(_), Some(_)) => {
                return Err(PyValueError::new_err(
                    "protocol: a built-in protocol takes no handler",
                ))
            }
            (None, Some(name)) => {
                let bound = crate::protocols::bind(name, options)?;
                py.allow_threads(|| bound)
            }
            (Some(given), None) => {
                let callbacks = Arc::new(self::callbacks(given)?);
                let Options { config, .. } = options;
                // Without the lock: each shard takes it in `on_start`.
                py.allow_threads(|| {
                    Server::bind(config, move |_| PyHandler::new(callbacks.clone()))
                })
            }
            (None, None) => {
                return Err(PyValueError::new_err(
                    "handler: give a handler or a protocol",
                ))
            }
        }
        .map_err(|err| bind_error(err, bind))?;
        let handle = server.handle();
        Ok(Self {
            server: Mutex::new(Some(server)),
            handle,
        })
    }

    /// The bound port.
    #[getter]
    fn port(&self) -> u16 {
        self.handle.local_addr().port()
    }

    /// A handle on the server, for any thread.
    #[getter]
    fn handle(&self) -> Handle {
        Handle {
            inner: self.handle.clone(),
        }
    }

    /// Serves until `stop`, with the interpreter lock released.
    fn run(&self, py: Python<'_>) -> PyResult<()> {
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("run: the server already ran"))?;
        py.allow_threads(|| {
            let joined = server.join();
            esockets::logging::flush(LOG_FLUSH);
            joined
        })
        .map_err(|err| PyRuntimeError::new_err(format!("server: {err}")))
    }

    /// Starts the graceful shutdown: stop accepting, flush, close.
    fn stop(&self) {
        self.handle.shutdown();
    }
}
