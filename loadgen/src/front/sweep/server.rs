//! The server a sweep starts: refuse a port something else already holds,
//! start the command with its output kept in a file, wait (bounded) until
//! it accepts, check that it is the process answering, and stop it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::owner::{check_owner, Ownership};
use crate::Failure;

/// How a server gets to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Most server output quoted in an error.
const OUTPUT_TAIL: u64 = 4096;

/// A running server started by the sweep.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where its stdout and stderr go.
    output: PathBuf,
    /// The command, for messages.
    argv: Vec<String>,
}

/// Fails when anything accepts on, or holds, `addr` before the sweep
/// starts its own server there: the sweep would otherwise measure it.
pub fn refuse_busy_port(addr: SocketAddr) -> Result<(), Failure> {
    let busy = |how: &str| {
        Failure::Runtime(format!(
            "{addr} is already in use ({how}); stop whatever holds it or pass another --addr, \
             otherwise the sweep would measure that process instead of the server it starts"
        ))
    };
    if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        return Err(busy("something accepts connections there"));
    }
    match TcpListener::bind(addr) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(busy("a socket is bound to it")),
        // Dropped at once: only a probe. Other bind errors (a remote
        // address) are left for the server to report.
        _ => Ok(()),
    }
}

impl Server {
    /// Starts `argv` with stdout and stderr going to a file.
    pub fn start(argv: &[String]) -> Result<Self, Failure> {
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let output =
            std::env::temp_dir().join(format!("loadgen-sweep-{}-{n}.log", std::process::id()));
        let file = File::create(&output)
            .map_err(|e| Failure::Runtime(format!("cannot create {}: {e}", output.display())))?;
        let err_file = file
            .try_clone()
            .map_err(|e| Failure::Runtime(format!("cannot duplicate a file handle: {e}")))?;
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err_file))
            .spawn()
            .map_err(|e| Failure::Runtime(format!("cannot start {:?}: {e}", argv[0])))?;
        Ok(Self {
            child,
            output,
            argv: argv.to_vec(),
        })
    }

    /// The last few KiB of what the server printed, indented.
    pub fn output_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.output) {
            let len = f.metadata().map_or(0, |m| m.len());
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(OUTPUT_TAIL)));
            let _ = f.read_to_string(&mut text);
        }
        if text.trim().is_empty() {
            return "  (the server printed nothing)".to_string();
        }
        text.lines()
            .map(|l| format!("  | {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn failure(&self, what: String) -> Failure {
        Failure::Runtime(format!(
            "{what}\n  command: {}\n  server output:\n{}",
            shell_words::join(&self.argv),
            self.output_tail()
        ))
    }

    /// Waits until `addr` accepts and checks the listening socket belongs
    /// to this server; fails (with the server's output) if it exits, does
    /// not accept within `limit`, or another process answers.
    pub fn wait_ready(&mut self, addr: SocketAddr, limit: Duration) -> Result<(), Failure> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.failure(format!("server exited early ({status})")));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(
                    self.failure(format!("server did not accept on {addr} within {limit:?}"))
                );
            }
            // Bounded retry interval while the server starts.
            std::thread::sleep(Duration::from_millis(20));
        }
        match check_owner(self.child.id(), addr) {
            Ownership::Ours => Ok(()),
            Ownership::Foreign => Err(self.failure(format!(
                "{addr} answers, but the listening socket belongs to another process, \
                 not to the server the sweep started (pid {})",
                self.child.id()
            ))),
            Ownership::Unknown(why) => {
                eprintln!("loadgen: warning: cannot check which process listens on {addr} ({why})");
                Ok(())
            }
        }
    }

    /// SIGTERM, then SIGKILL once `STOP_GRACE` has passed; removes the
    /// output file.
    pub fn stop(mut self) {
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is
        // our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_GRACE;
        let mut exited = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.output);
    }
}
