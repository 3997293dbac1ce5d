//! The `esockets` binary's `--balance`: least-loaded says so at start-up
//! and spreads clients evenly over the shards; cpu says so and needs
//! pinned shards; a bad value is an error naming the flag. Without the
//! flag the start-up line names the mode the default rule chose and why:
//! cpu for pinned shards, one per CPU at most, else reuseport with the
//! reason (unpinned, more shards than CPUs, joining another group; passed
//! sockets: tests/socket_activation.rs).

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

/// The CPUs this process may use: its affinity mask, which the server's
/// rule counts (`available_parallelism` may count fewer, by a cgroup
/// quota).
fn cpus() -> usize {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity
    // fills the one we pass, of the size we pass.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    assert_eq!(
        rc,
        0,
        "sched_getaffinity: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: reads the set filled above.
    usize::try_from(unsafe { libc::CPU_COUNT(&set) }).expect("a count")
}

/// The `balance:` start-up line of `esockets` with `args` (bound to a
/// free loopback port unless they say `--bind`), after checking it
/// serves; then stops it cleanly.
fn balance_line(args: &[&str]) -> String {
    let bind: &[&str] = if args.contains(&"--bind") {
        &[]
    } else {
        &["--bind", "127.0.0.1:0"]
    };
    let mut server = Server::spawn(&[bind, args].concat());
    let addr = server.listening_addr();
    let line = server.wait_for_line("balance: ");
    let mut stream = client(addr);
    stream.write_all(b"hi").expect("write");
    let mut echo = [0u8; 2];
    stream.read_exact(&mut echo).expect("echo");
    assert_eq!(&echo, b"hi");
    server.signal(libc::SIGTERM);
    let (status, lines) = server.finish();
    assert!(status.success(), "exit after SIGTERM: {status}; {lines:#?}");
    line
}

#[test]
fn the_default_steers_by_cpu_for_pinned_shards_and_says_why() {
    let shards = cpus().min(2).to_string();
    let line = balance_line(&["--threads", &shards]);
    assert!(line.contains("balance: cpu (the default: "), "{line}");
    assert!(line.contains("the shards are pinned"), "{line}");
    assert!(
        line.contains(&format!("no more of them ({shards}) than CPUs")),
        "names the shard count: {line}"
    );
    assert!(
        line.contains("pinned to the CPU that received it"),
        "{line}"
    );
}

#[test]
fn the_default_falls_back_to_reuseport_for_unpinned_shards_and_says_why() {
    let line = balance_line(&["--threads", "1", "--no-pin"]);
    assert!(
        line.contains("balance: reuseport (the default, not cpu: the shards are not pinned)"),
        "{line}"
    );
}

#[test]
fn the_default_falls_back_to_reuseport_for_more_shards_than_cpus_and_says_why() {
    let shards = (cpus() + 1).to_string();
    let line = balance_line(&["--threads", &shards]);
    assert!(
        line.contains(&format!(
            "balance: reuseport (the default, not cpu: more shards ({shards}) than CPUs this \
             process may use ({}); ",
            cpus()
        )),
        "{line}"
    );
    assert!(line.contains("needs a CPU per shard"), "{line}");
}

#[test]
fn the_default_falls_back_to_reuseport_when_joining_a_group_and_says_why() {
    let mut first = Server::spawn(&["--bind", "127.0.0.1:0", "--threads", "1"]);
    let addr = first.listening_addr();
    let line = first.wait_for_line("balance: ");
    assert!(line.contains("balance: cpu (the default"), "{line}");
    let line = balance_line(&[
        "--bind",
        &addr.to_string(),
        "--threads",
        "1",
        "--reuseport-join",
    ]);
    assert!(
        line.contains("balance: reuseport (the default, not cpu: it joins another server's"),
        "{line}"
    );
    first.signal(libc::SIGTERM);
    let (status, lines) = first.finish();
    assert!(status.success(), "{status}; {lines:#?}");
}

#[test]
fn a_mode_asked_for_says_it_was_asked() {
    let line = balance_line(&["--threads", "1", "--balance", "reuseport"]);
    assert!(
        line.contains("balance: reuseport (--balance reuseport)"),
        "{line}"
    );
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
    assert!(line.contains("balance: cpu (--balance cpu)"), "{line}");
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
