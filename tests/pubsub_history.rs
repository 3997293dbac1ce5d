//! Issue 21, history and presence, from the binary over real sockets:
//! positioned subscriptions see every offset once and in order while
//! clients on both shards publish; a subscriber that reconnects with
//! `SINCE` gets exactly what it missed, then live publishes, with no gap
//! and no duplicate, over lines and WebSocket; bad `SINCE` arguments get
//! a clear error and the client goes on; presence lists identities from
//! tokens; the metrics count recoveries and pass promtool.

mod child;
#[path = "websocket/raw_client.rs"]
mod raw_client;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use child::line_client::LineClient;
use child::scrape::{promtool_check, scrape, value};
use child::server::Server;
use jsonwebtoken::{encode, EncodingKey, Header};
use raw_client::RawClient;
use serde_json::json;

/// A pubsub server on two shards keeping `history` publishes per topic,
/// with `extra` options; and its address.
fn server(history: &str, extra: &[&str]) -> (Server, SocketAddr) {
    let mut args = vec![
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "2",
        "--balance",
        "reuseport",
        "--history",
        history,
    ];
    args.extend_from_slice(extra);
    let mut server = Server::spawn(&args);
    let addr = server.listening_addr();
    (server, addr)
}

/// A positioned reply `+OK offset epoch`: the offset and the epoch.
fn position(reply: &str) -> (u64, String) {
    let mut words = reply.split(' ');
    assert_eq!(words.next(), Some("+OK"), "{reply}");
    let offset = words.next().and_then(|o| o.parse().ok());
    let epoch = words.next().map(str::to_owned);
    match (offset, epoch, words.next()) {
        (Some(offset), Some(epoch), None) => (offset, epoch),
        _ => panic!("not a position: {reply:?}"),
    }
}

/// A positioned delivery `MSG topic offset payload`: offset and payload.
fn positioned(line: &str, topic: &str) -> (u64, String) {
    let rest = line
        .strip_prefix(&format!("MSG {topic} "))
        .unwrap_or_else(|| panic!("not a delivery of {topic}: {line:?}"));
    let (offset, payload) = rest.split_once(' ').expect("an offset and a payload");
    (offset.parse().expect("a number"), payload.to_owned())
}

/// What one subscriber received of publishers' numbered payloads
/// (`P<publisher>-<n>`): checks each publisher's numbers come once each,
/// in order, across every session of the subscriber.
#[derive(Default)]
struct Ledger {
    /// The next offset expected (0: any first).
    next_offset: u64,
    /// Each publisher's next number expected.
    next: HashMap<String, u64>,
    /// Deliveries checked.
    seen: u64,
}

impl Ledger {
    /// Checks one delivery at `offset` of `payload`.
    fn note(&mut self, offset: u64, payload: &str) {
        if self.next_offset != 0 {
            assert_eq!(offset, self.next_offset, "gap or duplicate at {payload}");
        }
        self.next_offset = offset + 1;
        let (publisher, n) = payload.split_once('-').expect("P-n");
        let n: u64 = n.parse().expect("a number");
        let next = self.next.entry(publisher.to_owned()).or_insert(n);
        assert_eq!(n, *next, "publisher {publisher}: gap or duplicate");
        *next = n + 1;
        self.seen += 1;
    }
}

/// Publishers on their own connections (so both shards publish), each
/// sending numbered payloads to `topic` until `stop`, each publish
/// acknowledged before the next.
fn publishers(
    addr: SocketAddr,
    topic: &'static str,
    count: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<u64>> {
    (0..count)
        .map(|p| {
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                let mut client = LineClient::connect(addr);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(client.command(&format!("PUB {topic} P{p}-{n}")), "+OK");
                    n += 1;
                }
                n
            })
        })
        .collect()
}

#[test]
fn reconnecting_with_since_gets_every_missed_publish_once_in_order_then_live_ones() {
    let (server, addr) = server("100000", &[]);
    let mut first = LineClient::connect(addr);
    let (start, epoch) = position(&first.command("SUB t POS"));
    assert_eq!(start, 0, "no publish yet");
    let stop = Arc::new(AtomicBool::new(false));
    let threads = publishers(addr, "t", 4, &stop);
    // Sessions of one subscriber, while four publishers go on: each
    // reads a few hundred deliveries, leaves, misses some, comes back.
    let mut ledger = Ledger::default();
    let mut subscriber = first;
    let mut recovered_total = 0;
    for session in 0..12 {
        let until = ledger.seen + 300;
        while ledger.seen < until {
            let (offset, payload) = positioned(&subscriber.line(), "t");
            ledger.note(offset, &payload);
        }
        drop(subscriber);
        let away = Instant::now() + Duration::from_millis(20);
        while Instant::now() < away {
            std::thread::yield_now();
        }
        subscriber = LineClient::connect(addr);
        let last = ledger.next_offset - 1;
        let reply = subscriber.command(&format!("SUB t SINCE {last} {epoch}"));
        let (now, same) = position(&reply);
        assert_eq!(same, epoch, "session {session}");
        assert!(now >= last, "session {session}: {now} < {last}");
        recovered_total += now - last;
    }
    stop.store(true, Ordering::Relaxed);
    let published: u64 = threads.into_iter().map(|t| t.join().expect("ran")).sum();
    // What is left: everything up to the last publish, then nothing more.
    while ledger.next_offset <= published {
        let (offset, payload) = positioned(&subscriber.line(), "t");
        ledger.note(offset, &payload);
    }
    assert_eq!(ledger.next_offset - 1, published);
    assert!(recovered_total > 0, "some sessions recovered something");
    first = LineClient::connect(addr);
    assert_eq!(position(&first.command("SUB t POS")).0, published);
    server.stop();
}

