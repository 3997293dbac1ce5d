//! Property tests of the WebSocket frame parser and message assembly, as
//! the server runs them: arbitrary bytes never panic them nor make them
//! allocate past the message limit, and any chunking of a valid stream
//! gives the same messages.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use esockets::websocket::{
    masked_frame, parse_frame, Assembler, Event, Message, Opcode, Parsed, Role, MAX_CONTROL_PAYLOAD,
};
use proptest::prelude::*;

/// The system allocator, noting the largest request made while armed on
/// the current thread.
struct Watching;

thread_local! {
    /// Whether allocations on this thread are being watched.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// The largest allocation (or reallocation) asked for while armed.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// Records an allocation of `size` bytes if this thread is watching.
fn note(size: usize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
        }
    });
}

// SAFETY: every call is passed on unchanged to the system allocator.
unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's guarantees are the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

/// The most the receive path may allocate at once: the message limit, or
/// a control frame's 125 bytes.
fn limit(max_message: usize) -> usize {
    max_message.max(MAX_CONTROL_PAYLOAD)
}

/// Runs `f` with this thread's allocations watched.
fn watched<T>(f: impl FnOnce() -> T) -> T {
    ARMED.with(|armed| armed.set(true));
    let result = f();
    ARMED.with(|armed| armed.set(false));
    result
}

/// What a receiver got, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Close(Option<u16>),
    /// The connection failed with this close code.
    Failed(u16),
}

/// The server's receive path, without sockets: input carried between
/// chunks, frames parsed, messages assembled.
struct Receiver {
    /// Bytes not yet parsed (a partial frame).
    input: Vec<u8>,
    /// The message in progress.
    assembler: Assembler,
    /// The shared unmasking buffer.
    scratch: Vec<u8>,
    /// The message limit.
    max: usize,
    /// Everything received so far.
    got: Vec<Got>,
}

impl Receiver {
    fn new(max: usize) -> Self {
        Self {
            input: Vec::new(),
            assembler: Assembler::default(),
            scratch: Vec::new(),
            max,
            got: Vec::new(),
        }
    }

    /// Takes the next chunk of the stream; returns the largest allocation
    /// the parser and assembler asked for on the way.
    fn push(&mut self, chunk: &[u8]) -> usize {
        if matches!(self.got.last(), Some(Got::Failed(_) | Got::Close(_))) {
            return 0;
        }
        self.input.extend_from_slice(chunk);
        LARGEST.with(|largest| largest.set(0));
        let mut at = 0;
        loop {
            let parsed = watched(|| parse_frame(&self.input[at..], Role::Server, self.max));
            let frame = match parsed {
                Parsed::Incomplete { .. } => break,
                Parsed::Error(err) => {
                    self.got.push(Got::Failed(err.code));
                    break;
                }
                Parsed::Frame(frame) => frame,
            };
            at += frame.len;
            let (assembler, scratch) = (&mut self.assembler, &mut self.scratch);
            let event = watched(|| assembler.push(&frame, self.max, scratch));
            let got = match event {
                Err(err) => Some(Got::Failed(err.code)),
                Ok(None) | Ok(Some(Event::Pong(_))) => None,
                Ok(Some(Event::Message(Message::Text(text)))) => Some(Got::Text(text.to_owned())),
                Ok(Some(Event::Message(Message::Binary(data)))) => Some(Got::Binary(data.to_vec())),
                Ok(Some(Event::Ping(data))) => Some(Got::Ping(data.to_vec())),
                Ok(Some(Event::Close(close))) => Some(Got::Close(close.code)),
            };
            if let Some(got) = got {
                let stop = matches!(got, Got::Failed(_) | Got::Close(_));
                self.got.push(got);
                if stop {
                    break;
                }
            }
        }
        self.input.drain(..at.min(self.input.len()));
        LARGEST.with(Cell::get)
    }
}

/// A message to send: text or binary, split into fragments at these
/// points, with a ping after each fragment whose flag is set.
#[derive(Clone, Debug)]
struct Plan {
    text: bool,
    data: Vec<u8>,
    cuts: Vec<usize>,
    pings: Vec<bool>,
    mask: [u8; 4],
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        any::<bool>(),
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        prop::collection::vec(any::<bool>(), 0..5),
        any::<[u8; 4]>(),
    )
        .prop_map(|(text, string, bytes, cuts, pings, mask)| {
            let data = if text { string.into_bytes() } else { bytes };
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            cuts.sort_unstable();
            Plan {
                text,
                data,
                cuts,
                pings,
                mask,
            }
        })
}

