//! Replacing a running server without refusing or resetting a client.
//!
//! In a network namespace of its own (where `net.ipv4.tcp_migrate_req`
//! can be set without touching the machine), a client opens connections
//! continuously, each an echo round trip and a clean close, while a new
//! `esockets --reuseport-join` starts beside the old one and the old one
//! gets SIGTERM. None may fail; the old one exits 0 after its drain and
//! the new one serves everyone after it. Where namespaces cannot be made
//! (not root), the test says so and skips, or fails when `CI` is set.
//!
//! Also: with `tcp_migrate_req` off, both servers warn; without
//! `--reuseport-join`, a second server on a port in use is still refused
//! with a clear error.

mod child;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use child::netns::Namespace;
use child::server::{counter, Server};
use child::DEADLINE;

/// The port both servers listen on, inside the test's own namespace.
const PORT: u16 = 4000;

/// Client threads, each connecting again `PACE` after a connection
/// ended: a few hundred connections a second in all.
const CLIENTS: usize = 32;

/// How long a client thinks in the middle of its line: each connection
/// lasts this long at least, so several are in the middle of their
/// exchange with the old server when it gets SIGTERM.
const THINK: Duration = Duration::from_millis(50);

/// Pause between two connections of one client thread (pacing, not
/// synchronisation).
const PACE: Duration = Duration::from_millis(8);

/// Read, write and connect timeout of each connection: a stuck one fails.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// `esockets` with `args`, inside `namespace` (`ip netns exec` execs it
/// in place, so signals reach it).
fn esockets_in(namespace: &Namespace, args: &[&str]) -> Server {
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", &namespace.name])
        .arg(env!("CARGO_BIN_EXE_esockets"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    Server::start(&mut command)
}

/// Connections made continuously by `CLIENTS` threads in the namespace.
struct Traffic {
    /// Set to stop the threads.
    stop: Arc<AtomicBool>,
    /// Connections that did their round trip and closed cleanly.
    served: Arc<AtomicU64>,
    /// What went wrong with the others.
    failures: Arc<Mutex<Vec<String>>>,
    /// The threads.
    threads: Vec<JoinHandle<()>>,
}

impl Traffic {
    /// Starts the client threads, connecting to `addr` inside `namespace`.
    fn start(namespace: &Arc<Namespace>, addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..CLIENTS)
            .map(|thread| {
                let (namespace, stop) = (Arc::clone(namespace), Arc::clone(&stop));
                let (served, failures) = (Arc::clone(&served), Arc::clone(&failures));
                thread::spawn(move || {
                    namespace.enter();
                    // Staggered starts, so that connections begin and end
                    // at every moment rather than all together.
                    thread::sleep((THINK + PACE) * thread as u32 / CLIENTS as u32);
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        match exchange(addr, format!("client {thread} connection {n}\n")) {
                            Ok(()) => served.fetch_add(1, Ordering::Relaxed),
                            Err(why) => {
                                failures.lock().expect("failures").push(why);
                                0
                            }
                        };
                        thread::sleep(PACE);
                    }
                })
            })
            .collect();
        Self {
            stop,
            served,
            failures,
            threads,
        }
    }

    /// Connections served so far.
    fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Waits until `more` connections beyond `from` were served.
    fn wait_for(&self, from: u64, more: u64, what: &str) -> u64 {
        let end = Instant::now() + DEADLINE;
        while self.served() < from + more {
            assert!(
                Instant::now() < end,
                "{what}: only {} of {more} connections served within {DEADLINE:?}; \
                 failures: {:?}",
                self.served() - from,
                self.failures.lock().expect("failures")
            );
            // Polling a counter, not synchronising.
            thread::sleep(Duration::from_millis(5));
        }
        self.served()
    }

    /// Stops the threads; the connections served, and the failures.
    fn finish(mut self) -> (u64, Vec<String>) {
        self.stop_threads();
        let failures = self.failures.lock().expect("failures").clone();
        (self.served(), failures)
    }

    /// Stops the threads and waits for them (each within `IO_TIMEOUT`).
    fn stop_threads(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            if thread.join().is_err() && !thread::panicking() {
                panic!("a client thread panicked");
            }
        }
    }
}

impl Drop for Traffic {
    /// Also when the test failed: the threads hold the namespace, which is
    /// deleted only once they are gone.
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// One connection: `line` there (in two halves, `THINK` apart) and back,
/// then a clean close (our FIN, then the server's, no reset). What
/// failed, in words.
fn exchange(addr: SocketAddr, line: String) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|err| format!("connect: {err}"))?;
    let step = |what: &str, err: std::io::Error| format!("{line:?} {what}: {err}");
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| step("timeout", e))?;
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .map_err(|e| step("timeout", e))?;
    let (first, second) = line.as_bytes().split_at(line.len() / 2);
    stream.write_all(first).map_err(|e| step("write", e))?;
    thread::sleep(THINK);
    stream.write_all(second).map_err(|e| step("write", e))?;
    let mut back = vec![0; line.len()];
    stream.read_exact(&mut back).map_err(|e| step("echo", e))?;
    if back != line.as_bytes() {
        return Err(format!(
            "{line:?} came back as {:?}",
            String::from_utf8_lossy(&back)
        ));
    }
    stream
        .shutdown(Shutdown::Write)
        .map_err(|e| step("shutdown", e))?;
    let mut rest = [0u8; 64];
    match stream.read(&mut rest) {
        Ok(0) => Ok(()),
        Ok(n) => Err(format!("{line:?}: {n} unexpected bytes after the echo")),
        Err(err) => Err(step("close", err)),
    }
}

