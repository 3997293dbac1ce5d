//! Microbenchmarks of the WebSocket layer's per-message work: building a
//! frame (once, into a shared buffer, or into a reused one), masking and
//! unmasking payloads, and the receive path (parse, unmask, assemble).
//!
//! Run: `cargo bench -p esockets-micro --bench websocket` (this file
//! belongs to `benches/micro`).

use std::hint::black_box;

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use esockets::websocket::{
    apply_mask, masked_frame, parse_frame, text_frame, write_frame, Assembler, Opcode, Parsed, Role,
};

/// Payload sizes measured: a chat line, a small document, a large one.
const SIZES: [usize; 3] = [64, 1024, 64 * 1024];

/// Building frames: a shared `Bytes` for fan-out, or into a reused buffer.
fn frame_building(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_frame_build");
    for size in SIZES {
        let text = "x".repeat(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("text_frame-bytes", size),
            &text,
            |b, text| {
                b.iter(|| text_frame(black_box(text)));
            },
        );
        let mut out = Vec::new();
        group.bench_with_input(
            BenchmarkId::new("write_frame-reused", size),
            &text,
            |b, text| {
                b.iter(|| {
                    out.clear();
                    write_frame(&mut out, true, Opcode::Text, black_box(text.as_bytes()));
                    out.len()
                });
            },
        );
    }
    group.finish();
}

/// Masking (a client) and unmasking (the server): the same XOR.
fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_mask");
    for size in SIZES {
        let mut data = vec![0x5Au8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("apply_mask", size), |b| {
            b.iter(|| apply_mask(black_box(&mut data), black_box([1, 2, 3, 4])));
        });
    }
    group.finish();
}

/// The server's receive path for one masked frame: parse the header,
/// unmask into the shared buffer, check UTF-8, hand out the message.
fn receiving(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_receive");
    for size in SIZES {
        let frame = masked_frame(
            true,
            Opcode::Text,
            "y".repeat(size).as_bytes(),
            [9, 8, 7, 6],
        );
        let mut assembler = Assembler::default();
        let mut scratch = Vec::new();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("parse-unmask-text", size),
            &frame,
            |b, data| {
                b.iter(|| {
                    let Parsed::Frame(frame) = parse_frame(black_box(data), Role::Server, 1 << 20)
                    else {
                        unreachable!("a whole frame")
                    };
                    assembler
                        .push(&frame, 1 << 20, &mut scratch)
                        .map(|event| event.is_some())
                });
            },
        );
    }
    group.finish();
}

// `criterion_group!` generates an undocumented function.
#[allow(missing_docs)]
mod group {
    use super::{frame_building, masking, receiving};
    criterion::criterion_group!(benches, frame_building, masking, receiving);
}
criterion_main!(group::benches);
