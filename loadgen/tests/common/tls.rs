//! A TLS terminator for the `--tls` tests: certificates made with rcgen,
//! and a rustls server on a free loopback port that decrypts each
//! connection and relays it to a plaintext backend (an esockets server in
//! the test), so every mode runs against a real server over real TLS.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

/// A CA and a server certificate for `localhost` it signed, as PEM files.
pub struct Certs {
    /// The CA's certificate (what `--tls-ca` trusts).
    pub ca: PathBuf,
    /// The server's chain and key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Makes a CA and a server certificate (for `localhost` and 127.0.0.1)
/// in `dir`.
pub fn certs(dir: &Path) -> Certs {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "loadgen test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let paths = Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&paths.ca, ca.pem()).unwrap();
    std::fs::write(&paths.cert, cert.pem()).unwrap();
    std::fs::write(&paths.key, key.serialize_pem()).unwrap();
    paths
}

/// A TLS terminator relaying to `backend`; stops when dropped.
pub struct Terminator {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Terminator {
    /// Starts one with the certificate of `certs` (TLS 1.3 and 1.2,
    /// stateful session resumption: rustls's defaults).
    pub fn start(certs: &Certs, backend: SocketAddr) -> Self {
        let chain = CertificateDer::pem_file_iter(&certs.cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&certs.key).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (config, flag) = (config.clone(), flag.clone());
                        std::thread::spawn(move || {
                            let _ = relay(client, backend, config, &flag);
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        wait(&[(listener.as_raw_fd(), libc::POLLIN)]);
                    }
                    Err(_) => return,
                }
            }
        });
        Self { addr, stop }
    }
}

impl Drop for Terminator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Waits (at most 50 ms, so a stop is noticed) until one of `fds` is ready.
fn wait(fds: &[(i32, libc::c_short)]) {
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: `polled` is a live array of `len` pollfd structs.
    unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, 50) };
}

/// One connection: TLS from `client`, plaintext to and from `backend`.
fn relay(
    mut client: TcpStream,
    backend: SocketAddr,
    config: Arc<ServerConfig>,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut tls = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut server = TcpStream::connect_timeout(&backend, Duration::from_secs(5))?;
    client.set_nonblocking(true)?;
    server.set_nonblocking(true)?;
    let (mut to_server, mut buf) = (Vec::new(), vec![0u8; 65536]);
    while !stop.load(Ordering::Relaxed) {
        match tls.read_tls(&mut client) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                tls.process_new_packets().map_err(io::Error::other)?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        loop {
            match tls.reader().read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => to_server.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        while !to_server.is_empty() {
            match server.write(&to_server) {
                Ok(n) => drop(to_server.drain(..n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        // Take from the server only what the client side can queue.
        if tls.wants_write() {
            match tls.write_tls(&mut client) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if !tls.is_handshaking() && !tls.wants_write() {
            match server.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => tls.writer().write_all(&buf[..n])?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        while tls.wants_write() {
            match tls.write_tls(&mut client) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let mut fds = vec![(client.as_raw_fd(), libc::POLLIN)];
        if tls.wants_write() {
            fds[0].1 |= libc::POLLOUT;
        } else {
            fds.push((server.as_raw_fd(), libc::POLLIN));
        }
        if !to_server.is_empty() {
            fds.push((server.as_raw_fd(), libc::POLLOUT));
        }
        wait(&fds);
    }
    Ok(())
}
