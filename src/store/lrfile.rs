//! The LR weight file, `lr.weights` beside `tokens.db`: a fixed header and fixed-size tables of
//! weights (see `lr` and docs/db-format.md). Its size depends only on the table size, never on
//! what was learned.
//!
//! ```text
//! offset size
//!  0      8   magic "SPAMFLRW"
//!  8      4   format version (2; 1 is still read)
//! 12      1   table bits B (2^B weights)
//! 13      1   window (bytes per n-gram)
//! 14      1   flags: bit 0 lower-cased view, bit 1 decoded body
//! 15      1   version 2: the readers' table's exponent E (version 1: 0)
//! 16      4   bytes of the view covered
//! 20      4   learning rate (f32)
//! 24      8   feature fingerprint (`lr::Shape::fingerprint`)
//! 32      8   ham messages learned
//! 40      8   spam messages learned
//! 48      8   last update, seconds since the epoch
//! 56      8   checksum of everything after the header
//! 64      8   checksum of bytes 0..64
//! 72      8   reserved (0)
//! version 2:
//! 80     2^B  the readers' table: each weight × 2^E, rounded, as i8 (`lr::quantise`)
//! 80+2^B 4·2^B the weights, f32 (what training reads and changes)
//! version 1:
//! 80     4·2^B the weights, f32 (read by scoring too)
//! ```
//! All numbers are little endian. Writers replace the file by rename (never in place), as for
//! `tokens.db`; readers map it and check the header and the length, writers verify the body.
//! Scoring reads the i8 table: a quarter of the pages of the f32 one, which a delivery touches
//! nearly all of (see docs/benchmarks.md); training keeps the f32 weights, whose small steps an
//! i8 could not hold. Writers write version 2 only; a version 1 file is scored as it is and
//! converted by the next training run (the weights are kept, nothing is relearned).

use anyhow::{bail, Result};

use super::tokenfile::checksum;
use crate::lr::{Model, Shape};

pub const MAGIC: &[u8; 8] = b"SPAMFLRW";
/// The version writers write.
pub const VERSION: u32 = 2;
pub const HEADER: usize = 80;
pub const FILE: &str = "lr.weights";

/// The length of a version 2 file with 2^`bits` weights (a version 1 file is shorter).
pub const fn file_size(bits: u8) -> usize {
    HEADER + (5 << bits)
}

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
    /// The format version (1 or 2).
    pub version: u32,
    /// Version 2: the exponent of the readers' table.
    pub exp: u8,
}

impl Header {
    fn size(&self) -> usize {
        self.shape.size()
    }
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
    if version != 1 && version != VERSION {
        bail!("LR weight file version {version} is not supported (this binary reads versions 1 and {VERSION})");
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
    let exp = file[15];
    if version == 1 && exp != 0 || exp > 30 {
        bail!("bad table exponent {exp}");
    }
    let per_weight = if version == 1 { 4 } else { 5 };
    let want = HEADER as u64 + per_weight * (1u64 << bits);
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
        version,
        exp,
    })
}

/// The f32 weights' bytes (little endian) of a file whose header parsed: what training reads.
pub fn weights<'a>(file: &'a [u8], h: &Header) -> &'a [u8] {
    match h.version {
        1 => &file[HEADER..],
        _ => &file[HEADER + h.size()..],
    }
}

/// The spam log-odds of a message with these features, as scoring reads a file whose header
/// parsed: from the i8 table (version 2) or the f32 weights (version 1).
pub fn logit(file: &[u8], h: &Header, features: &[u32]) -> f64 {
    match h.version {
        1 => crate::lr::logit(&crate::lr::LeWeights(weights(file, h)), features),
        _ => crate::lr::logit(&crate::lr::QuantWeights(&file[HEADER..HEADER + h.size()], h.exp), features),
    }
}

/// Verifies the body's checksum (reads the whole file: for writers and `db stats`).
pub fn verify_body(file: &[u8], h: &Header) -> Result<()> {
    if checksum(&[&file[HEADER..]]) != h.body_checksum {
        bail!("checksum mismatch in the weights");
    }
    Ok(())
}