/// The masked byte stream of `plans`, then a close frame, and what a
/// receiver must get from it.
fn encode(plans: &[Plan]) -> (Vec<u8>, Vec<Got>) {
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for (n, plan) in plans.iter().enumerate() {
        let mut bounds = vec![0];
        bounds.extend(&plan.cuts);
        bounds.push(plan.data.len());
        let pieces = bounds.len() - 1;
        for (i, window) in bounds.windows(2).enumerate() {
            let opcode = match (i, plan.text) {
                (0, true) => Opcode::Text,
                (0, false) => Opcode::Binary,
                _ => Opcode::Continuation,
            };
            let fin = i + 1 == pieces;
            let piece = &plan.data[window[0]..window[1]];
            stream.extend(masked_frame(fin, opcode, piece, plan.mask));
            if fin {
                expected.push(if plan.text {
                    Got::Text(String::from_utf8(plan.data.clone()).expect("text plans are UTF-8"))
                } else {
                    Got::Binary(plan.data.clone())
                });
            }
            if plan.pings.get(i).copied().unwrap_or(false) {
                let payload = [n as u8, i as u8];
                stream.extend(masked_frame(true, Opcode::Ping, &payload, plan.mask));
                expected.push(Got::Ping(payload.to_vec()));
            }
        }
    }
    stream.extend(masked_frame(
        true,
        Opcode::Close,
        &1000u16.to_be_bytes(),
        [9, 8, 7, 6],
    ));
    expected.push(Got::Close(Some(1000)));
    (stream, expected)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes, in arbitrary chunks: no panic, no allocation past
    /// the limit, nothing held past it, and the stream stops at the first
    /// failure.
    #[test]
    fn arbitrary_bytes_never_panic_nor_allocate_past_the_limit(
        data in prop::collection::vec(any::<u8>(), 0..4096),
        chunk in 1usize..600,
        max in 1usize..700,
    ) {
        let mut receiver = Receiver::new(max);
        for piece in data.chunks(chunk) {
            let largest = receiver.push(piece);
            prop_assert!(largest <= limit(max), "allocated {} with a limit of {}", largest, max);
            prop_assert!(receiver.assembler.buffered() <= max);
        }
        let failures = receiver.got.iter().filter(|g| matches!(g, Got::Failed(_))).count();
        prop_assert!(failures <= 1);
    }

    /// Arbitrary bytes after a valid header prefix (masked, short length):
    /// the parser reaches deeper states than with purely random input.
    #[test]
    fn arbitrary_frames_never_panic(
        frames in prop::collection::vec(
            (any::<u8>(), 0u8..126, prop::collection::vec(any::<u8>(), 0..130)), 0..20),
        max in 1usize..200,
    ) {
        let mut stream = Vec::new();
        for (first, len, body) in frames {
            stream.push(first & 0x8F); // no reserved bits: any opcode, either fin
            stream.push(0x80 | len);
            stream.extend(body);
        }
        let mut receiver = Receiver::new(max);
        let largest = receiver.push(&stream);
        prop_assert!(largest <= limit(max), "allocated {} with a limit of {}", largest, max);
    }

    /// A valid stream of fragmented messages with pings between fragments
    /// gives the same messages whatever the chunks it arrives in.
    #[test]
    fn any_chunking_gives_the_same_messages(
        plans in prop::collection::vec(plan(), 0..8),
        chunks in prop::collection::vec(1usize..64, 1..20),
    ) {
        let (stream, expected) = encode(&plans);
        let mut whole = Receiver::new(1 << 16);
        whole.push(&stream);
        prop_assert_eq!(&whole.got, &expected);

        let mut chunked = Receiver::new(1 << 16);
        let mut at = 0;
        for size in chunks.iter().cycle() {
            if at >= stream.len() {
                break;
            }
            let end = (at + size).min(stream.len());
            chunked.push(&stream[at..end]);
            at = end;
        }
        prop_assert_eq!(&chunked.got, &expected);
    }
}
