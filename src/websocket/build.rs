//! Building frames (RFC 6455 section 5.2) and masking payloads.
//!
//! A server's frames are unmasked, so a message meant for many clients is
//! framed once into a shared [`Bytes`] ([`frame`], [`text_frame`]) and the
//! same buffer is queued for each of them.

use bytes::Bytes;

use crate::websocket::close::CloseCode;
use crate::websocket::frame::{Opcode, MAX_CONTROL_PAYLOAD, MAX_HEADER};

/// Appends a frame header to `out`: `fin`, `opcode`, the length of a
/// payload of `len` bytes in its shortest encoding, and `mask` if given.
pub fn encode_header(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: Opcode,
    len: usize,
    mask: Option<[u8; 4]>,
) {
    let first = if fin { 0x80 } else { 0 } | opcode.bits();
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    out.push(first);
    match len {
        // Each arm's range guarantees the narrowing casts are lossless.
        0..=125 => out.push(mask_bit | len as u8),
        126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if let Some(mask) = mask {
        out.extend_from_slice(&mask);
    }
}

/// Appends a whole unmasked frame (as a server sends it) to `out`.
pub fn write_frame(out: &mut Vec<u8>, fin: bool, opcode: Opcode, payload: &[u8]) {
    out.reserve(MAX_HEADER + payload.len());
    encode_header(out, fin, opcode, payload.len(), None);
    out.extend_from_slice(payload);
}

/// One unmasked, final frame, built once: queue the same [`Bytes`] for as
/// many clients as need it (`cx.send(id, frame.clone())` copies nothing).
pub fn frame(opcode: Opcode, payload: &[u8]) -> Bytes {
    frame_of_parts(opcode, &[payload])
}

/// A text message in one unmasked frame, built once.
pub fn text_frame(text: &str) -> Bytes {
    frame(Opcode::Text, text.as_bytes())
}

/// A binary message in one unmasked frame, built once.
pub fn binary_frame(data: &[u8]) -> Bytes {
    frame(Opcode::Binary, data)
}

/// Appends an unmasked close frame with `code` and `reason` (cut, at a
/// character boundary, to the 123 bytes a control frame leaves) to `out`.
pub fn write_close(out: &mut Vec<u8>, code: CloseCode, reason: &str) {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason.as_bytes()[..end];
    encode_header(out, true, Opcode::Close, 2 + reason.len(), None);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason);
}

/// A whole masked frame, as a client sends it.
pub fn masked_frame(fin: bool, opcode: Opcode, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_HEADER + payload.len());
    encode_header(&mut out, fin, opcode, payload.len(), Some(mask));
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], mask);
    out
}

/// Masks or unmasks `data` in place with `mask` (the operation is its own
/// inverse), eight bytes at a time.
pub fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    let word = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    // Whole words keep the mask's phase: the tail starts at mask[0].
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
}

/// Appends `payload` to `out`, unmasked with `mask` if there is one. `out`
/// grows to exactly what it needs, if it must grow.
pub fn unmask_into(out: &mut Vec<u8>, payload: &[u8], mask: Option<[u8; 4]>) {
    out.reserve_exact(payload.len());
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(mask) = mask {
        apply_mask(&mut out[start..], mask);
    }
}

/// One unmasked (server) frame of `opcode` holding `parts`, concatenated,
/// in one buffer: a message to share between many clients.
pub fn frame_of_parts(opcode: Opcode, parts: &[&[u8]]) -> Bytes {
    let len = parts.iter().map(|p| p.len()).sum::<usize>();
    let mut frame = Vec::with_capacity(MAX_HEADER + len);
    encode_header(&mut frame, true, opcode, len, None);
    for part in parts {
        frame.extend_from_slice(part);
    }
    Bytes::from(frame)
}
