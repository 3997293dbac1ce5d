//! The handler each shard runs for a Python service: every client event
//! calls one Python function, under the shard's round hold on the
//! interpreter lock ([`RoundLock`]), and what the function asked
//! (replies, a close, subscriptions, timers, publishes) is applied by the
//! shard when it returns.
//!
//! Two styles share it: the original API's (`handle_incoming(client,
//! address)` and a level-triggered `handle_readable(client)` taking input
//! with `client.recv(n)`, each answering True to keep the client) and the
//! modern one's (`on_connect(client)`, `on_data(client, data)`,
//! `on_close(client, reason)`, `on_timer(client, tag)`, `on_tick(shard)`;
//! `False` from the first two closes the client). A modern handler
//! without `on_connect` makes no Python object for a client, and takes
//! no lock, until the client's first input.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use esockets::{Admission, CloseReason, Conn, ConnId, Handler, ShardContext, Verdict};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyTuple};

use crate::client::Client;
use crate::current::{Request, Shared};
use crate::errors::report;
use crate::gil::RoundLock;

/// The Python functions the shards call; `None` where the handler has
/// none (that event then costs no Python call).
pub(crate) struct Callbacks {
    /// The original API (`handle_incoming`/`handle_readable`), not the
    /// modern one.
    pub(crate) original: bool,
    /// `handle_incoming(client, address)` or `on_connect(client)`.
    pub(crate) connect: Option<PyObject>,
    /// `handle_readable(client)` or `on_data(client, data)`.
    pub(crate) data: Option<PyObject>,
    /// `closed(client)` (the original API's bookkeeping) or
    /// `on_close(client, reason)`.
    pub(crate) close: Option<PyObject>,
    /// `on_timer(client, tag)`.
    pub(crate) timer: Option<PyObject>,
    /// `on_tick(shard)`.
    pub(crate) tick: Option<PyObject>,
}

/// What a callback's answer and requests mean for its client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Serve the client on.
    Keep,
    /// Close it (asked, answered falsy in the original API, `False` in
    /// the modern one, or the callback raised).
    Close,
}

/// One shard's handler.
pub(crate) struct PyHandler {
    /// What to call.
    callbacks: Arc<Callbacks>,
    /// The part shared with this shard's client objects; made at
    /// `on_start`, from the shard's server handle.
    shared: Option<Arc<Shared>>,
    /// This thread's hold on the interpreter lock.
    lock: RoundLock,
    /// Replies taken from the running callback (memory reused).
    output: Vec<u8>,
    /// Requests taken from the running callback (memory reused).
    requests: Vec<Request>,
}

impl PyHandler {
    /// A shard's handler calling `callbacks`.
    pub(crate) fn new(callbacks: Arc<Callbacks>) -> Self {
        Self {
            callbacks,
            shared: None,
            lock: RoundLock::new(),
            output: Vec::new(),
            requests: Vec::new(),
        }
    }

    /// The shard's shared part.
    fn shared(&mut self, cx: &ShardContext<'_>) -> Arc<Shared> {
        self.shared
            .get_or_insert_with(|| Arc::new(Shared::new(cx.server().clone())))
            .clone()
    }

