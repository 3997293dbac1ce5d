//! `loadgen sweep`: for each server thread count, start the server command,
//! wait until it accepts (and check it is the process answering), run the
//! same load in-process, stop the server (SIGTERM, then SIGKILL after a
//! deadline), and compare: a table, JSON, a chart and a one-line
//! recommendation. With `--balance-list` each thread count runs under
//! each of the server's balance modes too. With `--repeat N` every point
//! is measured N times, the settings alternating (1 2 4 1 2 4 ...), and
//! the median is reported with its range.

mod owner;
mod recommend;
mod server;
mod table;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

pub use crate::reports::spread::Spread;
pub use owner::{check_owner, Ownership};
pub use recommend::{recommend, BalanceRatio, Recommendation};
pub use server::{refuse_busy_port, Server};

use crate::engine::run;
use crate::front::cli::SweepArgs;
use crate::front::config::RunConfig;
use crate::reports::json::write_json;
use crate::reports::plot::{sweep_chart, SweepPoint};
use crate::reports::report::Report;
use crate::units::{fmt_rate, fmt_us};
use crate::Failure;

/// One swept setting's results: a thread count (and balance mode).
#[derive(Debug, Serialize)]
pub struct SweepRun {
    /// Server threads.
    pub threads: usize,
    /// The server's balance mode (`--balance-list`); `null` when not
    /// swept.
    pub balance: Option<String>,
    /// Messages per second: median and range over the repeats.
    pub messages_per_sec: Spread,
    /// p99 latency (µs): median and range over the repeats that measured
    /// one; `None` (null in JSON) when none did.
    pub p99_us: Option<Spread>,
    /// Errors summed over the repeats.
    pub errors: u64,
    /// Each repeat's report, in the order run.
    pub reports: Vec<Report>,
}

/// Everything `--json` gets.
#[derive(Debug, Serialize)]
pub struct SweepResult {
    /// loadgen's version.
    pub loadgen_version: &'static str,
    /// The command line of the sweep.
    pub command_line: Vec<String>,
    /// Runs per thread count.
    pub repeat: usize,
    /// One entry per setting: thread counts in order, each with its
    /// balance modes in order.
    pub runs: Vec<SweepRun>,
    /// The recommendation, if any run produced traffic.
    pub recommendation: Option<Recommendation>,
}

/// The server command line for `threads` (and `balance`): split like a
/// shell (no shell runs), `{threads}`, `{addr}` and `{balance}`
/// substituted in every word, optionally prefixed with `taskset -c
/// CPULIST`.
pub fn server_command(
    template: &str,
    threads: usize,
    balance: Option<&str>,
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
            .replace("{balance}", balance.unwrap_or(""))
    }));
    Ok(argv)
}

/// The settings a sweep measures, in the order run each round: every
/// thread count, each under every balance mode when modes are swept.
fn settings(args: &SweepArgs) -> Result<Vec<(usize, Option<String>)>, Failure> {
    if args.threads_list.contains(&0) {
        return Err(Failure::Usage(
            "--threads-list entries must be at least 1".into(),
        ));
    }
    let placeholder = args.server_cmd.contains("{balance}");
    if placeholder == args.balance_list.is_empty() {
        return Err(Failure::Usage(if placeholder {
            "--server-cmd has {balance}: give the modes with --balance-list (e.g. reuseport,cpu)"
                .into()
        } else {
            "--balance-list needs {balance} in --server-cmd (e.g. --balance {balance})".into()
        }));
    }
    if let Some(empty) = args.balance_list.iter().find(|b| b.trim().is_empty()) {
        return Err(Failure::Usage(format!(
            "--balance-list has an empty entry ('{empty}')"
        )));
    }
    let balances: Vec<Option<String>> = if args.balance_list.is_empty() {
        vec![None]
    } else {
        args.balance_list.iter().cloned().map(Some).collect()
    };
    Ok(args
        .threads_list
        .iter()
        .flat_map(|&t| balances.iter().map(move |b| (t, b.clone())))
        .collect())
}

fn summarise(threads: usize, balance: Option<String>, reports: Vec<Report>) -> SweepRun {
    let rates: Vec<f64> = reports.iter().map(|r| r.messages_per_sec).collect();
    let p99s: Vec<f64> = reports
        .iter()
        .filter_map(|r| r.latency_us.as_ref().map(|l| l.p99))
        .collect();
    let zero = Spread {
        median: 0.0,
        min: 0.0,
        max: 0.0,
    };
    SweepRun {
        threads,
        balance,
        // Every repeat has a throughput (zero when nothing came back).
        messages_per_sec: Spread::of(&rates).unwrap_or(zero),
        p99_us: Spread::of(&p99s),
        errors: reports.iter().map(|r| r.errors.total).sum(),
        reports,
    }
}

