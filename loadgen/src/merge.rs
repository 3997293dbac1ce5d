//! `loadgen merge`: interval logs from several machines into one report.

use crate::cli::MergeArgs;
use crate::Failure;

/// Runs `loadgen merge`.
pub fn run(_args: &MergeArgs) -> Result<bool, Failure> {
    Err(Failure::Runtime("merge: not yet".into()))
}
