//! Issue 21, the history shared through a real redis-server by two
//! esockets processes: a subscriber misses 1,000 publishes made on the
//! other process and recovers exactly those, in order, then live ones, on
//! either process, and on a process started after they were published;
//! with Redis gone, local delivery goes on and the losses are counted.

mod child;

use std::net::SocketAddr;

use child::components::Redis;
use child::line_client::LineClient;
use child::server::{counter, Server};

/// An esockets pubsub server keeping a history of 5,000 per topic,
/// shared through `redis`, once both of its Redis connections are up.
fn instance(redis: &Redis) -> (Server, SocketAddr) {
    let url = redis.url();
    let mut server = Server::spawn(&[
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "2",
        "--backplane",
        &url,
        "--history",
        "5000",
    ]);
    let lines = server.wait_for_lines(&[
        "esockets listening",
        "backplane: publishing to Redis",
        "backplane: listening to Redis",
    ]);
    (server, child::address_in(&lines[0]))
}

/// A positioned reply `+OK offset epoch`: the offset and the epoch.
fn position(reply: &str) -> (u64, String) {
    let parts: Vec<&str> = reply.split(' ').collect();
    match parts[..] {
        ["+OK", offset, epoch] => (offset.parse().expect("an offset"), epoch.to_owned()),
        _ => panic!("not a position: {reply:?}"),
    }
}

/// The next `MSG room offset payload`: its offset and payload.
fn delivery(client: &mut LineClient) -> (u64, String) {
    let line = client.line();
    let rest = line.strip_prefix("MSG room ").expect("a delivery of room");
    let (offset, payload) = rest.split_once(' ').expect("an offset and a payload");
    (offset.parse().expect("a number"), payload.to_owned())
}

/// Recovers `room` on `addr` from `since`, expecting every publish up
/// to `newest` (payloads `m0..` from offset 2), once each, in order:
/// recovered, then live (a publish acknowledged on one process reaches
/// the others' histories a moment later, through Redis).
fn recover(addr: SocketAddr, since: u64, epoch: &str, newest: u64) -> LineClient {
    let mut client = LineClient::connect(addr);
    let (now, same) = position(&client.command(&format!("SUB room SINCE {since} {epoch}")));
    assert_eq!(same, epoch);
    assert!((since..=newest).contains(&now), "{now}");
    for offset in since + 1..=newest {
        assert_eq!(
            delivery(&mut client),
            (offset, format!("m{}", offset - 2)),
            "in order, once each"
        );
    }
    client
}

/// The backplane summary line of `server`, once stopped.
fn summary(server: Server) -> String {
    server.signal(libc::SIGTERM);
    let (status, lines) = server.finish();
    assert!(status.success(), "{status}");
    lines
        .into_iter()
        .find(|l| l.contains(" backplane sent="))
        .expect("a backplane summary line")
}

#[test]
fn a_subscriber_recovers_what_the_other_process_published_on_either_process() {
    let mut redis = Redis::start();
    let (a, addr_a) = instance(&redis);
    let (mut b, addr_b) = instance(&redis);

    // Subscribed on A before anything was published: B's first publish
    // gets the same epoch (both made it from the shared generation).
    let mut subscriber = LineClient::connect(addr_a);
    let (start, epoch) = position(&subscriber.command("SUB room POS"));
    assert_eq!(start, 0);
    let mut publisher = LineClient::connect(addr_b);
    assert_eq!(publisher.command("PUB room first"), "+OK");
    assert_eq!(delivery(&mut subscriber), (1, "first".into()));
    drop(subscriber);

    // 1,000 published on B while the subscriber is away.
    for i in 0..1000 {
        assert_eq!(publisher.command(&format!("PUB room m{i}")), "+OK");
    }
    // Back on A, then on B: exactly those, in order, then live ones.
    let mut on_a = recover(addr_a, 1, &epoch, 1001);
    let mut on_b = recover(addr_b, 1, &epoch, 1001);
    assert_eq!(publisher.command("PUB room live"), "+OK");
    assert_eq!(delivery(&mut on_a), (1002, "live".into()));
    assert_eq!(delivery(&mut on_b), (1002, "live".into()));
    drop((on_a, on_b));

    // A process started afterwards copies the history from Redis: the
    // epoch survives a restart.
    let (c, addr_c) = instance(&redis);
    let mut on_c = LineClient::connect(addr_c);
    let (_, same) = position(&on_c.command(&format!("SUB room SINCE 1000 {epoch}")));
    assert_eq!(same, epoch);
    assert_eq!(delivery(&mut on_c), (1001, "m999".into()));
    assert_eq!(delivery(&mut on_c), (1002, "live".into()));

    // Redis goes away: B's own subscribers still get B's publishes
    // (without an offset: they are in no history), and B counts them lost.
    let mut plain = LineClient::connect(addr_b);
    assert_eq!(plain.command("SUB room"), "+OK");
    let mut positioned = LineClient::connect(addr_b);
    position(&positioned.command("SUB room POS"));
    redis.kill();
    b.wait_for_line("(listening); other processes' publishes are missed");
    for i in 0..5 {
        assert_eq!(publisher.command(&format!("PUB room away{i}")), "+OK");
    }
    for i in 0..5 {
        assert_eq!(plain.line(), format!("MSG room away{i}"));
        assert_eq!(positioned.line(), format!("MSG room away{i}"));
    }
    drop((on_c, plain, positioned, publisher));
    let b = summary(b);
    assert_eq!(
        counter(&b, "lost"),
        5,
        "published while Redis was away: {b}"
    );
    assert_eq!(counter(&b, "sent"), 1002, "{b}");
    let a = summary(a);
    assert_eq!(counter(&a, "received"), 1002, "B's, each once: {a}");
    summary(c);
}

