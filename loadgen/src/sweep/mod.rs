//! `loadgen sweep`: for each server thread count, start the server command,
//! wait until it accepts (and check it is the process answering), run the
//! same load in-process, stop the server (SIGTERM, then SIGKILL after a
//! deadline), and compare: a table, JSON, a chart and a one-line
//! recommendation. With `--repeat N` every point is measured N times, the
//! thread counts alternating (1 2 4 1 2 4 ...), and the median is reported
//! with its range.

mod owner;
mod server;
mod stats;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

pub use owner::{check_owner, Ownership};
pub use server::{refuse_busy_port, Server};
pub use stats::Spread;

use crate::app::write_json;
use crate::cli::SweepArgs;
use crate::config::RunConfig;
use crate::plot::{sweep_chart, SweepPoint};
use crate::report::Report;
use crate::table::{fmt_rate, fmt_us};
use crate::{run, Failure};

/// Throughput within this share of the best counts as "as good".
const GOOD_SHARE: f64 = 0.95;

/// One thread count's results.
#[derive(Debug, Serialize)]
pub struct SweepRun {
    /// Server threads.
    pub threads: usize,
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

/// The pick.
#[derive(Debug, Serialize)]
pub struct Recommendation {
    /// Smallest thread count whose median is within 5% of the best median.
    pub threads: usize,
    /// Its median messages per second.
    pub messages_per_sec: f64,
    /// Its median p99 (µs), if measured.
    pub p99_us: Option<f64>,
    /// The sentence printed.
    pub text: String,
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

/// Picks the smallest thread count within 5% of the best median throughput.
pub fn recommend(runs: &[SweepRun]) -> Option<Recommendation> {
    let best = runs
        .iter()
        .map(|r| r.messages_per_sec.median)
        .fold(0.0, f64::max);
    if best <= 0.0 {
        return None;
    }
    let pick = runs
        .iter()
        .filter(|r| r.messages_per_sec.median >= best * GOOD_SHARE)
        .min_by_key(|r| r.threads)?;
    let (rate, p99) = (
        pick.messages_per_sec.median,
        pick.p99_us.as_ref().map(|p| p.median),
    );
    Some(Recommendation {
        threads: pick.threads,
        messages_per_sec: rate,
        p99_us: p99,
        text: format!(
            "recommendation: {} server threads ({} msg/s, {:.0}% of the best {}; p99 {})",
            pick.threads,
            fmt_rate(rate),
            100.0 * rate / best,
            fmt_rate(best),
            p99.map_or_else(|| "n/a".to_owned(), fmt_us)
        ),
    })
}

fn summarise(threads: usize, reports: Vec<Report>) -> SweepRun {
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
        // Every repeat has a throughput (zero when nothing came back).
        messages_per_sec: Spread::of(&rates).unwrap_or(zero),
        p99_us: Spread::of(&p99s),
        errors: reports.iter().map(|r| r.errors.total).sum(),
        reports,
    }
}

/// The comparison table of `runs`, `repeat` runs each: the range columns
/// only with repeats (one run has no range).
fn table(runs: &[SweepRun], repeat: usize) -> String {
    use std::fmt::Write;
    let ranges = repeat > 1;
    let mut out = String::new();
    let mut line = |cells: [&str; 6]| {
        let [threads, rate, range, p99, p99_range, errors] = cells;
        let mut text = format!("{threads:>8} {rate:>10}");
        if ranges {
            let _ = write!(text, " {range:>20}");
        }
        let _ = write!(text, " {p99:>10}");
        if ranges {
            let _ = write!(text, " {p99_range:>10}");
        }
        let _ = writeln!(out, "{text} {errors:>8}");
    };
    line(["threads", "msgs/s", "range", "p99", "p99 range", "errors"]);
    for r in runs {
        let (m, p) = (&r.messages_per_sec, &r.p99_us);
        let range = format!(
            "{}-{} ({:.0}%)",
            fmt_rate(m.min),
            fmt_rate(m.max),
            m.range_percent()
        );
        let p_range = p
            .as_ref()
            .map_or_else(String::new, |p| format!("{:.0}%", p.range_percent()));
        let p99 = p
            .as_ref()
            .map_or_else(|| "n/a".to_owned(), |p| fmt_us(p.median));
        line([
            &r.threads.to_string(),
            &fmt_rate(m.median),
            &range,
            &p99,
            &p_range,
            &r.errors.to_string(),
        ]);
    }
    if ranges {
        let _ = writeln!(
            out,
            "(medians of {repeat} runs per thread count, run in alternation)"
        );
    }
    out
}

/// Starts the server for `threads`, runs the load once, stops it.
fn one_point(
    args: &SweepArgs,
    cfg: &RunConfig,
    threads: usize,
    stop: &Arc<AtomicBool>,
) -> Result<Report, Failure> {
    let addr = cfg.targets[0];
    let argv = server_command(
        &args.server_cmd,
        threads,
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
    if args.threads_list.contains(&0) {
        return Err(Failure::Usage(
            "--threads-list entries must be at least 1".into(),
        ));
    }
    if args.repeat == 0 {
        return Err(Failure::Usage("--repeat must be at least 1".into()));
    }
    if cfg.targets.len() != 1 {
        return Err(Failure::Usage(
            "sweep starts one server: give exactly one --addr".into(),
        ));
    }
    let mut per_threads: Vec<Vec<Report>> = vec![Vec::new(); args.threads_list.len()];
    'repeats: for round in 0..args.repeat {
        for (slot, &threads) in args.threads_list.iter().enumerate() {
            let report = one_point(args, &cfg, threads, &stop)?;
            println!(
                "server threads {threads} (run {}/{}): {} msg/s, p99 {}, errors {}",
                round + 1,
                args.repeat,
                fmt_rate(report.messages_per_sec),
                report
                    .latency_us
                    .as_ref()
                    .map_or("n/a".into(), |l| fmt_us(l.p99)),
                report.errors.total
            );
            per_threads[slot].push(report);
            if stop.load(Ordering::Relaxed) {
                break 'repeats;
            }
        }
    }
    let runs: Vec<SweepRun> = args
        .threads_list
        .iter()
        .zip(per_threads)
        .filter(|(_, reports)| !reports.is_empty())
        .map(|(&threads, reports)| summarise(threads, reports))
        .collect();
    print!("{}", table(&runs, args.repeat));
    let recommendation = recommend(&runs);
    if let Some(r) = &recommendation {
        println!("{}", r.text);
    }
    if let Some(path) = &args.load.plot {
        let points: Vec<SweepPoint> = runs
            .iter()
            .map(|r| SweepPoint {
                threads: r.threads,
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

    fn point(threads: usize, rates: &[f64], p99s: &[f64]) -> SweepRun {
        SweepRun {
            threads,
            messages_per_sec: Spread::of(rates).unwrap(),
            p99_us: Spread::of(p99s),
            errors: 0,
            reports: Vec::new(),
        }
    }

    #[test]
    fn the_table_shows_ranges_only_when_there_are_repeats() {
        let once = table(&[point(1, &[1000.0], &[50.0])], 1);
        let header = once.lines().next().unwrap();
        assert!(!header.contains("range"), "{once}");
        assert_eq!(
            header.split_whitespace().collect::<Vec<_>>(),
            ["threads", "msgs/s", "p99", "errors"],
            "{once}"
        );
        assert!(!once.contains("medians"), "{once}");
        let row = once.lines().nth(1).unwrap();
        assert_eq!(row.len(), header.len(), "{once}");
        assert!(!row.contains(&" ".repeat(12)), "no empty columns: {once}");
        let twice = table(&[point(1, &[900.0, 1100.0], &[40.0, 60.0])], 2);
        let header = twice.lines().next().unwrap();
        assert!(
            header.contains(" range") && header.contains("p99 range"),
            "{twice}"
        );
        assert!(
            twice.contains("(20%)") && twice.contains("medians of 2 runs"),
            "{twice}"
        );
    }

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
