//! The clients the tests drive: `openssl s_client` as a child (its
//! stdin written, its stdout read line by line), and a rustls client over
//! a blocking socket for the tests that need many connections or exact
//! timing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::child::components::require;
use crate::child::server::IO_TIMEOUT;
use crate::child::{Child, Lines, DEADLINE};

/// A running `openssl s_client`.
pub struct SClient {
    /// The process.
    child: Child,
    /// Its stdin; `None` once closed.
    stdin: Option<ChildStdin>,
    /// Its stdout (the connection report, then what the server sent).
    pub out: Lines,
    /// Its stderr (verification and errors).
    pub err: Lines,
}

impl SClient {
    /// `openssl s_client -connect addr -CAfile ca -nocommands` with
    /// `args`.
    pub fn start(addr: SocketAddr, ca: &str, args: &[&str]) -> Self {
        let mut command = Command::new(require("openssl"));
        command
            .args(["s_client", "-connect", &addr.to_string(), "-CAfile", ca])
            .args(["-nocommands"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = Child::spawn(&mut command);
        let stdin = Some(child.stdin());
        let out = child.stdout_lines();
        let err = child.stderr_lines();
        Self {
            child,
            stdin,
            out,
            err,
        }
    }

    /// Writes `line` and a newline to the connection.
    pub fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to s_client");
        stdin.flush().expect("flush s_client's stdin");
    }

    /// Writes `line` and waits (within the deadline) until it comes back.
    pub fn echo(&mut self, line: &str) {
        self.say(line);
        self.out.wait_for(line);
    }

    /// Waits (within the deadline) for s_client to exit by itself (the
    /// server closed), and returns its status and everything it printed,
    /// stdout then stderr.
    pub fn closed_by_server(mut self) -> (ExitStatus, String) {
        let status = self
            .child
            .wait_within(DEADLINE, "s_client after the server closed");
        (status, self.output())
    }

    /// Closes stdin (s_client then ends the session) and returns its
    /// status and everything it printed.
    pub fn finish(mut self) -> (ExitStatus, String) {
        self.stdin = None;
        let status = self
            .child
            .wait_within(DEADLINE, "s_client after stdin closed");
        (status, self.output())
    }

    /// Everything printed: stdout lines, then stderr lines.
    fn output(&mut self) -> String {
        self.out.rest();
        self.err.rest();
        let mut all = self.out.seen.clone();
        all.extend(self.err.seen.iter().cloned());
        all.join("\n")
    }
}

/// A rustls client configuration trusting `ca` (a PEM file).
pub fn client_config(ca: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("read the CA") {
        roots
            .add(cert.expect("a CA certificate"))
            .expect("add the CA");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A rustls client session for `localhost`, not connected.
pub fn session(config: &Arc<ClientConfig>) -> ClientConnection {
    let name = ServerName::try_from("localhost").expect("a server name");
    ClientConnection::new(config.clone(), name).expect("a client session")
}

/// A TLS client's first flight (its ClientHello), and the session that
/// wrote it, to read the server's answer with.
pub fn client_hello(config: &Arc<ClientConfig>) -> (ClientConnection, Vec<u8>) {
    let mut client = session(config);
    let mut hello = Vec::new();
    client.write_tls(&mut hello).expect("write the ClientHello");
    assert!(hello.len() > 100, "a ClientHello of {} bytes", hello.len());
    (client, hello)
}

/// The alert the server sent in `reply` to `client`'s ClientHello, read
/// as the client would (in TLS 1.3 an alert after the ServerHello is
/// encrypted).
pub fn alert_in(mut client: ClientConnection, reply: &[u8]) -> Option<rustls::AlertDescription> {
    let mut rest = reply;
    while !rest.is_empty() {
        if !matches!(client.read_tls(&mut rest), Ok(n) if n > 0) {
            return None;
        }
        match client.process_new_packets() {
            Err(rustls::Error::AlertReceived(alert)) => return Some(alert),
            Err(err) => panic!("the server's answer broke the protocol: {err}"),
            Ok(_) => {}
        }
    }
    None
}

/// A TLS client over a blocking socket with timeouts.
pub type TlsClient = StreamOwned<ClientConnection, TcpStream>;

/// Connects to `addr` and finishes the handshake.
pub fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> TlsClient {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    let mut client = StreamOwned::new(session(config), stream);
    while client.conn.is_handshaking() {
        client
            .conn
            .complete_io(&mut client.sock)
            .expect("the TLS handshake");
    }
    client
}

/// Writes `data` and reads back exactly as many bytes, which must be
/// the same.
pub fn echo(client: &mut TlsClient, data: &[u8]) {
    client.write_all(data).expect("write over TLS");
    client.flush().expect("flush over TLS");
    let mut back = vec![0; data.len()];
    client
        .read_exact(&mut back)
        .expect("read the echo over TLS");
    assert_eq!(back, data, "the echo over TLS");
}

/// Reads from a plain socket until the server closes it (end of file or
/// a reset); returns what arrived. Panics if it stays open past the
/// socket's read timeout.
pub fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(err) => panic!("the server did not close the connection: {err} (got {got:?})"),
        }
    }
}

/// Whether `bytes` hold a TLS alert record (content type 21) starting
/// at a record boundary.
pub fn has_alert(bytes: &[u8]) -> bool {
    let mut at = 0;
    while at + 5 <= bytes.len() {
        if bytes[at] == 21 {
            return true;
        }
        let len = usize::from(u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]));
        at += 5 + len;
    }
    false
}
