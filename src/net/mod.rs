//! Sockets and the kernel: listeners, descriptor limits, raw socket calls,
//! kernel settings. The only place that talks to `socket2` and `libc`
//! about sockets.

pub(crate) mod activation;
pub(crate) mod fds;
pub(crate) mod group;
pub(crate) mod keepalive;
pub(crate) mod kernel;
pub(crate) mod listener;
pub(crate) mod steer;
pub(crate) mod stream;
pub(crate) mod transport;
