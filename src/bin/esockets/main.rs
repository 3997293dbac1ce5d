//! The `esockets` server: built-in protocols on the sharded reactor.

mod applies;
mod bind;
mod cli;
mod flags;
mod networks;
mod report;
mod rules;
mod units;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgMatches, CommandFactory, FromArgMatches};
use esockets::protocols::pubsub::PubSubWs;
use esockets::protocols::{Discard, Echo, LineEcho, PubSub, WsEcho};
use esockets::websocket::WebSocket;
use esockets::{Server, StopSignals};

use cli::{Cli, Protocol};

/// How long an error message waits for earlier log lines to be written.
const FLUSH_BEFORE_ERROR: Duration = Duration::from_millis(200);

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    // Before any thread starts: it changes the environment.
    let passed = esockets::systemd_listeners();
    let _log = esockets::logging::init_with(cli.log_format.into());
    match run(&cli, &matches, passed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            esockets::logging::flush(FLUSH_BEFORE_ERROR);
            say_error(format!("esockets: error: {err}\n"));
            ExitCode::FAILURE
        }
    }
}

/// Writes the final error on stderr, waiting at most [`FLUSH_BEFORE_ERROR`]
/// for it: a full pipe nobody reads must not keep the process from exiting
/// (the writing thread ends with the process).
fn say_error(line: String) {
    let (written, done) = std::sync::mpsc::channel();
    let text = line.clone();
    let writer = std::thread::Builder::new().spawn(move || {
        // Ignored: with stderr gone there is nobody left to tell.
        let _ = io::stderr().write_all(text.as_bytes());
        let _ = written.send(());
    });
    match writer {
        Ok(_) => {
            let _ = done.recv_timeout(FLUSH_BEFORE_ERROR);
        }
        // No thread to spare: write it from here, come what may.
        Err(_) => {
            let _ = io::stderr().write_all(line.as_bytes());
        }
    }
}

/// Starts the server (on the sockets systemd `passed`, if any), waits for
/// SIGINT/SIGTERM, closes gracefully and reports; an error is a message for the user.
/// `matches` say which options were typed (an option that does nothing for
/// the protocol chosen is refused).
fn run(
    cli: &Cli,
    matches: &ArgMatches,
    passed: Result<Vec<std::net::TcpListener>, esockets::Error>,
) -> Result<(), String> {
    applies::check(cli, matches)?;
    let config = cli.config()?;
    let passed = passed.map_err(|err| err.to_string())?;
    // The keys are reloadable (`Keys::reload`), for SIGHUP to re-read.
    let (rules, _keys) = rules::rules(cli)?;
    serve(cli, config, rules, passed).map_err(|err| match err {
        esockets::Error::Config(err) => flags::describe(&err),
        err @ esockets::Error::AddrInUse { .. } => format!(
            "{err}; to replace an esockets running there without dropping a client, start \
             this one with --reuseport-join (see docs/operations.md)"
        ),
        esockets::Error::Metrics { addr, source } => {
            format!("--metrics {addr}: cannot listen there: {source}")
        }
        err => err.to_string(),
    })
}

/// A server on the sockets systemd passed, if any, else bound to
/// `config.bind`.
fn start<F, H>(
    config: &esockets::Config,
    passed: Vec<std::net::TcpListener>,
    factory: F,
) -> Result<Server, esockets::Error>
where
    F: Fn(esockets::ShardInfo) -> H + Send + Sync + 'static,
    H: esockets::Handler + 'static,
{
    if passed.is_empty() {
        Server::bind(config.clone(), factory)
    } else {
        Server::from_listeners(config.clone(), passed, factory)
    }
}

/// [`run`] with a checked config (and, for pubsub, its rules).
fn serve(
    cli: &Cli,
    config: esockets::Config,
    rules: esockets::protocols::pubsub::Rules,
    passed: Vec<std::net::TcpListener>,
) -> Result<(), esockets::Error> {
    report::raise_file_limit();
    let overflows_at_start = esockets::listen_overflows();
    // Caught before the listeners exist, so a signal that arrives as soon as
    // clients can connect already means a graceful shutdown.
    let signals = StopSignals::catch()?;
    let passed_count = passed.len();
    let server = match cli.protocol {
        Protocol::Echo => start(&config, passed, |_| Echo)?,
        Protocol::Discard => start(&config, passed, |_| Discard)?,
        Protocol::LineEcho => {
            let max_line = cli.max_line;
            start(&config, passed, move |_| LineEcho::new(max_line))?
        }
        Protocol::WsEcho => {
            let ws = ws_config(cli)?;
            start(&config, passed, move |_| WebSocket::new(ws.clone(), WsEcho))?
        }
        Protocol::Pubsub if cli.websocket => {
            let ws = ws_config(cli)?;
            report::access(&rules);
            start(&config, passed, move |_| {
                WebSocket::new(ws.clone(), PubSubWs::new().with_rules(rules.clone()))
            })?
        }
        Protocol::Pubsub => {
            let max_line = cli.max_line;
            report::access(&rules);
            start(&config, passed, move |_| {
                PubSub::new(max_line).with_rules(rules.clone())
            })?
        }
    };
    report::started(&server, &config, cli, passed_count);
    report::restart(&config, passed_count);
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

/// The WebSocket settings (already checked by `Cli::config`).
fn ws_config(cli: &Cli) -> Result<esockets::websocket::WsConfig, esockets::Error> {
    cli.ws_config().map_err(|reason| {
        esockets::ConfigError {
            field: "websocket",
            reason,
        }
        .into()
    })
}
