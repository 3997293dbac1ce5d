//! The chat example (examples/chat.rs) serves real clients: a greeting,
//! nicknames, rooms across shards, join and leave notices.

#[allow(dead_code)] // its `main` is not run here
#[path = "../examples/chat.rs"]
mod chat;
mod child;

use child::line_client::LineClient;
use esockets::{Balance, Config, Server};

#[test]
fn two_members_chat_in_a_room_across_shards() {
    let config = Config {
        bind: "127.0.0.1:0".parse().expect("address"),
        threads: 2,
        // The hash spreads the members over both shards; steering would
        // give every client of this thread to its CPU's shard.
        balance: Balance::ReusePort,
        ..Config::default()
    };
    let server = Server::bind(config, |_| chat::Chat).expect("bind");
    let addr = server.local_addr();
    let mut ann = LineClient::connect(addr);
    let greeting = ann.line();
    assert!(greeting.starts_with("welcome, guest"), "{greeting}");
    assert!(greeting.contains("/nick NAME, /join ROOM"), "{greeting}");
    assert_eq!(ann.command("/nick ann"), "you are ann");
    assert_eq!(ann.command("hi"), "join a room first: /join ROOM");
    assert_eq!(ann.command("/join lobby"), "[lobby] ann joined");
    // Enough members that both shards hold some.
    let mut others: Vec<LineClient> = (0..8).map(|_| LineClient::connect(addr)).collect();
    for (n, other) in others.iter_mut().enumerate() {
        assert!(other.line().starts_with("welcome, "), "greeted");
        assert_eq!(
            other.command(&format!("/nick m{n}")),
            format!("you are m{n}")
        );
        assert_eq!(other.command("/join lobby"), format!("[lobby] m{n} joined"));
        assert_eq!(ann.line(), format!("[lobby] m{n} joined"));
    }
    ann.send("hello all");
    for other in &mut others {
        let mut line = other.line();
        while line.ends_with("joined") {
            line = other.line();
        }
        assert_eq!(line, "[lobby] <ann> hello all");
    }
    assert_eq!(ann.line(), "[lobby] <ann> hello all");
    drop(others.pop());
    assert_eq!(
        ann.line(),
        "[lobby] m7 left",
        "a member who disconnects is announced"
    );
    assert_eq!(
        ann.command("/nick x y"),
        "names are 1 to 32 letters, digits, - or _"
    );
    server.shutdown();
    server.join().expect("clean shutdown");
}

/// The default names are unique across shards: with least-loaded
/// balancing two clients surely land on two shards, in the same slot.
#[test]
fn default_names_are_unique_across_shards() {
    let config = Config {
        bind: "127.0.0.1:0".parse().expect("address"),
        threads: 2,
        balance: esockets::Balance::LeastLoaded,
        ..Config::default()
    };
    let server = Server::bind(config, |_| chat::Chat).expect("bind");
    let addr = server.local_addr();
    // Each stays connected while the others come.
    let mut clients = Vec::new();
    let mut names = Vec::new();
    for _ in 0..4 {
        let mut client = LineClient::connect(addr);
        let greeting = client.line();
        let name = greeting
            .strip_prefix("welcome, ")
            .and_then(|rest| rest.split(':').next())
            .expect("a greeting with a name");
        names.push(name.to_owned());
        clients.push(client);
    }
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    // Both shards took clients, in the same slots: where the old names
    // (`guest{slot}`) collided.
    for shard in ["guest0-", "guest1-"] {
        assert!(names.iter().any(|n| n.starts_with(shard)), "{names:?}");
    }
    drop(clients);
    server.shutdown();
    server.join().expect("clean shutdown");
}
