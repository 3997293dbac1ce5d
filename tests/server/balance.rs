//! Balancing: under `Balance::LeastLoaded` one acceptor hands each client
//! to the shard with the fewest clients, skipping a stalled shard; ids,
//! counters, close reasons, refusals at the limit and shutdown behave as
//! under `Balance::ReusePort`. Under `Balance::ReceivingCpu` a client goes
//! to the shard pinned to the CPU that received it, and so it does under
//! the default (`Balance::Auto`) when nothing rules steering out; when
//! something does, the default runs `ReusePort` and says why.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use crossbeam::channel::{unbounded, Sender};
use esockets::{
    Admission, Balance, BalanceReason, CloseReason, Config, Conn, ConnId, Handler, ShardContext,
    ShardInfo, Verdict,
};

use crate::util::{
    config, expect_clean_close, heavy_test, read_exact, wait_until, Fragile, Gate, Hold, Named,
    TestServer, DEADLINE,
};

/// Both modes, for the tests that must behave the same in each.
const MODES: [Balance; 2] = [Balance::ReusePort, Balance::LeastLoaded];

/// A config of `threads` shards balanced by `balance`.
fn balanced(threads: usize, balance: Balance) -> Config {
    Config {
        balance,
        ..config(threads)
    }
}

/// Greets each client with `hello`; answers `?` with its shard's index
/// and the shard its id names; holds its shard on `block` until the test
/// releases it; closes the client on `quit`; says `bye` to every client
/// when shutdown begins; reports every open and close.
struct Probe {
    /// `ShardInfo::index` of this handler's shard.
    index: u8,
    /// Holds the shard until the test lets it go.
    hold: Hold,
    /// Where `(shard index, id)` of admitted clients go.
    opens: Sender<(u8, ConnId)>,
    /// Where `(id, reason)` of closed clients go.
    closes: Sender<(ConnId, CloseReason)>,
}

impl Handler for Probe {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        let _ = self.opens.send((self.index, conn.id()));
        conn.send(b"hello\n");
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        match data {
            b"?" => {
                let id_shard = u8::try_from(conn.id().shard()).expect("few shards");
                conn.send(&[self.index, id_shard]);
            }
            b"block" => {
                self.hold.here();
                conn.send(b"released\n");
            }
            b"quit" => return Verdict::Close,
            _ => {}
        }
        Verdict::Consumed(data.len())
    }

    fn on_shutting_down(&mut self, cx: &mut ShardContext<'_>) {
        cx.send_to_all(&b"bye\n"[..]);
    }

    fn on_close(&mut self, _cx: &mut ShardContext<'_>, id: ConnId, _state: (), why: CloseReason) {
        let _ = self.closes.send((id, why));
    }
}

/// A server of `Probe`s, with the test's ends of its channels.
struct Probed {
    /// The server.
    server: TestServer,
    /// Lets a held shard go.
    gate: Gate,
    /// `(shard index, id)` of each admitted client, in order.
    opens: crossbeam::channel::Receiver<(u8, ConnId)>,
    /// `(id, reason)` of each closed client.
    closes: crossbeam::channel::Receiver<(ConnId, CloseReason)>,
}

impl Probed {
    /// Starts `config` with a `Probe` per shard.
    fn start(config: Config) -> Self {
        let (gate, hold) = Gate::new();
        let (opens_tx, opens) = unbounded();
        let (closes_tx, closes) = unbounded();
        let server = TestServer::start(config, move |info: ShardInfo| Probe {
            index: u8::try_from(info.index).expect("few shards"),
            hold: hold.clone(),
            opens: opens_tx.clone(),
            closes: closes_tx.clone(),
        });
        Self {
            server,
            gate,
            opens,
            closes,
        }
    }

    /// A client, greeted.
    fn client(&self) -> TcpStream {
        let mut stream = self.server.client();
        assert_eq!(read_exact(&mut stream, 6), b"hello\n");
        stream
    }
}

/// Asks a client which shard serves it; checks its id names that shard.
fn shard_of(stream: &mut TcpStream) -> u8 {
    stream.write_all(b"?").expect("ask");
    let answer = read_exact(stream, 2);
    assert_eq!(answer[0], answer[1], "the id names the shard serving it");
    answer[0]
}

