//! Start-up errors: an address in use (by any socket, or by another
//! esockets server) or not on this machine, and invalid configs, come back
//! from `Server::bind` as the right `Error` with a clear message.

use std::net::{SocketAddr, TcpListener};

use esockets::protocols::Echo;
use esockets::{Config, Error, Server};

use crate::util::{config, round_trip, TestServer};

/// Binds `config` with an echo handler and returns the error it must give.
fn bind_error(config: Config) -> Error {
    match Server::bind(config, |_| Echo) {
        Ok(server) => panic!("bind succeeded on {}", server.local_addr()),
        Err(err) => err,
    }
}

/// Asserts `err` is `AddrInUse` for `addr` with a message saying so.
fn assert_in_use(err: &Error, addr: SocketAddr) {
    match err {
        Error::AddrInUse { addr: a } => assert_eq!(*a, addr),
        other => panic!("expected AddrInUse, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("address already in use"), "{message}");
    assert!(message.contains(&addr.to_string()), "{message}");
}

#[test]
fn a_port_held_by_another_socket_is_in_use() {
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = holder.local_addr().expect("addr");
    for threads in [1, 3] {
        let err = bind_error(Config {
            bind: addr,
            ..config(threads)
        });
        assert_in_use(&err, addr);
    }
}

#[test]
fn a_port_held_by_another_esockets_server_is_in_use_and_it_keeps_its_clients() {
    let first = TestServer::echo(2);
    let err = bind_error(Config {
        bind: first.addr,
        ..config(2)
    });
    assert_in_use(&err, first.addr);
    // The failed server did not join the first one's SO_REUSEPORT group:
    // every client still reaches the first server.
    let mut clients: Vec<_> = (0..20).map(|_| first.client()).collect();
    for stream in &mut clients {
        round_trip(stream, b"mine\n");
    }
    first.wait_for_total("20 clients of the first server", |t| t.accepted == 20);
}

#[test]
fn an_address_not_on_this_machine_is_not_available() {
    // TEST-NET-1 (RFC 5737): never a local address. Binding sends nothing.
    let addr: SocketAddr = "192.0.2.1:0".parse().expect("addr");
    let err = bind_error(Config {
        bind: addr,
        ..config(1)
    });
    assert!(
        matches!(err, Error::AddrNotAvailable { addr: a } if a == addr),
        "{err:?}"
    );
    assert!(err.to_string().contains("not available"), "{err}");
}

/// Asserts binding `config` fails validation, naming `field`.
fn assert_config_error(config: Config, field: &str) {
    let err = bind_error(config);
    match &err {
        Error::Config(bad) => assert_eq!(bad.field, field, "{bad}"),
        other => panic!("expected a config error for {field}, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(field), "message names {field}: {message}");
}

#[test]
fn invalid_configs_name_the_field() {
    assert_config_error(config(0), "threads");
    let equal = Config {
        output_low_water: 4096,
        output_high_water: 4096,
        ..config(1)
    };
    assert_config_error(equal, "output_low_water");
    let above = Config {
        output_low_water: 8192,
        output_high_water: 4096,
        output_limit: 1 << 20,
        ..config(1)
    };
    assert_config_error(above, "output_low_water");
    let small_limit = Config {
        output_limit: 1024,
        ..config(1)
    };
    assert_config_error(small_limit, "output_limit");
    for (field, config) in [
        (
            "backlog",
            Config {
                backlog: 0,
                ..config(1)
            },
        ),
        (
            "read_buffer",
            Config {
                read_buffer: 0,
                ..config(1)
            },
        ),
        (
            "input_limit",
            Config {
                input_limit: 0,
                ..config(1)
            },
        ),
    ] {
        assert_config_error(config, field);
    }
}

#[test]
fn a_config_error_comes_before_any_bind() {
    // The address is in use, but the bad config is reported first.
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let err = bind_error(Config {
        bind: holder.local_addr().expect("addr"),
        ..config(0)
    });
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}
