//! The token database file format: a small fixed header, the token records sorted by hash in a
//! fixed-size layout, then the training ledger. See docs/db-format.md.
//!
//! A reader maps the file and touches only the header and the records it looks up, so opening
//! a 1,000,000-token database costs what opening a 10,000-token one does. Records are found by
//! interpolation search (token hashes are uniform), falling back to binary search.
//!
//! ```text
//! offset size
//!  0      8   magic "SPAMFTDB"
//!  8      4   format version (1)
//! 12      4   record size (20)
//! 16      8   ham messages learned
//! 24      8   spam messages learned
//! 32      8   record count N
//! 40      8   ledger length L in bytes
//! 48      8   last update, seconds since the epoch
//! 56      8   checksum of the records and the ledger
//! 64      8   checksum of bytes 0..64
//! 72      8   reserved (0)
//! 80   20·N   records: hash u64, spam u32, ham u32, last day u32 (days since the epoch)
//!  …      L   ledger: bincode (standard config) Vec<([u8;16], u8)>: digest and `Learned::byte`
//! ```
//! The ledger's byte was bincode's `Class` (0 ham, 1 spam: the same byte) until entries recorded
//! whether a message was learned with Received fields (2 to 5, see `Learned`).
//! All integers are little endian.

use anyhow::{bail, Result};

use super::{Digest, Learned, TokenRecord};
use crate::bayes::{Counts, Totals};

pub const MAGIC: &[u8; 8] = b"SPAMFTDB";
pub const VERSION: u32 = 1;
pub const HEADER: usize = 80;
pub const RECORD: usize = 20;

/// The decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub totals: Totals,
    pub records: u64,
    pub ledger_len: u64,
    pub updated: u64,
    pub body_checksum: u64,
}

/// FNV-1a 64 over bytes and a final xor-shift-multiply mix; not cryptographic, it catches
/// truncation and corruption.
pub fn checksum(parts: &[&[u8]]) -> u64 {
    let mut c = Checksum::new();
    for part in parts {
        c.update(part);
    }
    c.finish()
}

/// [`checksum`] taken piece by piece, for a file read or written as a stream: the same value
/// as `checksum` over the pieces in order.
#[derive(Debug, Clone, Copy)]
pub struct Checksum(u64);

impl Checksum {
    pub fn new() -> Checksum {
        Checksum(0xcbf2_9ce4_8422_2325)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }

