//! The per-connection output queue: only what the kernel did not take.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

use bytes::Bytes;

/// Small sends are appended to the last chunk while it stays under this size,
/// so a burst of tiny replies becomes one buffer (and one iovec) instead of
/// many; larger sends keep their own chunk and are never copied twice.
const COALESCE_LIMIT: usize = 16 * 1024;

/// Chunks that go into one `writev` from an array on the stack: 64
/// already moves megabytes per call when chunks are large.
const STACK_IOVECS: usize = 64;

/// At most this many chunks go into one `writev`: Linux's `IOV_MAX`. A
/// subscriber sent many small deliveries in one round (each a shared
/// chunk) has them all written in one call instead of one per 64; the
/// slice array is then on the heap, one allocation per call for 65 to
/// 1,024 messages.
const MAX_IOVECS: usize = 1024;

/// One queued buffer.
enum Chunk {
    /// Copied in by the queue; small copies are appended to it.
    Owned(Vec<u8>),
    /// Shared with other queues (one payload sent to many clients): never
    /// copied, only referenced.
    Shared(Bytes),
}

impl Chunk {
    /// The bytes of the chunk.
    fn as_slice(&self) -> &[u8] {
        match self {
            Self::Owned(vec) => vec,
            Self::Shared(bytes) => bytes,
        }
    }
}

/// Bytes waiting for the socket to become writable, as a queue of chunks.
///
/// An empty queue owns no heap memory, so idle connections cost nothing here.
#[derive(Default)]
pub struct OutQueue {
    /// Chunks in send order; the front one may be partly written.
    chunks: VecDeque<Chunk>,
    /// Bytes of the front chunk already written.
    head_written: u32,
    /// Total bytes queued (not yet written). 32 bits keep an idle client's
    /// record 8 bytes smaller; callers keep the total under
    /// `Config::output_limit`, which is at most 4 GiB.
    len: u32,
}

impl OutQueue {
    /// Number of bytes waiting.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a copy of `data`.
    pub fn push_slice(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.len += to_u32(data.len());
        if let Some(Chunk::Owned(last)) = self.chunks.back_mut() {
            if last.len() + data.len() <= COALESCE_LIMIT {
                last.extend_from_slice(data);
                return;
            }
        }
        self.chunks.push_back(Chunk::Owned(data.to_vec()));
    }

    /// Appends `data` without copying it (small buffers are appended to
    /// the last owned chunk instead, which is cheaper than another iovec).
    pub fn push_vec(&mut self, data: Vec<u8>) {
        if data.is_empty() {
            return;
        }
        if self.fits_last(data.len()) {
            return self.push_slice(&data);
        }
        self.len += to_u32(data.len());
        self.chunks.push_back(Chunk::Owned(data));
    }

    /// Appends a shared buffer by reference: the payload itself is never
    /// copied, however many queues hold it.
    pub fn push_bytes(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.len += to_u32(data.len());
        self.chunks.push_back(Chunk::Shared(data));
    }

    /// Whether `extra` bytes can be appended to the last chunk.
    fn fits_last(&self, extra: usize) -> bool {
        matches!(self.chunks.back(), Some(Chunk::Owned(last)) if last.len() + extra <= COALESCE_LIMIT)
    }

    /// Writes as much as `out` accepts, with one vectored write per call
    /// while more than one chunk waits. Returns the bytes written; stops at
    /// `WouldBlock` (returned as `Ok` with what was written so far) and
    /// returns any other error.
    pub fn write_to<W: Write>(&mut self, out: &mut W) -> io::Result<usize> {
        self.write_counted(out, &mut 0)
    }

