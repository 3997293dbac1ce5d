//! The pubsub protocol in memory: replies, deliveries framed by each front
//! end (`MSG topic payload` as a line, or as a WebSocket text frame), and
//! publishes from the library's handle framed the same way.

use esockets::protocols::pubsub::PubSubWs;
use esockets::protocols::PubSub;
use esockets::testing::Harness;
use esockets::websocket::{WebSocket, WsConfig};
use esockets::Config;

use crate::websocket::{masked_text, open, server_text};

#[test]
fn lines_publish_and_deliver_in_order_and_handle_publishes_are_framed_too() {
    let mut h = Harness::new(Config::default(), PubSub::new(1024));
    let sub = h.connect().expect("accepted");
    let publisher = h.connect().expect("accepted");
    h.send(sub, b"sub news\nSUB sport\n");
    assert_eq!(h.take_output(sub), b"+OK\n+OK\n", "any case");
    h.send(publisher, b"PUB news one\nPUB sport two\nPUB other none\n");
    assert_eq!(h.take_output(publisher), b"+OK\n+OK\n+OK\n");
    assert_eq!(h.take_output(sub), b"MSG news one\nMSG sport two\n");
    h.handle()
        .publish(b"news", &b"from the library"[..])
        .expect("queued");
    h.settle();
    assert_eq!(h.take_output(sub), b"MSG news from the library\n");
    assert_eq!(h.stats().delivered, 3);
}

#[test]
fn websocket_subscribers_get_text_frames_of_the_same_publishes() {
    let mut h = Harness::new(
        Config::default(),
        WebSocket::new(WsConfig::default(), PubSubWs::new()),
    );
    let sub = open(&mut h);
    h.send(sub, &masked_text("SUB news"));
    assert_eq!(h.take_output(sub), server_text("+OK"));
    h.handle().publish(b"news", &b"hello"[..]).expect("queued");
    h.settle();
    assert_eq!(h.take_output(sub), server_text("MSG news hello"));
}

#[test]
fn a_thousand_deliveries_queued_for_a_subscriber_leave_in_one_write() {
    let mut h = Harness::new(Config::default(), PubSub::new(1024));
    let sub = h.connect().expect("accepted");
    let publisher = h.connect().expect("accepted");
    h.send(sub, b"SUB feed\n");
    assert_eq!(h.take_output(sub), b"+OK\n");
    // It stops reading: every delivery is queued (a shared buffer each).
    h.set_window(sub, Some(0));
    let flood: Vec<u8> = (0..1000)
        .flat_map(|n| format!("PUB feed {n:04}\n").into_bytes())
        .collect();
    h.send(publisher, &flood);
    assert_eq!(h.take_output(publisher), b"+OK\n".repeat(1000));
    let before = h.stats().output_writes;
    h.open_window(sub, None);
    let got = h.take_output(sub);
    let expected: Vec<u8> = (0..1000)
        .flat_map(|n| format!("MSG feed {n:04}\n").into_bytes())
        .collect();
    assert!(got == expected, "all 1,000 deliveries, in order");
    assert_eq!(
        h.stats().output_writes - before,
        1,
        "one writev for the 1,000 queued deliveries"
    );
}

#[test]
fn a_fan_out_past_the_flush_budget_is_written_over_several_rounds_in_order() {
    // 1,500 subscribers on one shard: more than one round's flush budget
    // (1,024 clients), so the rest wait for the next round.
    let mut h = Harness::new(Config::default(), PubSub::new(1024));
    let subscribers: Vec<_> = (0..1500)
        .map(|_| {
            let sub = h.connect().expect("accepted");
            h.send(sub, b"SUB feed\n");
            sub
        })
        .collect();
    for &sub in &subscribers {
        assert_eq!(h.take_output(sub), b"+OK\n");
    }
    let publisher = h.connect().expect("accepted");
    let before = h.stats();
    h.send(publisher, b"PUB feed one\nPUB feed two\nPUB feed three\n");
    assert_eq!(h.take_output(publisher), b"+OK\n+OK\n+OK\n");
    for &sub in &subscribers {
        assert_eq!(
            h.take_output(sub),
            b"MSG feed one\nMSG feed two\nMSG feed three\n",
            "every subscriber, every message, in order, in one write"
        );
    }
    let after = h.stats();
    assert_eq!(
        after.output_writes - before.output_writes,
        1500,
        "one write each"
    );
    assert!(
        after.flushes_carried_over > before.flushes_carried_over,
        "the flush was split over rounds"
    );
}
