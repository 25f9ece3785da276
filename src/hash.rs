//! The token hash: the stable 64-bit key of a token in the database, the starter table and the
//! keyword index. Plain `std`, so that build.rs compiles this same file to build the keyword
//! index of the default rules at build time.

/// The stable 64-bit key of a token (FNV-1a, then a 64-bit finalizer for avalanche).
#[inline]
pub fn token_hash(token: &str) -> u64 {
    token_hash_parts(&[token])
}

/// `token_hash` of the ASCII lower case of `bytes`, without making the lower-case copy.
#[inline]
pub fn token_hash_ascii_lower(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b.to_ascii_lowercase() as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    finish(h)
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

#[cfg(test)]
mod tests {
    #[test]
    fn hashing_as_lower_case_is_hashing_the_lower_case_copy() {
        for w in ["", "a", "Click", "HERE", "e-Mail", "100%", "MiXeD-CaSe'S", "\u{0}\u{7f}Z@[`{"] {
            assert_eq!(
                super::token_hash_ascii_lower(w.as_bytes()),
                super::token_hash(&w.to_ascii_lowercase()),
                "{w:?}"
            );
        }
    }
}
