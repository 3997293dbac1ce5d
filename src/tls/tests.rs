//! TLS sessions in memory: a rustls client against [`TlsSession`] over
//! an in-memory transport whose window and read size the test sets.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::rc::Rc;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::session::{Handshake, TlsSession};
use super::{Tls, TlsSettings};
use crate::net::transport::Transport;

/// Both directions of one connection, shared by its two ends.
#[derive(Clone, Default)]
struct Wire {
    /// Client to server.
    up: Rc<RefCell<VecDeque<u8>>>,
    /// Server to client.
    down: Rc<RefCell<VecDeque<u8>>>,
    /// Most bytes `down` holds (the socket's send buffer).
    window: Rc<Cell<usize>>,
    /// Most bytes one server read takes.
    chunk: Rc<Cell<usize>>,
    /// The client closed its side.
    closed: Rc<Cell<bool>>,
}

/// The server's end.
struct ServerEnd(Wire);

impl Transport for ServerEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut up = self.0.up.borrow_mut();
        if up.is_empty() {
            return if self.0.closed.get() {
                Ok(0)
            } else {
                Err(ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(up.len()).min(self.0.chunk.get());
        for (slot, byte) in buf.iter_mut().zip(up.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut down = self.0.down.borrow_mut();
        let room = self.0.window.get().saturating_sub(down.len());
        if room == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        let n = room.min(data.len());
        down.extend(&data[..n]);
        Ok(n)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn unacknowledged(&self) -> io::Result<usize> {
        Ok(self.0.down.borrow().len())
    }
}

/// A server certificate for `localhost`, its key, and a client that
/// trusts it.
struct Fixture {
    /// The server's TLS.
    tls: Tls,
    /// A client configuration trusting the server's certificate.
    client: Arc<ClientConfig>,
    /// Holds the files.
    _dir: tempdir::Dir,
}

/// A scratch directory removed on drop.
mod tempdir {
    use std::path::PathBuf;

    /// The directory.
    pub(super) struct Dir(pub(super) PathBuf);

    impl Dir {
        /// A new empty directory under the system's temporary one.
        pub(super) fn new(tag: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "esockets-tls-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("temp dir");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn fixture(tag: &str, versions: &[&'static rustls::SupportedProtocolVersion]) -> Fixture {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let dir = tempdir::Dir::new(tag);
    let chain = dir.0.join("cert.pem");
    let key_file = dir.0.join("key.pem");
    std::fs::write(&chain, cert.pem()).expect("write cert");
    std::fs::write(&key_file, key.serialize_pem()).expect("write key");
    let tls = Tls::new(TlsSettings::new(&chain, &key_file)).expect("tls");
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert.der().to_vec()))
        .expect("root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Fixture {
        tls,
        client: Arc::new(client),
        _dir: dir,
    }
}

/// A client and a server session joined by a wire.
struct Pair {
    client: ClientConnection,
    server: TlsSession<ServerEnd>,
    wire: Wire,
}

impl Pair {
    fn new(f: &Fixture) -> Self {
        let wire = Wire::default();
        wire.window.set(1 << 20);
        wire.chunk.set(1 << 20);
        let server =
            TlsSession::new(f.tls.current(), ServerEnd(wire.clone()), Vec::new()).expect("session");
        let name = ServerName::try_from("localhost").expect("name");
        let client = ClientConnection::new(f.client.clone(), name).expect("client");
        Self {
            client,
            server,
            wire,
        }
    }

    /// Moves the client's records onto the wire.
    fn client_sends(&mut self) {
        let mut out = Vec::new();
        while self.client.wants_write() {
            self.client.write_tls(&mut out).expect("write_tls");
        }
        self.wire.up.borrow_mut().extend(out);
    }

    /// Hands the client what the server wrote; returns its plaintext.
    fn client_receives(&mut self) -> Vec<u8> {
        let bytes: Vec<u8> = self.wire.down.borrow_mut().drain(..).collect();
        let mut plain = Vec::new();
        for record in bytes.chunks(4096) {
            let mut at = record;
            while !at.is_empty() {
                self.client.read_tls(&mut at).expect("read_tls");
                self.client.process_new_packets().expect("client process");
                match self.client.reader().read_to_end(&mut plain) {
                    Ok(_) => {}
                    Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                    Err(err) => panic!("client read: {err}"),
                }
            }
        }
        plain
    }

    /// Runs the handshake to its end.
    fn handshake(&mut self) {
        for _ in 0..10 {
            self.client_sends();
            let step = self.server.handshake().expect("server handshake");
            self.client_receives();
            if step == Handshake::Done && !self.client.is_handshaking() {
                self.client_sends(); // nothing left, normally
                return;
            }
        }
        panic!("handshake did not finish in 10 flights");
    }

    /// Everything the server can read now.
    fn server_reads(&mut self) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.server.read(&mut buf) {
                Ok(0) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(err) if err.kind() == ErrorKind::WouldBlock => return got,
                Err(err) => panic!("server read: {err}"),
            }
        }
    }
}

#[test]
fn echo_over_tls13_and_tls12() {
    for (tag, version) in [
        ("13", &rustls::version::TLS13),
        ("12", &rustls::version::TLS12),
    ] {
        let f = fixture(tag, &[version]);
        let mut pair = Pair::new(&f);
        pair.handshake();
        let info = pair.server.info();
        assert_eq!(
            info.version,
            if tag == "13" { "TLSv1.3" } else { "TLSv1.2" }
        );
        assert!(!info.resumed);
        pair.client
            .writer()
            .write_all(b"hello over tls")
            .expect("write");
        pair.client_sends();
        assert_eq!(pair.server_reads(), b"hello over tls");
        assert_eq!(pair.server.write(b"and back").expect("write"), 8);
        assert_eq!(pair.client_receives(), b"and back");
    }
}

#[test]
fn records_arriving_a_byte_at_a_time_are_put_together() {
    let f = fixture("bytes", &[&rustls::version::TLS13]);
    let mut pair = Pair::new(&f);
    pair.handshake();
    let message: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    pair.client.writer().write_all(&message).expect("write");
    pair.client_sends();
    pair.wire.chunk.set(1);
    let mut got = Vec::new();
    for _ in 0..100_000 {
        got.extend(pair.server_reads());
        if got.len() == message.len() {
            break;
        }
    }
    assert_eq!(got, message);
}

#[test]
fn output_the_socket_refuses_is_kept_in_order_and_flushed() {
    let f = fixture("window", &[&rustls::version::TLS13]);
    let mut pair = Pair::new(&f);
    pair.handshake();
    pair.wire.window.set(1000);
    let message: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut blocked = 0;
    while got.len() < message.len() {
        match pair.server.write(&message[sent..]) {
            Ok(n) => sent += n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => blocked += 1,
            Err(err) => panic!("write: {err}"),
        }
        got.extend(pair.client_receives());
        if sent == message.len() {
            while pair.server.pending() {
                let _ = pair.server.flush();
                got.extend(pair.client_receives());
            }
            got.extend(pair.client_receives());
        }
    }
    assert!(blocked > 0, "the window never pushed back");
    assert_eq!(got, message);
    assert!(!pair.server.pending());
}

#[test]
fn data_sent_with_the_clients_finished_is_read_after_the_handshake() {
    let f = fixture("early", &[&rustls::version::TLS13]);
    let mut pair = Pair::new(&f);
    // Client hello, server flight, then the client's Finished together
    // with its first data, as a client that writes at once sends them.
    pair.client_sends();
    assert_eq!(pair.server.handshake().expect("step"), Handshake::Answered);
    assert_eq!(pair.server.handshake().expect("step"), Handshake::Pending);
    pair.client_receives();
    pair.client
        .writer()
        .write_all(b"first words")
        .expect("write");
    pair.client_sends();
    assert_eq!(pair.server.handshake().expect("step"), Handshake::Done);
    assert!(pair.server.has_input());
    assert_eq!(pair.server_reads(), b"first words");
}

#[test]
fn close_notify_ends_the_stream() {
    let f = fixture("close", &[&rustls::version::TLS13]);
    let mut pair = Pair::new(&f);
    pair.handshake();
    pair.client.writer().write_all(b"bye").expect("write");
    pair.client.send_close_notify();
    pair.client_sends();
    let mut buf = [0u8; 64];
    assert_eq!(pair.server.read(&mut buf).expect("read"), 3);
    assert_eq!(pair.server.read(&mut buf).expect("read"), 0);
    pair.server.shutdown_write().expect("shutdown");
    pair.client_receives();
    // The client read our close_notify: its reader reports the end.
    let mut rest = Vec::new();
    assert_eq!(
        pair.client
            .reader()
            .read_to_end(&mut rest)
            .expect("clean end"),
        0
    );
}

#[test]
fn plaintext_on_a_tls_session_is_refused_with_an_alert() {
    let f = fixture("plain", &[&rustls::version::TLS13]);
    let mut pair = Pair::new(&f);
    pair.wire.up.borrow_mut().extend(b"GET / HTTP/1.1\r\n\r\n");
    let err = pair.server.handshake().expect_err("not TLS");
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    let tls = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .expect("a rustls error");
    assert!(
        matches!(
            tls,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
        ),
        "{tls:?}"
    );
    let alert: Vec<u8> = pair.wire.down.borrow().iter().copied().collect();
    assert_eq!(alert.first(), Some(&21), "an alert record: {alert:?}");
}

#[test]
fn an_idle_session_keeps_no_buffer() {
    let f = fixture("idle", &[&rustls::version::TLS13]);
    let mut pair = Pair::new(&f);
    pair.handshake();
    pair.client
        .writer()
        .write_all(&[7u8; 50_000])
        .expect("write");
    pair.client_sends();
    assert_eq!(pair.server_reads().len(), 50_000);
    pair.server.write(&[9u8; 40_000]).expect("write");
    assert_eq!(pair.client_receives().len(), 40_000);
    assert_eq!(pair.server.held_bytes(), 0);
}
