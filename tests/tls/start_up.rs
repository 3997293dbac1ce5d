//! Certificate files that cannot serve stop the binary at start-up with
//! a message naming the file and a non-zero exit status.

use crate::certs::Pki;
use crate::child::server::Server;

/// Starts the binary with these TLS files, which must fail; returns its
/// output.
fn refused(cert: &str, key: &str) -> String {
    let (status, lines) = Server::spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ])
    .finish();
    let output = lines.join("\n");
    assert!(!status.success(), "started: {output}");
    assert!(
        !output.contains("esockets listening"),
        "it listened: {output}"
    );
    output
}

#[test]
fn an_expired_certificate_is_an_error_naming_the_file() {
    let pki = Pki::new("esockets test CA");
    let old = pki.expired_server("localhost");
    let output = refused(old.cert(), old.key());
    assert!(output.contains(old.cert()), "{output}");
    assert!(output.contains("expired"), "{output}");
}

#[test]
fn a_key_of_another_certificate_is_an_error_naming_both_files() {
    let pki = Pki::new("esockets test CA");
    let one = pki.server("localhost");
    let other = pki.server("localhost");
    let output = refused(one.cert(), other.key());
    assert!(
        output.contains(one.cert()) && output.contains(other.key()),
        "{output}"
    );
    assert!(output.contains("not the private key"), "{output}");
}

#[test]
fn unreadable_missing_and_broken_files_are_errors_naming_the_file() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    // The tests may run as root, which reads any file whatever its mode:
    // a folder is what cannot be read as a key by anyone.
    let folder = pki.dir.join("not-a-file.key");
    std::fs::create_dir(&folder).expect("create the folder");
    let folder = folder.to_str().expect("UTF-8 path");
    let output = refused(pair.cert(), folder);
    assert!(
        output.contains(&format!("cannot read {folder}")),
        "{output}"
    );

    let missing = pki.dir.join("missing.pem");
    let missing = missing.to_str().expect("UTF-8 path");
    let output = refused(missing, pair.key());
    assert!(
        output.contains(&format!("cannot read {missing}")),
        "{output}"
    );

    let broken = pki.dir.join("broken.key");
    std::fs::write(&broken, "not a key\n").expect("write the broken key");
    let broken = broken.to_str().expect("UTF-8 path");
    let output = refused(pair.cert(), broken);
    assert!(output.contains(broken), "{output}");
    assert!(output.contains("private key"), "{output}");

    // A key given as the certificate: no certificate in it.
    let output = refused(pair.key(), pair.key());
    assert!(output.contains(pair.key()), "{output}");
    assert!(output.contains("no PEM certificate"), "{output}");
}
