//! Helpers shared by the server tests: a server that binds an ephemeral
//! loopback port and shuts down on drop, clients with timeouts, a polling
//! `wait_until`, payload patterns and read helpers.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam::channel::{unbounded, Receiver, Sender};
use esockets::{
    Admission, Config, Conn, Error, Handler, Server, ServerHandle, ShardContext, ShardInfo,
    ShardStats, Verdict,
};

/// Read and write timeout of every client socket: a bug fails the test
/// after this long instead of hanging it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `wait_until` callers usually allow a condition to come true.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A config for tests: an ephemeral loopback port and `threads` shards,
/// everything else at its default.
pub fn config(threads: usize) -> Config {
    Config {
        bind: "127.0.0.1:0".parse().expect("loopback address"),
        threads,
        ..Config::default()
    }
}

/// Raises the soft open-file limit to the hard one, once per process: the
/// scale test alone holds 8,000 descriptors.
fn raise_file_limit() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // A failure shows up as EMFILE in the test that needs many files.
        let _ = esockets::raise_open_file_limit();
    });
}

/// A running server for one test. Dropping it shuts the server down, joins
/// its shards and asserts they ended cleanly (unless the test is already
/// failing).
pub struct TestServer {
    /// The server; `None` once taken or stopped.
    server: Option<Server>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// A handle to it.
    pub handle: ServerHandle,
}

impl TestServer {
    /// Binds `config` (whose address should have port 0) with `factory`.
    pub fn start<F, H>(config: Config, factory: F) -> Self
    where
        F: Fn(ShardInfo) -> H + Send + Sync + 'static,
        H: Handler + 'static,
    {
        raise_file_limit();
        let server = Server::bind(config, factory).expect("server binds");
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0, "the real port is reported");
        Self {
            handle: server.handle(),
            addr,
            server: Some(server),
        }
    }

    /// The balance mode the server runs, and why.
    pub fn balance(&self) -> esockets::BalanceChoice {
        self.server
            .as_ref()
            .expect("server not taken yet")
            .balance()
            .clone()
    }

    /// An echo server with `threads` shards.
    pub fn echo(threads: usize) -> Self {
        Self::start(config(threads), |_| esockets::protocols::Echo)
    }

    /// A new client of this server.
    pub fn client(&self) -> TcpStream {
        client(self.addr)
    }

    /// The counters of all shards, summed.
    pub fn total(&self) -> ShardStats {
        self.handle.stats().into_iter().sum()
    }

    /// Waits until the summed counters satisfy `condition`. Counters are
    /// published at the end of a loop round (at most 10 ms late), so a
    /// client may see its reply before the counters show the bytes: tests
    /// wait rather than read once. Panics with `what` and the last counters after `DEADLINE`.
    pub fn wait_for_total(&self, what: &str, mut condition: impl FnMut(&ShardStats) -> bool) {
        let end = Instant::now() + DEADLINE;
        loop {
            let last = self.total();
            if condition(&last) {
                return;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}; counters: {last:?}"
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Takes the server out, for a test that shuts down and joins itself.
    pub fn take(mut self) -> Server {
        self.server.take().expect("server not taken yet")
    }

    /// Shuts down and joins, returning what `join` said.
    pub fn stop(self) -> Result<(), Error> {
        let server = self.take();
        server.shutdown();
        server.join()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
            let joined = server.join();
            if !thread::panicking() {
                joined.expect("server shards ended cleanly");
            }
        }
    }
}

/// A blocking client of `addr` with read and write timeouts and Nagle off.
pub fn client(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("client connects");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Polls `condition` until it holds, panicking with `what` if it does not
/// within `deadline`. The short pause between polls only paces the loop.
pub fn wait_until(deadline: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    loop {
        if condition() {
            return;
        }
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting for: {what}"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

/// `len` bytes of a pattern that depends on `seed` and on the position,
/// so a lost, repeated or reordered chunk shows up as a mismatch.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    (0..len as u64)
        .map(|i| {
            let x = (i ^ seed.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            (x >> 56) as u8
        })
        .collect()
}

/// Reads exactly `len` bytes.
pub fn read_exact(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    stream
        .read_exact(&mut buf)
        .unwrap_or_else(|err| panic!("reading {len} bytes: {err}"));
    buf
}

/// Writes `data`, then reads back as many bytes and asserts they match.
pub fn round_trip(stream: &mut TcpStream, data: &[u8]) {
    stream.write_all(data).expect("write");
    let got = read_exact(stream, data.len());
    assert!(got == data, "echo differs from what was sent");
}

/// Whether `err` is how a closed connection shows up on a read: a reset,
/// or an abort.
fn is_closed_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

/// Reads until the server closes the connection and returns what came
/// before; a reset counts as a close. Panics on a timeout or past `max`
/// bytes.
pub fn read_to_close(stream: &mut TcpStream, max: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                assert!(got.len() <= max, "more than {max} bytes before the close");
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) if is_closed_error(&err) => return got,
            Err(err) => panic!("waiting for the server to close: {err}"),
        }
    }
}

