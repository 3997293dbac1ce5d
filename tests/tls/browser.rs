//! Headless Chromium loads the built-in pages over https and their
//! WebSockets connect over wss; the test's certificate is allowed by its
//! public key's hash (`--ignore-certificate-errors-spki-list`), as an
//! operator would pin it, since Chromium has no flag to trust a CA.

use std::process::{Command, Stdio};

use crate::certs::{Pair, Pki};
use crate::child::components::require;
use crate::child::{Child, DEADLINE};
use crate::tls_server;

/// Chromium's DOM of `url` after its scripts ran, allowing `pair`'s key.
fn dump_dom(pki: &Pki, pair: &Pair, url: &str, port: u16) -> String {
    let chromium = require("chromium");
    let profile = pki.dir.join(format!("chromium-{port}"));
    let mut command = Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!(
            "--ignore-certificate-errors-spki-list={}",
            pki.spki_sha256(pair)
        ))
        .args(["--virtual-time-budget=10000", "--dump-dom"])
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut browser = Child::spawn(&mut command);
    let mut lines = browser.stdout_lines();
    let status = browser.wait_within(DEADLINE * 3, "chromium --dump-dom");
    let dom = lines.rest().join("\n");
    assert!(status.success(), "chromium: {status}");
    dom
}

#[test]
fn chromium_loads_the_https_pages_and_their_websockets_connect_over_wss() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");

    // ws-echo's page: its socket opened over wss.
    let (server, addr) = tls_server(&pair, &["--protocol", "ws-echo"]);
    let dom = dump_dom(&pki, &pair, &format!("https://{addr}/"), addr.port());
    assert!(
        dom.contains("esockets: WebSocket echo"),
        "not the page: {dom}"
    );
    assert!(
        dom.contains(r#"id="status">open<"#),
        "no wss socket open: {dom}"
    );
    drop(server);

    // The chat page publishes, and its own subscription delivers it back
    // through the server over wss.
    let (server, addr) = tls_server(&pair, &["--protocol", "pubsub", "--websocket"]);
    let url = format!("https://{addr}/?room=tls&nick=ada&say=hello%20over%20wss");
    let dom = dump_dom(&pki, &pair, &url, addr.port());
    assert!(dom.contains(r#"id="status">open<"#), "{dom}");
    assert!(
        dom.contains(r#"<div class="msg">ada: hello over wss</div>"#),
        "no delivery in the page: {dom}"
    );
    drop(server);
}
