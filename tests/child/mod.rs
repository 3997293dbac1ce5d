//! Running a program as a child process under a deadline: spawn, read its
//! stderr line by line without ever waiting unbounded, signal it, wait for
//! its exit (killing it if it overstays).

#![allow(dead_code)] // each test file uses a different part

pub mod chromium;
pub mod cluster;
pub mod components;
pub mod haproxy;
pub mod line_client;
pub mod nats;
pub mod netns;
pub mod proxy_recorder;
pub mod pubsub;
pub mod scrape;
pub mod server;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{self, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// How long a child may take to exit, or to log a line we wait for.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The `esockets` binary, logging at `info`, stdin and stdout null.
pub fn esockets(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_esockets"));
    command
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// A running child, killed if dropped before it exited.
pub struct Child {
    /// The process.
    child: process::Child,
}

impl Child {
    /// Starts `command`.
    pub fn spawn(command: &mut Command) -> Self {
        let child = command.spawn().expect("start the child process");
        Self { child }
    }

    /// The child's stdout or stderr (whichever was piped and not yet
    /// taken), as lines.
    pub fn stderr_lines(&mut self) -> Lines {
        let stderr = self.child.stderr.take().expect("piped stderr");
        Lines::new(stderr)
    }

    /// The child's stdin (piped), to write to.
    pub fn stdin(&mut self) -> process::ChildStdin {
        self.child.stdin.take().expect("piped stdin")
    }

    /// The child's stdout as lines.
    pub fn stdout_lines(&mut self) -> Lines {
        let stdout = self.child.stdout.take().expect("piped stdout");
        Lines::new(stdout)
    }

    /// Sends `signal` to the child.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill only sends a signal to our own child process.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// The child's resident memory now (`VmRSS` in `/proc/PID/status`).
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/PID/status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib * 1024
    }

    /// How many descriptors the child holds open now (`/proc/PID/fd`).
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .expect("read /proc/PID/fd")
            .count()
    }

    /// CPU time (user + system) the child has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("read /proc/PID/stat");
        // The fields after the command name, which may hold spaces.
        let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        // SAFETY: sysconf only reads a system constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Duration::from_millis(ticks * 1000 / u64::try_from(hz).expect("clock ticks"))
    }

    /// Waits (up to [`DEADLINE`]) until the child catches `signal`, as
    /// `/proc/PID/status` shows, so that sending it no longer kills the
    /// child outright.
    pub fn wait_until_it_catches(&self, signal: libc::c_int) {
        let path = format!("/proc/{}/status", self.child.id());
        let bit = 1u64 << (signal - 1);
        let end = Instant::now() + DEADLINE;
        loop {
            let status = std::fs::read_to_string(&path).unwrap_or_default();
            let caught = status
                .lines()
                .find_map(|line| line.strip_prefix("SigCgt:"))
                .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
                .unwrap_or(0);
            if caught & bit != 0 {
                return;
            }
            assert!(
                Instant::now() < end,
                "the child did not catch signal {signal} within {DEADLINE:?}"
            );
            // Polling, not synchronisation: the handler is what we wait for.
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The child's exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Kills the child (by its PID) and reaps it, unless it already exited.
    pub fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Waits at most `limit` for the child to exit; kills it and panics
    /// (saying `why`) if it does not.
    pub fn wait_within(&mut self, limit: Duration, why: &str) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the child did not exit within {limit:?}: {why}");
            }
            // Polling, not synchronisation: the exit is what we wait for.
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Only if a test failed before the process ended.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Lines of a child's output, read by a thread as they come.
pub struct Lines {
    /// Complete lines, in order; disconnected at end of file.
    receiver: Receiver<String>,
    /// Every line received so far.
    pub seen: Vec<String>,
}

impl Lines {
    /// Starts reading `source` line by line.
    pub fn new(source: impl Read + Send + 'static) -> Self {
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(source).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            receiver,
            seen: Vec::new(),
        }
    }

    /// Waits (up to [`DEADLINE`]) for a line containing `needle`.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let line = self.next_before(end, needle);
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Waits (up to [`DEADLINE`]) until a line containing each of
    /// `needles` came, in any order (threads log as they please); returns
    /// those lines in the order of `needles`.
    pub fn wait_for_all(&mut self, needles: &[&str]) -> Vec<String> {
        let end = Instant::now() + DEADLINE;
        let mut found: Vec<Option<String>> = vec![None; needles.len()];
        while found.iter().any(Option::is_none) {
            let line = self.next_before(end, &format!("{needles:?}"));
            for (slot, needle) in found.iter_mut().zip(needles) {
                if slot.is_none() && line.contains(needle) {
                    *slot = Some(line.clone());
                }
            }
        }
        found.into_iter().flatten().collect()
    }

    /// The next line, which must come before `end`; else panics saying it
    /// waited for `what`.
    pub fn next_before(&mut self, end: Instant, what: &str) -> String {
        let left = end.saturating_duration_since(Instant::now());
        match self.receiver.recv_timeout(left) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(_) => panic!("no line with {what:?}; so far: {:#?}", self.seen),
        }
    }

    /// The next line if one comes within `limit`.
    pub fn next_within(&mut self, limit: Duration) -> Option<String> {
        let line = self.receiver.recv_timeout(limit).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// Every remaining line, up to end of file (after the child exited).
    pub fn rest(&mut self) -> Vec<String> {
        let rest: Vec<String> = self.receiver.iter().collect();
        self.seen.extend(rest.iter().cloned());
        rest
    }
}

