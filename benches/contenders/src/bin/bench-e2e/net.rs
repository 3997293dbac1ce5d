//! Loopback port checks: "does it accept?" and "is it free again?".

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::child::Guard;
use crate::wait::poll_until;

/// Waits until `addr` accepts a connection; fails early if `server` exits.
pub fn wait_accepting(
    addr: SocketAddr,
    server: &mut Guard,
    timeout: Duration,
) -> Result<(), String> {
    let ready = poll_until(timeout, || {
        if let Some(status) = server.try_status()? {
            return Err(format!(
                "server exited before accepting on {addr}: {status}"
            ));
        }
        Ok(
            TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                .ok()
                .map(drop),
        )
    })?;
    ready.ok_or_else(|| format!("{addr} did not accept connections within {timeout:?}"))
}

/// Waits until nothing listens on `addr` any more (a plain bind succeeds).
pub fn wait_port_free(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let free = poll_until(timeout, || Ok(TcpListener::bind(addr).ok().map(drop)))?;
    free.ok_or_else(|| format!("{addr} still in use after {timeout:?}"))
}
