//! Test content: a small deterministic generator, so every upload is unique and its
//! expected digest is known without keeping the bytes around, and sha256 helpers.

use sha2::{Digest, Sha256};

/// xorshift64*: enough to pick sizes and fill buffers; no crate needed, and a seed
/// reproduces a run's choices.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is xorshift's fixed point; mix the seed so nearby seeds diverge.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An upload size: mostly small (many requests, many round trips), some up to
    /// `max` (bytes moving through the hosts' zero-copy paths).
    pub fn size(&mut self, max: u64) -> usize {
        let limit = match self.below(10) {
            0..=3 => 1024.min(max),
            4..=7 => (64 * 1024).min(max),
            _ => max,
        };
        self.below(limit + 1) as usize
    }
}

/// `len` bytes determined by `seed`.
pub fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Lower-case hex sha256, the form the files protocol uses on the wire.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Raw sha256, the form the bulk protocol uses.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_deterministic_and_seed_dependent() {
        assert_eq!(content(7, 1000), content(7, 1000));
        assert_ne!(content(7, 1000), content(8, 1000));
        assert_eq!(content(7, 13).len(), 13);
        assert_eq!(&content(7, 1000)[..13], &content(7, 13)[..]);
    }

    #[test]
    fn sizes_stay_within_the_maximum() {
        let mut rng = Rng::new(1);
        assert!((0..10_000).all(|_| rng.size(5000) <= 5000));
        assert!((0..100).all(|_| rng.size(0) == 0));
    }

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
