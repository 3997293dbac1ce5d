//! `loadgen sweep`: for each server thread count, start the server command,
//! wait until it accepts, run the same load in-process, stop the server
//! (SIGTERM, then SIGKILL after a deadline), and compare: a table, JSON, a
//! chart and a one-line recommendation.

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::app::write_json;
use crate::cli::SweepArgs;
use crate::config::RunConfig;
use crate::plot::{sweep_chart, SweepPoint};
use crate::report::Report;
use crate::table::fmt_us;
use crate::{run, Failure};

/// Throughput within this share of the best counts as "as good".
const GOOD_SHARE: f64 = 0.95;
/// How long a server gets to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// One thread count's result.
#[derive(Debug, Serialize)]
pub struct SweepRun {
    /// Server threads.
    pub threads: usize,
    /// The load's report.
    pub report: Report,
}

/// The pick.
#[derive(Debug, Serialize)]
pub struct Recommendation {
    /// Smallest thread count within 5% of the best throughput.
    pub threads: usize,
    /// Its messages per second.
    pub messages_per_sec: f64,
    /// Its p99 (µs).
    pub p99_us: f64,
    /// The sentence printed.
    pub text: String,
}

/// Everything `--json` gets.
#[derive(Debug, Serialize)]
pub struct SweepResult {
    /// One entry per thread count, in order.
    pub runs: Vec<SweepRun>,
    /// The recommendation, if any run produced traffic.
    pub recommendation: Option<Recommendation>,
}

/// The server command line for `threads`: split like a shell (no shell
/// runs), `{threads}` and `{addr}` substituted in every word, optionally
/// prefixed with `taskset -c CPULIST`.
pub fn server_command(
    template: &str,
    threads: usize,
    addr: &str,
    taskset: Option<&str>,
) -> Result<Vec<String>, Failure> {
    let words =
        shell_words::split(template).map_err(|e| Failure::Usage(format!("--server-cmd: {e}")))?;
    if words.is_empty() {
        return Err(Failure::Usage("--server-cmd is empty".into()));
    }
    let mut argv: Vec<String> = match taskset {
        Some(cpus) => vec!["taskset".into(), "-c".into(), cpus.into()],
        None => Vec::new(),
    };
    argv.extend(words.iter().map(|w| {
        w.replace("{threads}", &threads.to_string())
            .replace("{addr}", addr)
    }));
    Ok(argv)
}

/// Picks the smallest thread count within 5% of the best throughput.
pub fn recommend(runs: &[SweepRun]) -> Option<Recommendation> {
    let best = runs
        .iter()
        .map(|r| r.report.messages_per_sec)
        .fold(0.0, f64::max);
    if best <= 0.0 {
        return None;
    }
    let pick = runs
        .iter()
        .filter(|r| r.report.messages_per_sec >= best * GOOD_SHARE)
        .min_by_key(|r| r.threads)?;
    let r = &pick.report;
    Some(Recommendation {
        threads: pick.threads,
        messages_per_sec: r.messages_per_sec,
        p99_us: r.latency_us.p99,
        text: format!(
            "recommendation: {} server threads ({:.0} msg/s, {:.0}% of the best {:.0}; p99 {})",
            pick.threads,
            r.messages_per_sec,
            100.0 * r.messages_per_sec / best,
            best,
            fmt_us(r.latency_us.p99)
        ),
    })
}

fn start_server(argv: &[String]) -> Result<Child, Failure> {
    Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Failure::Runtime(format!("cannot start {:?}: {e}", argv[0])))
}

/// Waits until `addr` accepts a connection; fails if the server exits or
/// `limit` passes.
fn wait_ready(addr: SocketAddr, child: &mut Child, limit: Duration) -> Result<(), Failure> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Failure::Runtime(format!("server exited early ({status})")));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Failure::Runtime(format!(
                "server did not accept on {addr} within {limit:?}"
            )));
        }
        // Bounded retry interval while the server starts.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM, then SIGKILL once `STOP_GRACE` has passed.
fn stop_server(mut child: Child) {
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is our
    // own child, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn print_table(runs: &[SweepRun]) {
    println!(
        "{:>8} {:>12} {:>9} {:>10} {:>10} {:>8}",
        "threads", "msgs/s", "MB/s", "p50", "p99", "errors"
    );
    for r in runs {
        let p = &r.report;
        println!(
            "{:>8} {:>12.0} {:>9.2} {:>10} {:>10} {:>8}",
            r.threads,
            p.messages_per_sec,
            p.mb_per_sec,
            fmt_us(p.latency_us.p50),
            fmt_us(p.latency_us.p99),
            p.errors.total
        );
    }
}

/// Runs `loadgen sweep`: returns whether every run passed.
pub fn run(args: &SweepArgs, stop: Arc<AtomicBool>) -> Result<bool, Failure> {
    let cfg = RunConfig::from_args(&args.load)?;
    if args.threads_list.contains(&0) {
        return Err(Failure::Usage(
            "--threads-list entries must be at least 1".into(),
        ));
    }
    let mut runs = Vec::new();
    for &threads in &args.threads_list {
        let argv = server_command(
            &args.server_cmd,
            threads,
            &args.load.addr,
            args.taskset.as_deref(),
        )?;
        let mut child = start_server(&argv)?;
        if let Err(e) = wait_ready(cfg.addr, &mut child, args.ready_timeout) {
            stop_server(child);
            return Err(e);
        }
        let result = run::execute(&cfg, Arc::clone(&stop), None);
        stop_server(child);
        let report = Report::from_run(&result?);
        println!(
            "server threads {threads}: {:.0} msg/s, p99 {}, errors {}",
            report.messages_per_sec,
            fmt_us(report.latency_us.p99),
            report.errors.total
        );
        runs.push(SweepRun { threads, report });
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
    }
    print_table(&runs);
    let recommendation = recommend(&runs);
    if let Some(r) = &recommendation {
        println!("{}", r.text);
    }
    if let Some(path) = &args.load.plot {
        let points: Vec<SweepPoint> = runs
            .iter()
            .map(|r| SweepPoint {
                threads: r.threads,
                msgs_per_sec: r.report.messages_per_sec,
                p99_us: r.report.latency_us.p99,
            })
            .collect();
        sweep_chart(
            path,
            "loadgen sweep: throughput and p99 by server threads",
            &points,
        )
        .map_err(|e| Failure::Runtime(format!("cannot draw {}: {e}", path.display())))?;
    }
    let ok = runs.iter().all(|r| r.report.ok());
    let result = SweepResult {
        runs,
        recommendation,
    };
    if let Some(path) = &args.load.json {
        write_json(path, &result)?;
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_is_split_and_substituted() {
        let argv = server_command(
            "esockets --threads {threads} --bind {addr} --name 'a b'",
            4,
            "127.0.0.1:9",
            Some("0-1"),
        )
        .unwrap();
        assert_eq!(
            argv,
            [
                "taskset",
                "-c",
                "0-1",
                "esockets",
                "--threads",
                "4",
                "--bind",
                "127.0.0.1:9",
                "--name",
                "a b"
            ]
        );
        assert!(server_command("", 1, "x", None).is_err());
        assert!(server_command("'unclosed", 1, "x", None).is_err());
    }
}
