//! Shared by the clients: which fixture to fetch, and whether what came back is it.

use super::Ctx;
use crate::data::{Rng, sha256_hex};
use crate::stats::Fail;

/// A fixture chosen at random: its name, size and sha256.
pub fn pick_fixture<'a>(ctx: &'a Ctx, rng: &mut Rng) -> (&'a String, &'a (usize, String)) {
    let i = rng.below(ctx.fixtures.len() as u64) as usize;
    ctx.fixtures.iter().nth(i).expect("index within fixtures")
}

/// `got` must be `size` bytes hashing to `digest`.
pub fn check(got: &[u8], size: usize, digest: &str, name: &str) -> Result<(), Fail> {
    if got.len() != size {
        return Err(Fail::new(
            "short_transfer",
            format!("{name}: {} bytes, expected {size}", got.len()),
        ));
    }
    if sha256_hex(got) != digest {
        return Err(Fail::new(
            "digest_mismatch",
            format!("{name}: wrong sha256"),
        ));
    }
    Ok(())
}