#[test]
fn least_loaded_spreads_a_thousand_clients_evenly_over_two_shards() {
    const CLIENTS: usize = 1_000;
    let _fds = heavy_test();
    let server = TestServer::start(balanced(2, Balance::LeastLoaded), |_| {
        esockets::protocols::Echo
    });
    let clients: Vec<TcpStream> = (0..CLIENTS).map(|_| server.client()).collect();
    server.wait_for_total("every client open", |t| t.open == CLIENTS as u64);
    let open: Vec<u64> = server.handle.stats().iter().map(|s| s.open).collect();
    let even = CLIENTS as u64 / 2;
    for (shard, &n) in open.iter().enumerate() {
        assert!(
            n.abs_diff(even) <= even / 100,
            "shard {shard} has {n} clients, more than 1 % off {even}: {open:?}"
        );
    }
    drop(clients);
    server.wait_for_total("every client closed", |t| t.open == 0);
}

#[test]
fn a_stalled_shard_gets_no_new_clients_until_it_is_back() {
    const NEWCOMERS: usize = 20;
    let probed = Probed::start(balanced(2, Balance::LeastLoaded));
    // One client on each shard: equal load.
    let mut first = probed.client();
    let mut second = probed.client();
    let held = shard_of(&mut first);
    let other = shard_of(&mut second);
    assert_ne!(
        held, other,
        "least-loaded puts the second client on the other shard"
    );

    first.write_all(b"block").expect("write");
    probed.gate.wait_held();
    // "Stalled" means a loop round running for STALLED_AFTER or longer:
    // the condition is time itself.
    let visible = Instant::now() + Balance::STALLED_AFTER * 2;
    wait_until(DEADLINE, "the stall to last past the limit", || {
        Instant::now() >= visible
    });

    // Alternating shards would be fair; the held one gets none of them,
    // and each is served while it is held.
    let mut newcomers: Vec<TcpStream> = (0..NEWCOMERS).map(|_| probed.client()).collect();
    for (i, stream) in newcomers.iter_mut().enumerate() {
        assert_eq!(
            shard_of(stream),
            other,
            "newcomer {i} went to the stalled shard"
        );
    }

    probed.gate.open();
    assert_eq!(read_exact(&mut first, 9), b"released\n");
    // Answered in a later round: the stalled one has ended.
    assert_eq!(shard_of(&mut first), held);
    // Back, and by far the least loaded: the next client is its.
    let mut next = probed.client();
    assert_eq!(
        shard_of(&mut next),
        held,
        "the shard is back in the rotation"
    );
}

#[test]
fn ids_counters_and_close_reasons_are_the_same_in_both_modes() {
    for balance in MODES {
        let probed = Probed::start(balanced(2, balance));
        let mut peer_closes = probed.client();
        let mut quits = probed.client();
        let mut server_closes = probed.client();
        let mut stays = probed.client();
        for stream in [&mut peer_closes, &mut quits, &mut server_closes, &mut stays] {
            shard_of(stream);
        }
        let opened: Vec<(u8, ConnId)> = probed.opens.try_iter().collect();
        assert_eq!(opened.len(), 4, "{balance:?}");
        for (index, id) in &opened {
            assert_eq!(usize::from(*index), id.shard(), "{balance:?}: {id:?}");
        }
        let ids: Vec<ConnId> = opened.iter().map(|(_, id)| *id).collect();

        drop(peer_closes);
        quits.write_all(b"quit").expect("write");
        probed.server.handle.close(ids[2]).expect("close");
        let mut closed = Vec::new();
        for _ in 0..3 {
            closed.push(probed.closes.recv_timeout(DEADLINE).expect("a close"));
        }
        closed.sort_by_key(|(id, _)| ids.iter().position(|i| i == id));
        assert_eq!(
            closed,
            vec![
                (ids[0], CloseReason::PeerClosed),
                (ids[1], CloseReason::Handler),
                (ids[2], CloseReason::Server),
            ],
            "{balance:?}"
        );
        probed
            .server
            .wait_for_total("three closed", |t| t.closed == 3 && t.open == 1);
        let total = probed.server.total();
        assert_eq!(
            (total.accepted, total.refused),
            (4, 0),
            "{balance:?}: {total:?}"
        );

        let Probed { server, closes, .. } = probed;
        server.handle.shutdown();
        expect_clean_close(&mut stays, b"bye\n");
        server.stop().expect("clean shutdown");
        assert_eq!(
            closes.try_iter().collect::<Vec<_>>(),
            vec![(ids[3], CloseReason::Shutdown)],
            "{balance:?}"
        );
    }
}

