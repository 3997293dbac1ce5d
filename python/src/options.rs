//! The server's options from Python keyword arguments: each checked for
//! its type and value, a wrong one a `TypeError` or `ValueError` naming
//! the argument. The names are `esockets::Config`'s fields (the binary's
//! flags without their dashes), plus `host`/`port` for `bind`,
//! `tls_cert`/`tls_key` for TLS, and `max_line` for the line protocols.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use esockets::tls::{Tls, TlsSettings};
use esockets::{Config, IpNet, Keepalive};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

/// Longest duration accepted (`Config` caps its own at a day; this only
/// keeps the float conversion finite).
const MAX_SECONDS: f64 = 1e9;

/// The default longest line of `line-echo` and `pubsub`, as the binary's.
const MAX_LINE: usize = 64 * 1024;

/// What the keyword arguments said.
pub(crate) struct Options {
    /// The server's config (not validated yet: `Server::bind` does).
    pub(crate) config: Config,
    /// Longest line of `line-echo` and `pubsub`.
    pub(crate) max_line: usize,
}

/// A `TypeError` about argument `name`.
fn wrong_type(name: &str, expected: &str, value: &Bound<'_, PyAny>) -> PyErr {
    let got = value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string());
    PyTypeError::new_err(format!("{name}: expected {expected}, got {got}"))
}

/// A `ValueError` about argument `name`.
fn bad_value(name: &str, reason: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{name}: {reason}"))
}

/// An int (not a bool) at least `min`.
pub(crate) fn count(name: &str, value: &Bound<'_, PyAny>, min: u64) -> PyResult<usize> {
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Err(wrong_type(name, "an int", value));
    }
    let n: i128 = value.extract()?;
    if n < i128::from(min) {
        return Err(bad_value(name, format!("must be at least {min}, got {n}")));
    }
    usize::try_from(n).map_err(|_| bad_value(name, format!("too large: {n}")))
}

