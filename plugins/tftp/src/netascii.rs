//! `netascii` mode (RFC 1350, RFC 764): line ends travel as CR LF and a bare CR as CR NUL.
//!
//! Sending converts the file (LF -> CR LF, CR -> CR NUL); receiving converts back
//! (CR LF -> LF, CR NUL -> CR). Both directions are streaming: a CR at the end of one
//! block pairs with the first byte of the next, and nothing holds a whole file.
//!
//! - [`encoded_len`]: how long a file becomes on the wire (counted once, to know the
//!   last block before sending the first).
//! - [`Encoder`]: serves the converted stream by offset, from a sliding window of it.
//! - [`Decoder`]: converts received blocks back.

/// Bytes `chunk` takes on the wire in netascii.
pub fn encoded_len(chunk: &[u8]) -> u64 {
    chunk.len() as u64 + chunk.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64
}

/// Convert one byte of the file into its wire form.
fn encode_byte(b: u8, out: &mut Vec<u8>) {
    match b {
        b'\n' => out.extend_from_slice(b"\r\n"),
        b'\r' => out.extend_from_slice(b"\r\0"),
        b => out.push(b),
    }
}

/// Encode a whole buffer (the client's uploads and tests).
pub fn encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 32);
    for &b in input {
        encode_byte(b, &mut out);
    }
    out
}

/// The converted stream of one file, served by stream offset.
///
/// A sender asks for blocks in increasing order, going back at most one window after a
/// loss; [`Encoder::release`] drops what was acknowledged, so memory stays one window.
#[derive(Debug)]
pub struct Encoder {
    /// Converted bytes from stream offset `base`.
    buf: Vec<u8>,
    base: u64,
    /// Next file offset to convert.
    file_pos: u64,
    file_len: u64,
    scratch: Vec<u8>,
}

impl Encoder {
    pub fn new(file_len: u64) -> Encoder {
        Encoder {
            buf: Vec::new(),
            base: 0,
            file_pos: 0,
            file_len,
            scratch: Vec::new(),
        }
    }

    /// Stream bytes `[offset, offset + len)` (shorter at the end), reading the file
    /// through `read(file_offset, buf) -> bytes read`. An offset already released is
    /// served as empty: the sender never asks for one.
    pub fn get<E, F>(&mut self, offset: u64, len: usize, read: &mut F) -> Result<&[u8], E>
    where
        F: FnMut(u64, &mut [u8]) -> Result<usize, E>,
    {
        let want_end = offset + len as u64;
        while self.base + (self.buf.len() as u64) < want_end && self.file_pos < self.file_len {
            let chunk = (self.file_len - self.file_pos).min(64 * 1024) as usize;
            self.scratch.resize(chunk, 0);
            let n = read(self.file_pos, &mut self.scratch)?;
            if n == 0 {
                // The file shrank under us: the stream ends here.
                self.file_len = self.file_pos;
                break;
            }
            self.file_pos += n as u64;
            for &b in &self.scratch[..n] {
                encode_byte(b, &mut self.buf);
            }
        }
        let have_end = self.base + self.buf.len() as u64;
        let start = offset.clamp(self.base, have_end);
        let end = want_end.clamp(start, have_end);
        Ok(&self.buf[(start - self.base) as usize..(end - self.base) as usize])
    }

    /// Forget stream bytes before `offset` (acknowledged by the peer).
    pub fn release(&mut self, offset: u64) {
        let have_end = self.base + self.buf.len() as u64;
        let upto = offset.clamp(self.base, have_end);
        self.buf.drain(..(upto - self.base) as usize);
        self.base = upto;
    }
}

/// Netascii back to local bytes, across block boundaries.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The previous block ended with a CR whose partner is not seen yet.
    pending_cr: bool,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Append the decoded form of `input` to `out`.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                match b {
                    b'\n' => out.push(b'\n'),
                    0 => out.push(b'\r'),
                    b'\r' => {
                        // A CR not followed by LF/NUL is kept as is (lenient, like tftp-hpa).
                        out.push(b'\r');
                        self.pending_cr = true;
                    }
                    other => out.extend_from_slice(&[b'\r', other]),
                }
            } else if b == b'\r' {
                self.pending_cr = true;
            } else {
                out.push(b);
            }
        }
    }

    /// The stream ended: a dangling CR is kept.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.push(b'\r');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(wire: &[u8], piece: usize) -> Vec<u8> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for chunk in wire.chunks(piece.max(1)) {
            d.decode(chunk, &mut out);
        }
        d.finish(&mut out);
        out
    }

    #[test]
    fn encode_line_ends_and_bare_cr() {
        assert_eq!(encode(b"a\nb\rc\r\n"), b"a\r\nb\r\0c\r\0\r\n");
        assert_eq!(encoded_len(b"a\nb\rc\r\n"), 11);
        assert_eq!(encode(b""), b"");
    }

    #[test]
    fn decode_is_the_inverse_at_every_split() {
        let original = b"line one\nline two\r\nbare\rcr\n\n\r\r\0end\r";
        let wire = encode(original);
        for piece in 1..wire.len() + 1 {
            assert_eq!(decode_in_pieces(&wire, piece), original, "piece {piece}");
        }
    }

    #[test]
    fn decode_is_lenient_with_bare_cr() {
        assert_eq!(decode_in_pieces(b"a\rb", 1), b"a\rb");
        assert_eq!(decode_in_pieces(b"a\r", 2), b"a\r");
    }

    #[test]
    fn encoder_serves_offsets_and_releases() {
        let file = b"ab\ncd\ref\n".repeat(1000);
        let wire = encode(&file);
        let mut reads = 0;
        let mut read = |off: u64, buf: &mut [u8]| -> Result<usize, ()> {
            reads += 1;
            let off = off as usize;
            let n = buf.len().min(file.len() - off).min(7000);
            buf[..n].copy_from_slice(&file[off..off + n]);
            Ok(n)
        };
        let mut enc = Encoder::new(file.len() as u64);
        let mut got = Vec::new();
        let mut off = 0u64;
        loop {
            let block = enc.get(off, 512, &mut read).unwrap().to_vec();
            // Re-asking for the same block (a retransmission) gives the same bytes.
            assert_eq!(enc.get(off, 512, &mut read).unwrap(), &block[..]);
            got.extend_from_slice(&block);
            off += block.len() as u64;
            enc.release(off);
            if block.len() < 512 {
                break;
            }
        }
        assert_eq!(got, wire);
        assert!(enc.buf.len() < 64 * 1024 * 3, "window kept small");
    }

    #[test]
    fn encoder_stops_when_the_file_shrinks() {
        let mut enc = Encoder::new(100);
        let mut read = |_: u64, _: &mut [u8]| -> Result<usize, ()> { Ok(0) };
        assert_eq!(enc.get(0, 512, &mut read).unwrap(), b"");
    }
}