    /// Client `conn`'s object: the one in `state`, or a new one put there.
    fn client<'py>(
        &mut self,
        py: Python<'py>,
        cx: &ShardContext<'_>,
        conn: &Conn<'_>,
        state: &mut Option<Py<Client>>,
        peer: Option<SocketAddr>,
    ) -> PyResult<Bound<'py, Client>> {
        if let Some(client) = state {
            return Ok(client.bind(py).clone());
        }
        let fd = conn.socket().map_or(-1, |s| s.as_raw_fd());
        let peer = peer
            .or_else(|| conn.peer_addr())
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let client = Bound::new(py, Client::new(conn.id(), fd, peer, self.shared(cx)))?;
        *state = Some(client.clone().unbind());
        Ok(client)
    }

    /// Calls `f(args)` as client `conn`'s callback `what`: its sends go
    /// to `conn`, its requests to `cx`; returns what it answered.
    fn call<'py, A>(
        &mut self,
        py: Python<'py>,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        f: &PyObject,
        args: A,
        what: &str,
    ) -> Answer
    where
        A: IntoPyObject<'py, Target = PyTuple>,
    {
        let shared = self.shared(cx);
        shared.current().id = Some(conn.id());
        let result = f.bind(py).call1(args);
        let close = self.take_asked(&shared);
        self.apply(cx, conn);
        let keep = match result {
            Ok(value) if self.callbacks.original => value.is_truthy().unwrap_or(false),
            // Only `False` itself closes (None, the usual answer, keeps).
            Ok(value) => !value.is_instance_of::<PyBool>() || value.is_truthy().unwrap_or(true),
            Err(err) => {
                report(py, err, what);
                false
            }
        };
        if keep && !close {
            Answer::Keep
        } else {
            Answer::Close
        }
    }

    /// Takes what the running callback asked (its replies and requests
    /// into this handler's buffers); whether it asked for a close.
    fn take_asked(&mut self, shared: &Shared) -> bool {
        let mut current = shared.current();
        std::mem::swap(&mut current.output, &mut self.output);
        std::mem::swap(&mut current.requests, &mut self.requests);
        std::mem::take(&mut current.close)
    }

    /// Applies what [`take_asked`](Self::take_asked) took.
    fn apply(&mut self, cx: &mut ShardContext<'_>, conn: &mut Conn<'_>) {
        if !self.output.is_empty() {
            conn.send(&self.output);
            self.output.clear();
        }
        for request in self.requests.drain(..) {
            match request {
                Request::Subscribe(topic) => {
                    cx.subscribe(conn, &topic);
                }
                Request::Unsubscribe(topic) => {
                    cx.unsubscribe(conn, &topic);
                }
                Request::Timer(after, tag) => {
                    cx.set_timer(conn.id(), after, tag);
                }
                Request::Publish(topic, data) => cx.publish(&topic, data),
            }
        }
    }

    /// The callback of client `conn` ended: no client's callback runs.
    fn end(&self) {
        if let Some(shared) = &self.shared {
            let mut current = shared.current();
            current.id = None;
            current.input.clear();
            current.taken = 0;
        }
    }

    /// The original API's input: `handle_readable(client)` while it takes
    /// some of `data` with `recv` and some is left, as a level-triggered
    /// selector would call it; what it left stays in the shard's buffer
    /// for the next input.
    fn readable(
        &mut self,
        py: Python<'_>,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        client: &Bound<'_, Client>,
        f: &PyObject,
        data: &[u8],
    ) -> Verdict {
        let shared = self.shared(cx);
        shared.current().input.extend_from_slice(data);
        loop {
            let before = shared.current().taken;
            let args = (client.clone(),);
            if self.call(py, cx, conn, f, args, "handle_readable") == Answer::Close {
                return Verdict::Close;
            }
            let after = shared.current().taken;
            if after == data.len() || after == before {
                return Verdict::Consumed(after);
            }
        }
    }
}

/// The reason's name as the modern `on_close` gets it.
fn reason_name(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::PeerClosed => "peer-closed",
        CloseReason::Reset => "reset",
        CloseReason::Handler => "handler",
        CloseReason::Server => "server",
        CloseReason::OutputOverflow => "output-overflow",
        CloseReason::InputOverflow => "input-overflow",
        CloseReason::IdleTimeout => "idle-timeout",
        CloseReason::Shutdown => "shutdown",
        _ => "error",
    }
}

impl Handler for PyHandler {
    type State = Option<Py<Client>>;

