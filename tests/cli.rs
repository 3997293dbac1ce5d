//! The `esockets` binary: bad arguments give one clear error line and a
//! failing exit; a running server logs its address, serves, and on SIGTERM
//! or SIGINT drains, prints a summary with the totals and exits cleanly.
//!
//! Every child runs under a deadline and is killed if it overstays, and
//! every client socket has timeouts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// How long a child may take to exit, or to log a line we wait for.
const DEADLINE: Duration = Duration::from_secs(20);

/// Read and write timeout of client sockets.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A child `esockets` process and the lines of its stderr.
struct Server {
    /// The process.
    child: Child,
    /// Its stderr, line by line, as it comes.
    lines: Receiver<String>,
}

impl Server {
    /// Starts `esockets` with `args`, logging at `info` to a pipe.
    fn spawn(args: &[&str]) -> Self {
        Self::spawn_with_file_limit(args, None)
    }

    /// Starts `esockets` with `args` and, if given, this open-file limit
    /// (soft and hard).
    fn spawn_with_file_limit(args: &[&str], files: Option<libc::rlim_t>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_esockets"));
        command
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(files) = files {
            let limit = libc::rlimit {
                rlim_cur: files,
                rlim_max: files,
            };
            // SAFETY: setrlimit is async-signal-safe; the closure only reads
            // a copied struct.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = command.spawn().expect("start esockets");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// Waits for a line containing `needle` and returns it; panics with
    /// what was seen if it does not come in time.
    fn wait_for_line(&mut self, needle: &str) -> String {
        let end = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("no line with {needle:?}; stderr so far: {seen:#?}"),
            }
        }
    }

    /// The address from the "esockets listening addr=..." line.
    fn listening_addr(&mut self) -> SocketAddr {
        let line = self.wait_for_line("esockets listening");
        let addr = line
            .split_whitespace()
            .find_map(|field| field.strip_prefix("addr="))
            .unwrap_or_else(|| panic!("no addr= in {line:?}"));
        addr.parse()
            .unwrap_or_else(|err| panic!("bad address {addr:?} in {line:?}: {err}"))
    }

    /// Sends `signal` to the process.
    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill only sends a signal to our own child process.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits for the process to exit (killing it past the deadline) and
    /// returns its status and the rest of its stderr.
    fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let status = wait(&mut self.child);
        // The pipe closed with the process: the reader ends, and so does
        // this iteration.
        let rest = self.lines.iter().collect();
        (status, rest)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only if a test failed before the process ended.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for `child` to exit within `DEADLINE`, killing it otherwise.
fn wait(child: &mut Child) -> ExitStatus {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("esockets did not exit within {DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `esockets` with `args`, which must fail at start-up, and returns
/// its only stderr line after checking it is an error.
fn start_error(args: &[&str]) -> String {
    let (status, lines) = Server::spawn(args).finish();
    assert!(!status.success(), "{args:?} exited with {status}");
    let lines: Vec<String> = lines.into_iter().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one error line for {args:?}: {lines:#?}");
    let line = lines.into_iter().next().expect("one line");
    assert!(line.starts_with("esockets: error: "), "{line}");
    line
}

/// A client of `addr` with timeouts.
fn client(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream
}

#[test]
fn zero_threads_is_a_config_error() {
    let line = start_error(&["--bind", "127.0.0.1:0", "--threads", "0"]);
    assert!(line.contains("threads"), "{line}");
}

#[test]
fn a_foreign_address_is_not_available() {
    let line = start_error(&["--bind", "1.2.3.4:9", "--threads", "1"]);
    assert!(line.contains("1.2.3.4:9"), "{line}");
    assert!(line.contains("not available"), "{line}");
}

#[test]
fn a_port_in_use_is_reported() {
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = holder.local_addr().expect("addr").to_string();
    let line = start_error(&["--bind", &addr, "--threads", "2"]);
    assert!(line.contains(&addr), "{line}");
    assert!(line.contains("address already in use"), "{line}");
}

#[test]
fn serves_echo_and_exits_cleanly_on_sigterm_with_a_summary() {
    let mut server = Server::spawn(&["--bind", "127.0.0.1:0", "--threads", "2"]);
    let addr = server.listening_addr();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0);
    let mut stream = client(addr);
    stream.write_all(b"hello\n").expect("write");
    let mut echo = [0u8; 6];
    stream.read_exact(&mut echo).expect("echo");
    assert_eq!(&echo, b"hello\n");
    server.signal(libc::SIGTERM);
    // Shutdown closes the idle client.
    assert_eq!(stream.read(&mut echo).expect("end of stream"), 0);
    let (status, lines) = server.finish();
    assert!(status.success(), "exit after SIGTERM: {status}; {lines:#?}");
    let total = lines
        .iter()
        .find(|l| l.contains(" total "))
        .unwrap_or_else(|| panic!("no summary line: {lines:#?}"));
    for field in [
        "accepted=1",
        "refused=0",
        "closed=1",
        "bytes_in=6",
        "bytes_out=6",
    ] {
        assert!(total.contains(field), "{field} in {total:?}");
    }
}

#[test]
fn line_echo_protocol_and_sigint() {
    let mut server = Server::spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--protocol",
        "line-echo",
        "--max-line",
        "8",
        "--input-limit",
        "4",
    ]);
    let addr = server.listening_addr();
    let mut stream = client(addr);
    // A line of --max-line bytes passes, although --input-limit is lower
    // (it is raised for line-echo).
    stream.write_all(b"12345678\n").expect("write");
    let mut line = [0u8; 9];
    stream.read_exact(&mut line).expect("echo");
    assert_eq!(&line, b"12345678\n");
    stream.write_all(b"123456789\n").expect("write");
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .expect("error then end of stream");
    assert_eq!(rest, b"ERROR line too long\n");
    server.signal(libc::SIGINT);
    let (status, lines) = server.finish();
    assert!(status.success(), "exit after SIGINT: {status}; {lines:#?}");
    assert!(lines.iter().any(|l| l.contains(" total ")), "{lines:#?}");
}

/// A deployer (or a test harness) waits for the "listening" line, then may
/// stop the server at once. Until the signal handlers are installed, a
/// SIGTERM kills the process without draining or a summary. Tried a few
/// times because the window is short.
#[test]
fn sigterm_right_after_the_listening_line_still_drains() {
    for attempt in 0..10 {
        let mut server = Server::spawn(&["--bind", "127.0.0.1:0", "--threads", "1"]);
        server.listening_addr();
        server.signal(libc::SIGTERM);
        let (status, lines) = server.finish();
        assert!(
            status.success(),
            "attempt {attempt}: SIGTERM right after the listening line gave {status}; \
             the signal handler must be installed before that line is logged; {lines:#?}"
        );
        assert!(lines.iter().any(|l| l.contains(" total ")), "{lines:#?}");
    }
}