/// The address in an "esockets listening addr=..." (or "... on ADDR")
/// line: the first field that parses as a socket address.
pub fn address_in(line: &str) -> SocketAddr {
    line.split_whitespace()
        .map(|field| field.strip_prefix("addr=").unwrap_or(field))
        .find_map(|field| field.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// A pipe: (read end, write end), both close-on-exec.
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Fills the pipe whose read end is `read_end` until a write would block,
/// through a new, non-blocking open of the pipe (so the child's own write
/// end stays blocking). Returns the bytes written.
pub fn fill_pipe(read_end: &OwnedFd) -> usize {
    let path = format!("/proc/self/fd/{}\0", read_end.as_raw_fd());
    // SAFETY: the path is NUL-terminated; open returns a fresh descriptor.
    let fd = unsafe {
        libc::open(
            path.as_ptr().cast(),
            libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    assert!(
        fd >= 0,
        "reopen the pipe: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: fd is fresh and ours.
    let writer = unsafe { OwnedFd::from_raw_fd(fd) };
    let chunk = [b'x'; 4096];
    let mut total = 0;
    loop {
        // SAFETY: writes from a buffer we own to a descriptor we own.
        let n = unsafe { libc::write(writer.as_raw_fd(), chunk.as_ptr().cast(), chunk.len()) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "fill: {err}");
            return total;
        }
        total += usize::try_from(n).expect("non-negative");
        assert!(total < 64 << 20, "the pipe never filled");
    }
}

/// Reads from the pipe `read_end` (made non-blocking) until a line
/// containing `needle` arrived, waiting at most [`DEADLINE`]; returns all
/// text read (possibly a little more than that line).
pub fn read_pipe_until(read_end: &OwnedFd, needle: &str) -> String {
    let fd = read_end.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let end = Instant::now() + DEADLINE;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let complete = text
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(&text[..0], |i| &text[..i]);
        if String::from_utf8_lossy(complete).contains(needle) {
            return String::from_utf8_lossy(&text).into_owned();
        }
        let left = end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no line with {needle:?}; so far: {}",
            String::from_utf8_lossy(&text)
        );
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one pollfd we own.
        unsafe { libc::poll(&mut poll, 1, millis) };
        // SAFETY: reads into a buffer we own.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => panic!(
                "end of file before {needle:?}: {}",
                String::from_utf8_lossy(&text)
            ),
            n if n > 0 => text.extend_from_slice(&buf[..usize::try_from(n).expect("positive")]),
            _ => {}
        }
    }
}