/// A number of seconds (int or float, not a bool), finite and >= 0.
pub(crate) fn duration(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let number = value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>();
    if value.is_instance_of::<PyBool>() || !number {
        return Err(wrong_type(name, "a number of seconds", value));
    }
    let seconds: f64 = value.extract()?;
    if !(0.0..=MAX_SECONDS).contains(&seconds) {
        return Err(bad_value(
            name,
            format!("must be 0 to {MAX_SECONDS} seconds, got {seconds}"),
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A bool.
fn flag(name: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    if !value.is_instance_of::<PyBool>() {
        return Err(wrong_type(name, "a bool", value));
    }
    value.extract()
}

/// A str.
fn text(name: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    if !value.is_instance_of::<PyString>() {
        return Err(wrong_type(name, "a str", value));
    }
    value.extract()
}

/// `None`, or what `parse` makes of the value.
fn optional<T>(
    value: &Bound<'_, PyAny>,
    parse: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<T>,
) -> PyResult<Option<T>> {
    if value.is_none() {
        Ok(None)
    } else {
        parse(value).map(Some)
    }
}

/// `host:port` resolved to its first address.
fn address(name: &str, host: &str, port: u16) -> PyResult<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .map_err(|err| bad_value(name, format!("cannot resolve {host:?}: {err}")))?
        .next()
        .ok_or_else(|| bad_value(name, format!("{host:?} has no address")))
}

/// A port, 0 to 65535.
fn port(value: &Bound<'_, PyAny>) -> PyResult<u16> {
    let port = count("port", value, 0)?;
    u16::try_from(port).map_err(|_| bad_value("port", format!("must be 0 to 65535, got {port}")))
}

/// The options in `kwargs` (each key a name above); an unknown name is a
/// `TypeError`, as Python's own for an unexpected keyword argument.
pub(crate) fn options(kwargs: &Bound<'_, PyDict>) -> PyResult<Options> {
    let mut config = Config {
        bind: SocketAddr::from(([127, 0, 0, 1], 1234)),
        ..Config::default()
    };
    let mut host = "127.0.0.1".to_string();
    let mut bind_port = 1234;
    let mut max_line = MAX_LINE;
    let (mut cert, mut key) = (None, None);
    let mut keepalive_interval = None;
    for (name, value) in kwargs.iter() {
        let name: String = name.extract()?;
        let v = &value;
        match name.as_str() {
            "host" => host = text("host", v)?,
            "port" => bind_port = port(v)?,
            "threads" => {
                let threads = count("threads", v, 0)?;
                if threads > 0 {
                    config.threads = threads;
                }
            }
            "pin_threads" => config.pin_threads = flag("pin_threads", v)?,
            "backlog" => {
                let backlog = count("backlog", v, 1)?;
                config.backlog = u32::try_from(backlog)
                    .map_err(|_| bad_value("backlog", format!("too large: {backlog}")))?;
            }
            "nodelay" => config.nodelay = flag("nodelay", v)?,
            "read_budget" => config.read_budget = count("read_budget", v, 1)?,
            "accept_budget" => config.accept_budget = count("accept_budget", v, 1)?,
            "read_buffer" => config.read_buffer = count("read_buffer", v, 1)?,
            "output_high_water" => config.output_high_water = count("output_high_water", v, 1)?,
            "output_low_water" => config.output_low_water = count("output_low_water", v, 0)?,
            "output_limit" => config.output_limit = count("output_limit", v, 1)?,
            "input_limit" => config.input_limit = count("input_limit", v, 1)?,
            "close_timeout" => config.close_timeout = duration("close_timeout", v)?,
            "shutdown_grace" => config.shutdown_grace = duration("shutdown_grace", v)?,
            "reuseport_join" => config.reuseport_join = flag("reuseport_join", v)?,
            "max_connections" => {
                config.max_connections = optional(v, |v| count("max_connections", v, 1))?;
            }
            "refuse_message" => {
                config.refuse_message = optional(v, |v| {
                    crate::client::Data::extract_bound(v)
                        .map(|data| Bytes::from(data.into_bytes()))
                        .map_err(|_| wrong_type("refuse_message", "bytes or str", v))
                })?;
            }
            "idle_timeout" => config.idle_timeout = optional(v, |v| duration("idle_timeout", v))?,
            "user_timeout" => config.user_timeout = optional(v, |v| duration("user_timeout", v))?,
            "keepalive" => {
                config.keepalive = optional(v, |v| duration("keepalive", v).map(Keepalive::after))?;
            }
            "keepalive_interval" => keepalive_interval = Some(duration("keepalive_interval", v)?),
            "tick" => config.tick = optional(v, |v| duration("tick", v))?,
            "inbox_capacity" => config.inbox_capacity = count("inbox_capacity", v, 1)?,
            "stall_threshold" => {
                config.stall_threshold = optional(v, |v| duration("stall_threshold", v))?;
            }
            "metrics" => {
                config.metrics = optional(v, |v| {
                    let spec = text("metrics", v)?;
                    spec.parse::<SocketAddr>()
                        .map_err(|err| bad_value("metrics", format!("{spec:?}: {err}")))
                })?;
            }
            "fanout_credit" => config.fanout_credit = count("fanout_credit", v, 0)?,
            "backplane" => config.backplane = optional(v, |v| text("backplane", v))?,
            "backplane_resend" => config.backplane_resend = count("backplane_resend", v, 0)?,
            "proxy_protocol" => config.proxy_protocol = flag("proxy_protocol", v)?,
            "proxy_trusted" => config.proxy_trusted = networks(v)?,
            "proxy_timeout" => config.proxy_timeout = duration("proxy_timeout", v)?,
            "tls_cert" => cert = optional(v, |v| text("tls_cert", v))?,
            "tls_key" => key = optional(v, |v| text("tls_key", v))?,
            "max_line" => max_line = count("max_line", v, 1)?,
            other => {
                return Err(PyTypeError::new_err(format!(
                    "Server: unexpected keyword argument {other:?}"
                )))
            }
        }
    }
    config.bind = address("host", &host, bind_port)?;
    if let (Some(interval), Some(keepalive)) = (keepalive_interval, config.keepalive.as_mut()) {
        keepalive.interval = interval;
    }
    config.tls = tls(cert, key)?;
    Ok(Options { config, max_line })
}

/// `proxy_trusted`: a list of networks (`"10.0.0.0/8"`).
fn networks(value: &Bound<'_, PyAny>) -> PyResult<Vec<IpNet>> {
    if value.is_instance_of::<PyString>() {
        return Err(wrong_type("proxy_trusted", "a list of networks", value));
    }
    let mut nets = Vec::new();
    for item in value
        .try_iter()
        .map_err(|_| wrong_type("proxy_trusted", "a list of networks", value))?
    {
        let spec = text("proxy_trusted", &item?)?;
        nets.push(
            spec.parse::<IpNet>()
                .map_err(|err| bad_value("proxy_trusted", format!("{spec:?}: {err}")))?,
        );
    }
    Ok(nets)
}

/// TLS from `tls_cert` and `tls_key` (both or neither), loaded now.
fn tls(cert: Option<String>, key: Option<String>) -> PyResult<Option<Tls>> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Tls::new(TlsSettings::new(cert, key))
            .map(Some)
            .map_err(|err| bad_value("tls_cert", err)),
        (Some(_), None) => Err(bad_value("tls_key", "missing: tls_cert needs tls_key")),
        (None, Some(_)) => Err(bad_value("tls_cert", "missing: tls_key needs tls_cert")),
    }
}
