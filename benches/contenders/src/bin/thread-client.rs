//! `thread-client`: a second echo client to compare `loadgen` with, built
//! the way rust_echo_bench is: one blocking thread per connection, each
//! sending a message, reading the whole echo, checking it, and repeating
//! until the time is up. It prints messages per second and its own CPU use.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;

/// Command line of `thread-client`.
#[derive(Parser, Debug)]
#[command(about = "Thread-per-connection echo client (rust_echo_bench style)")]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:1234")]
    addr: SocketAddr,
    /// Connections, one thread each.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

/// Counters shared by the connection threads.
#[derive(Default)]
struct Totals {
    /// Echoes received and verified.
    messages: AtomicU64,
    /// Echoes that differed from what was sent.
    mismatches: AtomicU64,
    /// Connections that failed (connect, read or write error).
    failures: AtomicU64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let totals = Arc::new(Totals::default());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(args.connections + 1));
    let threads: Vec<_> = (0..args.connections)
        .map(|i| {
            let (totals, stop, start) = (totals.clone(), stop.clone(), start.clone());
            let (addr, size) = (args.addr, args.size);
            thread::Builder::new().stack_size(64 * 1024).spawn(move || {
                let stream = TcpStream::connect(addr).and_then(|s| {
                    s.set_nodelay(true)?;
                    s.set_read_timeout(Some(Duration::from_secs(5)))?;
                    Ok(s)
                });
                start.wait();
                let result = stream.and_then(|s| ping_pong(s, i, size, &stop, &totals));
                if result.is_err() {
                    totals.failures.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let cpu_before = cpu_seconds();
    thread::sleep(Duration::from_secs(args.seconds)); // the measured period itself
    stop.store(true, Ordering::Relaxed);
    let elapsed = began.elapsed().as_secs_f64();
    let messages = totals.messages.load(Ordering::Relaxed);
    let cpu = cpu_seconds() - cpu_before;
    for thread in threads.into_iter().flatten() {
        let _ = thread.join();
    }
    let mismatches = totals.mismatches.load(Ordering::Relaxed);
    let failures = totals.failures.load(Ordering::Relaxed);
    println!(
        "thread-client: {} connections, {} B: {:.0} msg/s, cpu {:.0}% of one core, mismatches {mismatches}, failed connections {failures}",
        args.connections,
        args.size,
        messages as f64 / elapsed,
        100.0 * cpu / elapsed,
    );
    if mismatches + failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Sends, reads back and checks messages until `stop`.
fn ping_pong(
    mut stream: TcpStream,
    seed: usize,
    size: usize,
    stop: &AtomicBool,
    totals: &Totals,
) -> io::Result<()> {
    let message: Vec<u8> = (0..size).map(|i| b'a' + ((i + seed) % 26) as u8).collect();
    let mut echo = vec![0; size];
    while !stop.load(Ordering::Relaxed) {
        stream.write_all(&message)?;
        stream.read_exact(&mut echo)?;
        if echo != message {
            totals.mismatches.fetch_add(1, Ordering::Relaxed);
        }
        totals.messages.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// User plus system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}
