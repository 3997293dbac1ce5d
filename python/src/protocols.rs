//! The built-in protocols, served from Python with no Python code per
//! message: `echo`, `discard`, `line-echo`, `pubsub` (lines) and
//! `ws-echo`, the binary's `--protocol` values.

use esockets::protocols::{Discard, Echo, LineEcho, PubSub, WsEcho};
use esockets::websocket::{WebSocket, WsConfig};
use esockets::{Error, Server};
use pyo3::exceptions::PyValueError;
use pyo3::PyResult;

use crate::options::Options;

/// The names `protocol=` takes.
pub(crate) const NAMES: &str = "echo, discard, line-echo, pubsub, ws-echo";

/// Binds a server speaking `name`, with `options`.
pub(crate) fn bind(name: &str, options: Options) -> PyResult<Result<Server, Error>> {
    let Options {
        mut config,
        max_line,
    } = options;
    // As the binary does: a whole line (or message) fits the input limit.
    let line_limit = max_line.saturating_add(1);
    Ok(match name {
        "echo" => Server::bind(config, |_| Echo),
        "discard" => Server::bind(config, |_| Discard),
        "line-echo" => {
            config.input_limit = config.input_limit.max(line_limit);
            Server::bind(config, move |_| LineEcho::new(max_line))
        }
        "pubsub" => {
            config.input_limit = config.input_limit.max(line_limit);
            Server::bind(config, move |_| PubSub::new(max_line))
        }
        "ws-echo" => {
            let ws = WsConfig::default();
            config.input_limit = config.input_limit.max(ws.input_limit());
            Server::bind(config, move |_| WebSocket::new(ws.clone(), WsEcho))
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "protocol: unknown protocol {other:?} (known: {NAMES})"
            )))
        }
    })
}