#[test]
fn a_server_is_replaced_under_continuous_connects_without_a_failed_client() {
    let Some(namespace) = Namespace::create(1) else {
        return;
    };
    let namespace = Arc::new(namespace);
    let bind = format!("127.0.0.1:{PORT}");
    let addr: SocketAddr = bind.parse().expect("address");
    // The grace lets a client in the middle of its exchange finish with
    // the old server instead of being told goodbye.
    let args = ["--bind", &bind, "--threads", "2", "--shutdown-grace", "5s"];
    let mut old = esockets_in(&namespace, &args);
    old.wait_for_line("esockets listening");

    let traffic = Traffic::start(&namespace, addr);
    let served = traffic.wait_for(0, 100, "before the new server");

    let mut joined: Vec<&str> = args.to_vec();
    joined.push("--reuseport-join");
    let mut new = esockets_in(&namespace, &joined);
    new.wait_for_line("esockets listening");
    new.wait_for_line("--reuseport-join: sharing");
    traffic.wait_for(served, 200, "with both servers");

    let began = Instant::now();
    old.signal(libc::SIGTERM);
    let (status, lines) = old.finish();
    let took = began.elapsed();
    assert!(status.success(), "the old server: {status}; {lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("tcp_migrate_req is 1: clients queued here move")),
        "the old server leaves its queue to the new one: {lines:#?}"
    );
    let old_total = lines
        .iter()
        .find(|l| l.contains(" total "))
        .unwrap_or_else(|| panic!("no summary: {lines:#?}"));
    let at_exit = traffic.served();
    traffic.wait_for(at_exit, 300, "after the old server exited");

    let (served, failures) = traffic.finish();
    let (status, new_total) = new.stop();
    assert!(status.success(), "the new server: {status}");
    let all = served + failures.len() as u64;
    assert!(
        failures.is_empty(),
        "{} of {all} connections failed, e.g. {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    let old_accepted = counter(old_total, "accepted");
    let new_accepted = counter(&new_total, "accepted");
    assert!(
        new_accepted >= served - at_exit,
        "the new server served everyone after the old one left: {new_accepted} accepted, \
         {} connections after",
        served - at_exit
    );
    assert_eq!(
        old_accepted + new_accepted,
        all,
        "every connection was accepted once, by one of them ({old_total} / {new_total})"
    );
    eprintln!(
        "restart: {all} connections, none failed; the old server served {old_accepted} and \
         took {took:?} to stop; the new one served {new_accepted}"
    );
}

#[test]
fn joining_with_tcp_migrate_req_off_is_warned_about_at_both_ends() {
    let Some(namespace) = Namespace::create(0) else {
        return;
    };
    let bind = format!("127.0.0.1:{PORT}");
    let mut old = esockets_in(&namespace, &["--bind", &bind, "--threads", "1"]);
    old.wait_for_line("esockets listening");
    let mut new = esockets_in(
        &namespace,
        &["--bind", &bind, "--threads", "1", "--reuseport-join"],
    );
    let warning = new.wait_for_line("--reuseport-join with net.ipv4.tcp_migrate_req 0");
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains("sysctl -w net.ipv4.tcp_migrate_req=1"),
        "says what to do: {warning}"
    );
    old.signal(libc::SIGTERM);
    let (status, lines) = old.finish();
    assert!(status.success(), "{status}: {lines:#?}");
    let warning = lines
        .iter()
        .find(|l| l.contains("but net.ipv4.tcp_migrate_req is 0"))
        .unwrap_or_else(|| panic!("the old server warns at shutdown: {lines:#?}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains("queued here are accepted and served"),
        "{warning}"
    );
    let (status, _) = new.stop();
    assert!(status.success(), "{status}");
}

#[test]
fn without_reuseport_join_a_second_server_on_the_port_is_refused() {
    let mut first = Server::spawn(&["--bind", "127.0.0.1:0", "--threads", "2"]);
    let addr = first.listening_addr().to_string();
    let (status, lines) = Server::spawn(&["--bind", &addr, "--threads", "2"]).finish();
    assert!(!status.success(), "{lines:#?}");
    let error = lines
        .iter()
        .find(|l| l.starts_with("esockets: error: "))
        .unwrap_or_else(|| panic!("no error line: {lines:#?}"));
    assert!(error.contains(&addr), "{error}");
    assert!(error.contains("address already in use"), "{error}");
    assert!(error.contains("--reuseport-join"), "{error}");
    let (status, _) = first.stop();
    assert!(status.success(), "{status}");
}

#[test]
fn with_reuseport_join_both_servers_share_the_port_until_one_stops() {
    let mut first = Server::spawn(&["--bind", "127.0.0.1:0", "--threads", "1"]);
    let addr = first.listening_addr();
    let bind = addr.to_string();
    let mut second = Server::spawn(&["--bind", &bind, "--threads", "1", "--reuseport-join"]);
    assert_eq!(second.listening_addr(), addr);
    if esockets::tcp_migrate_req() != Some(1) {
        let warning = second.wait_for_line("--reuseport-join with net.ipv4.tcp_migrate_req");
        assert!(warning.contains("WARN"), "{warning}");
    }
    let (status, _) = first.stop();
    assert!(status.success(), "{status}");
    // Only the second listens now.
    for n in 0..20 {
        let line = format!("after the first left {n}\n");
        let mut stream = child::server::client(addr);
        stream.write_all(line.as_bytes()).expect("write");
        let mut back = vec![0; line.len()];
        stream.read_exact(&mut back).expect("echo");
        assert_eq!(back, line.as_bytes());
    }
    let (status, total) = second.stop();
    assert!(status.success(), "{status}");
    assert!(counter(&total, "accepted") >= 20, "{total}");
}
