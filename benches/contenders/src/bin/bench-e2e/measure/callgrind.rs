//! Instructions per echoed message, counted by callgrind.
//!
//! The server runs with one thread under `valgrind --tool=callgrind` twice:
//! once with a short and once with a long fixed number of messages. The
//! difference of the total instruction counts (Ir) divided by the difference
//! of the messages removes start-up and shutdown cost. Only user-space
//! instructions are counted; system calls count as one instruction each.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::Measured;
use crate::contender::Contender;
use crate::env::Env;
use crate::loadgen::{self, Metrics};
use crate::server::Server;
use crate::workload::CALLGRIND_CONNECTIONS;

/// Upper bound for one loadgen run against a server under valgrind.
const LOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// Cap passed as loadgen's --duration; the message count ends the run.
const LOAD_DURATION: &str = "240s";

/// Result of one callgrind run.
struct Counted {
    /// Total instructions of the whole server run.
    ir: u64,
    /// Messages echoed, as loadgen reports them.
    messages: f64,
    /// Loadgen's report.
    report: Value,
}

/// Measures instructions per message of `contender`.
pub fn measure(env: &Env, contender: &Contender, tag: &str) -> Result<Measured, String> {
    let base = count(
        env,
        contender,
        &format!("{tag}.base"),
        env.cli.callgrind_base_messages,
    )?;
    let full = count(
        env,
        contender,
        &format!("{tag}.full"),
        env.cli.callgrind_messages,
    )?;
    let messages = full.messages - base.messages;
    if messages <= 0.0 {
        return Err(format!(
            "long run echoed {} messages, short run {}",
            full.messages, base.messages
        ));
    }
    let per_msg = full.ir.saturating_sub(base.ir) as f64 / messages;
    let metrics: Metrics = [
        ("ir_per_msg", per_msg),
        ("ir_base", base.ir as f64),
        ("ir_full", full.ir as f64),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let raw = json!({
        "ir_base": base.ir,
        "ir_full": full.ir,
        "messages_base": base.messages,
        "messages_full": full.messages,
        "instructions_per_message": per_msg,
        "loadgen_base": base.report,
        "loadgen_full": full.report,
    });
    Ok(Measured {
        metrics,
        raw,
        note: None,
    })
}

/// Runs the server under callgrind while loadgen echoes `messages` messages.
fn count(env: &Env, contender: &Contender, tag: &str, messages: u64) -> Result<Counted, String> {
    let out = env.file(&format!("{tag}.callgrind.out"));
    if out.exists() {
        std::fs::remove_file(&out).map_err(|e| format!("remove {}: {e}", out.display()))?;
    }
    let server = Server::start(env, contender, 1, Some(&out), tag)?;
    let args: Vec<String> = [
        "--mode",
        "echo",
        "--size",
        "64",
        "--connections",
        &CALLGRIND_CONNECTIONS.to_string(),
        "--threads",
        "1",
        "--messages",
        &messages.to_string(),
        "--warmup",
        "0s",
        "--duration",
        LOAD_DURATION,
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let result = loadgen::run(env, server.addr, &args, tag, LOAD_TIMEOUT);
    let stopped = server.stop();
    let (report, note) = result?;
    if let Some(note) = note {
        return Err(note);
    }
    stopped?;
    let ir = read_total_ir(&out)?;
    let echoed = report
        .pointer("/messages")
        .and_then(Value::as_f64)
        .unwrap_or(messages as f64);
    Ok(Counted {
        ir,
        messages: echoed,
        report,
    })
}

/// Reads the total Ir of a callgrind output file.
fn read_total_ir(path: &Path) -> Result<u64, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    total_ir(&text).ok_or_else(|| format!("no Ir total in {}", path.display()))
}

/// Finds the Ir column of the `events:` line and returns its value on the
/// `totals:` line (or `summary:` when there is no `totals:`).
fn total_ir(text: &str) -> Option<u64> {
    let column = text
        .lines()
        .find_map(|l| l.strip_prefix("events:"))
        .map_or(Some(0), |events| {
            events.split_whitespace().position(|e| e == "Ir")
        })?;
    let line = |prefix: &str| text.lines().find_map(|l| l.strip_prefix(prefix));
    let totals = line("totals:").or_else(|| line("summary:"))?;
    totals.split_whitespace().nth(column)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::total_ir;

    #[test]
    fn reads_totals_line() {
        let out = "version: 1\nevents: Ir\nfn=(1) main\n3 10\nsummary: 1234\ntotals: 1234\n";
        assert_eq!(total_ir(out), Some(1234));
    }

    #[test]
    fn picks_the_ir_column_and_falls_back_to_summary() {
        let out = "events: Dr Ir Dw\nsummary: 5 99 7\n";
        assert_eq!(total_ir(out), Some(99));
        assert_eq!(total_ir("events: Ir\n"), None);
    }
}
