//! The mapped `reputation.db` a filter reads: one binary search per lookup, the journal's tail
//! replayed over the records it finds.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::journal::{read_journal_tail, JournalEntry, MAX_REPLAY};
use super::{config, Key, Record, Reputation, ReputationLookup, FILE, HEADER, INDEX, MAGIC, MAGIC_V1};

/// A mapped `reputation.db`: the header is checked at open, each record when it is read.
pub struct Reader {
    map: memmap2::Mmap,
    count: usize,
    /// From the header (see `relayed`).
    relayed: u64,
    /// What filters appended since the last compaction (its last `MAX_REPLAY` bytes), applied
    /// over the mapped records.
    journal: Vec<JournalEntry>,
    /// Which journal entries change which key, sorted by key then entry: a lookup replays only
    /// its own entries.
    touched: Vec<(Key, u32)>,
}

impl Reader {
    /// `Ok(None)` when there is no file yet.
    pub fn open(dir: &Path) -> Result<Option<Reader>> {
        let path = dir.join(FILE);
        if !crate::store::files::check_dir(dir)? {
            return Ok(None);
        }
        let journal = read_journal_tail(dir, MAX_REPLAY)?;
        let mut touched: Vec<(Key, u32)> =
            journal.iter().enumerate().flat_map(|(i, e)| e.keys().into_iter().map(move |k| (k, i as u32))).collect();
        touched.sort_unstable();
        let map = match crate::store::files::map(&path, "reputation database")? {
            Some(m) => m,
            // Only journal entries so far (honeypot hits, DNS answers): an empty base under them.
            None if !journal.is_empty() => {
                memmap2::MmapOptions::new().len(0).map_anon().context("cannot map")?.make_read_only()?
            }
            None => return Ok(None),
        };
        let count = if map.is_empty() {
            0
        } else {
            parse_header(&map).with_context(|| format!("the reputation database {} is corrupt", path.display()))?
        };
        // Bytes 12..16 of the header: the messages learned with a relay (0 in files written
        // before it was recorded, and in an empty base).
        let relayed = map.get(12..16).map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as u64);
        Ok(Some(Reader { map, count, relayed, journal, touched }))
    }

    fn index_entry(&self, i: usize) -> (Key, usize, usize) {
        let at = HEADER + i * INDEX;
        let e = &self.map[at..at + INDEX];
        let mut k = [0u8; 16];
        k.copy_from_slice(&e[..16]);
        let off = u32::from_le_bytes(e[16..20].try_into().unwrap()) as usize;
        let len = u32::from_le_bytes(e[20..24].try_into().unwrap()) as usize;
        (k, off, len)
    }

    fn blob(&self) -> &[u8] {
        &self.map[(HEADER + self.count * INDEX).min(self.map.len())..]
    }

    /// The record in the mapped file alone.
    fn base(&self, key: &Key) -> Option<Record> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let (k, off, len) = self.index_entry(mid);
            match k.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.decode(off, len),
            }
        }
        None
    }

    fn decode(&self, off: usize, len: usize) -> Option<Record> {
        let bytes = self.blob().get(off..off.checked_add(len)?)?;
        bincode::decode_from_slice(bytes, config()).ok().map(|(r, _)| r)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl ReputationLookup for Reader {
    fn relayed(&self) -> u64 {
        self.relayed
    }

    fn get(&self, key: &Key) -> Option<Record> {
        let base = self.base(key);
        if self.journal.is_empty() {
            return base;
        }
        // Replay this key's journal entries, in order, over this one record.
        let from = self.touched.partition_point(|(k, _)| k < key);
        let mine = self.touched[from..].iter().take_while(|(k, _)| k == key);
        let mut one = Reputation::default();
        if let Some(b) = base {
            one.records.insert(*key, b);
        }
        for &(_, i) in mine {
            one.apply(&self.journal[i as usize]);
        }
        one.records.remove(key)
    }
}

/// Checks the header and that the index fits; returns the record count. Format 1 (`SPFREP01`,
/// before reputation was kept per IPv6 /64) is read as it is; a writer merges its IPv6
/// records into their /64s (`Reputation::merge_v6_members`) and writes format 2.
pub(super) fn parse_header(file: &[u8]) -> Result<usize> {
    parse_header_of(&file[..file.len().min(HEADER)], file.len() as u64)
}

/// [`parse_header`] of the file's first bytes (`head`, up to `HEADER` of them) and its length.
pub(super) fn parse_header_of(head: &[u8], len: u64) -> Result<usize> {
    if head.len() >= 8 && head[..6] == MAGIC[..6] && &head[..8] != MAGIC && &head[..8] != MAGIC_V1 {
        bail!(
            "format {} is not one this spamfilt reads (it reads {} and {}): written by a newer spamfilt? Use that \
             one, or `db dump` with it and `db load` with this one",
            String::from_utf8_lossy(&head[6..8]),
            String::from_utf8_lossy(&MAGIC_V1[6..]),
            String::from_utf8_lossy(&MAGIC[6..])
        );
    }
    if len < HEADER as u64 || head.len() < HEADER || (&head[..8] != MAGIC && &head[..8] != MAGIC_V1) {
        bail!("not a spamfilt reputation database (bad magic)");
    }
    let count = u32::from_le_bytes(head[8..12].try_into().unwrap()) as usize;
    if HEADER as u64 + count as u64 * INDEX as u64 > len {
        bail!("truncated: {count} records do not fit in {len} bytes");
    }
    Ok(count)
}
