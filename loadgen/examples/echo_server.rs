//! A minimal thread-per-connection echo server for the `sweep` test:
//! `echo_server --threads N --balance MODE --bind ADDR` (threads and
//! balance are accepted and ignored).
//! Stops on SIGTERM (the default action).

use std::io::{Read, Write};
use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bind = args
        .iter()
        .position(|a| a == "--bind")
        .and_then(|i| args.get(i + 1))
        .map_or("127.0.0.1:1234", String::as_str);
    let listener = TcpListener::bind(bind)?;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 || stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}