    pub fn finish(self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

impl Default for Checksum {
    fn default() -> Checksum {
        Checksum::new()
    }
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

/// Checks the header and that the file is exactly as long as it says. Reads nothing else.
pub fn parse_header(file: &[u8]) -> Result<Header> {
    if file.len() < HEADER {
        bail!("too short ({} bytes) to be a token database", file.len());
    }
    parse_header_of(&file[..HEADER], file.len() as u64)
}

/// [`parse_header`] of a file of `len` bytes whose first [`HEADER`] bytes are `file`: a
/// writer reads only the header before it streams the rest.
pub fn parse_header_of(file: &[u8], len: u64) -> Result<Header> {
    if file.len() < HEADER || len < HEADER as u64 {
        bail!("too short ({len} bytes) to be a token database");
    }
    if &file[..8] != MAGIC {
        bail!("not a spamfilt token database (bad magic number)");
    }
    let version = u32_at(file, 8);
    if version != VERSION {
        bail!("format version {version} is not supported (this spamfilt reads version {VERSION})");
    }
    if u32_at(file, 12) as usize != RECORD {
        bail!("bad record size");
    }
    if u64_at(file, 64) != checksum(&[&file[..64]]) {
        bail!("header checksum mismatch");
    }
    let h = Header {
        totals: Totals { ham: u64_at(file, 16), spam: u64_at(file, 24) },
        records: u64_at(file, 32),
        ledger_len: u64_at(file, 40),
        updated: u64_at(file, 48),
        body_checksum: u64_at(file, 56),
    };
    let expected =
        (HEADER as u64).checked_add(h.records.saturating_mul(RECORD as u64)).and_then(|n| n.checked_add(h.ledger_len));
    if expected != Some(len) {
        bail!("truncated or extended: the header says {:?} bytes, the file has {}", expected, len);
    }
    Ok(h)
}

/// The size of one ledger entry: the 16-byte digest and the entry's byte (`Learned::byte`).
pub const LEDGER_ENTRY: usize = 17;

/// The ledger section's length prefix (bincode's encoding of the list's length), read from the
/// start of a ledger section of `ledger_len` bytes: the number of entries and the prefix's
/// size. An error when the section is not that prefix followed by exactly that many entries.
/// An empty section (`ledger_len` 0) is an empty ledger.
pub fn ledger_prefix(start: &[u8], ledger_len: u64) -> Result<(u64, usize)> {
    if ledger_len == 0 {
        return Ok((0, 0));
    }
    let start = &start[..start.len().min(ledger_len as usize)];
    let (count, used): (u64, usize) = bincode::decode_from_slice(start, bincode::config::standard())
        .map_err(|e| anyhow::anyhow!("bad ledger section: {e}"))?;
    let expected = count.checked_mul(LEDGER_ENTRY as u64).and_then(|n| n.checked_add(used as u64));
    match expected {
        Some(n) if n == ledger_len => Ok((count, used)),
        Some(n) if n < ledger_len => bail!("bad ledger section: {} trailing bytes", ledger_len - n),
        _ => bail!("bad ledger section: {count} entries do not fit in {ledger_len} bytes"),
    }
}

/// What a ledger entry's byte (`Learned::byte`) says was learned; an error for a byte no
/// version wrote.
pub fn learned_of(b: u8) -> Result<Learned> {
    match Learned::from_byte(b) {
        Some(l) => Ok(l),
        None => bail!("bad ledger section: an entry of class {b} (written by a newer spamfilt?)"),
    }
}

/// A ledger entry's bytes: the digest, then `Learned::byte` (a writer streaming the ledger
/// writes them one by one; [`encode`] writes the same bytes through bincode).
pub fn ledger_entry_bytes(digest: &Digest, l: Learned) -> [u8; LEDGER_ENTRY] {
    let mut e = [0u8; LEDGER_ENTRY];
    e[..16].copy_from_slice(digest);
    e[16] = l.byte();
    e
}

/// The ledger section's length prefix for `count` entries (what [`encode`] writes).
pub fn encode_ledger_prefix(count: u64) -> Vec<u8> {
    bincode::encode_to_vec(count, bincode::config::standard()).expect("encoding to memory cannot fail")
}

/// A header: magic, version, record size, the fields and the checksum of its first 64 bytes
/// (the reserved bytes 0).
pub fn header_bytes(totals: Totals, updated: u64, records: u64, ledger_len: u64, body_checksum: u64) -> [u8; HEADER] {
    let mut out = [0u8; HEADER];
    out[..8].copy_from_slice(MAGIC);
    out[8..12].copy_from_slice(&VERSION.to_le_bytes());
    out[12..16].copy_from_slice(&(RECORD as u32).to_le_bytes());
    for (i, w) in [totals.ham, totals.spam, records, ledger_len, updated, body_checksum].into_iter().enumerate() {
        out[16 + 8 * i..24 + 8 * i].copy_from_slice(&w.to_le_bytes());
    }
    let head = checksum(&[&out[..64]]);
    out[64..72].copy_from_slice(&head.to_le_bytes());
    out
}

/// A record's 20 bytes.
pub fn record_bytes(hash: u64, r: &TokenRecord) -> [u8; RECORD] {
    let mut out = [0u8; RECORD];
    out[..8].copy_from_slice(&hash.to_le_bytes());
    out[8..12].copy_from_slice(&r.spam.to_le_bytes());
    out[12..16].copy_from_slice(&r.ham.to_le_bytes());
    out[16..20].copy_from_slice(&r.last_day.to_le_bytes());
    out
}

/// The sorted record section of a validated file.
pub fn records<'a>(file: &'a [u8], h: &Header) -> &'a [u8] {
    &file[HEADER..HEADER + h.records as usize * RECORD]
}

fn record_hash(records: &[u8], i: usize) -> u64 {
    u64_at(records, i * RECORD)
}

/// Decodes record `i`.
pub fn record_at(records: &[u8], i: usize) -> (u64, TokenRecord) {
    let off = i * RECORD;
    (
        u64_at(records, off),
        TokenRecord {
            spam: u32_at(records, off + 8),
            ham: u32_at(records, off + 12),
            last_day: u32_at(records, off + 16),
        },
    )
}

/// Finds `hash` among sorted records. Token hashes are uniform over the 64-bit range, so the
/// table's average density says where a hash should be: the first probe goes there, and each
/// further one moves by the distance that density gives for the hash difference still to go
/// (a multiplication, no division; the error shrinks to about its square root each time). Once
/// close, or after a few probes, galloping from there brackets the hash and a binary search
/// finishes, so the answer is right for any distribution, only slower for a skewed one.
pub fn find(records: &[u8], hash: u64) -> Option<usize> {
    find_by(records.len() / RECORD, hash, |i| record_hash(records, i))
}

/// [`find`] among `n` sorted hashes, the `i`th given by `at(i)` (a writer reads the records of
/// a file it has not loaded).
pub fn find_by(n: usize, hash: u64, mut at: impl FnMut(usize) -> u64) -> Option<usize> {
    if n == 0 {
        return None;
    }
    // How many records a stretch `d` of the hash range holds, on average.
    let records_in = |d: u64| ((d as u128 * n as u128) >> 64) as usize;
    let mut i = records_in(hash).min(n - 1);
    for _ in 0..4 {
        let h = at(i);
        if h == hash {
            return Some(i);
        }
        let d = records_in(h.abs_diff(hash));
        if d < 8 {
            break;
        }
        i = if h < hash { (i + d).min(n - 1) } else { i - d.min(i) };
    }
    // Gallop from `i` to a range [lo, hi) that holds `hash` if anything does.
    let (mut lo, mut hi) = (i, i + 1);
    if at(i) < hash {
        let mut step = 1;
        loop {
            lo = hi;
            if lo >= n {
                return None;
            }
            hi = (i + step + 1).min(n);
            if at(hi - 1) >= hash {
                break;
            }
            step *= 2;
        }
    } else {
        let mut step = 1;
        while lo > 0 && at(lo - 1) >= hash {
            hi = lo;
            lo = i.saturating_sub(step);
            step *= 2;
        }
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match at(mid).cmp(&hash) {
            std::cmp::Ordering::Equal => return Some(mid),
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    None
}

/// Counts for each hash.
pub fn lookup(records: &[u8], hashes: &[u64]) -> Vec<Counts> {
    hashes
        .iter()
        .map(|&h| match find(records, h) {
            Some(i) => {
                let (_, r) = record_at(records, i);
                Counts { spam: r.spam, ham: r.ham }
            }
            None => Counts::default(),
        })
        .collect()
}

/// Whether a record can be right: a token is counted once per message, so its counts never
/// exceed the messages learned, it was learned on a day between 2000 and the day after `today`
/// (for a file, `day_bound`: the later of the reader's day and the file's), and a
/// stored record is never all zero. A damaged record (a flipped bit the header checksum does
/// not cover) nearly always breaks one of these.
pub fn plausible(r: &TokenRecord, totals: Totals, today: u32) -> bool {
    (r.spam > 0 || r.ham > 0)
        && r.spam as u64 <= totals.spam
        && r.ham as u64 <= totals.ham
        && (FIRST_DAY..=today.saturating_add(1)).contains(&r.last_day)
}

/// 2000-01-01 in days since the epoch: no record was learned before.
pub const FIRST_DAY: u32 = 10_957;

/// The `today` to judge a file's records by: the reader's day, or the day the file was written
/// if that is later. A record's day is its writer's clock, not the reader's: a training run
/// whose clock was ahead (a host whose clock is wrong for a night, a dump loaded from another
/// host) writes days the reader has not reached, and they are not damage. The writer clamps its
/// records to its own day (`clamp_day`), so every intact record is within this bound.
pub fn day_bound(h: &Header, today: u32) -> u32 {
    day_bound_at(h.updated, today)
}

/// [`day_bound`] of a store last written at `updated` (seconds since the epoch): the Redis
/// store's `{P}:totals` keeps it as the file's header does.
pub fn day_bound_at(updated: u64, today: u32) -> u32 {
    today.max(u32::try_from(updated / 86_400).unwrap_or(u32::MAX))
}

/// A record's day as a writer whose day is `today` stores it: never after its own day (nor
/// before 2000), so that the file's update time bounds every record (see `day_bound`). A day
/// after it was written by a clock that was ahead; the counts are what matters, and the day
/// only says when `db expire` may drop a rare token.
pub fn clamp_day(day: u32, today: u32) -> u32 {
    day.min(today).max(FIRST_DAY)
}

/// `lookup` for the filter, which cannot afford to verify the whole file's checksum: each
/// record it reads must be `plausible` and sit in order between its neighbours. Reads only the
/// records it looks up (and their neighbours), so the cost stays that of the message.
pub fn lookup_checked(records: &[u8], hashes: &[u64], totals: Totals, today: u32) -> Result<Vec<Counts>, String> {
    let n = records.len() / RECORD;
    let mut out = Vec::with_capacity(hashes.len());
    for &h in hashes {
        match find(records, h) {
            Some(i) => {
                let (_, r) = record_at(records, i);
                let ordered =
                    (i == 0 || record_hash(records, i - 1) < h) && (i + 1 == n || record_hash(records, i + 1) > h);
                if !plausible(&r, totals, today) || !ordered {
                    return Err(format!("token record {i} of {n} is damaged"));
                }
                out.push(Counts { spam: r.spam, ham: r.ham });
            }
            None => out.push(Counts::default()),
        }
    }
    Ok(out)
}

/// Decodes the ledger section.
pub fn ledger(file: &[u8], h: &Header) -> Result<Vec<(Digest, Learned)>> {
    let start = HEADER + h.records as usize * RECORD;
    let bytes = &file[start..start + h.ledger_len as usize];
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let (entries, used): (Vec<(Digest, u8)>, usize) = bincode::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|e| anyhow::anyhow!("bad ledger section: {e}"))?;
    if used != bytes.len() {
        bail!("bad ledger section: {} trailing bytes", bytes.len() - used);
    }
    entries.into_iter().map(|(d, b)| Ok((d, learned_of(b)?))).collect()
}

/// Verifies the body checksum (reads the whole file: for writers and `db stats`, not filters).
pub fn verify_body(file: &[u8], h: &Header) -> Result<()> {
    if checksum(&[&file[HEADER..]]) != h.body_checksum {
        bail!("checksum mismatch in the token records or the ledger");
    }
    Ok(())
}

/// Encodes a whole file. `tokens` must be sorted by hash without duplicates.
pub fn encode(totals: Totals, updated: u64, tokens: &[(u64, TokenRecord)], ledger: &[(Digest, Learned)]) -> Vec<u8> {
    debug_assert!(tokens.windows(2).all(|w| w[0].0 < w[1].0), "records must be sorted and unique");
    let ledger: Vec<(Digest, u8)> = ledger.iter().map(|&(d, l)| (d, l.byte())).collect();
    let ledger_bytes =
        bincode::encode_to_vec(&ledger, bincode::config::standard()).expect("encoding to memory cannot fail");
    let mut out = Vec::with_capacity(HEADER + tokens.len() * RECORD + ledger_bytes.len());
    out.extend_from_slice(&header_bytes(totals, updated, tokens.len() as u64, ledger_bytes.len() as u64, 0));
    for (h, r) in tokens {
        out.extend_from_slice(&record_bytes(*h, r));
    }
    out.extend_from_slice(&ledger_bytes);
    seal(&mut out);
    out
}

/// Writes the two checksums of a file in this header layout (the token file's and the LR
/// weight file's): the body's (everything after the 80-byte header) at 56, then the header's
/// first 64 bytes at 64.
pub(super) fn seal(out: &mut [u8]) {
    let body = checksum(&[&out[HEADER..]]);
    out[56..64].copy_from_slice(&body.to_le_bytes());
    let head = checksum(&[&out[..64]]);
    out[64..72].copy_from_slice(&head.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Class;
    use crate::test_rng::splitmix as rng;

    #[test]
    fn the_ledger_reads_the_old_entries_and_records_how_a_message_was_learned() {
        // A ledger as written before entries said whether the message had Received fields:
        // bincode's `Class`, read as entries of unknown Received fields.
        // Its bytes are what entries of unknown Received fields are written as now.
        let old: Vec<(Digest, Class)> = vec![([1; 16], Class::Ham), ([2; 16], Class::Spam)];
        let bytes = bincode::encode_to_vec(&old, bincode::config::standard()).unwrap();
        let unknown = vec![([1; 16], Class::Ham.into()), ([2; 16], Class::Spam.into())];
        let file = encode(Totals { ham: 1, spam: 1 }, 0, &[], &unknown);
        assert_eq!(&file[HEADER..], &bytes[..]);
        let h = parse_header(&file).unwrap();
        assert_eq!(ledger(&file, &h).unwrap(), unknown);
        // Every entry round-trips, 17 bytes each as before; a byte no version wrote is refused.
        let all: Vec<(Digest, Learned)> = [None, Some(false), Some(true)]
            .into_iter()
            .flat_map(|received| [Class::Ham, Class::Spam].map(|class| Learned { class, received }))
            .enumerate()
            .map(|(i, l)| ([i as u8; 16], l))
            .collect();
        let file = encode(Totals { ham: 3, spam: 3 }, 0, &[], &all);
        let h = parse_header(&file).unwrap();
        assert_eq!((ledger(&file, &h).unwrap(), h.ledger_len), (all.clone(), 1 + 17 * 6));
        assert_eq!(all.iter().map(|(_, l)| l.byte()).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
        let mut bad = file.clone();
        let n = bad.len();
        bad[n - 1] = 6;
        assert!(ledger(&bad, &h).unwrap_err().to_string().contains("class 6"));
    }

    fn rec(spam: u32, ham: u32) -> TokenRecord {
        TokenRecord { spam, ham, last_day: 20_000 }
    }

    #[test]
    fn round_trip_and_lookup_at_every_size() {
        for n in [0usize, 1, 2, 1000, 200_000] {
            let mut next = rng(n as u64);
            let mut tokens: Vec<(u64, TokenRecord)> = (0..n).map(|i| (next(), rec(i as u32, 1))).collect();
            tokens.sort_by_key(|t| t.0);
            tokens.dedup_by_key(|t| t.0);
            let ledger = vec![([7u8; 16], Class::Spam.into()), ([9u8; 16], Class::Ham.into())];
            let file = encode(Totals { ham: 3, spam: 4 }, 123, &tokens, &ledger);
            let h = parse_header(&file).unwrap();
            assert_eq!((h.totals, h.records, h.updated), (Totals { ham: 3, spam: 4 }, tokens.len() as u64, 123));
            verify_body(&file, &h).unwrap();
            assert_eq!(self::ledger(&file, &h).unwrap(), ledger);
            let recs = records(&file, &h);
            for (i, (hash, r)) in tokens.iter().enumerate().step_by((n / 500).max(1)) {
                assert_eq!(find(recs, *hash), Some(i));
                assert_eq!(lookup(recs, &[*hash]), vec![Counts { spam: r.spam, ham: r.ham }]);
            }
            // Absent hashes, including ones outside the stored range.
            for probe in [0u64, u64::MAX, 12345] {
                if tokens.binary_search_by_key(&probe, |t| t.0).is_err() {
                    assert_eq!(find(recs, probe), None);
                }
            }
            let mut next = rng(999);
            for _ in 0..500 {
                let probe = next();
                assert_eq!(find(recs, probe), tokens.binary_search_by_key(&probe, |t| t.0).ok());
            }
        }
    }

    /// Hashes that are not spread evenly (clustered, in a narrow band, in steps) are still all
    /// found: the density guess only decides where the search starts.
    #[test]
    fn lookup_is_right_whatever_the_distribution() {
        let mut next = rng(11);
        type Shape = fn(u64, usize) -> u64;
        let shapes: [(&str, Shape); 4] = [
            ("narrow band", |r, _| (1 << 40) + (r >> 30)),
            ("two clusters", |r, i| if i % 2 == 0 { r >> 20 } else { u64::MAX - (r >> 20) }),
            ("steps", |_, i| i as u64 * 1_000_003),
            ("top heavy", |r, _| u64::MAX - (r >> 50)),
        ];
        for (name, shape) in shapes {
            for n in [1usize, 7, 300, 20_000] {
                let mut tokens: Vec<(u64, TokenRecord)> =
                    (0..n).map(|i| (shape(next(), i), rec(i as u32, 0))).collect();
                tokens.sort_by_key(|t| t.0);
                tokens.dedup_by_key(|t| t.0);
                let file = encode(Totals::default(), 0, &tokens, &[]);
                let h = parse_header(&file).unwrap();
                let recs = records(&file, &h);
                for (i, (hash, _)) in tokens.iter().enumerate() {
                    assert_eq!(find(recs, *hash), Some(i), "{name}, {n} records");
                    for probe in [hash.wrapping_sub(1), hash.wrapping_add(1), next()] {
                        assert_eq!(find(recs, probe), tokens.binary_search_by_key(&probe, |t| t.0).ok(), "{name}, {n}");
                    }
                }
            }
        }
    }

    /// Many hashes at once (unsorted, repeated, present and absent, at both ends) get what one
    /// search each would give.
    #[test]
    fn lookup_of_many_hashes_matches_one_by_one() {
        let mut r = rng(7);
        for n in [0usize, 1, 2, 3, 50, 5000] {
            let mut tokens: Vec<(u64, TokenRecord)> = (0..n).map(|i| (r(), rec(i as u32, 2 * i as u32))).collect();
            tokens.sort_by_key(|t| t.0);
            tokens.dedup_by_key(|t| t.0);
            let file = encode(Totals::default(), 0, &tokens, &[]);
            let h = parse_header(&file).unwrap();
            let recs = records(&file, &h);
            let mut queries: Vec<u64> = tokens.iter().step_by(3).map(|t| t.0).collect();
            queries.extend((0..200).map(|_| r()));
            queries.extend([0, u64::MAX]);
            queries.extend(tokens.first().map(|t| t.0));
            queries.extend(tokens.last().map(|t| t.0));
            let again = queries.clone();
            queries.extend(again.iter().rev());
            let expected: Vec<Counts> = queries
                .iter()
                .map(|q| match tokens.binary_search_by_key(q, |t| t.0) {
                    Ok(i) => Counts { spam: tokens[i].1.spam, ham: tokens[i].1.ham },
                    Err(_) => Counts::default(),
                })
                .collect();
            assert_eq!(lookup(recs, &queries), expected, "{n} records");
        }
    }

    #[test]
    fn clustered_hashes_still_found() {
        // Interpolation's worst case: a skewed distribution; the binary fallback must cope.
        let mut tokens: Vec<(u64, TokenRecord)> = (0..1000u64).map(|i| (i * i * i, rec(1, 1))).collect();
        tokens.push((u64::MAX - 1, rec(1, 1)));
        let file = encode(Totals::default(), 0, &tokens, &[]);
        let h = parse_header(&file).unwrap();
        for (i, (hash, _)) in tokens.iter().enumerate() {
            assert_eq!(find(records(&file, &h), *hash), Some(i));
        }
    }

    #[test]
    fn corruption_is_detected() {
        let tokens = vec![(5u64, rec(1, 2)), (9, rec(3, 4))];
        let file = encode(Totals { ham: 1, spam: 1 }, 0, &tokens, &[([1; 16], Class::Ham.into())]);
        assert!(parse_header(&file[..HEADER - 1]).is_err());
        assert!(parse_header(&file[..file.len() - 1]).unwrap_err().to_string().contains("truncated"));
        let mut bad = file.clone();
        bad[0] = b'X';
        assert!(parse_header(&bad).unwrap_err().to_string().contains("magic"));
        let mut bad = file.clone();
        bad[20] ^= 1; // a total
        assert!(parse_header(&bad).unwrap_err().to_string().contains("checksum"));
        let mut bad = file.clone();
        bad[HEADER + 9] ^= 1; // a count: the header is fine, the body checksum is not
        let h = parse_header(&bad).unwrap();
        assert!(verify_body(&bad, &h).is_err());
    }
}
