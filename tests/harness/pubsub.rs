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
