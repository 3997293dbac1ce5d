//! `esockets._esockets`: the native half of the Python package. The
//! shards are esockets' own; each client event calls one Python function
//! with the interpreter lock held for that call only. The Python half
//! (`esockets/__init__.py`, `ESocketS.py`) builds the original API on it.

use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Mutex;

use esockets::{
    Admission, CloseReason, Config, Conn, ConnId, Handler, Server, ServerHandle, ShardContext,
    Verdict,
};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// One client as Python sees it: the bytes the shard read for it and the
/// replies Python queued, until the shard sends them.
#[pyclass(frozen, module = "esockets._esockets")]
struct Client {
    /// The client's id, valid from any thread.
    id: ConnId,
    /// The client's socket descriptor.
    fd: i32,
    /// The peer's address.
    peer: SocketAddr,
    /// Input not taken by `recv` yet, replies not sent yet, and whether
    /// the client asked to close.
    io: Mutex<ClientIo>,
    /// The server, for sends from outside a callback.
    handle: ServerHandle,
}

/// The mutable part of a [`Client`].
#[derive(Default)]
struct ClientIo {
    /// Read by the shard, not yet taken by `recv`.
    input: Vec<u8>,
    /// Queued by `sendall` during a callback.
    output: Vec<u8>,
    /// Whether a callback of this client is running (then sends are
    /// written by the shard when it returns).
    in_callback: bool,
    /// `close()` was called.
    close: bool,
    /// The shard closed the client.
    gone: bool,
}

impl Client {
    /// Locks the client's buffers (a poisoned lock still holds valid bytes).
    fn io(&self) -> std::sync::MutexGuard<'_, ClientIo> {
        self.io
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[pymethods]
impl Client {
    /// Returns up to `n` bytes the shard already read; never blocks (b''
    /// when there are none).
    fn recv<'py>(&self, py: Python<'py>, n: isize) -> PyResult<Bound<'py, PyBytes>> {
        if n < 0 {
            return Err(PyValueError::new_err(format!(
                "recv: n must be >= 0, got {n}"
            )));
        }
        let mut io = self.io();
        let take = io.input.len().min(n as usize);
        let bytes = PyBytes::new(py, &io.input[..take]);
        io.input.drain(..take);
        Ok(bytes)
    }

    /// Queues `data` for the client with esockets' backpressure.
    fn sendall(&self, data: &[u8]) -> PyResult<()> {
        let mut io = self.io();
        if io.gone {
            return Err(PyOSError::new_err("sendall: the client is closed"));
        }
        if io.in_callback {
            io.output.extend_from_slice(data);
            return Ok(());
        }
        drop(io);
        self.handle
            .send(self.id, data.to_vec())
            .map_err(|err| PyOSError::new_err(format!("sendall: {err}")))
    }

    /// Alias of `sendall`.
    fn send(&self, data: &[u8]) -> PyResult<usize> {
        self.sendall(data)?;
        Ok(data.len())
    }

    /// Closes the client once what was queued for it is delivered.
    fn close(&self) -> PyResult<()> {
        let mut io = self.io();
        if io.gone {
            return Ok(());
        }
        if io.in_callback {
            io.close = true;
            return Ok(());
        }
        drop(io);
        let _ = self.handle.close(self.id);
        Ok(())
    }

    /// The client's socket descriptor.
    fn fileno(&self) -> i32 {
        self.fd
    }

    /// The peer's `(host, port)`.
    fn getpeername(&self) -> (String, u16) {
        (self.peer.ip().to_string(), self.peer.port())
    }

    /// Bytes read and not yet taken by `recv`.
    fn pending(&self) -> usize {
        self.io().input.len()
    }

    fn __repr__(&self) -> String {
        format!("<esockets client fd={} peer={}>", self.fd, self.peer)
    }
}

/// The Python functions the shards call.
struct Callbacks {
    /// `incoming(client, address) -> bool`.
    incoming: PyObject,
    /// `readable(client) -> bool`.
    readable: PyObject,
    /// `closed(client)`.
    closed: PyObject,
}

/// The handler every shard runs: each event calls Python.
struct PyHandler {
    /// What to call.
    callbacks: std::sync::Arc<Callbacks>,
    /// For the clients' sends from outside callbacks.
    handle: Option<ServerHandle>,
}

/// Logs a callback's exception with its traceback (Python's own printing,
/// to stderr).
fn report(py: Python<'_>, err: PyErr, what: &str) {
    eprintln!("esockets: {what} raised; closing that client");
    err.print(py);
}

/// Calls `f(args)` with the client marked as in a callback; returns
/// whether Python said to keep the client, then sends what it queued.
fn call<'py, A>(
    py: Python<'py>,
    f: &PyObject,
    client: &Bound<'py, Client>,
    args: A,
    conn: &mut Conn<'_>,
    what: &str,
) -> bool
where
    A: IntoPyObject<'py, Target = pyo3::types::PyTuple>,
{
    client.get().io().in_callback = true;
    let keep = match f.bind(py).call1(args) {
        Ok(value) => value.is_truthy().unwrap_or(false),
        Err(err) => {
            report(py, err, what);
            false
        }
    };
    let mut io = client.get().io();
    io.in_callback = false;
    if !io.output.is_empty() {
        let output = std::mem::take(&mut io.output);
        conn.send(&output);
    }
    keep && !io.close
}

