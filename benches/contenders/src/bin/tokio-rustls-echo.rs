//! `tokio-rustls-echo`: the ordinary way people write a TLS echo server
//! with tokio: `tokio-echo` (one task per connection, a 4 KiB buffer,
//! `write_all`) with each accepted socket wrapped by a
//! `tokio_rustls::TlsAcceptor` (rustls with aws-lc-rs, tokio-rustls's
//! default provider and the one esockets uses, or with `--provider ring`,
//! the faster of the two at small records here; TLS 1.3 and 1.2, rustls's
//! default session resumption). Not tuned: the contender "what you get
//! without thinking about it".

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread::available_parallelism;

use clap::Parser;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio_rustls::TlsAcceptor;

/// Size of the per-connection read buffer: 4 KiB, as `tokio-echo`.
const BUF_SIZE: usize = 4096;

/// Command line of `tokio-rustls-echo`.
#[derive(Parser, Debug)]
#[command(about = "tokio + rustls echo server (one task per connection)")]
struct Args {
    /// Worker threads of the runtime (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:1247")]
    bind: SocketAddr,
    /// Certificate chain, PEM.
    #[arg(long, value_name = "FILE")]
    tls_cert: PathBuf,
    /// Private key, PEM.
    #[arg(long, value_name = "FILE")]
    tls_key: PathBuf,
    /// The rustls crypto provider.
    #[arg(long, value_enum, default_value_t = Provider::AwsLcRs)]
    provider: Provider,
}

/// The rustls crypto providers this contender can run on.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Provider {
    /// aws-lc-rs: tokio-rustls's default, and esockets's.
    AwsLcRs,
    /// ring: deprecated in rustls 0.23.48 only for lacking post-quantum
    /// key exchange.
    Ring,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let acceptor = match acceptor(&args.tls_cert, &args.tls_key, args.provider) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tokio-rustls-echo: {e}");
            return ExitCode::from(2);
        }
    };
    let threads = args
        .threads
        .unwrap_or_else(|| available_parallelism().map_or(1, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_io()
        .build();
    let result = runtime.and_then(|rt| rt.block_on(serve(args.bind, acceptor)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokio-rustls-echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The TLS acceptor of `cert` and `key`; errors name the file.
fn acceptor(cert: &Path, key: &Path, provider: Provider) -> Result<TlsAcceptor, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    let provider = Arc::new(match provider {
        Provider::AwsLcRs => rustls::crypto::aws_lc_rs::default_provider(),
        #[allow(deprecated)]
        Provider::Ring => rustls::crypto::ring::default_provider(),
    });
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until SIGTERM or SIGINT arrives.
async fn serve(bind: SocketAddr, acceptor: TlsAcceptor) -> io::Result<()> {
    let listener = TcpListener::bind(bind).await?;
    println!("listening on {}", listener.local_addr()?);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(echo(stream, acceptor.clone()));
                }
                // Out of descriptors or an aborted handshake: keep serving.
                Err(e) => eprintln!("tokio-rustls-echo: accept: {e}"),
            },
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        }
    }
}

/// Does the handshake, then echoes everything read until EOF or an error.
async fn echo(stream: TcpStream, acceptor: TlsAcceptor) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let Ok(mut stream) = acceptor.accept(stream).await else {
        return;
    };
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() || stream.flush().await.is_err() {
                    return;
                }
            }
        }
    }
}
