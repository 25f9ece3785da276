//! `char::is_alphabetic`, `is_numeric` and `is_alphanumeric`, answered for the Basic
//! Multilingual Plane from bit tables build.rs makes from std's own answers (so they are the
//! same: a test compares every character). std searches its tables for each character outside
//! ASCII: about 270 instructions for U+FFFD, which is what invalid UTF-8 becomes, and text
//! scanned by several checks asks again for each. A Subject of 256 KB of raw 8-bit bytes cost
//! 470 million instructions, 65% of them in std's lookup (docs/reliability.md).

include!(concat!(env!("OUT_DIR"), "/unicode_tables.rs"));

#[inline]
fn bmp(table: &[u64; 1024], u: u32) -> bool {
    table[(u >> 6) as usize] >> (u & 63) & 1 != 0
}

/// `c.is_alphabetic()`.
#[inline]
pub fn is_alphabetic(c: char) -> bool {
    match c as u32 {
        u @ 0..0x80 => (u as u8).is_ascii_alphabetic(),
        u @ 0x80..0x10000 => bmp(&ALPHABETIC_BMP, u),
        _ => c.is_alphabetic(),
    }
}

/// `c.is_numeric()`.
#[inline]
pub fn is_numeric(c: char) -> bool {
    match c as u32 {
        u @ 0..0x80 => (u as u8).is_ascii_digit(),
        u @ 0x80..0x10000 => bmp(&NUMERIC_BMP, u),
        _ => c.is_numeric(),
    }
}

/// `c.is_alphanumeric()`.
#[inline]
pub fn is_alphanumeric(c: char) -> bool {
    is_alphabetic(c) || is_numeric(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character, the whole of Unicode: the same answers as std's.
    #[test]
    fn the_tables_answer_as_std_does() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(is_alphabetic(c), c.is_alphabetic(), "{c:?}");
            assert_eq!(is_numeric(c), c.is_numeric(), "{c:?}");
            assert_eq!(is_alphanumeric(c), c.is_alphanumeric(), "{c:?}");
        }
    }
}
