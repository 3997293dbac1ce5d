//! A TLS server session (`esockets::tls`, rustls's unbuffered state
//! machine and the code that drives it) fed what a client could send,
//! cut into reads at places the input chooses.
//!
//! On any bytes: nothing panics (a panic here is a shard's panic), the
//! session never holds more of its own than a handshake message and a
//! read (72 KiB and 32 KiB), and no handshake finishes without the
//! server's flight.

use std::sync::OnceLock;

use esockets::internals::feed_tls_session;
use esockets::tls::{Tls, TlsSettings};

use crate::Input;

/// Most bytes a session may hold of its own.
const MOST_HELD: usize = (72 + 32) * 1024 + 16 * 1024;

/// The server: a self-signed certificate made once per process.
fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("certificate");
        let dir = std::env::temp_dir().join(format!("esockets-fuzz-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (chain, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&chain, cert.pem()).expect("write");
        std::fs::write(&key_file, key.serialize_pem()).expect("write");
        let tls = Tls::new(TlsSettings::new(&chain, &key_file)).expect("tls");
        let _ = std::fs::remove_dir_all(&dir);
        tls
    })
}

/// Feeds `data` to a session: the first byte chooses how the rest is
/// cut into reads (whole, or pieces of 1 to 256 bytes).
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let cut = usize::from(input.byte());
    let rest = input.rest();
    let pieces: Vec<Vec<u8>> = if cut == 0 {
        vec![rest.to_vec()]
    } else {
        rest.chunks(cut).map(<[u8]>::to_vec).collect()
    };
    let fed = feed_tls_session(tls(), pieces);
    assert!(
        fed.most_held <= MOST_HELD,
        "a session held {} bytes of its own",
        fed.most_held
    );
    assert!(
        !fed.handshake_done || fed.answered > 0,
        "a handshake finished without the server's flight"
    );
}
