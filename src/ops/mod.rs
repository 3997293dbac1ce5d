//! Running a server in production: logging that never blocks or panics,
//! and stopping on signals.

pub mod logging;
pub(crate) mod signals;
