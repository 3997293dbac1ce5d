//! The `esockets` server: built-in protocols on the sharded reactor.

mod cli;
mod report;

use std::process::ExitCode;

use clap::Parser;
use esockets::protocols::{Discard, Echo, LineEcho};
use esockets::Server;

use cli::{Cli, Protocol};

fn main() -> ExitCode {
    let cli = Cli::parse();
    report::init_logging();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("esockets: error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the server, waits for SIGINT/SIGTERM, drains and reports.
fn run(cli: &Cli) -> Result<(), esockets::Error> {
    let config = cli.config();
    report::raise_file_limit();
    let overflows_at_start = esockets::listen_overflows();
    // Caught before the listeners exist, so a signal that arrives as soon as
    // clients can connect already means a graceful drain.
    let signals = report::catch_signals();
    let server = match cli.protocol {
        Protocol::Echo => Server::bind(config.clone(), |_| Echo)?,
        Protocol::Discard => Server::bind(config.clone(), |_| Discard)?,
        Protocol::LineEcho => {
            let max_line = cli.max_line;
            Server::bind(config.clone(), move |_| LineEcho::new(max_line))?
        }
    };
    report::started(&server, &config, cli.protocol);
    let handle = server.handle();
    match signals {
        Ok(signals) => report::on_signals(signals, move || handle.shutdown()),
        Err(err) => {
            tracing::warn!(%err, "cannot catch SIGINT/SIGTERM; stop the server with SIGKILL")
        }
    }
    let stats = server.handle();
    let joined = server.join();
    report::summary(&stats.stats(), overflows_at_start);
    joined
}
