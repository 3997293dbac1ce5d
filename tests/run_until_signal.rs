//! Issue 12: `Server::run_until_signal` drains on SIGTERM, and so does
//! `Server::run_until` with signals caught before the server started, even
//! when the signal comes as soon as the server says it listens. Each test
//! runs itself again as a child process (selected by an environment
//! variable), where the server runs; the parent is its client and signals
//! it.

mod child;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use child::{address_in, Child};
use esockets::{Admission, Config, Conn, Handler, Server, ShardContext, StopSignals, Verdict};

/// Set in the child's environment: run the server instead of the test.
const CHILD: &str = "ESOCKETS_RUN_UNTIL_SIGNAL_CHILD";

/// What the server sends every client as it connects: far more than the
/// kernel buffers hold, so most of it is still queued in the server when
/// the signal comes, and only a drain delivers it.
const GREETING: usize = 8 << 20;

/// Sends [`GREETING`] bytes to every client, ignores what they send.
struct Greeter;

impl Handler for Greeter {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        conn.send(&vec![b'g'; GREETING]);
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        Verdict::Consumed(data.len())
    }
}

/// How the child runs its server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// `Server::run_until_signal`: signals are caught from that call on.
    RunUntilSignal,
    /// `StopSignals::catch` before `Server::bind`, then `Server::run_until`.
    CaughtFirst,
}

/// The child: logs like the binary, serves until a signal, says so.
fn serve(entry: Entry) {
    let _log = esockets::logging::init();
    let signals = (entry == Entry::CaughtFirst).then(|| StopSignals::catch().expect("catch"));
    let config = Config {
        bind: "127.0.0.1:0".parse().expect("address"),
        threads: 1,
        close_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let server = Server::bind(config, |_shard| Greeter).expect("bind");
    println!("child listening on {}", server.local_addr());
    match signals {
        Some(signals) => server.run_until(signals).expect("run until"),
        None => server.run_until_signal().expect("run until signal"),
    }
    println!("child drained");
}

/// Runs test `name` again as the child serving with `entry`; connects,
/// signals SIGTERM (once the child catches it, unless `signal_at_once`),
/// and checks the drain delivered the whole greeting.
fn drains_on_sigterm(name: &str, entry: Entry, signal_at_once: bool) {
    if std::env::var_os(CHILD).is_some() {
        return serve(entry);
    }
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([name, "--exact", "--nocapture"])
        .env(CHILD, "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command);
    let mut stdout = child.stdout_lines();
    let mut stderr = child.stderr_lines();
    let addr = address_in(&stdout.wait_for("child listening on"));
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The first byte shows the greeting is queued; most of it still is.
    let mut first = [0u8; 1];
    stream.read_exact(&mut first).expect("first byte");
    if !signal_at_once {
        // The child prints its address just before `run_until_signal`
        // installs the handlers: signal only once it catches SIGTERM.
        child.wait_until_it_catches(libc::SIGTERM);
    }
    child.signal(libc::SIGTERM);
    stderr.wait_for("shutting down");
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .expect("the rest, then end of stream");
    assert_eq!(1 + rest.len(), GREETING, "bytes delivered by the drain");
    stdout.wait_for("child drained");
    let status = child.wait_within(Duration::from_secs(10), "exit after the drain");
    assert!(status.success(), "child exit: {status}");
}

#[test]
fn run_until_signal_drains_on_sigterm() {
    drains_on_sigterm(
        "run_until_signal_drains_on_sigterm",
        Entry::RunUntilSignal,
        false,
    );
}

#[test]
fn signals_caught_before_bind_drain_even_at_once() {
    drains_on_sigterm(
        "signals_caught_before_bind_drain_even_at_once",
        Entry::CaughtFirst,
        true,
    );
}
