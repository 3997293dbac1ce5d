//! TLS from the library: `Config::tls` over loopback, a rustls client.
//! Echo of every size (a short plaintext read must not end the reading),
//! the handshake seen in `on_connect` with a client certificate's
//! identity, resumption, the handshake deadline, a plaintext client, and
//! a reload that changes the certificate for new clients only.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use esockets::tls::{ClientAuth, Tls, TlsSettings};
use esockets::{Admission, Conn, Handler, ShardContext, Verdict};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::util::{config, pattern, wait_until, TestServer, DEADLINE};

/// A CA, files of a server certificate it signed, and a client
/// certificate it signed, in a directory removed on drop.
struct Pki {
    dir: PathBuf,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("esockets-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("test CA {tag}"));
        let ca = params.self_signed(&ca_key).expect("ca");
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write");
        Self { dir, ca, ca_key }
    }

    /// Signs a certificate for `names` (server) or with common name `cn`
    /// (client); writes `NAME.pem` and `NAME.key`; returns the paths.
    fn issue(&self, name: &str, sans: &[&str], cn: &str) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params
            .signed_by(&key, &self.ca, &self.ca_key)
            .expect("sign");
        let (chain, key_file) = (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        );
        std::fs::write(&chain, cert.pem()).expect("write");
        std::fs::write(&key_file, key.serialize_pem()).expect("write");
        (chain, key_file)
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A client trusting this CA, with a client certificate if given.
    fn client(&self, identity: Option<(&Path, &Path)>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca.der().to_vec()))
            .expect("root");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => {
                let chain = rustls::pki_types::pem::PemObject::pem_file_iter(chain)
                    .expect("chain")
                    .collect::<Result<Vec<CertificateDer<'static>>, _>>()
                    .expect("chain");
                let key: PrivateKeyDer<'static> =
                    rustls::pki_types::pem::PemObject::from_pem_file(key).expect("key");
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("client auth")
            }
        };
        Arc::new(config)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TLS client of `addr`, handshake done.
fn connect(
    addr: SocketAddr,
    client: &Arc<ClientConfig>,
) -> StreamOwned<ClientConnection, TcpStream> {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).expect("timeout");
    tcp.set_write_timeout(Some(DEADLINE)).expect("timeout");
    let name = ServerName::try_from("localhost").expect("name");
    let conn = ClientConnection::new(client.clone(), name).expect("client");
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("handshake");
    }
    stream
}

/// A server with `tls`, serving `factory`.
fn tls_server<H: Handler + 'static>(
    tls: &Tls,
    factory: impl Fn() -> H + Send + Sync + 'static,
) -> TestServer {
    let config = esockets::Config {
        tls: Some(tls.clone()),
        ..config(2)
    };
    TestServer::start(config, move |_| factory())
}

