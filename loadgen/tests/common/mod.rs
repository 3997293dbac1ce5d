//! Shared test helpers: run the `loadgen` binary with a deadline, and tiny
//! echo servers that misbehave on purpose.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Output of one loadgen run.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs loadgen with `args`; kills it and panics after `limit`.
pub fn loadgen(args: &[&str], limit: Duration) -> Outcome {
    let child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => {
            let out = out.unwrap();
            Outcome {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        }
        Err(_) => {
            // SAFETY: kill(2) has no memory-safety preconditions; pid is our child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("loadgen {args:?} did not finish within {limit:?}");
        }
    }
}

/// Runs loadgen with `args` plus `--json` into a fresh directory named
/// `name`; returns the outcome and the report, which must exist.
pub fn loadgen_json(name: &str, args: &[&str], limit: Duration) -> (Outcome, serde_json::Value) {
    let report = temp_dir(name).join("report.json");
    let mut all = args.to_vec();
    all.extend(["--json", report.to_str().unwrap()]);
    let out = loadgen(&all, limit);
    assert!(report.exists(), "no report: {}", out.stderr);
    let value = json(&report);
    (out, value)
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads a JSON report.
pub fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// How a test server treats each connection.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// A correct echo.
    Echo,
    /// Echo, but leave out the byte at this stream offset.
    DropByteAt(u64),
    /// Echo this many bytes, then close.
    CloseAfter(u64),
    /// Echo every read, but hold every `every`-th read back for `delay`.
    SlowEvery { every: u64, delay: Duration },
    /// Echo; once `after` messages-worth of reads happened server-wide,
    /// every connection stalls until `stall` has passed.
    StallOnce { after: u64, stall: Duration },
}

/// A thread-per-connection test server.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    pub peers: Arc<Mutex<Vec<SocketAddr>>>,
    /// Reads served so far, all connections together.
    pub reads: Arc<AtomicU64>,
    accept: Option<JoinHandle<()>>,
}

struct Stall {
    reads: AtomicU64,
    until: Mutex<Option<Instant>>,
}

/// Binds `addr`, retrying for a bounded time (a restarted server's port
/// may still be held for a moment by the threads of the stopped one).
fn bind_within(addr: &str, limit: Duration) -> TcpListener {
    let deadline = Instant::now() + limit;
    loop {
        match TcpListener::bind(addr) {
            Ok(l) => return l,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::yield_now();
            }
            Err(e) => panic!("cannot bind {addr}: {e}"),
        }
    }
}

/// How `report` differs from `loadgen/schema/report.json` (empty: valid).
pub fn schema_errors(report: &serde_json::Value) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

/// Validates a JSON report against `loadgen/schema/report.json`.
pub fn assert_valid_report(report: &serde_json::Value) {
    let errors = schema_errors(report);
    assert!(
        errors.is_empty(),
        "report does not match the schema: {errors:#?}"
    );
}

impl TestServer {
    pub fn start(behaviour: Behaviour) -> Self {
        Self::start_on("127.0.0.1:0", behaviour)
    }

    /// A server on `addr` (e.g. the port of one just stopped).
    pub fn start_on(addr: &str, behaviour: Behaviour) -> Self {
        let listener = bind_within(addr, Duration::from_secs(5));
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let stall = Arc::new(Stall {
            reads: AtomicU64::new(0),
            until: Mutex::new(None),
        });
        let reads = Arc::new(AtomicU64::new(0));
        let (s, p, r) = (Arc::clone(&stop), Arc::clone(&peers), Arc::clone(&reads));
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                if let Ok(peer) = stream.peer_addr() {
                    p.lock().unwrap().push(peer);
                }
                let (s, stall, r) = (Arc::clone(&s), Arc::clone(&stall), Arc::clone(&r));
                std::thread::spawn(move || serve(stream, behaviour, &s, &stall, &r));
            }
        });
        Self {
            addr,
            stop,
            peers,
            reads,
            accept: Some(accept),
        }
    }

    pub fn addr_arg(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(
    mut stream: TcpStream,
    behaviour: Behaviour,
    stop: &AtomicBool,
    stall: &Stall,
    reads_total: &AtomicU64,
) {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; 4096];
    let mut seen = 0u64;
    let mut reads = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let n = match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => return,
        };
        reads += 1;
        reads_total.fetch_add(1, Ordering::Relaxed);
        let chunk = &buf[..n];
        let ok = match behaviour {
            Behaviour::Echo => stream.write_all(chunk).is_ok(),
            Behaviour::DropByteAt(at) if seen <= at && at < seen + n as u64 => {
                let i = (at - seen) as usize;
                stream.write_all(&chunk[..i]).is_ok() && stream.write_all(&chunk[i + 1..]).is_ok()
            }
            Behaviour::DropByteAt(_) => stream.write_all(chunk).is_ok(),
            Behaviour::CloseAfter(limit) => {
                let keep = limit.saturating_sub(seen).min(n as u64) as usize;
                let _ = stream.write_all(&chunk[..keep]);
                if seen + n as u64 >= limit {
                    return;
                }
                true
            }
            Behaviour::SlowEvery { every, delay } => {
                if reads % every == 0 {
                    std::thread::sleep(delay);
                }
                stream.write_all(chunk).is_ok()
            }
            Behaviour::StallOnce {
                after,
                stall: length,
            } => {
                let total = stall.reads.fetch_add(1, Ordering::SeqCst) + 1;
                let until = {
                    let mut until = stall.until.lock().unwrap();
                    if total == after {
                        *until = Some(Instant::now() + length);
                    }
                    *until
                };
                if let Some(until) = until {
                    let now = Instant::now();
                    if now < until {
                        std::thread::sleep(until - now);
                    }
                }
                stream.write_all(chunk).is_ok()
            }
        };
        seen += n as u64;
        if !ok {
            return;
        }
    }
}

pub mod redis;
pub mod tls;
