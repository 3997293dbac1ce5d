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
    /// What [`try_line`](Self::try_line) read of a line not complete yet.
    partial: String,
}

impl LineClient {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = client(addr);
        Self {
            writer: stream.try_clone().expect("clone the socket"),
            reader: BufReader::new(stream),
            partial: String::new(),
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

    /// Sets how long a read waits (a short one for
    /// [`try_line`](Self::try_line)).
    pub fn set_read_timeout(&mut self, timeout: std::time::Duration) {
        self.reader
            .get_ref()
            .set_read_timeout(Some(timeout))
            .expect("set the read timeout");
    }

    /// The next line if one comes within the read timeout, without its
    /// newline; a part read meanwhile is kept for the next call.
    pub fn try_line(&mut self) -> Option<String> {
        match self.reader.read_line(&mut self.partial) {
            Ok(0) => panic!("the server closed the connection"),
            Ok(_) if self.partial.ends_with('\n') => {
                let mut line = std::mem::take(&mut self.partial);
                line.pop();
                Some(line)
            }
            Ok(_) => None,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(err) => panic!("read a line: {err}"),
        }
    }

    /// Sends `command` and returns the reply line.
    pub fn command(&mut self, command: &str) -> String {
        self.send(command);
        self.line()
    }
}
