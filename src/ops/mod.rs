//! Running a server in production: logging that never blocks or panics,
//! stopping on signals, the metrics endpoint and the stall watchdog.

pub mod logging;
pub(crate) mod metrics;
pub(crate) mod signals;
pub(crate) mod watchdog;
