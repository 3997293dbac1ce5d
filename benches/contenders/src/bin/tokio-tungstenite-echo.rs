//! `tokio-tungstenite-echo`: the ordinary way people write a WebSocket echo
//! server in Rust, the contender of `esockets --protocol ws-echo`.
//!
//! A multi-thread runtime with `--threads` workers, one `TcpListener`, one
//! spawned task per connection that upgrades it with
//! `tokio_tungstenite::accept_async_with_config` (tungstenite's default
//! configuration, no compression; `--read-buffer-size` changes the read
//! buffer every connection allocates, 128 KiB by default) and sends every
//! text or binary message back as it came.
//! Pings are answered by tungstenite itself, a close is answered and ends
//! the task. Deliberately not tuned, like `tokio-echo`.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::thread::available_parallelism;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// Command line of `tokio-tungstenite-echo`.
#[derive(Parser, Debug)]
#[command(about = "tokio-tungstenite WebSocket echo server (one task per connection)")]
struct Args {
    /// Worker threads of the runtime (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:1242")]
    bind: SocketAddr,
    /// Read buffer of each connection, allocated at the handshake
    /// [default: tungstenite's, 128 KiB].
    #[arg(long, value_name = "BYTES")]
    read_buffer_size: Option<usize>,
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
    let mut config = WebSocketConfig::default();
    if let Some(size) = args.read_buffer_size {
        config = config.read_buffer_size(size);
    }
    let result = runtime.and_then(|rt| rt.block_on(serve(args.bind, config)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokio-tungstenite-echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Accepts connections until SIGTERM or SIGINT arrives.
async fn serve(bind: SocketAddr, config: WebSocketConfig) -> io::Result<()> {
    let listener = TcpListener::bind(bind).await?;
    println!("listening on {}", listener.local_addr()?);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(echo(stream, config));
                }
                // Out of descriptors or an aborted handshake: keep serving.
                Err(e) => eprintln!("tokio-tungstenite-echo: accept: {e}"),
            },
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        }
    }
}

/// Upgrades `stream` and echoes its messages until a close or an error.
async fn echo(stream: TcpStream, config: WebSocketConfig) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    while let Some(message) = ws.next().await {
        match message {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                if ws.send(message).await.is_err() {
                    return;
                }
            }
            // tungstenite queues the pong, and the answer to a close,
            // itself; the next read sends it (after a close, the stream
            // then ends).
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_)) => {}
            Err(_) => return,
        }
    }
}
