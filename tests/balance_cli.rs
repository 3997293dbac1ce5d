//! The `esockets` binary's `--balance`: least-loaded says so at start-up
//! and spreads clients evenly over the shards; the default says nothing
//! new; cpu says so and needs pinned shards; a bad value is an error
//! naming the flag.

mod child;

use std::io::{Read, Write};

use child::server::{client, counter, Server};

#[test]
fn least_loaded_says_so_at_start_and_spreads_clients_evenly() {
    let mut server = Server::spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "2",
        "--balance",
        "least-loaded",
    ]);
    let addr = server.listening_addr();
    let line = server.wait_for_line("balance: least-loaded");
    assert!(line.contains("fewest open clients"), "{line}");
    // One listener, not one per shard: the start-up lines say so.
    let line = server.wait_for_line("listen backlog");
    assert!(line.contains("on the one listener"), "{line}");
    let mut clients: Vec<_> = (0..4).map(|_| client(addr)).collect();
    for stream in &mut clients {
        stream.write_all(b"hi").expect("write");
        let mut echo = [0u8; 2];
        stream.read_exact(&mut echo).expect("echo");
        assert_eq!(&echo, b"hi");
    }
    server.signal(libc::SIGTERM);
    let (status, lines) = server.finish();
    assert!(status.success(), "exit after SIGTERM: {status}; {lines:#?}");
    for shard in 0..2 {
        let summary = lines
            .iter()
            .find(|l| l.contains(&format!(" shard {shard} ")))
            .unwrap_or_else(|| panic!("no summary of shard {shard}: {lines:#?}"));
        assert_eq!(counter(summary, "accepted"), 2, "{summary}");
        assert_eq!(counter(summary, "closed"), 2, "{summary}");
    }
}

#[test]
fn the_default_adds_no_start_up_line() {
    let mut server = Server::spawn(&["--bind", "127.0.0.1:0", "--threads", "2"]);
    server.listening_addr();
    server.signal(libc::SIGTERM);
    let (status, lines) = server.finish();
    assert!(status.success(), "{status}; {lines:#?}");
    // The start-up lines after the listening one are all here.
    assert!(lines.iter().any(|l| l.contains("shards: 2")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("balance")), "{lines:#?}");
}

#[test]
fn an_unknown_mode_is_an_error_naming_the_flag() {
    let (status, lines) =
        Server::spawn(&["--bind", "127.0.0.1:0", "--balance", "round-robin"]).finish();
    assert!(!status.success(), "{status}");
    let text = lines.join("\n");
    assert!(text.contains("--balance"), "{text}");
    assert!(text.contains("least-loaded"), "the accepted values: {text}");
}

#[test]
fn cpu_says_so_at_start_and_refuses_unpinned_shards() {
    let mut server = Server::spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--balance",
        "cpu",
    ]);
    let addr = server.listening_addr();
    let line = server.wait_for_line("balance: cpu");
    assert!(line.contains("pinned to the CPU"), "{line}");
    let mut stream = client(addr);
    stream.write_all(b"hi").expect("write");
    let mut echo = [0u8; 2];
    stream.read_exact(&mut echo).expect("echo");
    assert_eq!(&echo, b"hi");
    server.signal(libc::SIGTERM);
    let (status, lines) = server.finish();
    assert!(status.success(), "exit after SIGTERM: {status}; {lines:#?}");

    let (status, lines) =
        Server::spawn(&["--bind", "127.0.0.1:0", "--balance", "cpu", "--no-pin"]).finish();
    assert!(!status.success(), "{status}");
    let text = lines.join("\n");
    assert!(
        text.contains("--balance cpu") && text.contains("pinned"),
        "{text}"
    );
}
