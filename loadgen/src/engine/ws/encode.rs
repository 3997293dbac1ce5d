//! Client frames (RFC 6455 §5.2): header, masking key and masked payload,
//! appended to an output buffer. A client masks every frame it sends with
//! a fresh key; the payload is written in place and masked there, so a
//! message costs no allocation and no copy beyond the buffer it goes out of.

/// Frame opcodes a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// A text message (UTF-8).
    Text = 0x1,
    /// A binary message.
    Binary = 0x2,
    /// Close.
    Close = 0x8,
    /// Ping.
    Ping = 0x9,
    /// Pong.
    Pong = 0xA,
}

/// Largest frame header a client writes: 2 bytes, 8 of extended length,
/// 4 of masking key.
pub const MAX_HEADER: usize = 14;

/// Appends the header of a final (unfragmented) frame of `len` payload
/// bytes with masking key `mask`.
pub fn append_header(out: &mut Vec<u8>, opcode: Opcode, len: usize, mask: [u8; 4]) {
    out.push(0x80 | opcode as u8);
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
}

/// Appends one masked frame whose `len`-byte payload `write` appends to
/// `out`. `write` must append exactly `len` bytes (the header announced
/// them); the frame is cut or padded with zeros to `len` otherwise, so
/// the stream stays well-formed and the mistake shows as a mismatch.
pub fn append_frame(
    out: &mut Vec<u8>,
    opcode: Opcode,
    len: usize,
    mask: [u8; 4],
    write: impl FnOnce(&mut Vec<u8>),
) {
    append_header(out, opcode, len, mask);
    let start = out.len();
    write(out);
    debug_assert_eq!(out.len() - start, len, "payload length announced");
    out.resize(start + len, 0);
    apply_mask(&mut out[start..], mask);
}

/// Appends a masked frame carrying `payload`.
pub fn append_bytes(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8], mask: [u8; 4]) {
    append_frame(out, opcode, payload.len(), mask, |o| {
        o.extend_from_slice(payload)
    });
}

/// XORs `data` (a payload from its first byte) with `mask`, eight bytes
/// at a time. Masking twice restores the original.
pub fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_masked_hello() {
        // RFC 6455 §5.7: a single-frame masked text message "Hello".
        let mut out = Vec::new();
        append_bytes(&mut out, Opcode::Text, b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(
            out,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
    }

    #[test]
    fn lengths_use_the_shortest_encoding() {
        for (len, header) in [(0, 6), (125, 6), (126, 8), (65535, 8), (65536, 14)] {
            let mut out = Vec::new();
            append_frame(&mut out, Opcode::Binary, len, [1, 2, 3, 4], |o| {
                o.resize(o.len() + len, 7)
            });
            assert_eq!(out.len(), header + len, "len {len}");
            assert_eq!(out[0], 0x82);
            assert_eq!(out[1] & 0x80, 0x80, "masked");
        }
    }

    #[test]
    fn masking_twice_restores_every_length_and_offset() {
        let original: Vec<u8> = (0..40u8).collect();
        for len in 0..original.len() {
            let mut data = original[..len].to_vec();
            apply_mask(&mut data, [0xde, 0xad, 0xbe, 0xef]);
            for (i, b) in data.iter().enumerate() {
                assert_eq!(*b, original[i] ^ [0xde, 0xad, 0xbe, 0xef][i % 4]);
            }
            apply_mask(&mut data, [0xde, 0xad, 0xbe, 0xef]);
            assert_eq!(data, original[..len]);
        }
    }
}
