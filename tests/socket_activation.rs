//! Systemd socket activation without systemd: the test makes the listening
//! socket, and starts `esockets` with it as descriptor 3, `LISTEN_FDS=1`
//! and `LISTEN_PID` set to the child's own pid (through `sh`, which sets
//! it and execs `esockets` in its place), as systemd does. The server
//! serves that socket (not `--bind`), and since the test keeps its copy
//! open, as systemd does, a client that connects while no server runs
//! waits in its queue and is served by the next one: a restart that
//! refuses nobody.

mod child;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use child::address_in;
use child::server::{client, Server};

/// `esockets` with `args`, started as systemd would activate it with
/// `listener` as its only socket.
fn activated(listener: &TcpListener, args: &[&str]) -> Server {
    let fd = listener.as_raw_fd();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"LISTEN_PID=$$ exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_esockets"))
        .args(args)
        .env("LISTEN_FDS", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: only dup2 and fcntl, both async-signal-safe, on descriptors
    // the child inherited.
    unsafe {
        command.pre_exec(move || {
            let rc = if fd == 3 {
                // dup2 onto itself would keep close-on-exec.
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if rc < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        });
    }
    Server::start(&mut command)
}

/// Sends `text` on `stream` and expects it back.
fn echo(stream: &mut TcpStream, text: &[u8]) {
    stream.write_all(text).expect("write");
    let mut back = vec![0; text.len()];
    stream.read_exact(&mut back).expect("echo");
    assert_eq!(back, text);
}

#[test]
fn the_passed_socket_is_served_and_keeps_clients_queued_between_servers() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    // An address this machine does not have: binding it would fail, so a
    // server that starts at all serves the passed socket.
    let args = ["--threads", "2", "--bind", "192.0.2.1:9"];
    let mut first = activated(&listener, &args);
    let line = first.wait_for_line("esockets listening");
    assert_eq!(address_in(&line), addr, "{line}");
    first.wait_for_line("passed by systemd");
    let mut stream = client(addr);
    echo(&mut stream, b"served by the first\n");
    drop(stream);

    first.signal(libc::SIGTERM);
    let (status, lines) = first.finish();
    assert!(status.success(), "{status}: {lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("stay there for the next server")),
        "{lines:#?}"
    );

    // No server runs: the kernel completes the handshake and queues it.
    let mut waiting = client(addr);
    waiting.write_all(b"queued meanwhile\n").expect("write");
    let mut second = activated(&listener, &args);
    second.wait_for_line("passed by systemd");
    let mut back = [0; 17];
    waiting.read_exact(&mut back).expect("served by the second");
    assert_eq!(&back, b"queued meanwhile\n");
    drop(waiting);
    let (status, total) = second.stop();
    assert!(status.success(), "{status}");
    assert_eq!(child::server::counter(&total, "accepted"), 1, "{total}");
}

#[test]
fn without_listen_pid_for_this_process_the_sockets_are_not_taken() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let passed = listener.local_addr().expect("addr");
    let mut command = child::esockets(&["--threads", "1", "--bind", "127.0.0.1:0"]);
    // A pid that is not the child's: these were meant for another process.
    command
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", std::process::id().to_string());
    let mut server = Server::start(&mut command);
    let own: SocketAddr = server.listening_addr();
    assert_ne!(own, passed);
    echo(&mut client(own), b"bound as usual\n");
    let (status, _) = server.stop();
    assert!(status.success(), "{status}");
}

#[test]
fn a_descriptor_that_is_not_a_listening_socket_is_a_clear_error() {
    // Descriptor 3 is whatever the child inherits there; with LISTEN_PID
    // right and nothing passed, it is not a listening socket.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"exec 3</dev/null; LISTEN_PID=$$ exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_esockets"))
        .args(["--threads", "1", "--bind", "127.0.0.1:0"])
        .env("LISTEN_FDS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let (status, lines) = Server::start(&mut command).finish();
    assert!(!status.success(), "{lines:#?}");
    let error = lines.join("\n");
    assert!(error.contains("LISTEN_FDS"), "{error}");
    assert!(error.contains("descriptor 3"), "{error}");
    assert!(error.contains("not a socket"), "{error}");
}

#[test]
fn every_protocol_serves_the_passed_socket() {
    // The WebSocket protocols once bound --bind and left the passed socket
    // to nobody; each protocol must answer on systemd's socket. (discard
    // answers nothing; it starts the way echo does.)
    const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    for (protocol, ask, answer) in [
        (&["--protocol", "echo"][..], &b"x"[..], &b"x"[..]),
        (&["--protocol", "line-echo"], b"x\n", b"x\n"),
        (&["--protocol", "pubsub"], b"PING\n", b"+PONG"),
        (&["--protocol", "ws-echo"], UPGRADE, b"HTTP/1.1 101"),
        (
            &["--protocol", "pubsub", "--websocket"],
            UPGRADE,
            b"HTTP/1.1 101",
        ),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut args = vec!["--threads", "1", "--bind", "192.0.2.1:9"];
        args.extend_from_slice(protocol);
        let mut server = activated(&listener, &args);
        let line = server.wait_for_line("esockets listening");
        assert_eq!(address_in(&line), addr, "{protocol:?}: {line}");
        let mut stream = client(addr);
        stream.write_all(ask).expect("write");
        let mut got = vec![0; answer.len()];
        stream.read_exact(&mut got).expect("the answer");
        assert_eq!(got, answer, "{protocol:?}");
        drop(stream);
        let (status, total) = server.stop();
        assert!(status.success(), "{protocol:?}: {status}");
        assert_eq!(
            child::server::counter(&total, "accepted"),
            1,
            "{protocol:?}: {total}"
        );
    }
}

#[test]
fn on_passed_sockets_the_default_balance_is_reuseport_and_says_why() {
    // Steering needs listeners in a known order in their group, which
    // passed sockets do not promise: the default falls back and says so;
    // asking for cpu is refused.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut server = activated(&listener, &["--threads", "1", "--bind", "192.0.2.1:9"]);
    let line = server.wait_for_line("balance: ");
    assert!(
        line.contains(
            "balance: reuseport (the default, not cpu: the listening sockets were passed in"
        ),
        "{line}"
    );
    echo(&mut client(addr), b"served\n");
    let (status, _) = server.stop();
    assert!(status.success(), "{status}");

    let args = [
        "--threads",
        "1",
        "--bind",
        "192.0.2.1:9",
        "--balance",
        "cpu",
    ];
    let (status, lines) = activated(&listener, &args).finish();
    assert!(!status.success(), "{lines:#?}");
    let error = lines.join("\n");
    assert!(error.contains("passed sockets"), "{error}");
}
