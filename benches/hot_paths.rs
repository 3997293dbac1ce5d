//! Microbenchmarks of the pure code on the per-message path: line framing,
//! the output queue, and the connection slab with its generational keys;
//! and, per connection, parsing a PROXY protocol header.
//!
//! Run: `cargo bench -p esockets-micro` (this file belongs to `benches/micro`).

use std::hint::black_box;
use std::io::{self, Write};

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use esockets::internals::{OutQueue, Slots, Wheel};
use esockets::lines::scan_lines;

/// A writer that takes everything (a socket with room to spare).
struct Sink;

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        Ok(bufs.iter().map(|b| b.len()).sum())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Finding newlines in 64 KiB of lines of several lengths.
fn line_framing(c: &mut Criterion) {
    let mut group = c.benchmark_group("scan_lines");
    for line_len in [16usize, 64, 1024] {
        let mut line = vec![b'x'; line_len - 1];
        line.push(b'\n');
        let data = line.repeat(64 * 1024 / line_len);
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("64KiB-of-lines", line_len),
            &data,
            |b, data| {
                b.iter(|| scan_lines(black_box(data), 0, 64 * 1024));
            },
        );
    }
    group.finish();
}

/// Queueing small and large sends and flushing them.
fn output_queue(c: &mut Criterion) {
    let mut group = c.benchmark_group("out_queue");
    let small = [7u8; 64];
    group.throughput(Throughput::Elements(64));
    group.bench_function("push-64x64B-then-flush", |b| {
        let mut queue = OutQueue::default();
        b.iter(|| {
            for _ in 0..64 {
                queue.push_slice(black_box(&small));
            }
            queue.write_to(&mut Sink)
        });
    });
    let big = vec![1u8; 64 * 1024];
    group.throughput(Throughput::Bytes(16 * big.len() as u64));
    group.bench_function("push-16x64KiB-then-writev", |b| {
        let mut queue = OutQueue::default();
        b.iter(|| {
            for _ in 0..16 {
                queue.push_slice(black_box(&big));
            }
            queue.write_to(&mut Sink)
        });
    });
    group.finish();
}

/// Looking clients up by token, and slot churn.
fn connection_slab(c: &mut Criterion) {
    let mut group = c.benchmark_group("slots");
    let mut slots = Slots::new();
    let keys: Vec<_> = (0..10_000u64).map(|i| slots.insert(i)).collect();
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("lookup-10k-by-token", |b| {
        b.iter(|| {
            let mut sum = 0;
            for key in &keys {
                let key = esockets::internals::Key::from_token(black_box(key.to_token()));
                sum += slots.get_mut(key).copied().unwrap_or(0);
            }
            sum
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("insert-remove", |b| {
        b.iter(|| {
            let key = slots.insert(black_box(1));
            slots.remove(key)
        });
    });
    group.finish();
}

/// The timer wheel: setting, resetting (cancel and set again) a timer
/// among 20,000 others, and expiring a tick's worth of them.
fn timer_wheel(c: &mut Criterion) {
    let mut group = c.benchmark_group("timers");
    let mut wheel = Wheel::new();
    // 20,000 clients' idle timers spread over a minute.
    for i in 0..20_000u64 {
        wheel.insert(i * 3, i);
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("set-cancel-among-20k", |b| {
        let mut at = 0u64;
        b.iter(|| {
            at = (at + 7919) % 60_000;
            let key = wheel.insert(black_box(at), 0);
            wheel.cancel(key)
        });
    });
    let mut key = wheel.insert(30_000, 0);
    group.bench_function("reset-among-20k", |b| {
        let mut at = 30_000u64;
        b.iter(|| {
            wheel.cancel(key);
            at = at % 60_000 + 1;
            key = wheel.insert(black_box(at), 0);
        });
    });
    group.bench_function("expire-one-tick-of-20k", |b| {
        b.iter_batched(
            || {
                let mut wheel = Wheel::new();
                for i in 0..20_000u64 {
                    wheel.insert(i * 3, i);
                }
                wheel
            },
            |mut wheel| {
                wheel.expire(black_box(0));
                let mut fired = 0u64;
                while let Some((_, v)) = wheel.pop_due() {
                    fired += v;
                }
                fired
            },
            criterion::BatchSize::LargeInput,
        );
    });
    group.finish();
}

/// Parsing one PROXY protocol header: what a proxied connection costs
/// before `on_connect`, once per connection.
fn proxy_header(c: &mut Criterion) {
    let mut group = c.benchmark_group("proxy_header");
    let ipv6 = "2001:db8:85a3:8d3:1319:8a2e:370:7348";
    let mut v2_inet = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    v2_inet.extend_from_slice(&[192, 168, 0, 1, 192, 168, 0, 11, 0xdc, 0x04, 0x01, 0xbb]);
    let mut v2_inet6_tlvs = b"\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x3c".to_vec();
    v2_inet6_tlvs.extend_from_slice(&[0x20; 36]);
    v2_inet6_tlvs.extend_from_slice(&[0x04, 0x00, 0x03, 0, 0, 0]); // NOOP
    v2_inet6_tlvs.extend_from_slice(&[0x02, 0x00, 0x0f]); // AUTHORITY
    v2_inet6_tlvs.extend_from_slice(b"www.example.com");
    let cases: [(&str, Vec<u8>); 5] = [
        (
            "v1-tcp4",
            b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n".to_vec(),
        ),
        (
            "v1-tcp6",
            format!("PROXY TCP6 {ipv6} {ipv6} 56324 443\r\n").into_bytes(),
        ),
        ("v1-unknown", b"PROXY UNKNOWN\r\n".to_vec()),
        ("v2-tcp4", v2_inet),
        ("v2-tcp6-tlvs", v2_inet6_tlvs),
    ];
    for (name, header) in &cases {
        assert!(matches!(
            esockets::proxy::parse(header),
            esockets::proxy::Parse::Done { .. }
        ));
        group.bench_with_input(BenchmarkId::from_parameter(name), header, |b, header| {
            b.iter(|| esockets::proxy::parse(black_box(header)));
        });
    }
    group.finish();
}

// `criterion_group!` generates an undocumented function.
#[allow(missing_docs)]
mod group {
    use super::{connection_slab, line_framing, output_queue, proxy_header, timer_wheel};
    criterion::criterion_group!(
        benches,
        line_framing,
        output_queue,
        connection_slab,
        timer_wheel,
        proxy_header
    );
}
criterion_main!(group::benches);