#[test]
fn positioned_subscribers_on_both_processes_see_one_order_and_a_lost_history_restarts_them() {
    let mut redis = Redis::start();
    let (mut a, addr_a) = instance(&redis);
    let (mut b, addr_b) = instance(&redis);
    let mut on_a = LineClient::connect(addr_a);
    let (_, epoch) = position(&on_a.command("SUB room POS"));
    let mut on_b = LineClient::connect(addr_b);
    assert_eq!(position(&on_b.command("SUB room POS")), (0, epoch.clone()));
    // Both processes publish at once, each from its own thread.
    let publish = |addr, who: &'static str| {
        std::thread::spawn(move || {
            let mut client = LineClient::connect(addr);
            for i in 0..300 {
                assert_eq!(client.command(&format!("PUB room {who}{i}")), "+OK");
            }
        })
    };
    let threads = [publish(addr_a, "a"), publish(addr_b, "b")];
    for thread in threads {
        thread.join().expect("published");
    }
    let seen_a: Vec<(u64, String)> = (0..600).map(|_| delivery(&mut on_a)).collect();
    let seen_b: Vec<(u64, String)> = (0..600).map(|_| delivery(&mut on_b)).collect();
    assert_eq!(seen_a, seen_b, "one order, the same offsets, on both");
    let offsets: Vec<u64> = seen_a.iter().map(|(offset, _)| *offset).collect();
    assert_eq!(offsets, (1..=600).collect::<Vec<_>>());
    for who in ["a", "b"] {
        let own: Vec<String> = seen_a
            .iter()
            .filter(|(_, p)| p.starts_with(who))
            .map(|(_, p)| p.clone())
            .collect();
        let expected: Vec<String> = (0..300).map(|i| format!("{who}{i}")).collect();
        assert_eq!(own, expected, "{who}'s in its order");
    }
    // Redis restarts with nothing (no persistence): the history is lost,
    // so the next publish starts a new epoch at offset 1, which positioned
    // subscribers get (not skipped as already seen).
    redis.kill();
    redis.restart();
    for server in [&mut a, &mut b] {
        server.wait_for_lines(&[
            "backplane: listening to Redis",
            "backplane: publishing to Redis",
        ]);
    }
    let mut publisher = LineClient::connect(addr_a);
    assert_eq!(publisher.command("PUB room anew"), "+OK");
    assert_eq!(delivery(&mut on_a), (1, "anew".into()));
    assert_eq!(delivery(&mut on_b), (1, "anew".into()));
    let (offset, new_epoch) = position(&publisher.command("SUB room POS"));
    assert_eq!(offset, 1);
    assert_ne!(new_epoch, epoch, "a new epoch");
    assert_eq!(
        publisher.command(&format!("SUB room SINCE 600 {epoch}")),
        "-ERR cannot recover"
    );
    drop((on_a, on_b, publisher));
    summary(a);
    summary(b);
}

/// Asks `PRESENCE room` on `client` until the reply is `expected` (the
/// processes share presence once a second), within ten seconds.
fn wait_for_presence(client: &mut LineClient, expected: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let reply = client.command("PRESENCE room");
        if reply == expected {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "still {reply:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn presence_adds_up_across_processes_and_a_dead_one_drops_out() {
    let redis = Redis::start();
    let (a, addr_a) = instance(&redis);
    let (b, addr_b) = instance(&redis);
    let mut on_a = LineClient::connect(addr_a);
    assert_eq!(on_a.command("SUB room"), "+OK");
    let mut on_b: Vec<LineClient> = (0..2).map(|_| LineClient::connect(addr_b)).collect();
    for client in &mut on_b {
        assert_eq!(client.command("SUB room"), "+OK");
    }
    let mut asker = LineClient::connect(addr_a);
    wait_for_presence(&mut asker, "+OK 3 anonymous");
    // B dies without a word: its entries expire with their TTL.
    b.signal(libc::SIGKILL);
    drop(b.finish());
    wait_for_presence(&mut asker, "+OK 1 anonymous");
    drop((on_a, on_b, asker));
    summary(a);
}
