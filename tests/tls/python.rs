//! Python's `ssl` module (OpenSSL) and Python's `websockets` over wss
//! against the binary.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use crate::certs::Pki;
use crate::child::{Child, DEADLINE};
use crate::tls_server;

/// Runs `python3 script addr args` (with `env` set), which must exit 0
/// within the deadline; returns its stdout lines.
fn run(script: &str, addr: SocketAddr, args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let mut command = Command::new("python3");
    command
        .arg(script)
        .arg(addr.to_string())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command);
    let mut out = child.stdout_lines();
    let mut err = child.stderr_lines();
    let status = child.wait_within(DEADLINE * 2, script);
    let (out, err) = (out.rest(), err.rest());
    assert!(
        status.success(),
        "{script} {args:?}: {status}\n{out:#?}\n{err:#?}"
    );
    out
}

/// Asserts each of `checks` was printed as "PASS <check>".
fn assert_passed(out: &[String], checks: &[&str]) {
    for check in checks {
        assert!(
            out.iter().any(|line| line == &format!("PASS {check}")),
            "no PASS {check}: {out:#?}"
        );
    }
}

/// Fails clearly unless Python's `websockets` package is installed.
fn require_python_websockets() {
    let status = Command::new("python3")
        .args(["-c", "import websockets"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "Python's websockets package is not installed: run scripts/components.sh (as root), \
         or the README's test command, which runs it"
    );
}

/// tests/tls/client.py.
const SSL_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls/client.py");

/// tests/websocket/client.py (wss with `WS_CA_FILE`).
const WS_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/websocket/client.py");

#[test]
fn python_ssl_echoes_kilobytes_and_a_mebibyte_byte_exact() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr) = tls_server(&pair, &["--protocol", "echo"]);
    let out = run(
        SSL_CLIENT,
        addr,
        &[pki.ca(), "echo", "1", "4096", "65537", "1048576"],
        &[],
    );
    assert_passed(
        &out,
        &[
            "1 bytes echoed",
            "4096 bytes echoed",
            "65537 bytes echoed",
            "1048576 bytes echoed",
        ],
    );
    drop(server);
}

#[test]
fn python_ssl_pubsub_between_two_tls_clients() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr) = tls_server(&pair, &["--protocol", "pubsub"]);
    let out = run(SSL_CLIENT, addr, &[pki.ca(), "pubsub"], &[]);
    assert_passed(&out, &["delivery over TLS"]);
    drop(server);
}

#[test]
fn python_websockets_over_wss_against_ws_echo() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr) = tls_server(&pair, &["--protocol", "ws-echo"]);
    require_python_websockets();
    let out = run(
        WS_CLIENT,
        addr,
        &["exchange", "0"],
        &[("WS_CA_FILE", pki.ca())],
    );
    assert_passed(
        &out,
        &[
            "text",
            "fragmented text",
            "1 MiB binary",
            "1 MiB text",
            "client-initiated close handshake",
        ],
    );
    drop(server);
}

#[test]
fn python_websockets_over_wss_against_pubsub() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr) = tls_server(&pair, &["--protocol", "pubsub", "--websocket"]);
    require_python_websockets();
    let out = run(WS_CLIENT, addr, &["pubsub"], &[("WS_CA_FILE", pki.ca())]);
    assert_passed(
        &out,
        &[
            "delivery as a text message",
            "replies and errors as text messages",
        ],
    );
    drop(server);
}
