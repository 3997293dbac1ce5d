//! Backpressure: a client that floods the echo server and never reads has
//! its reading paused, its queued output stays under the cap, other clients
//! are served meanwhile, and once it reads every byte arrives in order.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use esockets::{CloseReason, Config, Conn, ConnId, Handler, ShardContext, Verdict};

use crate::util::{config, pattern, round_trip, wait_until, TestServer, DEADLINE};

/// Bytes the flooding client sends.
const FLOOD: usize = 64 * 1024 * 1024;

/// Size of the flooding client's writes.
const CHUNK: usize = 256 * 1024;

/// Seed of the flood's pattern.
const SEED: u64 = 64;

/// What the handlers of the test server observed.
#[derive(Default)]
struct Observed {
    /// Most output ever queued for one client after an echo.
    max_queued: AtomicUsize,
    /// `on_drain` ran (reading resumed).
    drained: AtomicUsize,
    /// Some client was closed for a reason other than its own close.
    bad_close: AtomicBool,
}

/// Echo that records how much output it saw queued.
struct WatchedEcho(Arc<Observed>);

impl Handler for WatchedEcho {
    type State = ();

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        conn.send(data);
        self.0
            .max_queued
            .fetch_max(conn.queued(), Ordering::Relaxed);
        Verdict::Consumed(data.len())
    }

    fn on_drain(&mut self, _cx: &mut ShardContext<'_>, conn: &mut Conn<'_>, _state: &mut ()) {
        self.0.drained.fetch_add(1, Ordering::Relaxed);
        let _ = conn;
    }

    fn on_close(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _id: ConnId,
        _state: (),
        reason: CloseReason,
    ) {
        if reason != CloseReason::PeerClosed {
            self.0.bad_close.store(true, Ordering::Relaxed);
        }
    }
}

#[test]
fn a_client_that_does_not_read_is_paused_not_dropped() {
    let config = Config {
        output_high_water: 256 * 1024,
        output_low_water: 64 * 1024,
        output_limit: 4 * 1024 * 1024,
        ..config(1)
    };
    let limit = config.output_limit;
    let high = config.output_high_water;
    let observed = Arc::new(Observed::default());
    let shared = Arc::clone(&observed);
    let server = TestServer::start(config, move |_| WatchedEcho(Arc::clone(&shared)));

    let mut flooder = server.client();
    let mut writer = flooder.try_clone().expect("clone");
    let written = Arc::new(AtomicUsize::new(0));
    let progress = Arc::clone(&written);
    let writing = thread::spawn(move || {
        let data = pattern(FLOOD, SEED);
        for chunk in data.chunks(CHUNK) {
            writer.write_all(chunk).expect("flood write");
            progress.fetch_add(chunk.len(), Ordering::Relaxed);
        }
    });

    // The shard stops reading once the queue passes the high-water mark.
    wait_until(DEADLINE, "queued output passes the high-water mark", || {
        observed.max_queued.load(Ordering::Relaxed) > high
    });
    // Meanwhile another client of the same (only) shard is served.
    let mut other = server.client();
    let mut other_bytes = 0;
    for i in 0..20 {
        let message = format!("still here {i}\n");
        round_trip(&mut other, message.as_bytes());
        other_bytes += message.len() as u64;
    }
    let max = observed.max_queued.load(Ordering::Relaxed);
    assert!(max <= limit, "queued {max} passed output_limit {limit}");
    assert!(
        written.load(Ordering::Relaxed) < FLOOD,
        "the flood should be held up while the client does not read"
    );
    assert_eq!(
        observed.drained.load(Ordering::Relaxed),
        0,
        "nothing read yet"
    );

    // Now read: every byte arrives, in order.
    let expected = pattern(FLOOD, SEED);
    let mut got = vec![0u8; CHUNK];
    let mut offset = 0;
    while offset < FLOOD {
        let n = flooder.read(&mut got).expect("read the echo");
        assert!(n > 0, "closed after {offset} of {FLOOD} bytes");
        assert!(
            got[..n] == expected[offset..offset + n],
            "echo differs in bytes {offset}..{}",
            offset + n
        );
        offset += n;
    }
    writing.join().expect("writer");
    let max = observed.max_queued.load(Ordering::Relaxed);
    assert!(max <= limit, "queued {max} passed output_limit {limit}");
    assert!(
        observed.drained.load(Ordering::Relaxed) > 0,
        "on_drain runs when reading resumes"
    );
    assert!(
        !observed.bad_close.load(Ordering::Relaxed),
        "a client was dropped"
    );
    server.wait_for_total("the flood counted in and out, nobody closed", |total| {
        total.bytes_in == FLOOD as u64 + other_bytes
            && total.bytes_out == total.bytes_in
            && total.closed == 0
    });
}

#[test]
fn reading_stops_as_soon_as_the_queue_passes_high_water() {
    // Echo adds at most one read (read_buffer bytes) per on_data, so if
    // the shard stops reading once the queue passes the high-water mark,
    // the queue never passes high_water + read_buffer, and an output limit
    // above that is never hit by a client that merely does not read.
    // Small reads and a large read budget (both valid choices) make any
    // reading past the mark show: the flooding client keeps the socket
    // full, so reads come back full and the loop would go on.
    let config = Config {
        output_high_water: 256 * 1024,
        output_low_water: 64 * 1024,
        read_buffer: 4 * 1024,
        read_budget: 1024 * 1024,
        output_limit: 256 * 1024 + 32 * 1024,
        ..config(1)
    };
    let bound = config.output_high_water + config.read_buffer;
    let observed = Arc::new(Observed::default());
    let shared = Arc::clone(&observed);
    let server = TestServer::start(config, move |_| WatchedEcho(Arc::clone(&shared)));
    let flooder = server.client();
    let mut writer = flooder.try_clone().expect("clone");
    let writing = thread::spawn(move || {
        let data = pattern(8 * 1024 * 1024, 3);
        // Fails with a reset if the server drops the client.
        writer.write_all(&data).is_ok()
    });
    wait_until(DEADLINE, "queued output passes the high-water mark", || {
        observed.max_queued.load(Ordering::Relaxed) > 256 * 1024
            || observed.bad_close.load(Ordering::Relaxed)
    });
    let mut other = server.client();
    round_trip(&mut other, b"served meanwhile\n");
    let max = observed.max_queued.load(Ordering::Relaxed);
    assert!(
        !observed.bad_close.load(Ordering::Relaxed),
        "a client that only does not read was closed (max queued {max})"
    );
    assert!(
        max <= bound,
        "queued {max} > high_water + read_buffer = {bound}"
    );
    // Wakes the writer blocked on the paused connection.
    flooder.shutdown(Shutdown::Both).expect("shutdown");
    let _ = writing.join();
}
