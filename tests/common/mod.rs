//! Helpers for tests that run the `esockets` binary as a child process:
//! start it (optionally under an open-file limit), read its stderr line by
//! line, signal it, and wait for it with a deadline.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// How long a child may take to exit, or to log a line we wait for.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Read and write timeout of client sockets.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A child `esockets` process and the lines of its stderr.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Its stderr, line by line, as it comes.
    lines: Receiver<String>,
}

impl Server {
    /// Starts `esockets` with `args`, logging at `info` to a pipe.
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_with_file_limit(args, None)
    }

    /// Starts `esockets` with `args` and, if given, this open-file limit
    /// (soft and hard), as `prlimit --nofile=N` would.
    pub fn spawn_with_file_limit(args: &[&str], files: Option<libc::rlim_t>) -> Self {
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
    pub fn wait_for_line(&mut self, needle: &str) -> String {
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
    pub fn listening_addr(&mut self) -> SocketAddr {
        let line = self.wait_for_line("esockets listening");
        let addr = line
            .split_whitespace()
            .find_map(|field| field.strip_prefix("addr="))
            .unwrap_or_else(|| panic!("no addr= in {line:?}"));
        addr.parse()
            .unwrap_or_else(|err| panic!("bad address {addr:?} in {line:?}: {err}"))
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill only sends a signal to our own child process.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("read /proc/PID/stat");
        // Fields after the command name (which may hold spaces) in ")".
        let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        // SAFETY: sysconf only reads a system constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Duration::from_millis(ticks * 1000 / u64::try_from(hz).expect("clock ticks"))
    }

    /// Waits for the process to exit (killing it past the deadline) and
    /// returns its status and the rest of its stderr.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let status = wait(&mut self.child);
        // The pipe closed with the process: the reader ends, and so does
        // this iteration.
        let rest = self.lines.iter().collect();
        (status, rest)
    }

    /// SIGTERM, then the exit status and the final "total" summary line.
    pub fn stop(self) -> (ExitStatus, String) {
        self.signal(libc::SIGTERM);
        let (status, lines) = self.finish();
        let total = lines
            .iter()
            .find(|l| l.contains(" total "))
            .unwrap_or_else(|| panic!("no summary line: {lines:#?}"))
            .clone();
        (status, total)
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
pub fn wait(child: &mut Child) -> ExitStatus {
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

/// A client of `addr` with timeouts.
pub fn client(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream
}

/// A counter from a summary line, e.g. `counter(line, "refused")`.
pub fn counter(line: &str, name: &str) -> u64 {
    let prefix = format!("{name}=");
    line.split_whitespace()
        .find_map(|field| field.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
        .parse()
        .unwrap_or_else(|err| panic!("bad {name} in {line:?}: {err}"))
}

/// Raises this process's soft open-file limit to the hard one (a storm
/// test holds thousands of client sockets).
pub fn raise_file_limit() {
    esockets::raise_open_file_limit().expect("raise the open-file limit");
}
