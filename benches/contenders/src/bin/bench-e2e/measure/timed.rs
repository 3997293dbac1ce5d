//! Timed echo workloads: start the server, run loadgen for warm-up plus
//! duration, stop the server.

use std::time::Duration;

use super::{join_notes, Measured};
use crate::contender::Contender;
use crate::env::Env;
use crate::loadgen;
use crate::server::Server;

/// Time loadgen may need beyond warm-up and duration (connecting 20,000
/// clients, writing its report).
const SLACK: Duration = Duration::from_secs(120);

/// Runs loadgen with `args` against a fresh `contender` server.
pub fn measure(
    env: &Env,
    contender: &Contender,
    args: &[String],
    tag: &str,
) -> Result<Measured, String> {
    let server = Server::start(env, contender, env.cli.threads, None, tag)?;
    let timeout = env.cli.warmup + env.cli.duration + SLACK;
    let result = loadgen::run(env, server.addr, args, tag, timeout);
    let stopped = server.stop();
    let (raw, note) = result?;
    Ok(Measured {
        metrics: loadgen::metrics(&raw),
        raw,
        note: join_notes(note, stopped.err()),
    })
}