#[test]
fn echo_of_every_size_comes_back_over_tls() {
    let pki = Pki::new("echo");
    let (chain, key) = pki.issue("server", &["localhost"], "localhost");
    let tls = Tls::new(TlsSettings::new(&chain, &key)).expect("tls");
    let server = tls_server(&tls, || esockets::protocols::Echo);
    let client = pki.client(None);
    let workers: Vec<_> = [1usize, 100, 16_383, 16_385, 70_000, 3 << 20]
        .into_iter()
        .enumerate()
        .map(|(i, size)| {
            let (addr, client) = (server.addr, client.clone());
            thread::spawn(move || {
                let data = pattern(size, i as u64);
                let mut stream = connect(addr, &client);
                // One rustls connection cannot be written from one thread
                // and read from another: alternate, 64 KiB at a time.
                let mut got = Vec::with_capacity(size);
                let mut buf = vec![0u8; 1 << 16];
                for chunk in data.chunks(1 << 16) {
                    stream.write_all(chunk).expect("write");
                    stream.flush().expect("flush");
                    let want = got.len() + chunk.len();
                    while got.len() < want {
                        let n = stream.read(&mut buf).expect("read");
                        assert!(n > 0, "closed early at {} of {size}", got.len());
                        got.extend_from_slice(&buf[..n]);
                    }
                }
                assert!(got == data, "{size} bytes echoed intact");
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("client");
    }
    // One client configuration: the later ones may resume.
    server.wait_for_total("six TLS 1.3 handshakes", |t| {
        t.tls_full + t.tls_resumed == 6 && t.tls_full >= 1 && t.tls_v13 == 6 && t.tls_failed == 0
    });
}

/// Replies to the first input with what `on_connect` saw of TLS.
#[derive(Default)]
struct Identity;

impl Handler for Identity {
    type State = String;

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<String> {
        let seen = match conn.tls() {
            None => "plaintext".to_owned(),
            Some(tls) => format!(
                "{} resumed={} peer={}",
                tls.version,
                tls.resumed,
                tls.peer.as_ref().map_or("none", |p| p.name())
            ),
        };
        Admission::Accept(seen)
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut String,
        data: &[u8],
    ) -> Verdict {
        conn.send(format!("{state}\n").as_bytes());
        Verdict::Consumed(data.len())
    }
}

/// Sends a byte and reads the handler's one line.
fn ask(stream: &mut StreamOwned<ClientConnection, TcpStream>) -> String {
    stream.write_all(b"?").expect("write");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        assert_eq!(stream.read(&mut byte).expect("read"), 1, "closed early");
        line.push(byte[0]);
    }
    String::from_utf8(line)
        .expect("utf-8")
        .trim_end()
        .to_owned()
}

#[test]
fn on_connect_sees_the_client_certificate_and_resumption() {
    let pki = Pki::new("identity");
    let (chain, key) = pki.issue("server", &["localhost"], "localhost");
    let (device, device_key) = pki.issue("device", &["device-17.fleet.example"], "device-17");
    let mut settings = TlsSettings::new(&chain, &key);
    settings.client_ca = Some(pki.ca_file());
    settings.client_auth = ClientAuth::Optional;
    let tls = Tls::new(settings).expect("tls");
    let server = tls_server(&tls, || Identity);

    let with_cert = pki.client(Some((&device, &device_key)));
    let mut stream = connect(server.addr, &with_cert);
    assert_eq!(
        ask(&mut stream),
        "TLSv1.3 resumed=false peer=device-17.fleet.example"
    );
    drop(stream);

    // The same client config keeps the ticket: the second is resumed.
    let anonymous = pki.client(None);
    let mut first = connect(server.addr, &anonymous);
    assert_eq!(ask(&mut first), "TLSv1.3 resumed=false peer=none");
    let mut second = connect(server.addr, &anonymous);
    assert_eq!(ask(&mut second), "TLSv1.3 resumed=true peer=none");
    server.wait_for_total("two full handshakes and one resumed", |t| {
        t.tls_full == 2 && t.tls_resumed == 1
    });

    // A certificate from another CA is refused in the handshake.
    let stranger = Pki::new("stranger");
    let (other, other_key) = stranger.issue("other", &["x.example"], "intruder");
    let mut config = (*pki.client(Some((&other, &other_key)))).clone();
    config.resumption = rustls::client::Resumption::disabled();
    let tcp = TcpStream::connect(server.addr).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let name = ServerName::try_from("localhost").expect("name");
    let mut conn = ClientConnection::new(Arc::new(config), name).expect("client");
    let mut tcp = tcp;
    let mut refused = false;
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        match conn.complete_io(&mut tcp) {
            Ok((0, 0)) => break,
            Ok(_) => {
                // TLS 1.3: the client is done before the server judged its
                // certificate; the refusal comes as an alert on read.
                if !conn.is_handshaking() {
                    let mut buf = [0u8; 16];
                    let read = conn.reader().read(&mut buf);
                    if read.is_err() || conn.complete_io(&mut tcp).is_err() {
                        refused = true;
                        break;
                    }
                }
            }
            Err(_) => {
                refused = true;
                break;
            }
        }
    }
    assert!(refused, "a certificate from an unknown CA is refused");
    server.wait_for_total("the refusal counted as a certificate failure", |t| {
        t.tls_failed_certificate == 1
    });
}

#[test]
fn a_silent_client_is_closed_at_the_handshake_deadline_and_plaintext_gets_an_alert() {
    let pki = Pki::new("deadline");
    let (chain, key) = pki.issue("server", &["localhost"], "localhost");
    let mut settings = TlsSettings::new(&chain, &key);
    settings.handshake_timeout = Duration::from_millis(300);
    let tls = Tls::new(settings).expect("tls");
    let server = tls_server(&tls, || esockets::protocols::Echo);

    let mut silent = TcpStream::connect(server.addr).expect("connect");
    silent.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let began = Instant::now();
    let mut buf = [0u8; 16];
    let n = silent.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte");
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "not before the deadline: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "at the deadline: {took:?}");

    let mut plain = TcpStream::connect(server.addr).expect("connect");
    plain.set_read_timeout(Some(DEADLINE)).expect("timeout");
    plain.write_all(b"hello, plaintext\r\n").expect("write");
    let mut answer = Vec::new();
    match plain.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
        Err(err) => panic!("read: {err}"),
    }
    assert_eq!(answer.first(), Some(&21), "a TLS alert record: {answer:?}");
    server.wait_for_total("a timeout and a plaintext client counted", |t| {
        t.tls_failed_timeout == 1 && t.tls_failed_not_tls == 1 && t.tls_failed == 2 && t.open == 0
    });
}

