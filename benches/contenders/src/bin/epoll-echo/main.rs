//! `epoll-echo`: the "practical limit" contender.
//!
//! A minimal C-style echo server on raw `libc`: one thread per CPU, each
//! pinned, each with its own SO_REUSEPORT listener on the same address and its
//! own edge-triggered epoll instance. Nothing in it does more than an echo
//! needs, so it marks what the thread-per-core design can reach on this
//! machine. SIGTERM ends it (default action).

mod sys;
mod worker;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::thread;

use clap::Parser;

use worker::Worker;

/// Command line of `epoll-echo`.
#[derive(Parser, Debug)]
#[command(about = "Minimal pinned epoll echo server (one SO_REUSEPORT listener per thread)")]
struct Args {
    /// Worker threads, pinned in turn to the CPUs this process may use
    /// (default: as many as those CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Address to listen on; port 0 picks a free port shared by all threads.
    #[arg(long, default_value = "127.0.0.1:1236")]
    bind: SocketAddr,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("epoll-echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Binds all listeners, announces the address, then runs the workers.
fn run(args: Args) -> io::Result<()> {
    let cpus = sys::allowed_cpus()?;
    let threads = args.threads.unwrap_or(cpus.len()).max(1);
    let mut addr = args.bind;
    let mut workers = Vec::with_capacity(threads);
    for _ in 0..threads {
        let fd = sys::listener(addr)?;
        // With port 0 the first bind picks the port; the others share it.
        addr.set_port(sys::local_port(fd)?);
        workers.push(Worker::new(fd)?);
    }
    let mut out = io::stdout();
    writeln!(out, "listening on {addr}")?;
    out.flush()?;

    let handles: Vec<_> = workers
        .into_iter()
        .enumerate()
        .map(|(i, worker)| {
            let cpu = cpus.get(i % cpus.len().max(1)).copied();
            thread::Builder::new()
                .name(format!("epoll-echo-{i}"))
                .spawn(move || {
                    if let Some(cpu) = cpu {
                        sys::pin_to(cpu)?;
                    }
                    worker.run()
                })
        })
        .collect::<io::Result<_>>()?;
    for handle in handles {
        handle
            .join()
            .map_err(|_| io::Error::other("worker thread panicked"))??;
    }
    Ok(())
}