    /// [`write_to`](Self::write_to), adding the write calls that took
    /// something to `writes`.
    pub fn write_counted<W: Write>(&mut self, out: &mut W, writes: &mut u64) -> io::Result<usize> {
        let mut total = 0;
        while !self.is_empty() {
            match self.write_once(out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    *writes += 1;
                    self.advance(n);
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.is_empty() {
            // Give the memory back: a drained connection goes idle again.
            self.chunks = VecDeque::new();
        }
        Ok(total)
    }

    /// One `write` or `writev` of the queued chunks.
    fn write_once<W: Write>(&self, out: &mut W) -> io::Result<usize> {
        let mut chunks = self.chunks.iter();
        let Some(first) = chunks.next() else {
            return Ok(0);
        };
        let first = &first.as_slice()[self.head_written as usize..];
        if self.chunks.len() == 1 {
            return out.write(first);
        }
        if self.chunks.len() > STACK_IOVECS {
            let mut slices = Vec::with_capacity(self.chunks.len().min(MAX_IOVECS));
            slices.push(IoSlice::new(first));
            slices.extend(
                chunks
                    .take(MAX_IOVECS - 1)
                    .map(|chunk| IoSlice::new(chunk.as_slice())),
            );
            return out.write_vectored(&slices);
        }
        let mut slices = [IoSlice::new(&[]); STACK_IOVECS];
        slices[0] = IoSlice::new(first);
        let mut used = 1;
        for (slot, chunk) in slices[1..].iter_mut().zip(chunks) {
            *slot = IoSlice::new(chunk.as_slice());
            used += 1;
        }
        out.write_vectored(&slices[..used])
    }

    /// Drops `n` written bytes from the front.
    fn advance(&mut self, mut n: usize) {
        self.len -= to_u32(n);
        while n > 0 {
            let Some(front) = self.chunks.front() else {
                return;
            };
            let left = front.as_slice().len() - self.head_written as usize;
            if n < left {
                self.head_written += to_u32(n);
                return;
            }
            n -= left;
            self.head_written = 0;
            self.chunks.pop_front();
        }
    }
}

/// A byte count that the output limit keeps within 32 bits.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::{OutQueue, COALESCE_LIMIT};
    use std::io::{self, IoSlice, Write};

    /// A writer that accepts at most `budget` bytes per call, then blocks
    /// once `capacity` is used up.
    struct Throttled {
        got: Vec<u8>,
        per_call: usize,
        capacity: usize,
        calls: usize,
    }

    impl Write for Throttled {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            let room = self.capacity.saturating_sub(self.got.len());
            if room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut allowed = room.min(self.per_call);
            let before = self.got.len();
            for buf in bufs {
                let take = buf.len().min(allowed);
                self.got.extend_from_slice(&buf[..take]);
                allowed -= take;
            }
            Ok(self.got.len() - before)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    #[test]
    fn bytes_leave_in_order_across_partial_writes() {
        let mut queue = OutQueue::default();
        let mut expected = Vec::new();
        for (i, len) in [3, 70_000, 1, 5_000, 200_000, 7].into_iter().enumerate() {
            let data = pattern(len, i as u8);
            expected.extend_from_slice(&data);
            if i % 2 == 0 {
                queue.push_slice(&data);
            } else {
                queue.push_vec(data);
            }
        }
        assert_eq!(queue.len(), expected.len());
        let mut out = Throttled {
            got: Vec::new(),
            per_call: 9_999,
            capacity: 100_000,
            calls: 0,
        };
        let first = queue.write_to(&mut out).unwrap();
        assert_eq!(first, 100_000, "stops at WouldBlock with what was written");
        assert_eq!(queue.len(), expected.len() - 100_000);
        out.capacity = usize::MAX;
        queue.write_to(&mut out).unwrap();
        assert!(queue.is_empty());
        assert_eq!(out.got, expected);
    }

    #[test]
    fn small_sends_coalesce_into_one_chunk() {
        let mut queue = OutQueue::default();
        for _ in 0..100 {
            queue.push_slice(b"0123456789");
        }
        assert_eq!(queue.chunks.len(), 1);
        queue.push_slice(&vec![1; COALESCE_LIMIT]);
        assert_eq!(queue.chunks.len(), 2);
    }

    #[test]
    fn many_chunks_use_vectored_writes() {
        let mut queue = OutQueue::default();
        for i in 0..10 {
            queue.push_vec(vec![i; COALESCE_LIMIT]);
        }
        let mut out = Throttled {
            got: Vec::new(),
            per_call: usize::MAX,
            capacity: usize::MAX,
            calls: 0,
        };
        queue.write_to(&mut out).unwrap();
        assert_eq!(out.calls, 1, "ten chunks, one writev");
        assert_eq!(out.got.len(), 10 * COALESCE_LIMIT);
    }

    #[test]
    fn a_thousand_small_deliveries_leave_in_one_writev() {
        let payload = bytes::Bytes::from_static(b"MSG feed 0123456789\n");
        let mut queue = OutQueue::default();
        for _ in 0..1000 {
            queue.push_bytes(payload.clone());
        }
        let mut out = Throttled {
            got: Vec::new(),
            per_call: usize::MAX,
            capacity: usize::MAX,
            calls: 0,
        };
        let mut writes = 0;
        queue.write_counted(&mut out, &mut writes).unwrap();
        assert_eq!(out.calls, 1, "1,000 shared chunks, one writev");
        assert_eq!(writes, 1);
        assert_eq!(out.got.len(), 1000 * payload.len());
        for _ in 0..3000 {
            queue.push_bytes(payload.clone());
        }
        queue.write_counted(&mut out, &mut writes).unwrap();
        assert_eq!(writes, 4, "3,000 more: IOV_MAX (1,024) at a time");
        assert!(queue.is_empty());
    }

    #[test]
    fn shared_buffers_are_queued_by_reference() {
        let payload = bytes::Bytes::from(vec![7u8; 1000]);
        let mut a = OutQueue::default();
        let mut b = OutQueue::default();
        a.push_slice(b"head");
        a.push_bytes(payload.clone());
        b.push_bytes(payload.clone());
        match a.chunks.back() {
            Some(super::Chunk::Shared(queued)) => {
                assert_eq!(queued.as_ptr(), payload.as_ptr(), "no copy")
            }
            _ => panic!("expected a shared chunk"),
        }
        let mut out = Throttled {
            got: Vec::new(),
            per_call: 300,
            capacity: usize::MAX,
            calls: 0,
        };
        a.write_to(&mut out).unwrap();
        assert_eq!(&out.got[..4], b"head");
        assert_eq!(out.got.len(), 1004);
        assert_eq!(b.len(), 1000);
    }

    #[test]
    fn write_zero_is_an_error() {
        struct Zero;
        impl Write for Zero {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut queue = OutQueue::default();
        queue.push_slice(b"x");
        let err = queue.write_to(&mut Zero).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    }
}
