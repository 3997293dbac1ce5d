//! Idle memory: resident bytes a server spends per open, silent connection.
//!
//! Reads the server's VmRSS, has loadgen open the connections and keep them
//! idle, waits until the server holds that many descriptors, reads VmRSS
//! again. Only user-space memory counts; kernel socket buffers do not show in
//! RSS.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{join_notes, Measured};
use crate::cli::format_duration;
use crate::contender::Contender;
use crate::env::Env;
use crate::loadgen::{self, Metrics};
use crate::procfs::{fd_count, settled_rss};
use crate::server::Server;
use crate::wait::poll_until;

/// How long the connections may take to arrive.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// Stop waiting when the server's descriptor count has not grown for this
/// long: connections the client counts as established can sit in a full
/// accept queue and never reach the server.
const STALL: Duration = Duration::from_secs(10);
/// How long RSS may take to settle.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long loadgen keeps the connections (it is stopped sooner).
const HOLD: Duration = Duration::from_secs(600);
/// Connections opened per second by the idle workload.
const IDLE_CONNECT_RATE: u32 = 3000;
/// Grace period for loadgen after SIGTERM.
const LOADGEN_GRACE: Duration = Duration::from_secs(10);
/// Bytes per MiB.
const MIB: f64 = 1024.0 * 1024.0;

/// Measures resident bytes per idle connection of `contender`; over
/// WebSocket (`websocket`), each connection is upgraded first.
pub fn measure(
    env: &Env,
    contender: &Contender,
    tag: &str,
    websocket: bool,
) -> Result<Measured, String> {
    let server = Server::start(env, contender, env.cli.threads, None, tag)?;
    let pid = server.pid();
    let rss_before = settled_rss(pid, SETTLE_TIMEOUT)?;
    let fds_before = fd_count(pid)?;
    let wanted = env.cli.idle_connections;
    let mut args = vec![
        "--mode".to_owned(),
        "idle".to_owned(),
        "--connections".to_owned(),
        wanted.to_string(),
        "--threads".to_owned(),
        env.cli.client_threads.to_string(),
        "--duration".to_owned(),
        format_duration(HOLD),
        "--warmup".to_owned(),
        "0s".to_owned(),
        // Paced, so a server with one accept loop (tokio's) keeps up with
        // the connect burst instead of overflowing its listen backlog.
        "--connect-rate".to_owned(),
        IDLE_CONNECT_RATE.to_string(),
    ];
    if websocket {
        args.push("--ws".to_owned());
    }
    let mut load = loadgen::spawn(env, server.addr, &args, tag)?;
    let mut last = (fds_before, Instant::now());
    let reached = poll_until(CONNECT_TIMEOUT, || {
        if let Some(status) = load.guard.try_status()? {
            return Err(format!(
                "loadgen ended before all connections were open: {status}"
            ));
        }
        let fds = fd_count(pid)?;
        if fds >= wanted {
            return Ok(Some(true));
        }
        if fds > last.0 {
            last = (fds, Instant::now());
        }
        Ok((last.1.elapsed() >= STALL).then_some(false))
    })?;
    let rss_after = settled_rss(pid, SETTLE_TIMEOUT)?;
    let connections = fd_count(pid)?.saturating_sub(fds_before);
    let stopped_load = load.guard.stop(LOADGEN_GRACE);
    let stopped_server = server.stop();
    stopped_load?;
    if connections == 0 {
        return Err("no connection reached the server".to_owned());
    }
    let grown = rss_after.saturating_sub(rss_before);
    let per_conn = grown as f64 / connections as f64;
    let metrics: Metrics = [
        ("connections", connections as f64),
        ("rss_before_mib", rss_before as f64 / MIB),
        ("rss_after_mib", rss_after as f64 / MIB),
        ("bytes_per_conn", per_conn),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let raw = json!({
        "rss_before": rss_before,
        "rss_after": rss_after,
        "fds_before": fds_before,
        "connections": connections,
        "bytes_per_connection": per_conn,
    });
    let short = (reached != Some(true))
        .then(|| format!("only {connections} of {wanted} connections reached the server"));
    Ok(Measured {
        metrics,
        raw,
        note: join_notes(short, stopped_server.err()),
    })
}
