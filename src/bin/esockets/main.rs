//! The `esockets` server: built-in protocols on the sharded reactor.

mod bind;
mod cli;
mod flags;
mod networks;
mod report;
mod units;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use esockets::protocols::{Discard, Echo, LineEcho, PubSub};
use esockets::{Server, StopSignals};

use cli::{Cli, Protocol};

/// How long an error message waits for earlier log lines to be written.
const FLUSH_BEFORE_ERROR: Duration = Duration::from_millis(200);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log = esockets::logging::init();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            esockets::logging::flush(FLUSH_BEFORE_ERROR);
            // Ignored: with stderr gone there is nobody left to tell.
            let _ = writeln!(io::stderr(), "esockets: error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the server, waits for SIGINT/SIGTERM, drains and reports; an
/// error is a message for the user.
fn run(cli: &Cli) -> Result<(), String> {
    let config = cli.config()?;
    serve(cli, config).map_err(|err| match err {
        esockets::Error::Config(err) => flags::describe(&err),
        err => err.to_string(),
    })
}

/// [`run`] with a checked config.
fn serve(cli: &Cli, config: esockets::Config) -> Result<(), esockets::Error> {
    report::raise_file_limit();
    let overflows_at_start = esockets::listen_overflows();
    // Caught before the listeners exist, so a signal that arrives as soon as
    // clients can connect already means a graceful drain.
    let signals = StopSignals::catch()?;
    let server = match cli.protocol {
        Protocol::Echo => Server::bind(config.clone(), |_| Echo)?,
        Protocol::Discard => Server::bind(config.clone(), |_| Discard)?,
        Protocol::LineEcho => {
            let max_line = cli.max_line;
            Server::bind(config.clone(), move |_| LineEcho::new(max_line))?
        }
        Protocol::Pubsub => {
            let (max_line, max) = (cli.max_line, cli.max_subscriptions);
            Server::bind(config.clone(), move |_| {
                PubSub::new(max_line).with_max_subscriptions(max)
            })?
        }
    };
    report::started(&server, &config, cli);
    let handle = server.handle();
    signals.watch(handle.clone())?;
    let joined = server.join();
    report::summary(
        &handle.stats(),
        handle.backplane_stats(),
        overflows_at_start,
    );
    joined
}
