//! Program flow behind the thin `main`: parse arguments, dispatch, print,
//! map outcomes to exit codes.

use std::ffi::OsString;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::error::ErrorKind;
use clap::Parser;

use crate::engine::coordinator::IntervalLog;
use crate::engine::run;
use crate::front::cli::{Cli, Command, LoadArgs, PlotArgs};
use crate::front::config::RunConfig;
use crate::front::sweep;
use crate::reports::hdrlog::HdrLogWriter;
use crate::reports::json::write_json;
use crate::reports::report::Report;
use crate::reports::{merge, plot, table};
use crate::Failure;

/// Exit code of a run that worked but found errors.
pub const EXIT_FAILED_RUN: i32 = 1;

/// Runs the program with `args`; returns the exit code.
pub fn main_with(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    let argv: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            eprintln!("loadgen: {first}");
            return 2;
        }
    };
    let outcome = match cli.command {
        None => load(&cli.load, &argv),
        Some(Command::Merge(args)) => merge::run(&args),
        Some(Command::Sweep(args)) => sweep::run(&args, stop_flag(), &argv),
        Some(Command::Plot(args)) => plot_logs(&args),
    };
    match outcome {
        Ok(true) => 0,
        Ok(false) => EXIT_FAILED_RUN,
        Err(failure) => {
            eprintln!("loadgen: error: {}", failure.message());
            failure.exit_code()
        }
    }
}

/// A flag set by the first Ctrl-C (or SIGTERM); a second one kills.
pub fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Without handlers Ctrl-C still ends the program, just without a
        // report; nothing better to do if registration fails.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop));
        let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
    }
    stop
}

/// One load run: returns whether it passed.
fn load(args: &LoadArgs, argv: &[String]) -> Result<bool, Failure> {
    let mut cfg = RunConfig::from_args(args)?;
    cfg.command_line = argv.to_vec();
    let mut log = match &args.hdr_log {
        Some(path) => Some(
            HdrLogWriter::create(path, &cfg)
                .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let result = run::execute(
        &cfg,
        stop_flag(),
        log.as_mut().map(|l| l as &mut (dyn IntervalLog + 'static)),
    )?;
    let report = Report::from_run(&result);
    for stall in &report.stalls {
        eprintln!("loadgen: warning: {}", stall.text);
    }
    print!("{}", table::render(&report));
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "loadgen {} mode, {} B x {} connections",
            report.mode, cfg.size, report.connections.asked
        );
        let mut series = vec![("latency".to_string(), &result.corrected)];
        if cfg.rate.is_some() {
            series = vec![
                (
                    "corrected (from intended send)".to_string(),
                    &result.corrected,
                ),
                (
                    "uncorrected (from actual send)".to_string(),
                    &result.uncorrected,
                ),
            ];
        }
        plot::latency_chart(path, &title, &series, &report.timeline)
            .map_err(|e| Failure::Runtime(format!("cannot draw {}: {e}", path.display())))?;
    }
    Ok(report.ok())
}

/// `loadgen plot`: the spectra of several interval logs on one chart.
fn plot_logs(args: &PlotArgs) -> Result<bool, Failure> {
    let mut merged = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let log = crate::reports::hdrlog::read_log(path).map_err(Failure::Usage)?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let kind = match merge::open_loop(&log) {
            Some(true) => " (open loop, corrected)",
            _ => "",
        };
        merged.push((format!("{name}{kind}"), merge::merge_logs(&[log]).latency));
    }
    let series: Vec<(String, &hdrhistogram::Histogram<u64>)> =
        merged.iter().map(|(n, h)| (n.clone(), h)).collect();
    let title = args.title.clone().unwrap_or_else(|| {
        let names: Vec<&str> = merged.iter().map(|(n, _)| n.as_str()).collect();
        format!("latency by percentile: {}", names.join(" vs "))
    });
    plot::latency_chart(&args.out, &title, &series, &[])
        .map_err(|e| Failure::Runtime(format!("cannot draw {}: {e}", args.out.display())))?;
    println!("wrote {}", args.out.display());
    Ok(true)
}
