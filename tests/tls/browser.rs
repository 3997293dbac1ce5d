//! Headless Chromium loads the built-in pages over https and their
//! WebSockets connect over wss (the DOM read until it shows that); the
//! test's certificate is allowed by its public key's hash (`--ignore-certificate-errors-spki-list`), as an
//! operator would pin it, since Chromium has no flag to trust a CA.

use crate::certs::{Pair, Pki};
use crate::child::chromium::dom_showing;
use crate::tls_server;

/// Chromium's DOM of `url` once it shows `wanted` (or at the deadline,
/// with whether it did), allowing `pair`'s key.
fn dom_of(pki: &Pki, pair: &Pair, url: &str, wanted: &str, port: u16) -> (bool, String) {
    let profile = pki.dir.join(format!("chromium-{port}"));
    let flags = [format!(
        "--ignore-certificate-errors-spki-list={}",
        pki.spki_sha256(pair)
    )];
    dom_showing(url, wanted, &flags, &profile)
}

#[test]
fn chromium_loads_the_https_pages_and_their_websockets_connect_over_wss() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");

    // ws-echo's page: its socket opened over wss.
    let (server, addr) = tls_server(&pair, &["--protocol", "ws-echo"]);
    let url = format!("https://{addr}/");
    let (open, dom) = dom_of(&pki, &pair, &url, r#"id="status">open<"#, addr.port());
    assert!(
        dom.contains("esockets: WebSocket echo"),
        "not the page: {dom}"
    );
    assert!(open, "no wss socket open: {dom}");
    drop(server);

    // The chat page publishes, and its own subscription delivers it back
    // through the server over wss.
    let (server, addr) = tls_server(&pair, &["--protocol", "pubsub", "--websocket"]);
    let url = format!("https://{addr}/?room=tls&nick=ada&say=hello%20over%20wss");
    let wanted = r#"<div class="msg">ada: hello over wss</div>"#;
    let (shown, dom) = dom_of(&pki, &pair, &url, wanted, addr.port());
    assert!(dom.contains(r#"id="status">open<"#), "{dom}");
    assert!(shown, "no delivery in the page: {dom}");
    drop(server);
}