/// Reads until the server closes the connection and asserts it was a clean
/// end of stream (not a reset) after exactly `expected`.
pub fn expect_clean_close(stream: &mut TcpStream, expected: &[u8]) {
    let mut got = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                assert!(got.len() <= expected.len(), "more bytes than expected");
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => panic!("expected data then end of stream, got {err}"),
        }
    }
    assert_eq!(got.len(), expected.len(), "bytes before the close");
    assert!(got == expected, "bytes before the close differ");
}

/// Asserts nothing arrives on `stream` within `quiet`: a read with that
/// short timeout must time out (proving absence, not synchronising).
pub fn assert_silent(stream: &mut TcpStream, quiet: Duration) {
    stream.set_read_timeout(Some(quiet)).expect("timeout");
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => panic!("connection closed, expected it to stay open and silent"),
        Ok(_) => panic!("got {:?}, expected nothing yet", byte[0] as char),
        Err(err) => assert!(
            matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "expected a read timeout, got {err}"
        ),
    }
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
}

/// Reads one `\n`-terminated line (without the `\n`). Panics on a close,
/// an error or a timeout before the line ends.
pub fn read_line(stream: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => panic!(
                "connection closed after {:?}, expected a line",
                String::from_utf8_lossy(&line)
            ),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => panic!("reading a line: {err}"),
        }
    }
    String::from_utf8(line).expect("lines are UTF-8")
}

/// The complete `\n`-terminated lines at the front of `data` (without
/// their `\n`) and how many bytes they take: what a line-based test
/// handler consumes, leaving a partial line for the next call.
pub fn complete_lines(data: &[u8]) -> (Vec<String>, usize) {
    let mut lines = Vec::new();
    let mut consumed = 0;
    while let Some(end) = data[consumed..].iter().position(|&b| b == b'\n') {
        let line = &data[consumed..consumed + end];
        lines.push(String::from_utf8_lossy(line).into_owned());
        consumed += end + 1;
    }
    (lines, consumed)
}

/// Serialises the heavy tests: those that hold thousands of descriptors
/// (the test threads of this binary share one process and its open-file
/// limit, often 20,000, which two such tests at once could exhaust) or
/// keep the machine's cores busy for seconds. Hold the guard for the whole
/// test.
pub fn heavy_test() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that failed while holding it leaves nothing to repair.
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs the ignored test `test` of this binary in a child process with
/// `var` set to `value`, and returns its standard output. Panics if it
/// fails, or does not finish within `limit` (then it is killed).
///
/// For tests that need a process of their own: more descriptors than one
/// open-file limit allows for server and clients together, or a memory
/// measure no other test may disturb.
pub fn run_child(test: &str, var: &str, value: &str, limit: Duration) -> String {
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            test,
            "--ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(var, value)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child process");
    // Drain the pipes on threads, so a chatty child cannot block on them.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let end = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("child status") {
            break Some(status);
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    match status {
        None => panic!("{test} did not finish within {limit:?}:\n{out}\n{err}"),
        Some(status) if !status.success() => panic!("{test} failed ({status}):\n{out}\n{err}"),
        Some(_) => {}
    }
    assert!(
        out.contains("1 passed"),
        "{test} did not run in the child:\n{out}\n{err}"
    );
    out
}

/// The handler's side of a [`Gate`]: holds the shard's thread inside a
/// callback until the test opens the gate.
#[derive(Clone)]
pub struct Hold {
    /// Told when the shard is held.
    held: Sender<()>,
    /// One message per release.
    release: Receiver<()>,
}

impl Hold {
    /// Says the shard is held, then waits for the gate to open (bounded,
    /// so a failing test cannot hang the shard for ever).
    pub fn here(&self) {
        let _ = self.held.send(());
        let _ = self.release.recv_timeout(DEADLINE);
    }
}

/// The test's side: learn that a shard is held, then let it go.
pub struct Gate {
    /// One message each time a shard is held.
    held: Receiver<()>,
    /// Lets one held shard go.
    release: Sender<()>,
}

impl Gate {
    /// A gate and the `Hold` a handler keeps.
    pub fn new() -> (Self, Hold) {
        let (held_tx, held) = unbounded();
        let (release, release_rx) = unbounded();
        (
            Self { held, release },
            Hold {
                held: held_tx,
                release: release_rx,
            },
        )
    }

    /// Waits until a shard is held.
    pub fn wait_held(&self) {
        self.held.recv_timeout(DEADLINE).expect("the shard is held");
    }

    /// Lets the held shard go.
    pub fn open(&self) {
        self.release.send(()).expect("release");
    }
}

/// Greets each client with its server's name, then echoes; holds its
/// shard on `block` if given a `Hold`: tells apart servers sharing a port.
pub struct Named {
    /// `b"A\n"` or `b"B\n"`.
    pub name: &'static [u8],
    /// Holds the shard on `block`, if given.
    pub hold: Option<Hold>,
}

impl Handler for Named {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        conn.send(self.name);
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        match &self.hold {
            Some(hold) if data == b"block" => hold.here(),
            _ => conn.send(data),
        }
        Verdict::Consumed(data.len())
    }
}

/// Greets each client with its shard's index; echoes, but panics on `!`.
pub struct Fragile {
    /// This shard's index.
    pub index: u8,
}

impl Handler for Fragile {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        conn.send(&[self.index]);
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        assert!(!data.contains(&b'!'), "boom on shard {}", self.index);
        conn.send(data);
        Verdict::Consumed(data.len())
    }
}
