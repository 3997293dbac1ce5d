//! `loadgen sweep`: the same load against a server per thread count.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::cli::SweepArgs;
use crate::Failure;

/// Runs `loadgen sweep`.
pub fn run(_args: &SweepArgs, _stop: Arc<AtomicBool>) -> Result<bool, Failure> {
    Err(Failure::Runtime("sweep: not yet".into()))
}