#[test]
fn a_subscriber_that_misses_1000_publishes_gets_exactly_those_then_live_ones() {
    let (server, addr) = server("5000", &[]);
    let mut subscriber = LineClient::connect(addr);
    let (_, epoch) = position(&subscriber.command("SUB room POS"));
    let mut publisher = LineClient::connect(addr);
    assert_eq!(publisher.command("PUB room before"), "+OK");
    assert_eq!(positioned(&subscriber.line(), "room"), (1, "before".into()));
    drop(subscriber);
    for i in 0..1000 {
        assert_eq!(publisher.command(&format!("PUB room missed-{i}")), "+OK");
    }
    let mut back = LineClient::connect(addr);
    assert_eq!(
        back.command(&format!("SUB room SINCE 1 {epoch}")),
        format!("+OK 1001 {epoch}")
    );
    for i in 0..1000 {
        assert_eq!(
            positioned(&back.line(), "room"),
            (i + 2, format!("missed-{i}"))
        );
    }
    assert_eq!(publisher.command("PUB room live"), "+OK");
    assert_eq!(positioned(&back.line(), "room"), (1002, "live".into()));
    // A plain subscription is as it always was.
    let mut plain = LineClient::connect(addr);
    assert_eq!(plain.command("SUB room"), "+OK");
    assert_eq!(publisher.command("PUB room plain"), "+OK");
    assert_eq!(plain.line(), "MSG room plain");
    server.stop();
}

#[test]
fn bad_since_arguments_and_lost_histories_get_clear_errors_and_the_client_goes_on() {
    let (server, addr) = server("3", &["--history-max-age", "1h"]);
    let mut client = LineClient::connect(addr);
    let (_, epoch) = position(&client.command("SUB t POS"));
    assert_eq!(client.command("UNSUB t"), "+OK");
    for bad in [
        "SUB t SINCE -1 E",
        "SUB t SINCE 99999999999999999999999 E",
        "SUB t SINCE 18446744073709551616 E",
        "SUB t SINCE ten E",
        "SUB t SINCE",
        "SUB t SINCE 007 E",
    ] {
        assert_eq!(client.command(bad), "-ERR bad offset", "{bad}");
    }
    assert_eq!(client.command("SUB t SINCE 1"), "-ERR bad epoch");
    let long = "e".repeat(65);
    assert_eq!(
        client.command(&format!("SUB t SINCE 1 {long}")),
        "-ERR bad epoch"
    );
    assert_eq!(
        client.command("SUB t SINCE 0 unknown"),
        "-ERR cannot recover"
    );
    // A huge offset that fits: past the newest, so from another history.
    let huge = format!("SUB t SINCE 18446744073709551615 {epoch}");
    assert_eq!(client.command(&huge), "-ERR cannot recover");
    // Pushed out of a history of 3.
    for i in 0..5 {
        assert_eq!(client.command(&format!("PUB t m{i}")), "+OK");
    }
    let since = |offset| format!("SUB t SINCE {offset} {epoch}");
    assert_eq!(client.command(&since(1)), "-ERR cannot recover");
    assert_eq!(client.command(&since(2)), format!("+OK 5 {epoch}"));
    for (offset, text) in [(3, "m2"), (4, "m3"), (5, "m4")] {
        assert_eq!(positioned(&client.line(), "t"), (offset, text.into()));
    }
    assert_eq!(client.command("PING"), "+PONG", "the client goes on");
    server.stop();

    // Without --history, positions are refused and plain SUB works.
    let mut plain = Server::spawn(&["--protocol", "pubsub", "--bind", "127.0.0.1:0"]);
    let lines = plain.wait_for_lines(&["esockets listening", "history: none kept"]);
    let mut client = LineClient::connect(child::address_in(&lines[0]));
    assert_eq!(client.command("SUB t POS"), "-ERR history is off");
    assert_eq!(client.command("SUB t SINCE 0 e"), "-ERR history is off");
    assert_eq!(client.command("SUB t"), "+OK");
    plain.stop();
}

