//! What the examples share: the port to listen on (the first argument,
//! else `$PORT`, else 1234) and start-up errors a person can act on.

use std::fmt::Display;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

/// The port when neither the argument nor `$PORT` gives one.
pub const DEFAULT_PORT: u16 = 1234;

/// The address to listen on: loopback, and the port from `arg` (the
/// command line's first argument), else `env` (`$PORT`), else
/// [`DEFAULT_PORT`]; 0 picks a free port.
///
/// # Errors
///
/// A message saying what to type, when the one given is not a port.
pub fn listen_addr(arg: Option<String>, env: Option<String>) -> Result<SocketAddr, String> {
    let (text, from) = match (arg, env) {
        (Some(arg), _) => (arg, "the argument"),
        (None, Some(env)) => (env, "$PORT"),
        (None, None) => return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_PORT))),
    };
    let port = text.trim().parse::<u16>().map_err(|_| {
        format!("{from} {text:?} is not a port (0 to 65535; 0 picks a free one), e.g. 4000")
    })?;
    Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

/// [`listen_addr`] from this process's first argument and `$PORT`.
///
/// # Errors
///
/// As [`listen_addr`].
pub fn listen_addr_from_env() -> Result<SocketAddr, String> {
    listen_addr(std::env::args().nth(1), std::env::var("PORT").ok())
}

/// What to tell the person who ran example `name` when it failed with
/// `err`: for an address in use, how to pick another port.
pub fn explain(name: &str, err: &esockets::Error) -> String {
    match err {
        esockets::Error::AddrInUse { addr } => format!(
            "{err}\nhint: something already listens on port {port} (another example, or an \
             esockets server?); stop it, or give this one another port: \
             `cargo run --release --example {name} -- 4000` or `PORT=4000 cargo run --release \
             --example {name}` (0 picks a free port)",
            port = addr.port()
        ),
        err => err.to_string(),
    }
}

/// Runs example `name`'s `serve` on the address from the command line or
/// `$PORT`; an error is printed on stderr for a person (not as `Debug`),
/// with a failing exit status.
pub fn run(name: &str, serve: impl FnOnce(SocketAddr) -> Result<(), esockets::Error>) -> ExitCode {
    let addr = match listen_addr_from_env() {
        Ok(addr) => addr,
        Err(message) => return fail(name, message),
    };
    match serve(addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(name, explain(name, &err)),
    }
}

/// Prints `message` as example `name`'s error; the failing exit status.
fn fail(name: &str, message: impl Display) -> ExitCode {
    eprintln!("{name}: error: {message}");
    ExitCode::FAILURE
}
