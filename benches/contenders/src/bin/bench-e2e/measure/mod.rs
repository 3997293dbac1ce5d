//! One measurement: a workload against one contender, server started fresh.

mod callgrind;
mod idle;
mod timed;

use serde_json::Value;

use crate::contender::Contender;
use crate::env::Env;
use crate::loadgen::Metrics;
use crate::workload::{Kind, Workload};

/// What one measurement produced.
pub struct Measured {
    /// Numbers for the tables.
    pub metrics: Metrics,
    /// Raw data kept in the JSON output (loadgen reports and the like).
    pub raw: Value,
    /// Set when the run produced numbers but something went wrong.
    pub note: Option<String>,
}

/// Runs `workload` once against `contender`.
pub fn run(
    env: &Env,
    workload: &Workload,
    contender: &Contender,
    run: usize,
) -> Result<Measured, String> {
    let tag = format!("{}.{}.{run}", workload.name, contender.name);
    match workload.kind {
        Kind::IdleMemory | Kind::WsIdleMemory => {
            idle::measure(env, contender, &tag, workload.websocket())
        }
        Kind::Callgrind => callgrind::measure(env, contender, &tag),
        _ => {
            let args = workload
                .loadgen_args(&env.cli)
                .ok_or_else(|| format!("{} is not a timed workload", workload.name))?;
            timed::measure(env, contender, &args, &tag)
        }
    }
}

/// Joins two optional notes into one.
fn join_notes(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}
