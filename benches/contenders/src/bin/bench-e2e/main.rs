//! `bench-e2e`: the end-to-end benchmark of esockets against its contenders.
//!
//! For every selected workload it starts each contender server fresh (pinned
//! with `taskset`), drives it with `loadgen`, stops it, and repeats, the
//! contenders alternating run by run (A B C A B C ...) so slow drifts of the
//! machine hit all of them alike. It prints a markdown table of medians per
//! workload and writes every raw result to a JSON file.

mod child;
mod cli;
mod contender;
mod env;
mod loadgen;
mod measure;
mod net;
mod procfs;
mod report;
mod server;
mod tools;
mod wait;
mod workload;

use std::process::ExitCode;

use clap::Parser;

use cli::Cli;
use contender::Contender;
use env::Env;
use report::Record;
use workload::Workload;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("bench-e2e: some runs failed; see the tables and the JSON output");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bench-e2e: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every workload; returns whether every run succeeded.
fn run(cli: Cli) -> Result<bool, String> {
    let contenders = Contender::parse_list(&cli.contenders)?;
    let workloads = Workload::parse_list(&cli.workloads)?;
    tools::check(&workloads)?;
    let env = Env::from_cli(cli)?;
    eprintln!("bench-e2e: logs and reports in {}", env.work_dir.display());
    let mut records = Vec::new();
    for workload in &workloads {
        let taking: Vec<Contender> = contenders
            .iter()
            .copied()
            .filter(|c| workload.applies_to(c))
            .collect();
        let runs = workload.runs(env.cli.runs);
        for run in 0..runs {
            for contender in &taking {
                eprintln!(
                    "bench-e2e: {} / {} / run {} of {runs}",
                    workload.name,
                    contender.name,
                    run + 1
                );
                let outcome = measure::run(&env, workload, contender, run);
                let record = Record::new(workload, contender, run, outcome);
                if let Some(error) = &record.error {
                    eprintln!("bench-e2e:   problem: {error}");
                }
                records.push(record);
            }
        }
        println!("{}", report::table(workload, &taking, &records));
        // Written after every workload, so an interrupted session keeps its results.
        report::write_json(&env.cli.out, &env, &records)?;
    }
    Ok(records.iter().all(|r| r.error.is_none()))
}