#[test]
fn websocket_subscribers_get_offsets_and_recover_too() {
    let (server, addr) = server("100", &["--websocket"]);
    let mut ws = RawClient::open(addr);
    ws.send_text("SUB chat POS");
    let (_, epoch) = position(&ws.text());
    let mut publisher = RawClient::open(addr);
    let mut publish = |text: &str| {
        publisher.send_text(&format!("PUB chat {text}"));
        assert_eq!(publisher.text(), "+OK");
    };
    for text in ["one", "two", "three"] {
        publish(text);
    }
    assert_eq!(ws.text(), "MSG chat 1 one");
    assert_eq!(ws.text(), "MSG chat 2 two");
    assert_eq!(ws.text(), "MSG chat 3 three");
    drop(ws);
    publish("four");
    let mut back = RawClient::open(addr);
    back.send_text(&format!("SUB chat SINCE 2 {epoch}"));
    assert_eq!(back.text(), format!("+OK 4 {epoch}"));
    assert_eq!(back.text(), "MSG chat 3 three");
    assert_eq!(back.text(), "MSG chat 4 four");
    publish("five");
    assert_eq!(back.text(), "MSG chat 5 five");
    back.send_text("SUB chat SINCE x y");
    assert_eq!(back.text(), "-ERR bad offset");
    server.stop();
}

/// The secret the presence test's tokens are signed with.
const SECRET: &str = "thirty-two bytes or more of secret";

/// A token for `sub`, valid a minute, allowed `room.*` both ways.
fn token(sub: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let claims = json!({"sub": sub, "exp": now + 60, "subs": ["room.*"], "pubs": ["room.*"]});
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("signs")
}

#[test]
fn presence_counts_subscriptions_and_lists_identities_from_tokens() {
    let dir = std::env::temp_dir().join(format!("esockets-presence-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let secret = dir.join("secret");
    std::fs::write(&secret, SECRET).expect("write the secret");
    let secret = secret.to_str().expect("UTF-8 path");
    let (server, addr) = server("10", &["--auth-jwt-secret-file", secret]);
    let join = |who: &str| {
        let mut client = LineClient::connect(addr);
        assert_eq!(client.command(&format!("AUTH {}", token(who))), "+OK");
        assert_eq!(client.command("SUB room.1"), "+OK");
        client
    };
    let (bob, _ann, _bob_again) = (join("bob"), join("ann"), join("bob"));
    let mut asker = LineClient::connect(addr);
    assert_eq!(asker.command("PRESENCE room.1"), "-ERR not authenticated");
    assert_eq!(asker.command(&format!("AUTH {}", token("zed"))), "+OK");
    assert_eq!(asker.command("PRESENCE room.1"), "+OK 3 ann bob");
    assert_eq!(asker.command("PRESENCE room.2"), "+OK 0");
    assert_eq!(asker.command("PRESENCE other"), "-ERR not allowed");
    let mut positioned = LineClient::connect(addr);
    assert_eq!(
        positioned.command(&format!("AUTH {}", token("a b%c"))),
        "+OK"
    );
    position(&positioned.command("SUB room.1 POS"));
    assert_eq!(asker.command("PRESENCE room.1"), "+OK 4 a%20b%25c ann bob");
    drop(bob);
    // The close is seen by the server soon after: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = asker.command("PRESENCE room.1");
        if reply == "+OK 3 a%20b%25c ann bob" {
            break;
        }
        assert!(Instant::now() < deadline, "still {reply}");
        std::thread::yield_now();
    }
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn recoveries_and_presence_are_in_the_metrics() {
    let (mut server, addr) = server("10", &["--metrics", "127.0.0.1:0"]);
    let line = server.wait_for_line("metrics at http://");
    let metrics: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .expect("the metrics address");
    let mut client = LineClient::connect(addr);
    let (_, epoch) = position(&client.command("SUB t POS"));
    assert_eq!(client.command("UNSUB t"), "+OK");
    for i in 0..3 {
        assert_eq!(client.command(&format!("PUB t {i}")), "+OK");
    }
    assert_eq!(
        client.command(&format!("SUB t SINCE 0 {epoch}")),
        format!("+OK 3 {epoch}")
    );
    for _ in 0..3 {
        client.line();
    }
    assert_eq!(client.command("SUB u SINCE 0 nope"), "-ERR cannot recover");
    let sum = |text: &str, name: &str| -> f64 {
        (0..2)
            .filter_map(|shard| value(text, &format!("{name}{{shard=\"{shard}\"}}")))
            .sum()
    };
    // Counters reach the endpoint within a round or so: wait for them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = scrape(metrics);
        if sum(&text, "esockets_pubsub_recovered_total") == 3.0 {
            break text;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::yield_now();
    };
    assert_eq!(sum(&text, "esockets_pubsub_recovery_failed_total"), 1.0);
    assert_eq!(value(&text, "esockets_presence_entries"), Some(1.0));
    assert_eq!(value(&text, "esockets_history_topics"), Some(1.0));
    assert_eq!(value(&text, "esockets_history_messages"), Some(3.0));
    promtool_check(&text);
    server.stop();
}
