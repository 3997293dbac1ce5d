//! Issue 12: the `esockets` binary stops gracefully on SIGTERM whatever
//! happened to its stderr (closed, its reader gone, a full pipe nobody
//! reads), a second signal during the drain ends it at once, and an error
//! reported at exit never waits on a full stderr.

mod child;

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use child::{address_in, esockets, fill_pipe, pipe, read_pipe_until, Child};
use socket2::{Domain, Socket, Type};

/// The close timeout given to the servers here. They are idle, so they
/// drain at once, and each must exit within this after SIGTERM (the log
/// flush at exit waits at most a second of it).
const DRAIN: &str = "5s";

/// [`DRAIN`] as a limit on the wait for the exit.
const EXIT_LIMIT: Duration = Duration::from_secs(5);

/// An idle server started with `stderr` and these extra settings.
fn server(stderr: Stdio) -> std::process::Command {
    let mut command = esockets(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--close-timeout",
        DRAIN,
    ]);
    command.stderr(stderr);
    command
}

/// Rust's runtime reopens a closed stderr on /dev/null before `main`, so
/// this one passed before the fix too; it guards against logging that
/// writes to descriptor 2 by itself.
#[test]
fn sigterm_stops_the_server_when_stderr_is_closed() {
    let mut command = server(Stdio::null());
    // SAFETY: close is async-signal-safe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            libc::close(2);
            Ok(())
        });
    }
    // No log to wait for: wait until SIGTERM is caught (the binary catches
    // it before it binds, and holds it until it can drain).
    let mut child = Child::spawn(&mut command);
    child.wait_until_it_catches(libc::SIGTERM);
    child.signal(libc::SIGTERM);
    let status = child.wait_within(EXIT_LIMIT, "SIGTERM with stderr closed");
    assert!(status.success(), "exit with stderr closed: {status}");
}

#[test]
fn sigterm_stops_the_server_when_the_stderr_reader_is_gone() {
    // As in `esockets 2>&1 | head -2`: once the reader exits, every write to
    // stderr fails with EPIPE.
    let (read_end, write_end) = pipe();
    let mut child = Child::spawn(&mut server(Stdio::from(write_end)));
    let text = read_pipe_until(&read_end, "esockets listening");
    drop(read_end);
    child.signal(libc::SIGTERM);
    let status = child.wait_within(EXIT_LIMIT, "SIGTERM after the stderr reader exited");
    assert!(
        status.success(),
        "exit after the stderr reader exited: {status}; it wrote {text}"
    );
}

#[test]
fn sigterm_stops_the_server_when_stderr_is_a_full_pipe() {
    let (read_end, write_end) = pipe();
    let mut child = Child::spawn(&mut server(Stdio::from(write_end)));
    let text = read_pipe_until(&read_end, "esockets listening");
    // From now on nobody reads, and the pipe has no room for a single byte.
    assert!(fill_pipe(&read_end) > 0, "the pipe was already full");
    child.signal(libc::SIGTERM);
    let status = child.wait_within(EXIT_LIMIT, "SIGTERM with stderr a full pipe");
    assert!(
        status.success(),
        "exit with stderr a full pipe: {status}; it wrote {text}"
    );
    drop(read_end);
}

#[test]
fn an_error_with_stderr_a_full_pipe_still_exits() {
    // A port in use is an error at start-up, written as the process exits;
    // with nobody reading a full stderr, that write must not hold the exit.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port().to_string();
    let (read_end, write_end) = pipe();
    assert!(fill_pipe(&read_end) > 0, "the pipe was already full");
    let mut command = esockets(&["--bind", &format!("127.0.0.1:{port}"), "--threads", "1"]);
    command.stderr(Stdio::from(write_end));
    let mut child = Child::spawn(&mut command);
    let status = child.wait_within(EXIT_LIMIT, "an error with stderr a full pipe");
    assert_eq!(
        status.code(),
        Some(1),
        "exit with the error status: {status}"
    );
    drop((read_end, taken));
}

#[test]
fn a_second_signal_during_the_drain_exits_at_once() {
    let mut command = esockets(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--close-timeout",
        "1h",
    ]);
    command.stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command);
    let mut lines = child.stderr_lines();
    let addr = address_in(&lines.wait_for("esockets listening"));
    // A client that sends but never reads, with a small receive buffer:
    // once its echo overflows that buffer, the server holds output the
    // client does not acknowledge, and the drain has to wait for it. Once
    // the server's output queue passes --high-water it stops reading, and
    // our writes time out.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(16 * 1024).expect("SO_RCVBUF");
    socket
        .connect_timeout(&addr.into(), Duration::from_secs(10))
        .expect("connect");
    let mut stream: TcpStream = socket.into();
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0usize;
    loop {
        match stream.write_all(&chunk) {
            Ok(()) => sent += chunk.len(),
            // Stalled after more than a high-water mark's worth: blocked.
            Err(_) if sent >= 1 << 20 => break,
            // Stalled early (a busy machine): keep going.
            Err(err) => assert!(
                matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "write: {err}"
            ),
        }
        assert!(sent < 1 << 30, "the server never stopped reading");
    }
    child.signal(libc::SIGTERM);
    lines.wait_for("shutting down");
    child.signal(libc::SIGTERM);
    let status = child.wait_within(
        Duration::from_secs(10),
        "a second SIGTERM during a one-hour drain",
    );
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGTERM),
        "exit status after a second SIGTERM: {status}"
    );
}
