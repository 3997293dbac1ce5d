//! A panicking handler takes down only its shard: its clients are dropped,
//! the other shards serve on, and `join` reports `Error::ShardPanicked`.

use std::io::Write;

use esockets::{Balance, Config, Error, ShardInfo};

use crate::util::{config, read_exact, read_to_close, round_trip, Fragile, TestServer};

#[test]
fn a_handler_panic_is_reported_by_join_and_other_shards_go_on() {
    // By the hash (steering would give every client of this thread to the
    // shard of its CPU).
    let config = Config {
        balance: Balance::ReusePort,
        ..config(2)
    };
    let server = TestServer::start(config, |context: ShardInfo| Fragile {
        index: u8::try_from(context.index).expect("few shards"),
    });
    // Connect until there is a client on each shard (64 tries: the kernel
    // hashes connections over both listeners).
    let mut on_shard = [None, None];
    for _ in 0..64 {
        let mut stream = server.client();
        let index = usize::from(read_exact(&mut stream, 1)[0]);
        on_shard[index].get_or_insert(stream);
        if on_shard.iter().all(Option::is_some) {
            break;
        }
    }
    let [Some(mut doomed), Some(mut survivor)] = on_shard else {
        panic!("no client landed on one of the shards");
    };
    doomed.write_all(b"!").expect("write");
    let got = read_to_close(&mut doomed, 0);
    assert!(got.is_empty(), "no reply from a panicking handler");
    for i in 0..10 {
        round_trip(&mut survivor, format!("shard 1 lives {i}\n").as_bytes());
    }
    match server.stop() {
        Err(Error::ShardPanicked { shard, message }) => {
            assert_eq!(shard, 0);
            assert!(message.contains("boom on shard 0"), "{message}");
        }
        other => panic!("expected ShardPanicked, got {other:?}"),
    }
}