#[test]
fn clients_waiting_at_shutdown_are_served_then_closed_cleanly_in_both_modes() {
    // Under reuseport they wait in the held shard's listen queue; under
    // least-loaded the acceptor has handed them over and they wait in the
    // held shard's inbox. Either way each is greeted, told goodbye and
    // closed without a reset.
    const WAITING: usize = 200;
    let _fds = heavy_test();
    for balance in MODES {
        let probed = Probed::start(balanced(1, balance));
        let mut first = probed.client();
        first.write_all(b"block").expect("write");
        probed.gate.wait_held();
        let mut waiting: Vec<TcpStream> = (0..WAITING).map(|_| probed.server.client()).collect();
        probed.server.handle.shutdown();
        probed.gate.open();
        for stream in &mut waiting {
            expect_clean_close(stream, b"hello\nbye\n");
        }
        expect_clean_close(&mut first, b"released\nbye\n");
        let Probed { server, closes, .. } = probed;
        let handle = server.handle.clone();
        server.stop().expect("clean shutdown");
        let total: esockets::ShardStats = handle.stats().into_iter().sum();
        assert_eq!(total.accepted, WAITING as u64 + 1, "{balance:?}: {total:?}");
        assert_eq!(total.closed, WAITING as u64 + 1, "{balance:?}: {total:?}");
        assert_eq!(total.open, 0, "{balance:?}: {total:?}");
        let reasons: Vec<CloseReason> = closes.try_iter().map(|(_, why)| why).collect();
        assert_eq!(reasons.len(), WAITING + 1, "{balance:?}");
        assert!(
            reasons.iter().all(|why| *why == CloseReason::Shutdown),
            "{balance:?}: {reasons:?}"
        );
    }
}

#[test]
fn least_loaded_refuses_at_the_connection_limit_like_reuseport() {
    for balance in MODES {
        let server = TestServer::start(
            Config {
                max_connections: Some(2),
                refuse_message: Some(b"busy\n".to_vec().into()),
                ..balanced(2, balance)
            },
            |_| esockets::protocols::Echo,
        );
        let mut kept: Vec<TcpStream> = (0..2).map(|_| server.client()).collect();
        for stream in &mut kept {
            crate::util::round_trip(stream, b"ping");
        }
        let mut refused = server.client();
        expect_clean_close(&mut refused, b"busy\n");
        // Each shard publishes its counters on its own (at most every
        // 10 ms): wait until both have, then check nothing else moved.
        server.wait_for_total("one refused, two open", |t| {
            t.over_limit == 1 && t.open == 2
        });
        let total = server.total();
        assert_eq!(
            (total.open, total.refused),
            (2, 1),
            "{balance:?}: {total:?}"
        );
    }
}

#[test]
fn least_loaded_sends_no_client_to_a_shard_that_panicked() {
    let server = TestServer::start(balanced(2, Balance::LeastLoaded), |info: ShardInfo| {
        Fragile {
            index: u8::try_from(info.index).expect("few shards"),
        }
    });
    let mut doomed = server.client();
    let dead = read_exact(&mut doomed, 1)[0];
    doomed.write_all(b"!").expect("write");
    assert_eq!(
        crate::util::read_to_close(&mut doomed, 16),
        b"",
        "the panicking shard's client is dropped"
    );
    // Every newcomer is greeted by the other shard, though the dead one
    // holds no client and would be the least loaded.
    for i in 0..10 {
        let mut stream = server.client();
        let greeting = read_exact(&mut stream, 1)[0];
        assert_ne!(greeting, dead, "newcomer {i} went to the dead shard");
    }
    let server = server.take();
    server.shutdown();
    match server.join() {
        Err(esockets::Error::ShardPanicked { shard, .. }) => {
            assert_eq!(shard, usize::from(dead));
        }
        other => panic!("expected ShardPanicked, got {other:?}"),
    }
}

#[test]
fn least_loaded_serves_listening_sockets_passed_in() {
    let passed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = passed.local_addr().expect("addr");
    let (opens, opened) = unbounded();
    let server = esockets::Server::from_listeners(
        balanced(2, Balance::LeastLoaded),
        vec![passed],
        move |info: ShardInfo| Probe {
            index: u8::try_from(info.index).expect("few shards"),
            hold: Gate::new().1,
            opens: opens.clone(),
            closes: unbounded().0,
        },
    )
    .expect("serves the passed socket");
    let mut clients: Vec<TcpStream> = (0..4).map(|_| crate::util::client(addr)).collect();
    let mut per_shard = [0; 2];
    for stream in &mut clients {
        assert_eq!(read_exact(stream, 6), b"hello\n");
        per_shard[usize::from(shard_of(stream))] += 1;
    }
    assert_eq!(per_shard, [2, 2]);
    assert_eq!(opened.try_iter().count(), 4);
    server.shutdown();
    server.join().expect("clean shutdown");
}

