//! `tokio-echo`: the ordinary way people write an echo server with tokio.
//!
//! A multi-thread runtime with `--threads` workers, one `TcpListener`, one
//! spawned task per connection, each reading into its own 4 KiB buffer and
//! answering with `write_all`. This is the contender "what you get without
//! thinking about it"; it is deliberately not tuned.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::thread::available_parallelism;

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

/// Size of the per-connection read buffer: 4 KiB, what most examples use.
const BUF_SIZE: usize = 4096;

/// Command line of `tokio-echo`.
#[derive(Parser, Debug)]
#[command(about = "Plain tokio echo server (one task per connection)")]
struct Args {
    /// Worker threads of the runtime (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:1235")]
    bind: SocketAddr,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let threads = args
        .threads
        .unwrap_or_else(|| available_parallelism().map_or(1, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_io()
        .build();
    let result = runtime.and_then(|rt| rt.block_on(serve(args.bind)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokio-echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Accepts connections until SIGTERM or SIGINT arrives.
async fn serve(bind: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(bind).await?;
    println!("listening on {}", listener.local_addr()?);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(echo(stream));
                }
                // Out of descriptors or an aborted handshake: keep serving.
                Err(e) => eprintln!("tokio-echo: accept: {e}"),
            },
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        }
    }
}

/// Echoes everything read from `stream` until EOF or an error.
async fn echo(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