/// Starts the server for `threads` (and `balance`), runs the load once,
/// stops it.
fn one_point(
    args: &SweepArgs,
    cfg: &RunConfig,
    (threads, balance): (usize, Option<&str>),
    stop: &Arc<AtomicBool>,
) -> Result<Report, Failure> {
    let addr = cfg.targets[0];
    let argv = server_command(
        &args.server_cmd,
        threads,
        balance,
        &addr.to_string(),
        args.taskset.as_deref(),
    )?;
    refuse_busy_port(addr)?;
    let mut server = Server::start(&argv)?;
    if let Err(e) = server.wait_ready(addr, args.ready_timeout) {
        server.stop();
        return Err(e);
    }
    let result = run::execute(cfg, Arc::clone(stop), None);
    server.stop();
    Ok(Report::from_run(&result?))
}

/// Runs `loadgen sweep`: returns whether every run passed.
pub fn run(args: &SweepArgs, stop: Arc<AtomicBool>, argv: &[String]) -> Result<bool, Failure> {
    let mut cfg = RunConfig::from_args(&args.load)?;
    cfg.command_line = argv.to_vec();
    let settings = settings(args)?;
    if args.repeat == 0 {
        return Err(Failure::Usage("--repeat must be at least 1".into()));
    }
    if cfg.targets.len() != 1 {
        return Err(Failure::Usage(
            "sweep starts one server: give exactly one --addr".into(),
        ));
    }
    let mut per_setting: Vec<Vec<Report>> = vec![Vec::new(); settings.len()];
    'repeats: for round in 0..args.repeat {
        for (slot, (threads, balance)) in settings.iter().enumerate() {
            let report = one_point(args, &cfg, (*threads, balance.as_deref()), &stop)?;
            let mode = balance
                .as_ref()
                .map_or_else(String::new, |b| format!(", --balance {b}"));
            println!(
                "server threads {threads}{mode} (run {}/{}): {} msg/s, p99 {}, errors {}",
                round + 1,
                args.repeat,
                fmt_rate(report.messages_per_sec),
                report
                    .latency_us
                    .as_ref()
                    .map_or("n/a".into(), |l| fmt_us(l.p99)),
                report.errors.total
            );
            per_setting[slot].push(report);
            if stop.load(Ordering::Relaxed) {
                break 'repeats;
            }
        }
    }
    let runs: Vec<SweepRun> = settings
        .into_iter()
        .zip(per_setting)
        .filter(|(_, reports)| !reports.is_empty())
        .map(|((threads, balance), reports)| summarise(threads, balance, reports))
        .collect();
    print!("{}", table::table(&runs, args.repeat));
    let recommendation = recommend(&runs);
    if let Some(r) = &recommendation {
        println!("{}", r.text);
    }
    if let Some(path) = &args.load.plot {
        let points: Vec<SweepPoint> = runs
            .iter()
            .map(|r| SweepPoint {
                threads: r.threads,
                series: r.balance.clone(),
                msgs_per_sec: r.messages_per_sec,
                p99_us: r.p99_us.as_ref().map(|p| p.median),
            })
            .collect();
        let title = if args.repeat > 1 {
            format!(
                "loadgen sweep: throughput (median, range of {}) and p99 by server threads",
                args.repeat
            )
        } else {
            "loadgen sweep: throughput and p99 by server threads".to_string()
        };
        sweep_chart(path, &title, &points)
            .map_err(|e| Failure::Runtime(format!("cannot draw {}: {e}", path.display())))?;
    }
    let ok = runs.iter().all(|r| r.reports.iter().all(Report::ok));
    let result = SweepResult {
        loadgen_version: env!("CARGO_PKG_VERSION"),
        command_line: cfg.command_line.clone(),
        repeat: args.repeat,
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
            "esockets --threads {threads} --bind {addr} --balance {balance} --name 'a b'",
            4,
            Some("cpu"),
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
                "--balance",
                "cpu",
                "--name",
                "a b"
            ]
        );
        assert!(server_command("", 1, None, "x", None).is_err());
        assert!(server_command("'unclosed", 1, None, "x", None).is_err());
    }
}
