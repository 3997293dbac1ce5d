//! The WebSocket layer as a library: a `WsHandler` of the test's own,
//! served in-process, driven by a raw client. What ws-echo cannot show:
//! server-initiated closing handshakes (answered, and not answered in
//! time), a frame built once and sent to other clients through the
//! context, handler timers, the subprotocol and path at `on_open`, and the
//! close code at `on_close`.

#[path = "websocket/raw_client.rs"]
mod raw_client;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam::channel::{unbounded, Receiver, Sender};
use esockets::websocket::{
    text_frame, Closed, Message, OpenRequest, WebSocket, WsConfig, WsConn, WsHandler,
};
use esockets::{Config, ConnId, Server, ShardContext};
use raw_client::RawClient;

/// How long the test waits for the server to report a close.
const DEADLINE: Duration = Duration::from_secs(10);

/// The server's wait for a client's close frame, in this test.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(300);

/// A handler with a command per message: `bye` closes (4001), `all X`
/// sends X to every open client as one frame built once, `timer` answers
/// `tick 7` from a handler timer; anything else comes back.
struct Commands {
    /// Every open client (the test runs one shard).
    open: Arc<Mutex<Vec<ConnId>>>,
    /// Where `on_close` reports.
    closed: Sender<Closed>,
}

impl WsHandler for Commands {
    type State = ();

    fn on_open(
        &mut self,
        _cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        _state: &mut (),
        request: &OpenRequest<'_>,
    ) {
        self.open.lock().expect("lock").push(ws.id());
        ws.send_text(&format!("welcome {} {:?}", request.path, ws.protocol()));
    }

    fn on_message(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        _state: &mut (),
        message: Message<'_>,
    ) {
        match message {
            Message::Text("bye") => ws.close(4001, "asked to leave"),
            Message::Text("timer") => {
                cx.set_timer(ws.id(), Duration::from_millis(20), 7);
            }
            Message::Text(text) if text.starts_with("all ") => {
                let frame = text_frame(&text[4..]);
                for &id in self.open.lock().expect("lock").iter() {
                    cx.send(id, frame.clone()).expect("same shard");
                }
            }
            other => ws.send(other),
        }
    }

    fn on_timer(
        &mut self,
        _cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        _state: &mut (),
        tag: u64,
    ) {
        ws.send_text(&format!("tick {tag}"));
    }

    fn on_close(&mut self, _cx: &mut ShardContext<'_>, id: ConnId, _state: (), closed: Closed) {
        self.open.lock().expect("lock").retain(|&open| open != id);
        let _ = self.closed.send(closed);
    }
}

/// A one-shard server running [`Commands`], and where closes are reported.
fn start() -> (Server, Receiver<Closed>) {
    let ws = WsConfig {
        close_timeout: CLOSE_TIMEOUT,
        protocols: vec!["chat.v2".into(), "chat.v1".into()],
        ..WsConfig::default()
    };
    let config = Config {
        bind: "127.0.0.1:0".parse().expect("address"),
        threads: 1,
        input_limit: ws.input_limit(),
        ..Config::default()
    };
    let (sender, closed) = unbounded();
    let open = Arc::new(Mutex::new(Vec::new()));
    let server = Server::bind(config, move |_| {
        let handler = Commands {
            open: Arc::clone(&open),
            closed: sender.clone(),
        };
        WebSocket::new(ws.clone(), handler)
    })
    .expect("server binds");
    (server, closed)
}

/// The next close `on_close` reported.
fn next_close(closed: &Receiver<Closed>) -> Closed {
    closed.recv_timeout(DEADLINE).expect("on_close ran")
}

/// Opens a client and reads its welcome.
fn open(server: &Server) -> RawClient {
    let mut raw = RawClient::open(server.local_addr());
    assert_eq!(raw.text(), "welcome / None");
    raw
}

#[test]
fn server_close_answered_by_the_client() {
    let (server, closed) = start();
    let mut raw = open(&server);
    raw.send_text("bye");
    let (code, reason) = raw.close_frame();
    assert_eq!((code, reason.as_str()), (4001, "asked to leave"));
    // The server waits for the client's close frame before closing.
    raw.expect_open_for(CLOSE_TIMEOUT / 3);
    raw.send_close(4001);
    raw.expect_end();
    let report = next_close(&closed);
    assert_eq!(report.code, Some(4001));
    server.shutdown();
    server.join().expect("clean end");
}

#[test]
fn server_close_not_answered_ends_at_the_close_timeout() {
    let (server, closed) = start();
    let mut raw = open(&server);
    let start = Instant::now();
    raw.send_text("bye");
    assert_eq!(raw.close_frame().0, 4001);
    // Messages after the close frame are not handled.
    raw.send_text("echo me");
    raw.expect_end();
    let took = start.elapsed();
    assert!(took >= CLOSE_TIMEOUT, "closed after {took:?}");
    assert_eq!(next_close(&closed).code, Some(4001));
    server.shutdown();
    server.join().expect("clean end");
}

#[test]
fn a_frame_built_once_reaches_every_client_and_timers_reach_the_handler() {
    let (server, closed) = start();
    let mut first = open(&server);
    let mut second = open(&server);
    first.send_text("all hello, everyone");
    assert_eq!(first.text(), "hello, everyone");
    assert_eq!(second.text(), "hello, everyone");
    second.send_text("timer");
    assert_eq!(second.text(), "tick 7");
    first.send_text("plain");
    assert_eq!(first.text(), "plain");
    // A client that closes: its code reaches on_close.
    first.send_close(1000);
    assert_eq!(first.close_frame().0, 1000);
    first.expect_end();
    assert_eq!(next_close(&closed).code, Some(1000));
    server.shutdown();
    server.join().expect("clean end");
}

#[test]
fn the_subprotocol_and_path_reach_on_open() {
    let (server, _closed) = start();
    let request = raw_client::UPGRADE
        .replace("GET / ", "GET /room/7?x=1 ")
        .replace(
            "\r\n\r\n",
            "\r\nSec-WebSocket-Protocol: chat.v1, chat.v2\r\n\r\n",
        );
    let mut raw = RawClient::upgrade(server.local_addr(), &request);
    let head = raw.http_head();
    assert!(
        head.contains("\r\nSec-WebSocket-Protocol: chat.v2\r\n"),
        "{head}"
    );
    assert_eq!(raw.text(), "welcome /room/7?x=1 Some(\"chat.v2\")");
    server.shutdown();
    server.join().expect("clean end");
}
