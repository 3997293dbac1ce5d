//! The invariants each fuzz target checks, as plain functions of the
//! fuzzer's bytes: a broken invariant panics, which libFuzzer reports as a
//! crash and saves the input that caused it. The same functions replay the
//! seed corpus in `cargo test` (tests/corpus.rs). See docs/fuzzing.md.
//!
//! Each check reads a few bytes off the front of its input as parameters
//! (a role, a limit, a configuration) with [`Input`], and takes the rest as
//! the bytes to parse; most also build a valid input from the same bytes
//! and check that it parses back to what was built.

pub mod alloc;
pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod message;
pub mod proxy;
pub mod pubsub;
pub mod tls;

/// The fuzzer's bytes, read from the front. Reading past the end gives
/// zeroes and empty slices, so every input is usable.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    /// Wraps `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self(data)
    }

    /// The next byte, or 0.
    pub fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    /// The next two bytes as a big-endian number, or 0.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// The next `N` bytes, zero-padded.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let taken = self.take(N);
        out[..taken.len()].copy_from_slice(taken);
        out
    }

    /// The next `n` bytes, or fewer at the end.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (front, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        front
    }

    /// Everything not read yet.
    pub fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// The lengths at which to cut an input of `len` bytes to check its
/// prefixes: every one of the first 64 and the last 16, and a few between
/// (enough to find an inconsistency, bounded so a long input stays fast).
pub fn cuts(len: usize) -> impl Iterator<Item = usize> {
    let step = (len / 16).max(1);
    (0..len)
        .filter(move |&k| k < 64 || k + 16 >= len || k % step == 0)
        .take(64 + 16 + 17)
}
