//! The shutdown grace (`Config::shutdown_grace`): once the listeners are
//! closed, clients are still served as usual, so exchanges in progress
//! finish; the grace ends when every client has left, or at its deadline,
//! and only then does `on_shutting_down` say goodbye and the drain begin.

use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use esockets::{Config, Conn, Handler, ShardContext, Verdict};

use crate::util::{config, expect_clean_close, round_trip, wait_until, TestServer, DEADLINE};

/// Echoes everything; says `bye` to every client when closing all begins.
struct ByeEcho;

impl Handler for ByeEcho {
    type State = ();

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        conn.send(data);
        Verdict::Consumed(data.len())
    }

    fn on_shutting_down(&mut self, cx: &mut ShardContext<'_>) {
        cx.send_to_all(&b"bye\n"[..]);
    }
}

#[test]
fn clients_are_served_during_the_grace_which_ends_when_they_leave() {
    const GRACE: Duration = Duration::from_secs(30);
    let server = TestServer::start(
        Config {
            shutdown_grace: GRACE,
            ..config(2)
        },
        |_| ByeEcho,
    );
    let addr = server.addr;
    let mut client = server.client();
    round_trip(&mut client, b"before");
    let server = server.take();
    let began = Instant::now();
    server.shutdown();
    // Clients that connect before the listeners close leave at once.
    wait_until(DEADLINE, "the listeners closed", || {
        TcpStream::connect(addr).is_err()
    });
    round_trip(&mut client, b"during the grace, served as usual");
    client.shutdown(Shutdown::Write).expect("leave");
    // It left by itself: the goodbye was for the clients still there.
    expect_clean_close(&mut client, b"");
    server.join().expect("clean shutdown");
    assert!(
        began.elapsed() < GRACE / 3,
        "the grace ended when the last client left, not at its deadline: {:?}",
        began.elapsed()
    );
}

#[test]
fn a_client_that_stays_is_told_goodbye_when_the_grace_ends() {
    const GRACE: Duration = Duration::from_millis(300);
    let server = TestServer::start(
        Config {
            shutdown_grace: GRACE,
            ..config(1)
        },
        |_| ByeEcho,
    );
    let mut client = server.client();
    round_trip(&mut client, b"hello");
    let server = server.take();
    let began = Instant::now();
    server.shutdown();
    expect_clean_close(&mut client, b"bye\n");
    let waited = began.elapsed();
    server.join().expect("clean shutdown");
    assert!(
        waited >= GRACE,
        "goodbye after the grace, not {waited:?} after shutdown began"
    );
}
