//! The stall warning as an operator reads it: a handler that blocks its
//! shard for 200 ms in `on_data` gives exactly one warning, naming the
//! shard, how long, and `on_data`; when the watchdog warned while the
//! round ran, the round's end is logged too, with its whole duration.
//!
//! A test binary of its own: it installs the global log subscriber (JSON,
//! captured in memory), which the watchdog and shard threads log to.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use esockets::{Config, Conn, Handler, Server, ShardContext, Verdict};
use serde_json::Value;

/// How long the handler blocks on `sleep`.
const BLOCK: Duration = Duration::from_millis(200);

/// The threshold: well under [`BLOCK`], well over a healthy round on a
/// busy test machine.
const THRESHOLD: Duration = Duration::from_millis(100);

/// Deadline of every wait and socket operation.
const DEADLINE: Duration = Duration::from_secs(10);

/// Echoes what it gets; blocks first when it is `sleep\n`.
struct Blocking;

impl Handler for Blocking {
    type State = ();

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        if data == b"sleep\n" {
            // The behaviour under test: a callback that blocks.
            thread::sleep(BLOCK);
        }
        conn.send(data);
        Verdict::Consumed(data.len())
    }
}

/// Log output captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Every line logged so far, parsed.
    fn events(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().expect("log buffer").clone()).expect("UTF-8");
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
            .collect()
    }

    /// The events at `level` whose message contains `needle`.
    fn find(&self, level: &str, needle: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|event| event["level"] == level)
            .filter(|event| {
                event["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(needle))
            })
            .collect()
    }
}

/// Writes `data` and reads it back.
fn round_trip(stream: &mut TcpStream, data: &[u8]) {
    stream.write_all(data).expect("write");
    let mut back = vec![0; data.len()];
    stream.read_exact(&mut back).expect("echo");
    assert_eq!(back, data);
}

#[test]
fn a_handler_blocking_200ms_gives_one_warning_naming_shard_time_and_callback() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .init();
    let config = Config {
        bind: "127.0.0.1:0".parse().expect("address"),
        threads: 1,
        stall_threshold: Some(THRESHOLD),
        ..Config::default()
    };
    let server = Server::bind(config, |_| Blocking).expect("server binds");
    let mut client = TcpStream::connect(server.local_addr()).expect("connect");
    client.set_read_timeout(Some(DEADLINE)).expect("timeout");
    client.set_write_timeout(Some(DEADLINE)).expect("timeout");
    round_trip(&mut client, b"sleep\n");
    let handle = server.handle();
    let end = Instant::now() + DEADLINE;
    while handle.stats()[0].stalls == 0 {
        assert!(
            Instant::now() < end,
            "no stall counted: {:?}",
            handle.stats()
        );
        // Polling, not synchronisation: the shard's publish is what we wait for.
        thread::sleep(Duration::from_millis(2));
    }
    // Healthy rounds after it, so that any late line would be in by now.
    let rounds = handle.stats()[0].rounds;
    for _ in 0..20 {
        round_trip(&mut client, b"after\n");
    }
    while handle.stats()[0].rounds < rounds + 10 {
        assert!(Instant::now() < end, "rounds not published");
        thread::sleep(Duration::from_millis(2));
    }
    server.shutdown();
    server.join().expect("clean shutdown");

    let warnings = captured.find("WARN", "stalled");
    assert_eq!(warnings.len(), 1, "one warning: {warnings:#?}");
    let warning = &warnings[0];
    assert_eq!(warning["shard"], 0, "{warning}");
    assert_eq!(warning["doing"], "on_data", "{warning}");
    assert_eq!(warning["threshold_ms"], 100.0, "{warning}");
    let message = warning["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("shard 0") && message.contains("on_data"),
        "{message}"
    );
    let overs = captured.find("INFO", "stall over");
    if let Some(ms) = warning["running_ms"].as_f64() {
        // The watchdog saw the round running; its end is logged with the
        // whole duration.
        assert!((100.0..200.0).contains(&ms), "warned at {ms} ms");
        assert_eq!(overs.len(), 1, "{overs:#?}");
        let took = overs[0]["took_ms"].as_f64().expect("took_ms");
        assert!(took >= 200.0, "the round took {took} ms");
        assert_eq!(overs[0]["doing"], "on_data");
    } else {
        // The watchdog was not scheduled in time: the shard warned itself
        // at the end of the round.
        let took = warning["took_ms"].as_f64().expect("took_ms");
        assert!(took >= 200.0, "the round took {took} ms");
        assert!(overs.is_empty(), "{overs:#?}");
    }
    assert_eq!(handle.stats()[0].stalls, 1);
}