impl Handler for PyHandler {
    type State = Option<Py<Client>>;

    fn on_start(&mut self, cx: &mut ShardContext<'_>) {
        self.handle = Some(cx.server().clone());
    }

    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<Self::State> {
        let handle = self.handle.clone().unwrap_or_else(|| cx.server().clone());
        let fd = conn.socket().map_or(-1, |s| s.as_raw_fd());
        let callbacks = self.callbacks.clone();
        Python::with_gil(|py| {
            let client = match Bound::new(
                py,
                Client {
                    id: conn.id(),
                    fd,
                    peer,
                    io: Mutex::default(),
                    handle,
                },
            ) {
                Ok(client) => client,
                Err(err) => {
                    report(py, err, "making the client");
                    return Admission::Refuse;
                }
            };
            let address = (peer.ip().to_string(), peer.port());
            if call(
                py,
                &callbacks.incoming,
                &client,
                (client.clone(), address),
                conn,
                "handle_incoming",
            ) {
                Admission::Accept(Some(client.unbind()))
            } else {
                client.get().io().gone = true;
                Admission::Refuse
            }
        })
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
        data: &[u8],
    ) -> Verdict {
        let Some(client) = state else {
            return Verdict::Close;
        };
        let callbacks = &self.callbacks;
        Python::with_gil(|py| {
            let client = client.bind(py);
            client.get().io().input.extend_from_slice(data);
            // Like a level-triggered selector: call again while the
            // callback takes input and some is left.
            loop {
                let before = client.get().pending();
                if !call(
                    py,
                    &callbacks.readable,
                    client,
                    (client.clone(),),
                    conn,
                    "handle_readable",
                ) {
                    return Verdict::Close;
                }
                let after = client.get().pending();
                if after == 0 || after == before {
                    return Verdict::Consumed(data.len());
                }
            }
        })
    }

    fn on_close(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _id: ConnId,
        state: Self::State,
        _reason: CloseReason,
    ) {
        let Some(client) = state else { return };
        Python::with_gil(|py| {
            client.get().io().gone = true;
            if let Err(err) = self.callbacks.closed.call1(py, (client.clone_ref(py),)) {
                report(py, err, "the close callback");
            }
        });
    }
}

/// A running server: its shards call the given Python functions.
#[pyclass(module = "esockets._esockets")]
struct Core {
    /// The server, until `run` takes it.
    server: Mutex<Option<Server>>,
    /// For `stop` and sends.
    handle: ServerHandle,
}

#[pymethods]
impl Core {
    /// Binds `host:port` (port 0: any free port) and starts the shards.
    #[new]
    #[pyo3(signature = (host, port, backlog, incoming, readable, closed, threads=0))]
    fn new(
        host: &str,
        port: i64,
        backlog: i64,
        incoming: PyObject,
        readable: PyObject,
        closed: PyObject,
        threads: usize,
    ) -> PyResult<Self> {
        let port = u16::try_from(port)
            .map_err(|_| PyValueError::new_err(format!("port: must be 0..=65535, got {port}")))?;
        let backlog = u32::try_from(backlog)
            .ok()
            .filter(|&b| b > 0)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "queue_size: must be a positive number, got {backlog}"
                ))
            })?;
        let bind = (host, port)
            .to_socket_addrs()
            .map_err(|err| PyValueError::new_err(format!("host: cannot resolve {host:?}: {err}")))?
            .next()
            .ok_or_else(|| PyValueError::new_err(format!("host: {host:?} has no address")))?;
        let mut config = Config {
            bind,
            backlog,
            ..Config::default()
        };
        if threads > 0 {
            config.threads = threads;
        }
        let callbacks = std::sync::Arc::new(Callbacks {
            incoming,
            readable,
            closed,
        });
        let server = Server::bind(config, move |_shard| PyHandler {
            callbacks: callbacks.clone(),
            handle: None,
        })
        .map_err(|err| PyOSError::new_err(format!("cannot serve {bind}: {err}")))?;
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

    /// Serves until `stop`, with the interpreter lock released.
    fn run(&self, py: Python<'_>) -> PyResult<()> {
        let server = self
            .server
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("run: the server already ran"))?;
        py.allow_threads(|| server.join())
            .map_err(|err| PyRuntimeError::new_err(format!("server: {err}")))
    }

    /// Starts the graceful shutdown: stop accepting, flush, close.
    fn stop(&self) {
        self.handle.shutdown();
    }
}

/// The module.
#[pymodule]
fn _esockets(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Core>()?;
    m.add_class::<Client>()?;
    Ok(())
}
