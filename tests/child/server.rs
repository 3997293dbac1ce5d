//! The `esockets` binary as a running server: start it (optionally under an
//! open-file limit, as `prlimit --nofile=N` would), learn its address,
//! signal it, stop it and read its summary.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use super::{address_in, esockets, Child, Lines, DEADLINE};

/// Read and write timeout of client sockets.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A child `esockets` server and the lines of its stderr.
pub struct Server {
    /// The process.
    child: Child,
    /// Its stderr, line by line, as it comes.
    lines: Lines,
}

impl Server {
    /// Starts `esockets` with `args`, logging at `info` to a pipe.
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_with_file_limit(args, None)
    }

    /// Starts `esockets` with `args` and, if given, this open-file limit
    /// (soft and hard).
    pub fn spawn_with_file_limit(args: &[&str], files: Option<libc::rlim_t>) -> Self {
        let mut command = esockets(args);
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
        Self::start(&mut command)
    }

    /// Starts `command` (an `esockets`, perhaps through `sh` or `ip netns
    /// exec`, which exec it in place) with its stderr piped to us.
    pub fn start(command: &mut std::process::Command) -> Self {
        command.stderr(Stdio::piped());
        let mut child = Child::spawn(command);
        let lines = child.stderr_lines();
        Self { child, lines }
    }

    /// Waits for a line containing `needle` and returns it.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        self.lines.wait_for(needle)
    }

    /// Waits for lines containing each of `needles`, in any order.
    pub fn wait_for_lines(&mut self, needles: &[&str]) -> Vec<String> {
        self.lines.wait_for_all(needles)
    }

    /// Every stderr line read so far (by the waits above).
    pub fn seen(&self) -> &[String] {
        &self.lines.seen
    }

    /// The address from the "esockets listening addr=..." line.
    pub fn listening_addr(&mut self) -> SocketAddr {
        address_in(&self.wait_for_line("esockets listening"))
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: libc::c_int) {
        self.child.signal(signal);
    }

    /// Waits until the process catches `signal` (its handler is in place).
    pub fn wait_until_it_catches(&self, signal: libc::c_int) {
        self.child.wait_until_it_catches(signal);
    }

    /// The process's resident memory now.
    pub fn rss_bytes(&self) -> u64 {
        self.child.rss_bytes()
    }

    /// How many descriptors the process holds open now.
    pub fn open_files(&self) -> usize {
        self.child.open_files()
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu_time(&self) -> Duration {
        self.child.cpu_time()
    }

    /// Waits for the process to exit (killing it past the deadline) and
    /// returns its status and the rest of its stderr.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let status = self
            .child
            .wait_within(DEADLINE, "waiting for esockets to exit");
        (status, self.lines.rest())
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
