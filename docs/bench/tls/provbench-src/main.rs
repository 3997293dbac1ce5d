use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

struct Count;
static LIVE: AtomicIsize = AtomicIsize::new(0);
unsafe impl GlobalAlloc for Count {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 { LIVE.fetch_add(l.size() as isize, Ordering::Relaxed); System.alloc(l) }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) { LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed); System.dealloc(p, l) }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 { LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed); System.realloc(p, l, n) }
}
#[global_allocator]
static A: Count = Count;

fn provider() -> rustls::crypto::CryptoProvider {
    #[cfg(feature = "ring")] { rustls::crypto::ring::default_provider() }
    #[cfg(feature = "aws")] { rustls::crypto::aws_lc_rs::default_provider() }
}

fn pump(c: &mut ClientConnection, s: &mut ServerConnection) {
    let mut buf = Vec::new();
    loop {
        let mut moved = false;
        buf.clear();
        while c.wants_write() { c.write_tls(&mut buf).unwrap(); }
        if !buf.is_empty() { moved = true; let mut r = &buf[..]; while !r.is_empty() { s.read_tls(&mut r).unwrap(); s.process_new_packets().unwrap(); } }
        buf.clear();
        while s.wants_write() { s.write_tls(&mut buf).unwrap(); }
        if !buf.is_empty() { moved = true; let mut r = &buf[..]; while !r.is_empty() { c.read_tls(&mut r).unwrap(); c.process_new_packets().unwrap(); } }
        if !moved { break; }
    }
}

fn main() {
    let ecdsa = std::env::args().nth(1).as_deref() != Some("rsa");
    let key = if ecdsa { rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap() } else { rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap_or_else(|_| rcgen::KeyPair::generate().unwrap()) };
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap().self_signed(&key).unwrap();
    let der: CertificateDer<'static> = cert.der().clone();
    let kd = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let p = Arc::new(provider());
    let sc = Arc::new(ServerConfig::builder_with_provider(p.clone()).with_safe_default_protocol_versions().unwrap().with_no_client_auth().with_single_cert(vec![der.clone()], kd).unwrap());
    let mut roots = RootCertStore::empty(); roots.add(der).unwrap();
    let mut ccfg = ClientConfig::builder_with_provider(p.clone()).with_safe_default_protocol_versions().unwrap().with_root_certificates(roots).with_no_client_auth();
    ccfg.resumption = rustls::client::Resumption::disabled();
    let cc = Arc::new(ccfg);
    let name = ServerName::try_from("localhost").unwrap();
    // handshakes/s
    let t = Instant::now(); let n = 2000;
    for _ in 0..n { let mut c = ClientConnection::new(cc.clone(), name.clone()).unwrap(); let mut s = ServerConnection::new(sc.clone()).unwrap(); pump(&mut c, &mut s); assert!(!s.is_handshaking()); }
    let hs = n as f64 / t.elapsed().as_secs_f64();
    // bulk: 64 B and 16 KiB records client->server
    let mut c = ClientConnection::new(cc.clone(), name.clone()).unwrap(); let mut s = ServerConnection::new(sc.clone()).unwrap(); pump(&mut c, &mut s);
    let mut rd = vec![0u8; 20000];
    for size in [64usize, 16384] {
        let data = vec![7u8; size]; let iters = if size == 64 { 400_000 } else { 40_000 };
        let t = Instant::now();
        for _ in 0..iters { use std::io::{Read, Write}; c.writer().write_all(&data).unwrap(); pump(&mut c, &mut s); let mut got = 0; while got < size { got += s.reader().read(&mut rd).unwrap(); } }
        let secs = t.elapsed().as_secs_f64();
        println!("{} size {size}: {:.0} records/s, {:.0} MB/s", if ecdsa {"ecdsa"} else {"rsa"}, iters as f64/secs, (iters*size) as f64/secs/1e6);
    }
    // memory per idle server conn after handshake + one exchange
    let mut pairs = Vec::new();
    let before = LIVE.load(Ordering::Relaxed);
    let k = 1000;
    let mut servers = Vec::new();
    for _ in 0..k { let mut c = ClientConnection::new(cc.clone(), name.clone()).unwrap(); let mut s = ServerConnection::new(sc.clone()).unwrap(); pump(&mut c, &mut s);
        use std::io::{Read, Write}; c.writer().write_all(b"hello").unwrap(); pump(&mut c, &mut s); let mut b=[0u8;10]; s.reader().read(&mut b).unwrap(); s.writer().write_all(b"hello").unwrap(); pump(&mut c,&mut s);
        pairs.push(c); servers.push(s); }
    let mid = LIVE.load(Ordering::Relaxed);
    drop(pairs);
    let after_clients = LIVE.load(Ordering::Relaxed);
    println!("handshakes/s {hs:.0}; per idle server conn (buffered API, incl. client? no): {} B; total pair {} B", (after_clients - before) / k, (mid - before)/k);
    drop(servers);
}
