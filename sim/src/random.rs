//! Each node's `wasi:random`, derived from the run's seed and the node's
//! name, so that a guest's random numbers repeat with the seed.
//!
//! Every value is derived with [`derive`]: the SHA-256 digest of the seed
//! (8 bytes, little-endian), then the node's name and the purpose, each as
//! its length (4 bytes, little-endian) and its UTF-8 bytes. The generators
//! are rand 0.10's `StdRng` (ChaCha12) seeded with that digest; they are
//! deterministic, but no more "secure" than the seed is secret.

use rand::SeedableRng as _;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};
use wasmtime_wasi::WasiCtxBuilder;

/// The three random sources of one node's `WasiCtx`.
pub struct NodeRandom {
    /// For `wasi:random/random` (purpose `secure`).
    pub secure: StdRng,
    /// For `wasi:random/insecure` (purpose `insecure`).
    pub insecure: StdRng,
    /// For `wasi:random/insecure-seed` (purpose `insecure-seed`, the
    /// digest's first 16 bytes, little-endian).
    pub insecure_seed: u128,
}

/// The random sources of node `node` in a run seeded with `seed`.
pub fn for_node(seed: u64, node: &str) -> NodeRandom {
    let seed_bytes = derive(seed, node, "insecure-seed");
    let mut first = [0u8; 16];
    first.copy_from_slice(&seed_bytes[..16]);
    NodeRandom {
        secure: StdRng::from_seed(derive(seed, node, "secure")),
        insecure: StdRng::from_seed(derive(seed, node, "insecure")),
        insecure_seed: u128::from_le_bytes(first),
    }
}

impl NodeRandom {
    /// Installs the three sources in `builder`.
    pub fn apply(self, builder: &mut WasiCtxBuilder) {
        builder
            .secure_random(self.secure)
            .insecure_random(self.insecure)
            .insecure_random_seed(self.insecure_seed);
    }
}

/// SHA-256 of `seed`, `name` and `purpose` (see the module's doc).
pub fn derive(seed: u64, name: &str, purpose: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(seed.to_le_bytes());
    for field in [name, purpose] {
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        hash.update(len.to_le_bytes());
        hash.update(field.as_bytes());
    }
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    #[test]
    fn random_repeats_per_seed_and_node_and_differs_across() {
        let mut a = for_node(1, "a");
        let mut again = for_node(1, "a");
        assert_eq!(a.secure.next_u64(), again.secure.next_u64());
        assert_eq!(a.insecure_seed, again.insecure_seed);
        let mut b = for_node(1, "b");
        let mut other_seed = for_node(2, "a");
        let x = a.insecure.next_u64();
        assert_ne!(x, b.insecure.next_u64());
        assert_ne!(x, other_seed.insecure.next_u64());
        assert_ne!(for_node(1, "a").insecure_seed, b.insecure_seed);
    }
}
