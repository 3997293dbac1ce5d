//! Certificates made by each test with the real `openssl` CLI (from
//! scripts/components.sh): a CA of the test's own, server certificates
//! with alternative names, client certificates, an expired one. All in a
//! temporary folder removed when the [`Pki`] is dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::child::components::require;
use crate::child::{Child, DEADLINE};

/// A certificate (PEM, leaf then CA) and its key (PEM).
#[derive(Clone, Debug)]
pub struct Pair {
    /// The chain file.
    pub cert: PathBuf,
    /// The key file.
    pub key: PathBuf,
}

impl Pair {
    /// The chain file as a `&str` for a command line.
    pub fn cert(&self) -> &str {
        self.cert.to_str().expect("UTF-8 path")
    }

    /// The key file as a `&str` for a command line.
    pub fn key(&self) -> &str {
        self.key.to_str().expect("UTF-8 path")
    }
}

/// A CA and the folder where its certificates are made.
pub struct Pki {
    /// The folder; removed on drop.
    pub dir: PathBuf,
    /// The CA's certificate and key.
    ca: Pair,
}

/// Makes folder names unique within the test process.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Runs `openssl args` in `dir`, which must succeed within the deadline.
fn openssl(dir: &Path, args: &[&str]) {
    let mut command = Command::new(require("openssl"));
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command);
    let mut lines = child.stderr_lines();
    let status = child.wait_within(DEADLINE, "openssl");
    assert!(
        status.success(),
        "openssl {args:?} failed ({status}): {:#?}",
        lines.rest()
    );
}

/// Arguments for a new P-256 key written to `key`.
const NEW_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

impl Pki {
    /// A new CA named `name` (its subject is `CN=<name>`), valid two days.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "esockets-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the certificate folder");
        let ca = Pair {
            cert: dir.join("ca.pem"),
            key: dir.join("ca.key"),
        };
        let subject = format!("/CN={name}");
        let mut args = vec!["req", "-x509"];
        args.extend(NEW_KEY);
        args.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"]);
        args.extend(["-subj", &subject]);
        args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        openssl(&dir, &args);
        Self { dir, ca }
    }

    /// The CA's certificate file.
    pub fn ca(&self) -> &str {
        self.ca.cert()
    }

    /// A server certificate `CN=<name>` with `name`, `localhost` and
    /// 127.0.0.1 as alternative names, signed by the CA.
    pub fn server(&self, name: &str) -> Pair {
        self.issue(name, "serverAuth", None)
    }

    /// A client certificate `CN=<name>` (alternative name `name`).
    pub fn client(&self, name: &str) -> Pair {
        self.issue(name, "clientAuth", None)
    }

    /// A server certificate that was valid for one day in 2020.
    pub fn expired_server(&self, name: &str) -> Pair {
        self.issue(
            name,
            "serverAuth",
            Some(("20200101000000Z", "20200102000000Z")),
        )
    }

    /// Writes a key and a certificate for `name` signed by the CA, valid
    /// two days or between the `dates` given.
    fn issue(&self, name: &str, usage: &str, dates: Option<(&str, &str)>) -> Pair {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("{name}-{n}");
        let pair = Pair {
            cert: self.dir.join(format!("{base}.pem")),
            key: self.dir.join(format!("{base}.key")),
        };
        let (csr, ext, leaf) = (
            format!("{base}.csr"),
            format!("{base}.ext"),
            format!("{base}.leaf.pem"),
        );
        let subject = format!("/CN={name}");
        let mut args = vec!["req", "-new"];
        args.extend(NEW_KEY);
        args.extend(["-keyout", pair.key(), "-out", &csr, "-subj", &subject]);
        openssl(&self.dir, &args);
        std::fs::write(
            self.dir.join(&ext),
            format!(
                "subjectAltName=DNS:{name},DNS:localhost,IP:127.0.0.1\n\
                 basicConstraints=CA:FALSE\n\
                 extendedKeyUsage={usage}\n"
            ),
        )
        .expect("write the extensions");
        match dates {
            None => openssl(
                &self.dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    self.ca(),
                    "-CAkey",
                    self.ca.key(),
                    "-set_serial",
                    &format!("{}", n + 100),
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                    "-out",
                    &leaf,
                ],
            ),
            Some((start, end)) => {
                // `openssl x509` cannot set past dates; `openssl ca` can.
                let db = format!("{base}.db");
                std::fs::write(self.dir.join(&db), "").expect("write the CA database");
                let config = format!("{base}.cnf");
                std::fs::write(
                    self.dir.join(&config),
                    format!(
                        "[ca]\ndefault_ca = test\n[test]\ndatabase = {db}\nnew_certs_dir = .\n\
                         serial = {base}.serial\ndefault_md = sha256\npolicy = any\n\
                         [any]\ncommonName = supplied\n"
                    ),
                )
                .expect("write the CA config");
                std::fs::write(
                    self.dir.join(format!("{base}.serial")),
                    format!("{:02X}\n", n + 1),
                )
                .expect("write the serial");
                openssl(
                    &self.dir,
                    &[
                        "ca",
                        "-batch",
                        "-notext",
                        "-config",
                        &config,
                        "-cert",
                        self.ca(),
                        "-keyfile",
                        self.ca.key(),
                        "-in",
                        &csr,
                        "-startdate",
                        start,
                        "-enddate",
                        end,
                        "-extfile",
                        &ext,
                        "-out",
                        &leaf,
                    ],
                );
            }
        }
        // The chain: the leaf, then the CA.
        let leaf = std::fs::read_to_string(self.dir.join(&leaf)).expect("read the leaf");
        let ca = std::fs::read_to_string(&self.ca.cert).expect("read the CA");
        std::fs::write(&pair.cert, leaf + &ca).expect("write the chain");
        pair
    }

    /// The base64 SHA-256 of `cert`'s public key (SPKI), as Chromium's
    /// `--ignore-certificate-errors-spki-list` takes it.
    pub fn spki_sha256(&self, cert: &Pair) -> String {
        use base64::Engine as _;
        let stem = cert.cert.with_extension("");
        let stem = stem.to_str().expect("UTF-8 path");
        let (public, der, digest) = (
            format!("{stem}.pub.pem"),
            format!("{stem}.pub.der"),
            format!("{stem}.pub.sha256"),
        );
        openssl(
            &self.dir,
            &[
                "x509",
                "-in",
                cert.cert(),
                "-noout",
                "-pubkey",
                "-out",
                &public,
            ],
        );
        openssl(
            &self.dir,
            &[
                "pkey", "-pubin", "-in", &public, "-outform", "DER", "-out", &der,
            ],
        );
        openssl(
            &self.dir,
            &["dgst", "-sha256", "-binary", "-out", &digest, &der],
        );
        let digest = std::fs::read(&digest).expect("read the digest");
        assert_eq!(digest.len(), 32, "a SHA-256 digest");
        base64::engine::general_purpose::STANDARD.encode(digest)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
