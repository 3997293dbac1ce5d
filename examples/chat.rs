//! A chat server on the library's topics: rooms, nicknames, join and
//! leave notices. Rooms span every shard (and, with `--backplane`-style
//! `Config::backplane`, every process).
//!
//! Run: `cargo run --release --example chat` (port 1234; another with
//! `-- 4000` or `PORT=4000`), then in two terminals `nc 127.0.0.1 1234`
//! and type `/nick ann`, `/join lobby`, `hello`. Commands: `/nick NAME`,
//! `/join ROOM`, `/leave`, `/quit`; any other line is said in the current
//! room. A new client is greeted with them.

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;

use esockets::lines::Lines;
use esockets::{
    Admission, CloseReason, Config, Conn, ConnId, Handler, Server, ShardContext, StopSignals,
    Verdict,
};

/// Longest line, nickname and room name.
const MAX_LINE: usize = 1024;
const MAX_NAME: usize = 32;

/// The commands, as a new client is told them.
const COMMANDS: &str = "commands: /nick NAME, /join ROOM, /leave, /quit";

/// One per shard; everything per client is in its state.
pub struct Chat;

/// A client: its nickname and the room it is in.
#[derive(Default)]
pub struct Member {
    nick: String,
    room: Option<String>,
}

impl Chat {
    /// Says `text` in `room`, to everyone in it, on every shard.
    fn announce(cx: &mut ShardContext<'_>, room: &str, text: &str) {
        cx.publish(room.as_bytes(), format!("[{room}] {text}\n"));
    }

    /// Runs one line from `conn`.
    fn line(cx: &mut ShardContext<'_>, conn: &mut Conn<'_>, me: &mut Member, line: &str) -> bool {
        let (command, arg) = line.split_once(' ').unwrap_or((line, ""));
        let arg = arg.trim();
        match command {
            "/nick" if valid(arg) => {
                if let Some(room) = &me.room {
                    Self::announce(cx, room, &format!("{} is now {arg}", me.nick));
                }
                me.nick = arg.to_owned();
                conn.send(format!("you are {arg}\n").as_bytes());
            }
            "/join" if valid(arg) => {
                Self::leave(cx, conn, me);
                cx.subscribe(conn, arg.as_bytes());
                Self::announce(cx, arg, &format!("{} joined", me.nick));
                me.room = Some(arg.to_owned());
            }
            "/leave" => Self::leave(cx, conn, me),
            "/quit" => return false,
            "/nick" | "/join" => {
                conn.send(
                    format!("names are 1 to {MAX_NAME} letters, digits, - or _\n").as_bytes(),
                );
            }
            _ if line.starts_with('/') => conn.send(format!("{COMMANDS}\n").as_bytes()),
            _ => match &me.room {
                Some(room) => Self::announce(cx, room, &format!("<{}> {line}", me.nick)),
                None => conn.send(b"join a room first: /join ROOM\n"),
            },
        }
        true
    }

    /// Leaves the current room, if any, telling the others.
    fn leave(cx: &mut ShardContext<'_>, conn: &Conn<'_>, me: &mut Member) {
        if let Some(room) = me.room.take() {
            cx.unsubscribe(conn, room.as_bytes());
            Self::announce(cx, &room, &format!("{} left", me.nick));
        }
    }
}

/// Whether `name` is a usable nickname or room name.
fn valid(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Handler for Chat {
    type State = Member;

    /// Greets the client, so someone who just typed `nc` sees what to do.
    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<Member> {
        // Shard and slot: unique among the clients connected at once, on
        // every shard (a slot number alone repeats on each shard).
        let id = conn.id();
        let nick = format!("guest{}-{}", id.shard(), id.slot());
        conn.send(format!("welcome, {nick}: {COMMANDS}; then type to talk\n").as_bytes());
        Admission::Accept(Member { nick, room: None })
    }

    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        me: &mut Member,
        data: &[u8],
    ) -> Verdict {
        let mut lines = Lines::new(data, conn.carried(), MAX_LINE);
        for line in lines.by_ref().filter(|l| !l.is_empty()) {
            let line = String::from_utf8_lossy(line);
            if !Self::line(cx, conn, me, &line) {
                Self::leave(cx, conn, me);
                return Verdict::Close;
            }
        }
        if lines.too_long() {
            conn.send(b"line too long\n");
            return Verdict::Close;
        }
        Verdict::Consumed(lines.consumed())
    }

    fn on_close(
        &mut self,
        cx: &mut ShardContext<'_>,
        _id: ConnId,
        me: Member,
        _reason: CloseReason,
    ) {
        if let Some(room) = &me.room {
            Self::announce(cx, room, &format!("{} left", me.nick));
        }
    }
}

fn main() -> ExitCode {
    common::run("chat", |bind| {
        let _log = esockets::logging::init();
        let signals = StopSignals::catch()?; // Ctrl-C or SIGTERM drains from here on
        let config = Config {
            bind,
            ..Config::default()
        };
        let server = Server::bind(config, |_shard| Chat)?;
        let addr = server.local_addr();
        tracing::info!(%addr, "chat listening; talk to it with: nc {} {}", addr.ip(), addr.port());
        server.run_until(signals)
    })
}
