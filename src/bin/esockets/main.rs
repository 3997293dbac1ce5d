//! The `esockets` server: built-in protocols on the sharded reactor.

mod applies;
mod bind;
mod cli;
mod file;
mod flags;
mod keys;
mod networks;
mod options;
mod reload;
mod report;
mod report_tls;
mod rules;
mod settings;
mod tls;
mod units;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use esockets::protocols::pubsub::PubSubWs;
use esockets::protocols::{Discard, Echo, LineEcho, PubSub, WsEcho};
use esockets::websocket::WebSocket;
use esockets::{ReloadSignals, Server, StopSignals};

use cli::{Cli, Protocol};
use options::{Options, Refusal, Sources};
use reload::{Reloader, Running};

/// How long an error message waits for earlier log lines to be written.
const FLUSH_BEFORE_ERROR: Duration = Duration::from_millis(200);

/// The exit status of options refused (as clap's for a bad flag).
const BAD_OPTIONS: u8 = 2;

fn main() -> ExitCode {
    let sources = Sources::new(std::env::args_os().collect()).unwrap_or_else(|err| err.exit());
    let options = match sources.read() {
        Ok(options) => options,
        Err(Refusal::Clap(err)) => err.exit(),
        Err(refusal @ Refusal::Source(_)) => {
            say_error(format!("esockets: error: {refusal}\n"));
            return ExitCode::from(BAD_OPTIONS);
        }
    };
    // Before any thread starts: it changes the environment.
    let passed = esockets::systemd_listeners();
    let _log = esockets::logging::init_with(options.cli.log_format.into());
    match run(sources, options, passed) {
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

/// Starts the server (on the sockets systemd `passed`, if any), reloads
/// on SIGHUP, waits for SIGINT/SIGTERM, closes gracefully and reports; an
/// error is a message for the user. An option given that does nothing for
/// the protocol chosen is refused.
fn run(
    sources: Sources,
    options: Options,
    passed: Result<Vec<std::net::TcpListener>, esockets::Error>,
) -> Result<(), String> {
    applies::check(&options.cli, &options.settings)?;
    let config = options.cli.config()?;
    let passed = passed.map_err(|err| err.to_string())?;
    // The keys are reloadable (`Keys::reload`), for SIGHUP to re-read.
    let (rules, keys) = rules::rules(&options.cli)?;
    serve(sources, options, config, rules, keys, passed).map_err(|err| match err {
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
    sources: Sources,
    options: Options,
    config: esockets::Config,
    rules: esockets::protocols::pubsub::Rules,
    keys: Option<std::sync::Arc<esockets::protocols::pubsub::auth::Keys>>,
    passed: Vec<std::net::TcpListener>,
) -> Result<(), esockets::Error> {
    let cli = &options.cli;
    report::raise_file_limit();
    let overflows_at_start = esockets::listen_overflows();
    // Caught before the listeners exist, so a signal that arrives as soon as
    // clients can connect already means a graceful shutdown (or a reload).
    let signals = StopSignals::catch()?;
    let reloads = ReloadSignals::catch()?;
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
    report::settings(&options.settings);
    let handle = server.handle();
    let running = Running { config, keys };
    let mut reloader = Reloader::new(sources, options.settings, running);
    reloads.watch(move || reloader.reload())?;
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