#[test]
fn a_reload_serves_the_new_certificate_to_new_clients_only() {
    let pki = Pki::new("reload");
    let (chain, key) = pki.issue("server", &["localhost"], "first");
    let tls = Tls::new(TlsSettings::new(&chain, &key)).expect("tls");
    let server = tls_server(&tls, || esockets::protocols::Echo);
    // Full handshakes only: a resumed one shows no certificate.
    let mut config = (*pki.client(None)).clone();
    config.resumption = rustls::client::Resumption::disabled();
    let client = Arc::new(config);
    let mut before = connect(server.addr, &client);
    let subject = |s: &StreamOwned<ClientConnection, TcpStream>| {
        let der = s.conn.peer_certificates().expect("certs")[0].to_vec();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("parse");
        cert.subject().to_string()
    };
    assert_eq!(subject(&before), "CN=first");

    // A broken file: the reload fails, naming it; the old one stays.
    std::fs::write(&key, "not a key").expect("write");
    let err = tls.reload().expect_err("a broken key");
    assert!(err.to_string().contains("server.key"), "{err}");
    assert_eq!(subject(&connect(server.addr, &client)), "CN=first");

    // The renewed certificate under the same names.
    let _ = pki.issue("server", &["localhost"], "second");
    tls.reload().expect("reload");
    assert_eq!(subject(&connect(server.addr, &client)), "CN=second");
    before.write_all(b"still here").expect("write");
    let mut got = [0u8; 10];
    before.read_exact(&mut got).expect("read");
    assert_eq!(&got, b"still here");
    wait_until(DEADLINE, "three full handshakes", || {
        server.total().tls_full == 3
    });
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let pki = Pki::new("files");
    let (chain, key) = pki.issue("server", &["localhost"], "localhost");
    let (_, other_key) = pki.issue("other", &["localhost"], "other");
    let missing = pki.dir.join("missing.pem");
    let err = Tls::new(TlsSettings::new(&missing, &key)).expect_err("missing");
    assert!(err.to_string().contains("missing.pem"), "{err}");
    let err = Tls::new(TlsSettings::new(&chain, &other_key)).expect_err("mismatch");
    assert!(
        err.to_string().contains("other.key is not the private key"),
        "{err}"
    );
    let err = Tls::new(TlsSettings::new(&key, &key)).expect_err("a key is no certificate");
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
    // Expired yesterday.
    let expired_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = params.self_signed(&expired_key).expect("cert");
    let expired_file = pki.dir.join("expired.pem");
    let expired_key_file = pki.dir.join("expired.key");
    std::fs::write(&expired_file, expired.pem()).expect("write");
    std::fs::write(&expired_key_file, expired_key.serialize_pem()).expect("write");
    let err = Tls::new(TlsSettings::new(&expired_file, &expired_key_file)).expect_err("expired");
    assert!(
        err.to_string()
            .contains("expired.pem: the certificate expired"),
        "{err}"
    );
}

/// Holds its shard for a while in `on_connect` of the first client, so
/// the next handshakes' first flights arrive in one round.
struct SlowFirst(bool);

impl Handler for SlowFirst {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        if !self.0 {
            self.0 = true;
            thread::sleep(Duration::from_millis(300));
        }
        Admission::Accept(())
    }

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
}