#[test]
fn least_loaded_hands_over_clients_that_then_send_a_proxy_header() {
    // The acceptor hands the connection over; the shard awaits its PROXY
    // header as for a client it accepted itself, then `on_connect` sees
    // the client's real address.
    let (opens, opened) = unbounded();
    let (peers, peer) = unbounded();
    struct RealPeer {
        /// Where `on_connect`'s peer goes.
        peers: Sender<SocketAddr>,
        /// The probe it wraps, for `?`.
        probe: Probe,
    }
    impl Handler for RealPeer {
        type State = ();

        fn on_connect(
            &mut self,
            cx: &mut ShardContext<'_>,
            conn: &mut Conn<'_>,
            peer: SocketAddr,
        ) -> Admission<()> {
            let _ = self.peers.send(peer);
            self.probe.on_connect(cx, conn, peer)
        }

        fn on_data(
            &mut self,
            cx: &mut ShardContext<'_>,
            conn: &mut Conn<'_>,
            state: &mut (),
            data: &[u8],
        ) -> Verdict {
            self.probe.on_data(cx, conn, state, data)
        }
    }
    let server = TestServer::start(
        Config {
            proxy_protocol: true,
            proxy_trusted: vec!["127.0.0.0/8".parse().expect("network")],
            ..balanced(2, Balance::LeastLoaded)
        },
        move |info: ShardInfo| RealPeer {
            peers: peers.clone(),
            probe: Probe {
                index: u8::try_from(info.index).expect("few shards"),
                hold: Gate::new().1,
                opens: opens.clone(),
                closes: unbounded().0,
            },
        },
    );
    for port in [4000u16, 4001] {
        let mut stream = server.client();
        stream
            .write_all(format!("PROXY TCP4 198.51.100.7 192.0.2.1 {port} 443\r\n").as_bytes())
            .expect("header");
        assert_eq!(read_exact(&mut stream, 6), b"hello\n");
        let seen = peer.recv_timeout(DEADLINE).expect("on_connect ran");
        assert_eq!(seen, SocketAddr::from(([198, 51, 100, 7], port)));
        // Served, by the shard its id names. (Which shard is not asserted:
        // on a loaded machine a shard descheduled mid-round for 5 ms
        // looks stalled and is rightly skipped.)
        shard_of(&mut stream);
    }
    assert_eq!(opened.try_iter().count(), 2);
    server.wait_for_total("two headers, two clients", |t| {
        t.proxy_headers == 2 && t.accepted == 2
    });
}

/// The CPUs this process may run on, in ascending order: the order the
/// server pins its shards in (shard `i` on the `i`-th).
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity
    // fills the one we pass, of the size we pass.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    assert_eq!(
        rc,
        0,
        "sched_getaffinity: {}",
        std::io::Error::last_os_error()
    );
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: as above; CPU_SET writes inside the set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    assert_eq!(
        rc,
        0,
        "sched_setaffinity: {}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn receiving_cpu_gives_each_client_to_the_shard_on_the_cpu_it_connected_from() {
    let probed = Probed::start(balanced(allowed_cpus().len().min(2), Balance::ReceivingCpu));
    assert_eq!(probed.server.balance().reason, BalanceReason::Asked);
    clients_land_on_the_shard_of_their_cpu(&probed);
}

#[test]
fn the_default_gives_each_client_to_the_shard_on_the_cpu_it_connected_from() {
    let shards = allowed_cpus().len().min(2);
    let probed = Probed::start(config(shards));
    let choice = probed.server.balance();
    assert_eq!(choice.mode, Balance::ReceivingCpu, "{choice:?}");
    assert_eq!(
        choice.reason,
        BalanceReason::Steerable {
            shards,
            cpus: allowed_cpus().len()
        }
    );
    clients_land_on_the_shard_of_their_cpu(&probed);
}

/// On loopback the SYN is processed on the CPU of the thread that
/// connects (unless RPS is set on `lo`, which no test machine here does),
/// so under steering a client connecting from a thread pinned to CPU c
/// must land on the shard pinned to c. On a one-CPU machine there is one
/// shard, and this only checks that the mode serves.
fn clients_land_on_the_shard_of_their_cpu(probed: &Probed) {
    let cpus = allowed_cpus();
    let shards = probed.server.handle.shards();
    for (shard, &cpu) in cpus.iter().take(shards).enumerate() {
        let landed: Vec<u8> = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    pin_to(cpu);
                    (0..20).map(|_| shard_of(&mut probed.client())).collect()
                })
                .join()
                .expect("client thread")
        });
        assert!(
            landed.iter().all(|&s| usize::from(s) == shard),
            "clients connecting from CPU {cpu} landed on shards {landed:?}, not all on {shard}"
        );
    }
}

