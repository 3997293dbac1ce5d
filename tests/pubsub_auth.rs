//! Issue 21 from the binary, over real sockets: the start-up report says
//! who may subscribe and publish; an HS256 secret from a file and an
//! ES256 public key (made by a real `openssl`) check tokens; clients that
//! never authenticate are closed at the deadline, thousands at once.

mod child;
#[path = "websocket/raw_client.rs"]
mod raw_client;

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use child::components::require;
use child::line_client::LineClient;
use child::scrape::wait_for;
use child::server::{client, raise_file_limit, Server};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use raw_client::RawClient;
use serde_json::json;

/// A directory of this test's own, emptied.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("esockets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make a scratch directory");
    dir
}

/// The secret of the tests that need one but do not test it.
const SECRET: &str = "thirty-two bytes or more of secret";

/// A token for `sub` signed with [`SECRET`].
fn hs256(sub: &str) -> String {
    encode(
        &Header::default(),
        &claims(sub),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("signs")
}

/// Claims for `sub`, valid a minute, allowed `room.*` both ways.
fn claims(sub: &str) -> serde_json::Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    json!({"sub": sub, "exp": now + 60, "subs": ["room.*"], "pubs": ["room.*"]})
}

#[test]
fn without_auth_the_report_says_anyone_may_subscribe_and_publish() {
    let mut server = Server::spawn(&["--protocol", "pubsub", "--bind", "127.0.0.1:0"]);
    let line = server.wait_for_line("no authentication configured");
    assert!(line.contains("anyone who can connect may subscribe and publish to any topic"));
    server.stop();
}

