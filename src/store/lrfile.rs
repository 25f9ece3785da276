//! The LR weight file, `lr.weights` beside `tokens.db`: a fixed header and a fixed-size table of
//! weights (see `lr` and docs/db-format.md). Its size depends only on the table size, never on
//! what was learned.
//!
//! ```text
//! offset size
//!  0      8   magic "SPAMFLRW"
//!  8      4   format version (1)
//! 12      1   table bits B (2^B weights)
//! 13      1   window (bytes per n-gram)
//! 14      1   flags: bit 0 lower-cased view, bit 1 decoded body
//! 15      1   reserved (0)
//! 16      4   bytes of the view covered
//! 20      4   learning rate (f32)
//! 24      8   feature fingerprint (`lr::Shape::fingerprint`)
//! 32      8   ham messages learned
//! 40      8   spam messages learned
//! 48      8   last update, seconds since the epoch
//! 56      8   checksum of the weights
//! 64      8   checksum of bytes 0..64
//! 72      8   reserved (0)
//! 80   4·2^B  weights, f32
//! ```
//! All numbers are little endian. Writers replace the file by rename (never in place), as for
//! `tokens.db`; readers map it and check the header and the length, writers verify the weights.

use anyhow::{bail, Result};

use super::tokenfile::checksum;
use crate::lr::{Model, Shape};

pub const MAGIC: &[u8; 8] = b"SPAMFLRW";
pub const VERSION: u32 = 1;
pub const HEADER: usize = 80;
pub const FILE: &str = "lr.weights";

/// The decoded header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header {
    pub shape: Shape,
    pub rate: f32,
    pub fingerprint: u64,
    pub ham: u64,
    pub spam: u64,
    pub updated: u64,
    pub body_checksum: u64,
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

/// Checks the header and that the file is as long as its table says.
pub fn parse_header(file: &[u8]) -> Result<Header> {
    if file.len() < HEADER || &file[..8] != MAGIC {
        bail!("not an LR weight file (bad magic or too short)");
    }
    let version = u32_at(file, 8);
    if version != VERSION {
        bail!("LR weight file version {version} is not supported (this binary reads version {VERSION})");
    }
    if u64_at(file, 64) != checksum(&[&file[..64]]) {
        bail!("header checksum mismatch");
    }
    let bits = file[12];
    if !(4..=30).contains(&bits) {
        bail!("table size 2^{bits} out of range");
    }
    let shape = Shape {
        bits,
        window: file[13] as usize,
        max_bytes: u32_at(file, 16) as usize,
        lowercase: file[14] & 1 != 0,
        decoded_body: file[14] & 2 != 0,
    };
    let want = HEADER as u64 + 4 * (1u64 << bits);
    if file.len() as u64 != want {
        bail!("truncated or padded: {} bytes where the header says {want}", file.len());
    }
    Ok(Header {
        shape,
        rate: f32::from_le_bytes(file[20..24].try_into().expect("4 bytes")),
        fingerprint: u64_at(file, 24),
        ham: u64_at(file, 32),
        spam: u64_at(file, 40),
        updated: u64_at(file, 48),
        body_checksum: u64_at(file, 56),
    })
}

/// The weights' bytes (little-endian f32) of a file whose header parsed.
pub fn weights(file: &[u8]) -> &[u8] {
    &file[HEADER..]
}

/// Verifies the weights' checksum (reads the whole table: for writers and `db stats`).
pub fn verify_body(file: &[u8], h: &Header) -> Result<()> {
    if checksum(&[weights(file)]) != h.body_checksum {
        bail!("checksum mismatch in the weights");
    }
    Ok(())
}

/// Decodes a whole (verified) file into an editable model.
pub fn decode(file: &[u8]) -> Result<Model> {
    let h = parse_header(file)?;
    verify_body(file, &h)?;
    let weights = weights(file)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .map(|w| if w.is_finite() { w } else { 0.0 })
        .collect();
    Ok(Model { shape: h.shape, weights, ham: h.ham, spam: h.spam, rate: h.rate })
}

pub fn encode(m: &Model, updated: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + 4 * m.weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.push(m.shape.bits);
    out.push(m.shape.window as u8);
    out.push(m.shape.lowercase as u8 | (m.shape.decoded_body as u8) << 1);
    out.push(0);
    out.extend_from_slice(&(m.shape.max_bytes as u32).to_le_bytes());
    out.extend_from_slice(&m.rate.to_le_bytes());
    out.extend_from_slice(&m.shape.fingerprint().to_le_bytes());
    out.extend_from_slice(&m.ham.to_le_bytes());
    out.extend_from_slice(&m.spam.to_le_bytes());
    out.extend_from_slice(&updated.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // body checksum, below
    out.extend_from_slice(&[0; 16]); // header checksum, reserved
    for w in &m.weights {
        out.extend_from_slice(&w.to_le_bytes());
    }
    super::tokenfile::seal(&mut out);
    out
}

/// What `db stats` says of a weight file, after checking its header and body.
pub fn stats(file: &[u8]) -> Result<super::LrStats> {
    let h = parse_header(file)?;
    verify_body(file, &h)?;
    let current = crate::lr::Shape::default();
    Ok(super::LrStats {
        ham: h.ham,
        spam: h.spam,
        bits: h.shape.bits,
        file_size: file.len() as u64,
        current: h.shape == current && h.fingerprint == current.fingerprint(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Model {
        let mut m = Model::new(Shape { bits: 8, ..Shape::default() });
        m.learn(&[1, 5, 200], true);
        m.learn(&[2, 5], false);
        m
    }

    #[test]
    fn round_trip() {
        let m = small();
        let bytes = encode(&m, 1234);
        assert_eq!(bytes.len(), HEADER + 4 * 256);
        let h = parse_header(&bytes).unwrap();
        assert_eq!((h.ham, h.spam, h.updated, h.shape), (1, 1, 1234, m.shape));
        assert_eq!(h.fingerprint, m.shape.fingerprint());
        assert_eq!(decode(&bytes).unwrap(), m);
    }

    #[test]
    fn corruption_is_detected() {
        let bytes = encode(&small(), 1);
        let mut b = bytes.clone();
        b[HEADER + 5 * 4] ^= 0x40;
        assert!(parse_header(&b).is_ok(), "the cheap check reads the header only");
        assert!(decode(&b).unwrap_err().to_string().contains("checksum"));
        let mut b = bytes.clone();
        b[33] ^= 1;
        assert!(parse_header(&b).unwrap_err().to_string().contains("header checksum"));
        assert!(parse_header(&bytes[..bytes.len() - 4]).unwrap_err().to_string().contains("truncated"));
        assert!(parse_header(b"SPAMFTDB").is_err());
        let mut b = bytes;
        b[8] = 9;
        assert!(parse_header(&b).unwrap_err().to_string().contains("version 9"));
    }
}