#[test]
fn receiving_cpu_needs_pinned_shards_and_a_core_for_each() {
    let unpinned = Config {
        pin_threads: false,
        ..balanced(1, Balance::ReceivingCpu)
    };
    let err = esockets::Server::bind(unpinned, |_| esockets::protocols::Echo)
        .expect_err("unpinned shards refused");
    assert!(err.to_string().contains("pinned"), "{err}");
    let too_many = balanced(allowed_cpus().len() + 1, Balance::ReceivingCpu);
    let err = esockets::Server::bind(too_many, |_| esockets::protocols::Echo)
        .expect_err("more shards than cores refused");
    assert!(err.to_string().contains("one core for each shard"), "{err}");
}

#[test]
fn a_server_joining_a_cpu_steered_group_gets_clients_by_the_hash() {
    // The first server's program sends every client to its only socket
    // (index 0). A server that joins must take the program off the group,
    // or it would get no client while the first one listens.
    let cpus = allowed_cpus();
    let first = Probed::start(balanced(1, Balance::ReceivingCpu));
    let second = TestServer::start(
        Config {
            bind: first.server.addr,
            reuseport_join: true,
            ..config(1)
        },
        |_| Named {
            name: b"B\n",
            hold: None,
        },
    );
    let greetings: Vec<Vec<u8>> = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                pin_to(cpus[0]);
                (0..40)
                    .map(|_| read_exact(&mut second.client(), 2))
                    .collect()
            })
            .join()
            .expect("client thread")
    });
    let joined = greetings.iter().filter(|g| g.as_slice() == b"B\n").count();
    // By the hash over two sockets, none of 40 reaching the second server
    // has a chance of 2^-40.
    assert!(
        joined > 0,
        "the server that joined got none of 40 clients: the steering stayed"
    );
}

#[test]
fn the_default_falls_back_to_the_hash_and_says_why() {
    let cpus = allowed_cpus().len();
    let unpinned = Config {
        pin_threads: false,
        ..config(1)
    };
    let cases = [
        (unpinned, BalanceReason::NotPinned, "not pinned"),
        (
            config(cpus + 1),
            BalanceReason::MoreShardsThanCpus {
                shards: cpus + 1,
                cpus,
            },
            "needs a CPU per shard",
        ),
    ];
    for (config, reason, words) in cases {
        let server = TestServer::start(config, |_| esockets::protocols::Echo);
        let choice = server.balance();
        assert_eq!(choice.mode, Balance::ReusePort, "{choice:?}");
        assert!(
            choice.reason.to_string().contains(words),
            "{}",
            choice.reason
        );
        assert_eq!(choice.reason, reason);
        let mut stream = server.client();
        stream.write_all(b"x").expect("write");
        assert_eq!(read_exact(&mut stream, 1), b"x", "served by the hash");
    }

    let first = TestServer::echo(1);
    let joining = TestServer::start(
        Config {
            bind: first.addr,
            reuseport_join: true,
            ..config(1)
        },
        |_| esockets::protocols::Echo,
    );
    assert_eq!(first.balance().mode, Balance::ReceivingCpu);
    assert_eq!(joining.balance().mode, Balance::ReusePort);
    assert_eq!(joining.balance().reason, BalanceReason::Joining);

    let passed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let server =
        esockets::Server::from_listeners(config(1), vec![passed], |_| esockets::protocols::Echo)
            .expect("serves the passed socket");
    assert_eq!(server.balance().mode, Balance::ReusePort);
    assert_eq!(server.balance().reason, BalanceReason::Passed);
    assert!(
        server.balance().reason.to_string().contains("passed in"),
        "{}",
        server.balance().reason
    );
    server.shutdown();
    server.join().expect("clean shutdown");
}

#[test]
fn asked_for_by_name_cpu_refuses_what_the_default_falls_back_from() {
    let joining = Config {
        reuseport_join: true,
        ..balanced(1, Balance::ReceivingCpu)
    };
    let err = esockets::Server::bind(joining, |_| esockets::protocols::Echo)
        .expect_err("joining refused");
    assert!(err.to_string().contains("reuseport_join"), "{err}");
    let passed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let err =
        esockets::Server::from_listeners(balanced(1, Balance::ReceivingCpu), vec![passed], |_| {
            esockets::protocols::Echo
        })
        .expect_err("passed sockets refused");
    assert!(err.to_string().contains("passed sockets"), "{err}");
}