#[test]
fn an_hs256_secret_file_lets_good_tokens_in_and_closes_the_silent_at_the_deadline() {
    raise_file_limit();
    let dir = scratch("hs256");
    let secret = "thirty-two bytes or more of secret";
    let file = dir.join("secret");
    std::fs::write(&file, format!("{secret}\n")).expect("write the secret");
    let mut server = Server::spawn(&[
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--auth-jwt-secret-file",
        file.to_str().expect("UTF-8 path"),
        "--auth-timeout",
        "2s",
    ]);
    server.wait_for_line("clients must AUTH with a JWT connection token within 2s");
    let addr = server.listening_addr();
    let token = encode(
        &Header::default(),
        &claims("ann"),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs");

    // 5,000 clients that never authenticate, connected before the others.
    let silent: Vec<_> = (0..5000).map(|_| client(addr)).collect();
    let started = Instant::now();
    let mut sub = LineClient::connect(addr);
    assert_eq!(sub.command("SUB room.1"), "-ERR not authenticated");
    assert_eq!(sub.command(&format!("AUTH {token}")), "+OK");
    assert_eq!(sub.command("SUB room.1"), "+OK");
    assert_eq!(sub.command("SUB lobby"), "-ERR not allowed");
    let mut publisher = LineClient::connect(addr);
    assert_eq!(publisher.command(&format!("AUTH {token}")), "+OK");
    assert_eq!(publisher.command("PUB room.1 hello"), "+OK");
    assert_eq!(sub.line(), "MSG room.1 hello");

    for mut socket in silent {
        let mut got = Vec::new();
        // The client socket's read timeout bounds this.
        socket.read_to_end(&mut got).expect("closed by the server");
        assert_eq!(got, b"-ERR authentication timeout\n");
    }
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "closed at the deadline, took {waited:?}"
    );
    // The authenticated ones stay.
    assert_eq!(sub.command("PING"), "+PONG");
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_es256_public_key_checks_tokens_and_refuses_algorithm_confusion() {
    let openssl = require("openssl");
    let dir = scratch("es256");
    let run = |args: &[&str]| {
        let status = Command::new(&openssl)
            .args(args)
            .current_dir(&dir)
            .status()
            .expect("run openssl");
        assert!(status.success(), "openssl {args:?}");
    };
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        "private.pem",
    ]);
    run(&[
        "pkey",
        "-in",
        "private.pem",
        "-pubout",
        "-out",
        "public.pem",
    ]);
    let private = std::fs::read(dir.join("private.pem")).expect("private key");
    let public = std::fs::read(dir.join("public.pem")).expect("public key");
    let mut server = Server::spawn(&[
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--auth-jwt-public-key",
        dir.join("public.pem").to_str().expect("UTF-8 path"),
    ]);
    let addr = server.listening_addr();
    let good = encode(
        &Header::new(Algorithm::ES256),
        &claims("bo"),
        &EncodingKey::from_ec_pem(&private).expect("an EC key"),
    )
    .expect("signs");
    let mut c = LineClient::connect(addr);
    assert_eq!(c.command(&format!("AUTH {good}")), "+OK");
    assert_eq!(c.command("PUB room.2 x"), "+OK");
    // The public key used as an HS256 secret: the classic confusion.
    let confused = encode(
        &Header::default(),
        &claims("bo"),
        &EncodingKey::from_secret(&public),
    )
    .expect("signs");
    let mut c = LineClient::connect(addr);
    assert_eq!(
        c.command(&format!("AUTH {confused}")),
        "-ERR invalid token: algorithm not accepted"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_missing_or_short_key_is_refused_at_start_naming_it() {
    let dir = scratch("badkey");
    let file = dir.join("secret");
    std::fs::write(&file, "short").expect("write");
    let path = file.to_str().expect("UTF-8 path");
    let server = Server::spawn(&["--protocol", "pubsub", "--auth-jwt-secret-file", path]);
    let (status, lines) = server.finish();
    assert!(!status.success());
    let all = lines.join("\n");
    assert!(
        all.contains("--auth-jwt-secret-file: the secret is 5 bytes; at least 32"),
        "{all}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_websocket_client_authenticates_with_its_first_message_or_is_closed_with_1008() {
    let dir = scratch("ws");
    let file = dir.join("secret");
    std::fs::write(&file, SECRET).expect("write the secret");
    let mut server = Server::spawn(&[
        "--protocol",
        "pubsub",
        "--websocket",
        "--bind",
        "127.0.0.1:0",
        "--auth-jwt-secret-file",
        file.to_str().expect("UTF-8 path"),
        "--auth-timeout",
        "1s",
    ]);
    let addr = server.listening_addr();
    let mut good = RawClient::open(addr);
    good.send_text(&format!("AUTH {}", hs256("ann")));
    assert_eq!(good.text(), "+OK");
    good.send_text("SUB room.1");
    assert_eq!(good.text(), "+OK");
    good.send_text("SUB lobby");
    assert_eq!(good.text(), "-ERR not allowed");

    let mut silent = RawClient::open(addr);
    assert_eq!(silent.text(), "-ERR authentication timeout");
    assert_eq!(silent.close_frame().0, 1008);

    let mut forged = RawClient::open(addr);
    // A header of `{}`: no algorithm at all.
    forged.send_text("AUTH e30.e30.AAAA");
    assert_eq!(forged.text(), "-ERR invalid token: malformed");
    assert_eq!(forged.close_frame().0, 1008);
    good.send_text("PING");
    assert_eq!(good.text(), "+PONG");
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_flooding_publisher_is_refused_then_closed_and_the_others_go_on() {
    let mut server = Server::spawn(&[
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--metrics",
        "127.0.0.1:0",
        "--publish-rate",
        "5/s",
        "--publish-burst",
        "5",
    ]);
    let addr = server.listening_addr();
    let line = server.wait_for_line("metrics at http://");
    let metrics = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .expect("the metrics address");
    let mut sub = LineClient::connect(addr);
    assert_eq!(sub.command("SUB t"), "+OK");
    let mut flood = client(addr);
    std::io::Write::write_all(&mut flood, "PUB t f\n".repeat(1000).as_bytes()).expect("send");
    let mut replies = String::new();
    // The client socket's read timeout bounds this; EOF is the close.
    flood
        .read_to_string(&mut replies)
        .expect("closed by the server");
    let accepted = replies.matches("+OK\n").count();
    assert!(
        (5..=6).contains(&accepted),
        "the burst (and a refill): {replies}"
    );
    assert!(
        replies.ends_with(&"-ERR rate limited\n".repeat(100)),
        "{replies}"
    );
    for _ in 0..accepted {
        assert_eq!(sub.line(), "MSG t f");
    }
    let mut calm = LineClient::connect(addr);
    assert_eq!(calm.command("PUB t calm"), "+OK");
    assert_eq!(sub.line(), "MSG t calm", "nothing refused was delivered");
    let text = wait_for(
        metrics,
        r#"esockets_pubsub_flood_closed_total{shard="0"}"#,
        |v| v == 1.0,
    );
    let limited = child::scrape::value(&text, r#"esockets_pubsub_rate_limited_total{shard="0"}"#);
    assert!(limited.is_some_and(|v| v >= 100.0), "{text}");
    server.stop();
}

#[test]
fn sighup_rereads_the_secret_and_keeps_authenticated_clients() {
    let dir = scratch("reload");
    let file = dir.join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).expect("write the secret");
    let mut server = Server::spawn(&[
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--auth-jwt-secret-file",
        file.to_str().expect("UTF-8 path"),
    ]);
    let addr = server.listening_addr();
    let mut kept = LineClient::connect(addr);
    assert_eq!(kept.command(&format!("AUTH {}", hs256("ann"))), "+OK");
    assert_eq!(kept.command("SUB room.1"), "+OK");

    let other = "a second secret, thirty-two bytes or more";
    std::fs::write(&file, other).expect("replace the secret");
    server.wait_until_it_catches(libc::SIGHUP);
    server.signal(libc::SIGHUP);
    server.wait_for_line(
        "reload: applied: auth-jwt-secret-file; needs a restart: none; failed: none",
    );
    let mut old = LineClient::connect(addr);
    assert_eq!(
        old.command(&format!("AUTH {}", hs256("bo"))),
        "-ERR invalid token: bad signature"
    );
    let fresh = encode(
        &Header::default(),
        &claims("bo"),
        &EncodingKey::from_secret(other.as_bytes()),
    )
    .expect("signs");
    let mut new = LineClient::connect(addr);
    assert_eq!(new.command(&format!("AUTH {fresh}")), "+OK");
    assert_eq!(new.command("PUB room.1 after"), "+OK");
    assert_eq!(
        kept.line(),
        "MSG room.1 after",
        "an authenticated client stays"
    );

    // A bad edit: the key in force stays.
    std::fs::write(&file, "short").expect("spoil the secret");
    server.signal(libc::SIGHUP);
    let failed = server.wait_for_line("reload of");
    assert!(failed.contains("the secret is 5 bytes"), "{failed}");
    let mut again = LineClient::connect(addr);
    assert_eq!(again.command(&format!("AUTH {fresh}")), "+OK");
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}