#[test]
fn the_handshake_budget_spreads_a_storm_over_rounds() {
    let pki = Pki::new("budget");
    let (chain, key) = pki.issue("server", &["localhost"], "localhost");
    let mut settings = TlsSettings::new(&chain, &key);
    settings.handshake_budget = 2;
    let tls = Tls::new(settings).expect("tls");
    let config = esockets::Config {
        tls: Some(tls),
        ..config(1)
    };
    let server = TestServer::start(config, |_| SlowFirst(false));
    let client = pki.client(None);
    let first = {
        let (addr, client) = (server.addr, client.clone());
        thread::spawn(move || connect(addr, &client))
    };
    wait_until(DEADLINE, "the first handshake", || {
        server.total().tls_full == 1
    });
    // The shard is in the first client's on_connect: these ClientHellos
    // wait in their sockets, and the next round sees them all.
    let storm: Vec<_> = (0..20)
        .map(|i| {
            let (addr, client) = (server.addr, client.clone());
            thread::spawn(move || {
                let mut stream = connect(addr, &client);
                let data = pattern(100, i);
                stream.write_all(&data).expect("write");
                let mut got = vec![0u8; 100];
                stream.read_exact(&mut got).expect("echo");
                assert_eq!(got, data);
            })
        })
        .collect();
    for client in storm {
        client.join().expect("storm client");
    }
    drop(first.join().expect("first"));
    server.wait_for_total("21 handshakes, some steps left for a later round", |t| {
        t.tls_full + t.tls_resumed == 21 && t.tls_deferred > 0
    });
}

#[test]
fn a_refuse_message_is_refused_on_a_tls_listener() {
    let pki = Pki::new("refuse");
    let (chain, key) = pki.issue("server", &["localhost"], "localhost");
    let tls = Tls::new(TlsSettings::new(&chain, &key)).expect("tls");
    let config = esockets::Config {
        tls: Some(tls),
        refuse_message: Some(bytes::Bytes::from_static(b"busy\n")),
        ..config(1)
    };
    let err = config.validate().expect_err("plaintext on a TLS listener");
    assert!(err.to_string().contains("refuse_message"), "{err}");
}

/// Grants every client certificate the TLS layer verified every topic.
#[derive(Debug)]
struct ByCertificate;

impl esockets::protocols::pubsub::auth::Authorizer for ByCertificate {
    fn connect(
        &self,
        credential: esockets::protocols::pubsub::auth::Credential<'_>,
        _now: std::time::SystemTime,
    ) -> Result<esockets::protocols::pubsub::auth::Grant, esockets::protocols::pubsub::auth::Refusal>
    {
        use esockets::protocols::pubsub::auth::{
            Credential, Grant, Identity, Origin, Permissions, Refusal,
        };
        match credential {
            Credential::Certificate(name) => Ok(Grant {
                identity: Identity {
                    subject: name.into(),
                    origin: Origin::Certificate,
                },
                permissions: Permissions::everything(),
                expires: None,
            }),
            Credential::Token(_) => Err(Refusal::Unsupported),
        }
    }

    fn accepts_certificates(&self) -> bool {
        true
    }
}

#[test]
fn pubsub_takes_a_verified_client_certificate_as_the_clients_identity() {
    let pki = Pki::new("pubsub-cert");
    let (chain, key) = pki.issue("server", &["localhost"], "localhost");
    let (device, device_key) = pki.issue("device", &["device-9.fleet.example"], "device-9");
    let mut settings = TlsSettings::new(&chain, &key);
    settings.client_ca = Some(pki.ca_file());
    settings.client_auth = ClientAuth::Optional;
    let tls = Tls::new(settings).expect("tls");
    let rules = esockets::protocols::pubsub::Rules {
        auth: Some(esockets::protocols::pubsub::Auth {
            authorizer: Arc::new(ByCertificate),
            timeout: Duration::from_secs(5),
        }),
        ..esockets::protocols::pubsub::Rules::default()
    };
    let server = tls_server(&tls, move || {
        esockets::protocols::PubSub::new(1024).with_rules(rules.clone())
    });
    let line = |stream: &mut StreamOwned<ClientConnection, TcpStream>, command: &str| {
        stream
            .write_all(format!("{command}\n").as_bytes())
            .expect("write");
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\n") {
            assert_eq!(stream.read(&mut byte).expect("read"), 1, "closed");
            got.push(byte[0]);
        }
        String::from_utf8(got).expect("utf-8").trim_end().to_owned()
    };
    let mut device_client = connect(server.addr, &pki.client(Some((&device, &device_key))));
    assert_eq!(line(&mut device_client, "SUB fleet"), "+OK");
    let mut anonymous = connect(server.addr, &pki.client(None));
    let refused = line(&mut anonymous, "SUB fleet");
    assert!(refused.starts_with("-ERR"), "{refused}");
}