    fn on_start(&mut self, cx: &mut ShardContext<'_>) {
        self.shared(cx);
        self.lock.attach();
    }

    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<Self::State> {
        let callbacks = self.callbacks.clone();
        let Some(f) = &callbacks.connect else {
            return Admission::Accept(None);
        };
        self.lock.hold();
        Python::with_gil(|py| {
            let mut state = None;
            let client = match self.client(py, cx, conn, &mut state, Some(peer)) {
                Ok(client) => client,
                Err(err) => {
                    report(py, err, "making the client");
                    return Admission::Refuse;
                }
            };
            let answer = if callbacks.original {
                let address = (peer.ip().to_string(), peer.port());
                let args = (client.clone(), address);
                self.call(py, cx, conn, f, args, "handle_incoming")
            } else {
                self.call(py, cx, conn, f, (client.clone(),), "on_connect")
            };
            self.end();
            match answer {
                Answer::Keep => Admission::Accept(state),
                Answer::Close => {
                    client.get().set_gone();
                    Admission::Refuse
                }
            }
        })
    }

    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
        data: &[u8],
    ) -> Verdict {
        let callbacks = self.callbacks.clone();
        let Some(f) = &callbacks.data else {
            return Verdict::Consumed(data.len());
        };
        self.lock.hold();
        Python::with_gil(|py| {
            let client = match self.client(py, cx, conn, state, None) {
                Ok(client) => client,
                Err(err) => {
                    report(py, err, "making the client");
                    return Verdict::Close;
                }
            };
            let verdict = if callbacks.original {
                self.readable(py, cx, conn, &client, f, data)
            } else {
                let args = (client, PyBytes::new(py, data));
                match self.call(py, cx, conn, f, args, "on_data") {
                    Answer::Keep => Verdict::Consumed(data.len()),
                    Answer::Close => Verdict::Close,
                }
            };
            self.end();
            verdict
        })
    }

    fn on_timer(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
        tag: u64,
    ) {
        let callbacks = self.callbacks.clone();
        let (Some(f), Some(client)) = (&callbacks.timer, state.as_ref()) else {
            return;
        };
        self.lock.hold();
        Python::with_gil(|py| {
            let args = (client.bind(py).clone(), tag);
            if self.call(py, cx, conn, f, args, "on_timer") == Answer::Close {
                conn.close();
            }
            self.end();
        });
    }

    fn on_close(
        &mut self,
        cx: &mut ShardContext<'_>,
        id: ConnId,
        state: Self::State,
        reason: CloseReason,
    ) {
        let callbacks = self.callbacks.clone();
        if state.is_none() && (callbacks.original || callbacks.close.is_none()) {
            return;
        }
        self.lock.hold();
        let shared = self.shared(cx);
        Python::with_gil(|py| {
            let client = match state {
                Some(client) => client.into_bound(py),
                // A modern `on_close` for a client no callback saw yet.
                None => match Bound::new(
                    py,
                    Client::new(id, -1, SocketAddr::from(([0, 0, 0, 0], 0)), shared),
                ) {
                    Ok(client) => client,
                    Err(err) => return report(py, err, "making the client"),
                },
            };
            client.get().set_gone();
            let Some(f) = &callbacks.close else { return };
            let called = if callbacks.original {
                f.call1(py, (client,))
            } else {
                f.call1(py, (client, reason_name(reason)))
            };
            if let Err(err) = called {
                report(py, err, "on_close");
            }
        });
    }

    fn on_tick(&mut self, cx: &mut ShardContext<'_>) {
        let callbacks = self.callbacks.clone();
        let Some(f) = &callbacks.tick else { return };
        self.lock.hold();
        Python::with_gil(|py| {
            if let Err(err) = f.call1(py, (cx.shard(),)) {
                report(py, err, "on_tick");
            }
        });
    }

    fn on_round_end(&mut self, _cx: &mut ShardContext<'_>) {
        self.lock.release();
    }

    fn on_shutdown(&mut self, _cx: &mut ShardContext<'_>) {
        self.lock.release();
    }
}
