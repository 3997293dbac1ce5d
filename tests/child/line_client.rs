//! A client of a line protocol (pubsub, line-echo) with timeouts.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};

use super::server::client;

/// Sends lines and reads whole lines back.
pub struct LineClient {
    /// Reads whole lines.
    reader: BufReader<TcpStream>,
    /// Writes.
    writer: TcpStream,
}

impl LineClient {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = client(addr);
        Self {
            writer: stream.try_clone().expect("clone the socket"),
            reader: BufReader::new(stream),
        }
    }

    /// Sends `line` and its newline.
    pub fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
    }

    /// The next line, without its newline.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read a line");
        assert!(n > 0, "the server closed the connection");
        line.pop();
        line
    }

    /// Sends `command` and returns the reply line.
    pub fn command(&mut self, command: &str) -> String {
        self.send(command);
        self.line()
    }
}
