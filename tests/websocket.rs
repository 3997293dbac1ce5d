//! `esockets --protocol ws-echo` end to end: against Python's `websockets`
//! (an independent implementation) and against a raw client that breaks
//! the rules on purpose.

mod child;
#[path = "websocket/raw_client.rs"]
mod raw_client;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use child::chromium::dom_showing;
use child::server::{client, Server};
use child::{Child, DEADLINE};
use esockets::websocket::{masked_frame, Opcode};
use raw_client::{RawClient, UPGRADE};

/// A ws-echo server with two shards and these extra flags.
fn ws_server(extra: &[&str]) -> (Server, SocketAddr) {
    let mut flags = vec!["--protocol", "ws-echo"];
    flags.extend_from_slice(extra);
    spawn_server(&flags)
}

/// A server with two shards on a free port and these flags.
fn spawn_server(flags: &[&str]) -> (Server, SocketAddr) {
    let mut args = vec!["--bind", "127.0.0.1:0", "--threads", "2"];
    args.extend_from_slice(flags);
    let mut server = Server::spawn(&args);
    let addr = server.listening_addr();
    (server, addr)
}

/// Fails clearly unless Python's `websockets` package is installed.
fn require_python_websockets() {
    let status = Command::new("python3")
        .args(["-c", "import websockets"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "Python's websockets package is not installed: run scripts/components.sh (as root), \
         or the README's test command, which runs it"
    );
}

/// Starts the Python client (tests/websocket/client.py) against `addr`.
fn python_client(addr: SocketAddr, args: &[&str]) -> (Child, child::Lines) {
    require_python_websockets();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/websocket/client.py");
    let mut command = Command::new("python3");
    command
        .arg(script)
        .arg(addr.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = Child::spawn(&mut command);
    let lines = child.stdout_lines();
    (child, lines)
}

/// Runs the Python client to its end and returns its output, asserting it
/// succeeded.
fn run_python(addr: SocketAddr, args: &[&str]) -> Vec<String> {
    let (mut child, mut lines) = python_client(addr, args);
    let status = child.wait_within(DEADLINE * 2, "the Python client");
    let out = lines.rest();
    assert!(
        status.success(),
        "the Python client failed: {status}; it said {out:#?}"
    );
    out
}

/// Asserts `out` holds a PASS line for each check.
fn assert_passed(out: &[String], checks: &[&str]) {
    for check in checks {
        let line = format!("PASS {check}");
        assert!(out.contains(&line), "no {line:?} in {out:#?}");
    }
}

#[test]
fn python_client_exchanges_every_kind_of_message() {
    let (server, addr) = ws_server(&["--ws-ping-interval", "200ms", "--ws-pong-timeout", "2s"]);
    let out = run_python(addr, &["exchange", "1.0"]);
    assert_passed(
        &out,
        &[
            "text",
            "binary",
            "fragmented text",
            "fragmented binary",
            "1 MiB binary",
            "1 MiB text",
            "ping answered with pong",
            "open across server pings",
            "client-initiated close handshake",
        ],
    );
    let (status, _) = server.stop();
    assert!(status.success(), "{status}");
}

#[test]
fn python_client_sees_1009_for_an_oversize_message() {
    let (server, addr) = ws_server(&["--ws-max-message", "64KiB"]);
    let out = run_python(addr, &["oversize"]);
    assert_passed(&out, &["oversize message closed with 1009"]);
    drop(server);
}

#[test]
fn server_shutdown_is_a_close_handshake_with_1001() {
    let (server, addr) = ws_server(&[]);
    let (mut python, mut lines) = python_client(addr, &["server-close"]);
    lines.wait_for("OPEN");
    server.signal(libc::SIGTERM);
    let status = python.wait_within(DEADLINE, "the Python client");
    let out = lines.rest();
    assert!(status.success(), "{status}: {out:#?}");
    assert_passed(&out, &["server-initiated close handshake"]);
    let (status, _) = server.finish();
    assert!(status.success(), "{status}");
}

#[test]
fn origins_off_the_allow_list_are_refused() {
    let (server, addr) = ws_server(&["--ws-allowed-origin", "https://good.example"]);
    let out = run_python(addr, &["origins"]);
    assert_passed(
        &out,
        &["forbidden origin refused with 403", "allowed origin served"],
    );
    drop(server);
}

#[test]
fn a_client_that_stops_answering_pings_is_closed() {
    let (server, addr) = ws_server(&["--ws-ping-interval", "200ms", "--ws-pong-timeout", "300ms"]);
    let mut raw = RawClient::open(addr);
    let start = Instant::now();
    // Answer the first ping: the connection stays.
    let (opcode, payload) = raw.frame();
    assert_eq!(opcode, Opcode::Ping);
    raw.send(true, Opcode::Pong, &payload);
    // Then go silent: the next ping goes unanswered and the server closes.
    let (opcode, _) = raw.frame();
    assert_eq!(opcode, Opcode::Ping);
    raw.expect_close(1001);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(500),
        "closed too soon: {took:?}"
    );
    assert!(took < DEADLINE, "closed too late: {took:?}");
    drop(server);
}

#[test]
fn protocol_errors_close_with_their_codes() {
    let (server, addr) = ws_server(&["--ws-max-message", "1KiB"]);
    // An unmasked frame from a client.
    let mut raw = RawClient::open(addr);
    raw.stream
        .write_all(&[0x81, 0x02, b'h', b'i'])
        .expect("send");
    raw.expect_close(1002);
    // Reserved bits.
    let mut raw = RawClient::open(addr);
    let mut frame = masked_frame(true, Opcode::Text, b"hi", [1, 2, 3, 4]);
    frame[0] |= 0x40;
    raw.stream.write_all(&frame).expect("send");
    raw.expect_close(1002);
    // Invalid UTF-8 split across fragments; the first fragment was fine.
    let mut raw = RawClient::open(addr);
    raw.send(false, Opcode::Text, &[b'a', 0xE2, 0x82]);
    raw.send(true, Opcode::Continuation, &[0x28]);
    raw.expect_close(1007);
    // A frame over the limit, refused from its header alone.
    let mut raw = RawClient::open(addr);
    let mut header = vec![0x82, 0xFF];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    raw.stream.write_all(&header).expect("send");
    raw.expect_close(1009);
    // A bad close code.
    let mut raw = RawClient::open(addr);
    raw.send(true, Opcode::Close, &1005u16.to_be_bytes());
    raw.expect_close(1002);
    // Control frames between fragments are fine; the message comes back.
    let mut raw = RawClient::open(addr);
    raw.send(false, Opcode::Text, b"Hel");
    raw.send(true, Opcode::Ping, b"p");
    raw.send(true, Opcode::Continuation, b"lo");
    assert_eq!(raw.frame(), (Opcode::Pong, b"p".to_vec()));
    assert_eq!(raw.frame(), (Opcode::Text, b"Hello".to_vec()));
    raw.send(true, Opcode::Close, &1000u16.to_be_bytes());
    raw.expect_close(1000);
    drop(server);
}

/// Sends `request` on a new connection and returns the whole response
/// (the server closes after it).
fn http(addr: SocketAddr, request: &str) -> String {
    let mut stream = client(addr);
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn plain_requests_get_the_page_or_an_error() {
    let (server, addr) = ws_server(&["--ws-handshake-timeout", "300ms"]);
    let page = http(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("new WebSocket("), "{page}");
    assert!(!page.contains("src=\"http"), "no external scripts: {page}");
    let missing = http(addr, "GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
    let old = http(addr, &UPGRADE.replace("Version: 13", "Version: 8"));
    assert!(old.starts_with("HTTP/1.1 426 "), "{old}");
    assert!(old.contains("Sec-WebSocket-Version: 13\r\n"), "{old}");
    let long = http(
        addr,
        &format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000)),
    );
    assert!(long.starts_with("HTTP/1.1 431 "), "{long}");
    // A client that never finishes its request is closed at the deadline.
    let start = Instant::now();
    let slow = http(addr, "GET / HTTP/1.1\r\n");
    assert!(slow.starts_with("HTTP/1.1 408 "), "{slow}");
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    drop(server);
}

#[test]
fn pubsub_over_websocket_with_python_clients() {
    let (server, addr) = spawn_server(&["--protocol", "pubsub", "--websocket"]);
    let out = run_python(addr, &["pubsub"]);
    assert_passed(
        &out,
        &[
            "delivery as a text message",
            "replies and errors as text messages",
        ],
    );
    drop(server);
}

#[test]
fn chromium_chats_through_the_built_in_page() {
    let _ = chromium_chat(&[], None);
}

#[test]
fn chromium_chats_through_the_built_in_page_with_a_token() {
    let secret = "a secret of thirty-two bytes, at least";
    let file = std::env::temp_dir().join(format!("esockets-chat-secret-{}", std::process::id()));
    std::fs::write(&file, secret).expect("write the secret");
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + 120;
    let claims =
        serde_json::json!({"sub": "ada", "exp": exp, "subs": ["lobby-*"], "pubs": ["lobby-*"]});
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs");
    let path = file.to_str().expect("UTF-8 path").to_owned();
    let _ = chromium_chat(&["--auth-jwt-secret-file", &path], Some(&token));
    let _ = std::fs::remove_file(file);
}

#[test]
fn chromium_chats_with_compression_and_its_offer_is_accepted() {
    // Every message compressed, so the page's deliveries are too.
    let dom = chromium_chat(&["--ws-deflate", "--ws-deflate-min-size", "0"], None);
    assert!(
        dom.contains(r#"id="extensions">permessage-deflate; server_no_context_takeover; client_no_context_takeover<"#),
        "Chromium's offer was not accepted: {dom}"
    );
}

#[test]
fn chromium_chats_through_the_built_in_page_despite_an_origin_allow_list() {
    // The page comes from the server itself: its own origin is allowed.
    let _ = chromium_chat(&["--ws-allowed-origin", "https://good.example"], None);
}

#[test]
fn the_servers_own_origin_is_allowed_and_refusals_are_logged() {
    let (mut server, addr) = ws_server(&["--ws-allowed-origin", "https://good.example"]);
    let own = UPGRADE
        .replace("Host: localhost", &format!("Host: {addr}"))
        .replace("\r\n\r\n", &format!("\r\nOrigin: http://{addr}\r\n\r\n"));
    let mut raw = RawClient::upgrade(addr, &own);
    let head = raw.http_head();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    raw.send(true, Opcode::Text, b"same origin");
    assert_eq!(raw.frame(), (Opcode::Text, b"same origin".to_vec()));

    let foreign = UPGRADE.replace("\r\n\r\n", "\r\nOrigin: https://evil.example\r\n\r\n");
    let mut refused = RawClient::upgrade(addr, &foreign);
    let head = refused.http_head();
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    let peer = refused.stream.local_addr().expect("local address");
    let line = server.wait_for_line("WebSocket handshake refused");
    assert!(line.contains(" WARN "), "{line}");
    assert!(line.contains("403 Forbidden"), "{line}");
    assert!(line.contains("Origin not allowed"), "{line}");
    assert!(line.contains(&format!("peer={peer}")), "{line}");
}

#[test]
fn a_refused_version_is_logged_with_its_status() {
    let (mut server, addr) = ws_server(&[]);
    let old = UPGRADE.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let mut refused = RawClient::upgrade(addr, &old);
    let head = refused.http_head();
    assert!(head.starts_with("HTTP/1.1 426 "), "{head}");
    let line = server.wait_for_line("WebSocket handshake refused");
    assert!(line.contains("426 Upgrade Required"), "{line}");
    assert!(line.contains("version other than 13"), "{line}");
}

/// Chromium opens the built-in chat page of a `pubsub --websocket`
/// server started with `extra` flags (authenticating with `token`, if
/// given, as the watcher does), joins a room and says hello there;
/// returns the page's DOM at the end.
fn chromium_chat(extra: &[&str], token: Option<&str>) -> String {
    let mut flags = vec!["--protocol", "pubsub", "--websocket"];
    flags.extend_from_slice(extra);
    let (server, addr) = spawn_server(&flags);
    // A second client in the room sees what the browser publishes.
    let mut watcher = RawClient::open(addr);
    if let Some(token) = token {
        watcher.send(true, Opcode::Text, format!("AUTH {token}").as_bytes());
        assert_eq!(watcher.frame(), (Opcode::Text, b"+OK".to_vec()));
    }
    watcher.send(true, Opcode::Text, b"SUB lobby-7");
    assert_eq!(watcher.frame(), (Opcode::Text, b"+OK".to_vec()));

    // One profile per browser: the two chromium tests run at once.
    let profile = std::env::temp_dir().join(format!(
        "esockets-chromium-{}-{}",
        std::process::id(),
        addr.port()
    ));
    let mut url = format!("http://{addr}/?room=lobby-7&nick=ada&say=hello%20from%20chromium");
    if let Some(token) = token {
        url.push_str(&format!("&token={token}"));
    }
    let wanted = r#"<div class="msg">ada: hello from chromium</div>"#;
    let (shown, dom) = dom_showing(&url, wanted, &[], &profile);

    // The page subscribed, published, and wrote the delivery into its DOM.
    assert!(dom.contains(r#"id="status">open<"#), "{dom}");
    assert!(shown, "no delivery in the page: {dom}");
    // And the message went through the server to the other subscriber.
    assert_eq!(
        watcher.frame(),
        (
            Opcode::Text,
            b"MSG lobby-7 ada: hello from chromium".to_vec()
        )
    );
    drop(server);
    dom
}

/// Python's `websockets` over TLS, offering permessage-deflate: prints the
/// extensions agreed, then echoes a 1 KiB JSON text and 64 KiB of bytes.
const TLS_DEFLATE_CLIENT: &str = r#"
import asyncio, json, os, ssl, sys
import websockets
async def main():
    context = ssl.create_default_context(cafile=sys.argv[2])
    async with websockets.connect(f"wss://localhost:{sys.argv[1]}/", ssl=context,
                                  compression="deflate", max_size=2**20) as ws:
        print("EXTENSIONS", ws.response.headers.get("Sec-WebSocket-Extensions"), flush=True)
        text = json.dumps([{"id": i, "user": "ada", "text": "hello there"} for i in range(30)])
        for message in [text, os.urandom(65536)]:
            await ws.send(message)
            assert await ws.recv() == message
        print("ECHOED", flush=True)
asyncio.run(main())
"#;

#[test]
fn compression_stacks_over_tls() {
    require_python_websockets();
    let dir = std::env::temp_dir().join(format!("esockets-ws-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a cert");
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).expect("write the certificate");
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).expect("write the key");
    let (server, addr) = ws_server(&[
        "--ws-deflate",
        "--tls-cert",
        cert_file.to_str().expect("a UTF-8 path"),
        "--tls-key",
        key_file.to_str().expect("a UTF-8 path"),
    ]);
    let mut command = Command::new("python3");
    command
        .args(["-c", TLS_DEFLATE_CLIENT])
        .arg(addr.port().to_string())
        .arg(&cert_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut python = Child::spawn(&mut command);
    let mut lines = python.stdout_lines();
    let status = python.wait_within(DEADLINE, "the Python TLS client");
    let out = lines.rest();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "{status}: {out:#?}");
    assert_eq!(
        out,
        [
            "EXTENSIONS permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            "ECHOED"
        ]
    );
    drop(server);
}
