//! Issue 20, item 10 through the TLS hook: SIGHUP re-reads the certificate
//! files named in the configuration file (same paths, new contents), new
//! handshakes get the new certificate, a connection opened before keeps
//! echoing, and a key that does not match keeps the certificate in force.
//! Certificates are made by `openssl req`; clients are `openssl s_client`.

mod child;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use child::components::require;
use child::server::Server;
use child::{Child, DEADLINE};

/// A directory of the test's own, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    /// A new directory named after `test`.
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("esockets-tls-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the test directory");
        Self(dir)
    }

    /// `name` in it, as text.
    fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("a UTF-8 path").to_owned()
    }

    /// Puts the contents of `from` at `to` at once (a copy renamed over it).
    fn replace(&self, from: &str, to: &str) {
        let next = format!("{to}.new");
        std::fs::copy(from, &next).expect("copy");
        std::fs::rename(&next, to).expect("rename");
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Makes a self-signed certificate for `localhost` with common name `cn`:
/// `DIR/cn.pem` and `DIR/cn.key`.
fn certificate(dir: &Dir, cn: &str) {
    let mut command = Command::new(require("openssl"));
    command
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={cn}")])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-keyout", &dir.file(&format!("{cn}.key"))])
        .args(["-out", &dir.file(&format!("{cn}.pem"))])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = Child::spawn(&mut command).wait_within(DEADLINE, "openssl req");
    assert!(status.success(), "openssl req failed");
}

/// An `openssl s_client` connected to `addr` (SNI localhost), quiet: its
/// stdout is what the server sends.
fn tls_client(addr: SocketAddr) -> (Child, std::process::ChildStdin, child::Lines) {
    let mut command = Command::new(require("openssl"));
    command
        .args(["s_client", "-quiet", "-connect", &addr.to_string()])
        .args(["-servername", "localhost"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut client = Child::spawn(&mut command);
    let stdin = client.stdin();
    let lines = client.stdout_lines();
    (client, stdin, lines)
}

/// The subject of the certificate a new handshake with `addr` gets.
fn served_subject(addr: SocketAddr) -> String {
    let mut command = Command::new(require("openssl"));
    command
        .args(["s_client", "-connect", &addr.to_string()])
        .args(["-servername", "localhost"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut client = Child::spawn(&mut command);
    let mut lines = client.stdout_lines();
    let subject = lines.wait_for("subject=");
    client.wait_within(DEADLINE, "openssl s_client");
    subject
}

/// Sends `line` through an `s_client` and waits for its echo.
fn echoes(stdin: &mut std::process::ChildStdin, lines: &mut child::Lines, line: &str) {
    stdin
        .write_all(format!("{line}\n").as_bytes())
        .expect("write to s_client");
    stdin.flush().expect("flush");
    assert_eq!(lines.wait_for(line), line);
}

#[test]
fn sighup_rereads_the_certificate_files_and_keeps_connections() {
    let dir = Dir::new("reload");
    certificate(&dir, "one");
    certificate(&dir, "two");
    let (cert, key) = (dir.file("cert.pem"), dir.file("key.pem"));
    dir.replace(&dir.file("one.pem"), &cert);
    dir.replace(&dir.file("one.key"), &key);
    let config = dir.file("esockets.toml");
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:0\"\nthreads = 1\nprotocol = \"line-echo\"\n\
             tls-cert = [\"{cert}\"]\ntls-key = [\"{key}\"]\n"
        ),
    )
    .expect("write the configuration file");
    let mut server = Server::spawn(&["--config", &config]);
    let addr = server.listening_addr();
    assert!(served_subject(addr).contains("CN = one"));
    let (before, mut stdin, mut lines) = tls_client(addr);
    echoes(&mut stdin, &mut lines, "before");

    // Same paths, new contents.
    dir.replace(&dir.file("two.pem"), &cert);
    dir.replace(&dir.file("two.key"), &key);
    server.signal(libc::SIGHUP);
    server.wait_for_line("reload: applied: tls-cert, tls-key; needs a restart: none; failed: none");
    assert!(served_subject(addr).contains("CN = two"));
    echoes(&mut stdin, &mut lines, "after");

    // A key that is not the certificate's: the certificate in force stays.
    dir.replace(&dir.file("one.pem"), &cert);
    server.signal(libc::SIGHUP);
    let failed = server.wait_for_line("reload failed");
    assert!(
        failed.contains("is not the private key of the certificate"),
        "{failed}"
    );
    assert!(served_subject(addr).contains("CN = two"));
    echoes(&mut stdin, &mut lines, "still");

    // -quiet ignores the end of its input: killed when dropped.
    drop((stdin, before));
    let (status, total) = server.stop();
    assert!(status.success(), "{total}");
}
