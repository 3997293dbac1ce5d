//! What the contender tests share: a server binary started on a free
//! loopback port, killed when the test ends.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// Kills the server when the test ends, whatever happens.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `exe` with 2 threads on an ephemeral port and `extra`
/// arguments; returns it with the address its banner names.
pub fn start(exe: &str, extra: &[&str]) -> (Server, SocketAddr) {
    let child = Command::new(exe)
        .args(["--threads", "2", "--bind", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start server");
    let mut server = Server(child);
    let stdout = server.0.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read banner");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("banner")
        .parse()
        .expect("address");
    (server, addr)
}
