//! Issue 21 from the binary, over real sockets: the start-up report says
//! who may subscribe and publish; an HS256 secret from a file and an
//! ES256 public key (made by a real `openssl`) check tokens; clients that
//! never authenticate are closed at the deadline, thousands at once.

mod child;

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use child::components::require;
use child::line_client::LineClient;
use child::server::{client, raise_file_limit, Server};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

/// A directory of this test's own, emptied.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("esockets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make a scratch directory");
    dir
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