/// Decodes a whole (verified) file into an editable model. The readers' table of a version 2
/// file must be what the weights give (a writer's mistake would otherwise score with other
/// weights than the ones learned).
pub fn decode(file: &[u8]) -> Result<Model> {
    let h = parse_header(file)?;
    verify_body(file, &h)?;
    let weights: Vec<f32> = weights(file, &h)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .map(|w| if w.is_finite() { w } else { 0.0 })
        .collect();
    if h.version != 1 {
        let (table, exp) = crate::lr::quantise(&weights);
        if exp != h.exp || table.iter().zip(&file[HEADER..]).any(|(&q, &b)| q as u8 != b) {
            bail!("the readers' table does not match the weights");
        }
    }
    Ok(Model { shape: h.shape, weights, ham: h.ham, spam: h.spam, rate: h.rate })
}

/// The file (version 2) of a model.
pub fn encode(m: &Model, updated: u64) -> Vec<u8> {
    let (table, exp) = crate::lr::quantise(&m.weights);
    let mut out = Vec::with_capacity(HEADER + 5 * m.weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.push(m.shape.bits);
    out.push(m.shape.window as u8);
    out.push(m.shape.lowercase as u8 | (m.shape.decoded_body as u8) << 1);
    out.push(exp);
    out.extend_from_slice(&(m.shape.max_bytes as u32).to_le_bytes());
    out.extend_from_slice(&m.rate.to_le_bytes());
    out.extend_from_slice(&m.shape.fingerprint().to_le_bytes());
    out.extend_from_slice(&m.ham.to_le_bytes());
    out.extend_from_slice(&m.spam.to_le_bytes());
    out.extend_from_slice(&updated.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // body checksum, below
    out.extend_from_slice(&[0; 16]); // header checksum, reserved
    out.extend(table.iter().map(|&q| q as u8));
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

/// What a version 1 file of this model held: the header with version 1 and the f32 weights
/// only (for tests of reading one).
#[cfg(test)]
pub(super) fn encode_v1(m: &Model, updated: u64) -> Vec<u8> {
    let v2 = encode(m, updated);
    let mut out = v2[..HEADER].to_vec();
    out[8..12].copy_from_slice(&1u32.to_le_bytes());
    out[15] = 0;
    out.extend_from_slice(&v2[HEADER + m.weights.len()..]);
    super::tokenfile::seal(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Model {
        let mut m = Model::new(Shape { bits: 8, ..Shape::default() });
        m.learn(&[1, 5, 200], true, crate::lr::Rule::BOTH);
        m.learn(&[2, 5], false, crate::lr::Rule::BOTH);
        m
    }

    #[test]
    fn round_trip() {
        let m = small();
        let bytes = encode(&m, 1234);
        assert_eq!(bytes.len(), file_size(8));
        let h = parse_header(&bytes).unwrap();
        assert_eq!((h.ham, h.spam, h.updated, h.shape, h.version), (1, 1, 1234, m.shape, 2));
        assert_eq!(h.fingerprint, m.shape.fingerprint());
        assert_eq!(decode(&bytes).unwrap(), m);
        // Scoring reads the i8 table: the weights within half a step of 2^-exp each.
        let step = 1.0 / (1u64 << h.exp) as f64;
        for f in [&[1u32, 5, 200][..], &[2, 5], &[7]] {
            let (read, exact) = (logit(&bytes, &h, f), m.logit(f));
            assert!((read - exact).abs() <= step * f.len() as f64 / 2.0, "{read} {exact}");
        }
        assert!(logit(&bytes, &h, &[1, 5, 200]) > 0.0);
    }

    #[test]
    fn version_1_files_are_read_as_they_were() {
        let m = small();
        let v1 = encode_v1(&m, 99);
        assert_eq!(v1.len(), HEADER + 4 * 256);
        let h = parse_header(&v1).unwrap();
        assert_eq!(h.version, 1);
        // Scored with the f32 weights, exactly; decoded to the same model, which encodes as
        // version 2.
        assert_eq!(logit(&v1, &h, &[1, 5, 200]), m.logit(&[1, 5, 200]));
        assert_eq!(decode(&v1).unwrap(), m);
        assert_eq!(parse_header(&encode(&decode(&v1).unwrap(), 1)).unwrap().version, 2);
        let mut b = v1.clone();
        b.push(0);
        assert!(parse_header(&b).unwrap_err().to_string().contains("truncated or padded"));
    }

    #[test]
    fn a_readers_table_that_is_not_the_weights_is_refused() {
        let m = small();
        let mut b = encode(&m, 1);
        b[HEADER + 5] = b[HEADER + 5].wrapping_add(1);
        super::super::tokenfile::seal(&mut b);
        assert!(decode(&b).unwrap_err().to_string().contains("readers' table"));
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
