//! Random secrets (API keys, admin tokens, invites, session ids) from the
//! operating system's CSPRNG, and the hash they are stored as.

use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` uniformly random base62 characters (rejection sampling, no modulo bias).
pub fn random_chars(n: usize) -> impl Iterator<Item = char> {
    let mut out = Vec::with_capacity(n);
    let mut buffer = [0u8; 64];
    while out.len() < n {
        OsRng.try_fill_bytes(&mut buffer).expect("the operating system's random source works");
        // 62 × 4 = 248: bytes below it map evenly onto the alphabet.
        out.extend(buffer.iter().filter(|&&b| b < 248).map(|&b| char::from(ALPHABET[usize::from(b % 62)])));
    }
    out.truncate(n);
    out.into_iter()
}

/// `n` random bytes, hex.
#[must_use]
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.try_fill_bytes(&mut bytes).expect("the operating system's random source works");
    hex::encode(bytes)
}

/// SHA-256, hex. Every secret here is random and long, so a fast hash
/// suffices; a slow KDF protects guessable passwords, not random tokens.
#[must_use]
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
