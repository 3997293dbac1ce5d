//! One load run, whatever its mode: the echo-style modes (echo, line,
//! idle, stream; over TCP or WebSocket) run the `echo` workers, `--mode
//! pubsub` the `pubsub` ones; both under the same coordinator.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::engine::coordinator::IntervalLog;
use crate::engine::outcome::RunResult;
use crate::engine::{echo, pubsub};
use crate::front::cli::Mode;
use crate::front::config::RunConfig;
use crate::Failure;

/// Runs `cfg` to completion; Ctrl-C sets `stop`. Writes each second and
/// the totals to `log` when given.
pub fn execute(
    cfg: &RunConfig,
    stop: Arc<AtomicBool>,
    log: Option<&mut (dyn IntervalLog + 'static)>,
) -> Result<RunResult, Failure> {
    if cfg.mode == Mode::Pubsub {
        pubsub::execute(cfg, stop, log)
    } else {
        echo::execute(cfg, stop, log)
    }
}
