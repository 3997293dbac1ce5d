//! Issue 19: the examples, run as a newcomer runs them: the port from the
//! argument or `$PORT` (1234 otherwise), a hint when it is in use instead
//! of a `Debug` dump, and the chat greets and says where it listens.
//!
//! The example programs are built by `cargo test` (all targets) next to
//! the `esockets` binary; run alone, this file needs `cargo build
//! --examples` first.

mod child;
#[allow(dead_code)] // each test uses a part
#[path = "../examples/common/mod.rs"]
mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use child::components::free_port;
use child::line_client::LineClient;
use child::server::Server;

/// The example program `name`, as `cargo test` builds it.
fn example(name: &str) -> Command {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_esockets"));
    let path = bin
        .parent()
        .expect("the target directory")
        .join("examples")
        .join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --examples` first (the whole suite, `cargo test`, builds it)",
        path.display()
    );
    let mut command = Command::new(path);
    command
        .env_remove("PORT")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// Starts `command` and returns it once it says it listens, with the
/// address it says.
fn listening(command: &mut Command, needle: &str) -> (Server, SocketAddr) {
    let mut server = Server::start(command);
    let line = server.wait_for_line(needle);
    (server, child::address_in(&line))
}

/// Stops an example with SIGTERM; it must exit cleanly.
fn stop(server: Server) {
    server.signal(libc::SIGTERM);
    let (status, lines) = server.finish();
    assert!(status.success(), "{status}: {lines:#?}");
}

#[test]
fn the_port_comes_from_the_argument_or_port_else_1234() {
    let port = free_port();
    let (server, addr) = listening(
        example("uppercase").arg(port.to_string()),
        "uppercase service listening",
    );
    assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], port)));
    let mut client = LineClient::connect(addr);
    assert!(client.line().starts_with("hello "), "greeted");
    assert_eq!(client.command("shout"), "SHOUT");
    drop(client);
    stop(server);

    let port = free_port();
    let (server, addr) = listening(
        example("chat").env("PORT", port.to_string()),
        "chat listening",
    );
    assert_eq!(addr.port(), port);
    stop(server);

    // The default, without starting anything on it.
    assert_eq!(
        common::listen_addr(None, None),
        Ok(SocketAddr::from(([127, 0, 0, 1], 1234)))
    );
    assert_eq!(
        common::listen_addr(Some("4000".into()), Some("5000".into())),
        Ok(SocketAddr::from(([127, 0, 0, 1], 4000))),
        "the argument wins"
    );
}

#[test]
fn a_port_in_use_gets_a_hint_not_a_debug_dump() {
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("address").port().to_string();
    for name in ["chat", "uppercase"] {
        let (status, lines) = Server::start(example(name).arg(&port)).finish();
        assert!(!status.success(), "{name}: {status}");
        let text = lines.join("\n");
        assert!(text.contains("address already in use"), "{name}: {text}");
        assert!(
            text.contains(&format!("--example {name} -- 4000")),
            "{name}: {text}"
        );
        assert!(text.contains("PORT=4000"), "{name}: {text}");
        assert!(!text.contains("AddrInUse {"), "{name}: {text}");
    }
    let (status, lines) = Server::start(example("chat").arg("http")).finish();
    assert!(!status.success());
    let text = lines.join("\n");
    assert!(text.contains("\"http\" is not a port"), "{text}");
}

#[test]
fn the_chat_greets_a_new_client_and_logs_where_it_listens() {
    let (server, addr) = listening(example("chat").arg("0"), "chat listening");
    let mut client = LineClient::connect(addr);
    let greeting = client.line();
    assert!(greeting.starts_with("welcome, guest"), "{greeting}");
    assert!(
        greeting.contains("/nick NAME, /join ROOM, /leave, /quit"),
        "{greeting}"
    );
    drop(client);
    stop(server);
}
