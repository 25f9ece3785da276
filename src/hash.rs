//! The token hash: the stable 64-bit key of a token in the database, the starter table and the
//! keyword index. Plain `std`, so that build.rs compiles this same file to build the keyword
//! index of the default rules at build time.

/// The stable 64-bit key of a token (FNV-1a, then a 64-bit finalizer for avalanche).
#[inline]
pub fn token_hash(token: &str) -> u64 {
    token_hash_parts(&[token])
}

/// The key of a word in the keyword index (rules/phrases.rs; built by build.rs with this same
/// function, never stored): ASCII capitals count as lower case, and the word is taken 8 bytes at
/// a time, so hashing the words of a text costs a few multiplications a word rather than one a
/// byte (the token hash above is the database's key and cannot change).
#[inline]
pub fn phrase_word_hash(word: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (word.len() as u64).wrapping_mul(K);
    let mut chunks = word.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h ^ ascii_lower8(x)).wrapping_mul(K).rotate_left(31);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let last = rest.iter().rev().fold(0u64, |x, &b| x << 8 | b as u64);
        h = (h ^ ascii_lower8(last)).wrapping_mul(K).rotate_left(31);
    }
    finish(h)
}

/// The eight bytes of `x` with ASCII capitals made lower case (other bytes unchanged).
#[inline]
fn ascii_lower8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let low7 = x & (ONES * 0x7f);
    // A byte's high bit after the addition says whether its low 7 bits are >= 'A' or > 'Z' (no
    // carry crosses into the next byte: 0x7f + 0x3f < 0x100).
    let at_least_a = low7 + ONES * (0x80 - b'A' as u64);
    let above_z = low7 + ONES * (0x80 - b'Z' as u64 - 1);
    let capital = at_least_a & !above_z & !x & HIGH;
    x | (capital >> 2)
}

/// `token_hash` of the concatenation of `parts`, without building it.
#[inline]
pub fn token_hash_parts(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.as_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    finish(h)
}

/// murmur3's fmix64, for avalanche.
#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// splitmix64's finalizer: spreads the bits of `x` (a key that is no hash, or a hash combined
/// with a seed).
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One output of splitmix64 whose state, before its step, is `x`: the golden-ratio increment,
/// then [`mix64`].
#[inline]
pub fn splitmix64(x: u64) -> u64 {
    mix64(x.wrapping_add(0x9e37_79b9_7f4a_7c15))
}

/// A hasher for keys that are already well-mixed 64-bit hashes (token hashes): the key is the
/// hash. Saves SipHash on the hot maps and sets of training and tokenizing.
#[derive(Default, Clone, Copy)]
pub struct PreHashed(u64);

impl std::hash::Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used for u64 keys; fold anything else in (FNV-1a) so the type stays correct.
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type PreHashedBuild = std::hash::BuildHasherDefault<PreHashed>;

#[cfg(test)]
mod tests {
    #[test]
    fn phrase_words_hash_as_their_lower_case() {
        let words = [
            "",
            "a",
            "Click",
            "HERE",
            "e-Mail",
            "100%",
            "MiXeD-CaSe'S-LoNgEr-ThAn-16",
            "\u{0}\u{7f}Z@[`{",
            "ÉÉN",
            "straße",
        ];
        for w in words {
            let lower = w.to_ascii_lowercase();
            assert_eq!(super::phrase_word_hash(w.as_bytes()), super::phrase_word_hash(lower.as_bytes()), "{w:?}");
        }
        // Every byte value: only A-Z change.
        for b in 0..=255u8 {
            let x = u64::from_le_bytes([b, b'A', b'z', b'Z', 0x80 | b'A', b'@', b'[', b]);
            let l = b.to_ascii_lowercase();
            let want = u64::from_le_bytes([l, b'a', b'z', b'z', 0x80 | b'A', b'@', b'[', l]);
            assert_eq!(super::ascii_lower8(x), want, "{b:#x}");
        }
        // Different words, different keys (lengths, padding, the order of chunks).
        let words = ["a", "a\0", "ab", "ba", "abcdefgh", "abcdefghi", "ihgfedcba", "abcdefghabcdefgh"];
        let keys: std::collections::HashSet<u64> =
            words.iter().map(|w| super::phrase_word_hash(w.as_bytes())).collect();
        assert_eq!(keys.len(), words.len());
    }
}
