//! A writer's view of `tokens.db` without loading it, and the streaming merge that writes the
//! next one.
//!
//! A training run changes the records of the tokens its messages name and the ledger entries
//! of its messages: for one message a few thousand of the millions a database may hold. So a
//! writer does not decode the file: it looks up the records and ledger entries it touches in
//! the file itself ([`Base`]), keeps what it changes in the snapshot (`Snapshot::tokens` and
//! `Snapshot::ledger` are then the changes only), and writes the new file by reading the old
//! one once, in order, and merging the sorted changes in ([`write`]), checking the old file's
//! body checksum as it goes. Memory is the changes plus fixed buffers, whatever the size of
//! the database; the old file is replaced by rename as before, so readers see the old file or
//! the new one and a crash leaves the old one.

use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;

use anyhow::{anyhow, bail};

use super::tokenfile::{Checksum, HEADER, LEDGER_ENTRY, RECORD};
use super::*;

/// Buffer size of the streaming read and write.
const BUFFER: usize = 1 << 20;

/// The token file a writer replaces, open and not loaded: its records and ledger entries are
/// read where they are, when the run asks for them.
pub(crate) struct Base {
    /// The file, mapped when small (see [`files::Replaced`]).
    src: files::Replaced,
    pub(super) header: tokenfile::Header,
    /// The ledger's entries, when they are in digest order (every spamfilt has written them
    /// so): `None` when they were not, and the snapshot holds the whole ledger instead.
    ledger: Option<BaseLedger>,
    /// The first error a lookup met reading the file (reported when the run writes).
    error: std::sync::OnceLock<String>,
}

/// A ledger read whole (see [`Base::open`]).
pub(super) type WholeLedger = Vec<(Digest, Learned)>;

#[derive(Debug, Clone, Copy)]
struct BaseLedger {
    /// Offset of the first entry.
    start: u64,
    count: u64,
}

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Base").field("path", &self.src.path).field("header", &self.header).finish_non_exhaustive()
    }
}

/// An error about the token file at `path` that means it is damaged.
fn corrupt(e: anyhow::Error, path: &Path) -> anyhow::Error {
    e.context(format!("the token database {} is corrupt", path.display()))
}

impl Base {
    /// Opens the token file at `path` for a writer: checks the header, the length and the
    /// ledger's structure (every entry's byte, and their order: read through once, in fixed
    /// buffers), and with `verify` the body checksum and the records' order too (read through
    /// once more). Without `verify` those are checked by [`write`] as it streams the file, so a
    /// damaged file is still never written over. `Ok(None)` when there is no file. The ledger
    /// of a file whose entries are not in digest order is returned whole (the snapshot keeps
    /// it; no spamfilt wrote such a file).
    pub(super) fn open(path: &Path, verify: bool) -> Result<Option<(Base, Option<WholeLedger>)>> {
        let Some((file, meta)) = files::open_read(path, "token database")? else { return Ok(None) };
        let len = meta.len();
        let mut head = [0u8; HEADER];
        if len >= HEADER as u64 {
            file.read_exact_at(&mut head, 0)
                .map_err(|e| files::cannot_io(e, format!("cannot read the token database {}", path.display())))?;
        }
        let header = tokenfile::parse_header_of(&head, len).map_err(|e| corrupt(e, path))?;
        let src = files::Replaced::new(path, file, len, "token database");
        let mut base = Base { src, header, ledger: None, error: Default::default() };
        let ledger_at = HEADER as u64 + header.records * RECORD as u64;
        let mut start = [0u8; 9];
        let n = (header.ledger_len.min(9)) as usize;
        base.src.read_exact_at(&mut start[..n], ledger_at)?;
        let (count, prefix) = tokenfile::ledger_prefix(&start[..n], header.ledger_len).map_err(|e| corrupt(e, path))?;
        let ledger = BaseLedger { start: ledger_at + prefix as u64, count };
        let mut sorted = true;
        let mut previous: Option<Digest> = None;
        base.scan(ledger.start, ledger.count * LEDGER_ENTRY as u64, LEDGER_ENTRY, |e| {
            let d: Digest = e[..16].try_into().expect("16 bytes");
            tokenfile::learned_of(e[16])?;
            sorted &= previous.is_none_or(|p| p < d);
            previous = Some(d);
            Ok(())
        })
        .map_err(|e| corrupt(e, path))?;
        let whole = if sorted {
            base.ledger = Some(ledger);
            None
        } else {
            let mut all = Vec::with_capacity(ledger.count as usize);
            base.scan(ledger.start, ledger.count * LEDGER_ENTRY as u64, LEDGER_ENTRY, |e| {
                let l = Learned::from_byte(e[16]).expect("checked above");
                all.push((e[..16].try_into().expect("16 bytes"), l));
                Ok(())
            })?;
            Some(all)
        };
        if verify {
            let mut sum = Checksum::new();
            let mut previous = None;
            base.scan(HEADER as u64, header.records * RECORD as u64, RECORD, |r| {
                sum.update(r);
                let h = u64::from_le_bytes(r[..8].try_into().expect("8 bytes"));
                if previous.is_some_and(|p| p >= h) {
                    bail!("the token records are not in order");
                }
                previous = Some(h);
                Ok(())
            })
            .map_err(|e| corrupt(e, path))?;
            base.scan(ledger_at, header.ledger_len, 1 << 16, |b| {
                sum.update(b);
                Ok(())
            })?;
            if sum.finish() != header.body_checksum {
                return Err(corrupt(anyhow!("checksum mismatch in the token records or the ledger"), path));
            }
        }
        Ok(Some((base, whole)))
    }

    /// Reads `len` bytes from `offset` in pieces of `piece` bytes (the last may be shorter when
    /// `len` is not a multiple), handing each to `f`, through a fixed buffer.
    fn scan(&self, offset: u64, len: u64, piece: usize, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        let mut r = self.src.reader(offset);
        let mut buf = vec![0u8; piece];
        let mut left = len;
        while left > 0 {
            let n = (piece as u64).min(left) as usize;
            r.read_exact(&mut buf[..n]).map_err(|e| self.src.read_error(e))?;
            f(&buf[..n])?;
            left -= n as u64;
        }
        Ok(())
    }

    /// Bytes at `offset` for a lookup; a read error is kept for [`write`] to report (and reads
    /// as zeros meanwhile: the run's result is never written).
    fn bytes<const N: usize>(&self, offset: u64) -> [u8; N] {
        let mut b = [0u8; N];
        if let Err(e) = self.src.read_exact_at(&mut b, offset) {
            let _ = self.error.set(format!("{e:#}"));
        }
        b
    }

    /// The record of `hash`, if the file has one.
    pub(super) fn record(&self, hash: u64) -> Option<TokenRecord> {
        let n = self.header.records as usize;
        let at = |i: usize| u64::from_le_bytes(self.bytes::<8>((HEADER + i * RECORD) as u64));
        let i = tokenfile::find_by(n, hash, at)?;
        let b = self.bytes::<RECORD>((HEADER + i * RECORD) as u64);
        Some(tokenfile::record_at(&b, 0).1)
    }

    /// The ledger entry of `digest`, if the file has one (`None` too when the file's ledger is
    /// held whole by the snapshot).
    pub(super) fn learned(&self, digest: &Digest) -> Option<Learned> {
        let l = self.ledger?;
        let (mut lo, mut hi) = (0u64, l.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.bytes::<LEDGER_ENTRY>(l.start + mid * LEDGER_ENTRY as u64);
            match e[..16].cmp(&digest[..]) {
                std::cmp::Ordering::Equal => return Learned::from_byte(e[16]),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }
}

/// Writes the token file of `snap` to a temporary file in `dir` (synced, not yet renamed): the
/// base file's records and ledger read once in order with the snapshot's changes merged in (all
/// of the snapshot when it has no base). Each record is first offered to `keep` (`db expire`
/// drops some), then clamped as every writer stores it: counts no larger than the messages
/// learned, no day after today's (see `tokenfile::plausible`, `tokenfile::day_bound`); a
/// record left with no count is dropped. The base file's body checksum and order are checked
/// on the way: a damaged file is refused, as it would have been when loaded.
pub(super) fn write(
    dir: &Path,
    snap: &Snapshot,
    keep: &mut dyn FnMut(&TokenRecord) -> bool,
    refuse: impl Fn(anyhow::Error) -> anyhow::Error,
) -> Result<files::TempFile> {
    let base = snap.base.as_ref();
    if let Some(e) = base.and_then(|b| b.error.get()) {
        bail!("{e}");
    }
    let (max_spam, max_ham) =
        (snap.totals.spam.min(u32::MAX as u64) as u32, snap.totals.ham.min(u32::MAX as u64) as u32);
    let now = now_secs();
    let day = (now / 86_400) as u32;

    let mut tmp = files::TempFile::new(dir, DB_FILE)?;
    let tmp_path = tmp.path().to_path_buf();
    let write_error = |e: std::io::Error| anyhow::Error::new(e).context(format!("cannot write {}", tmp_path.display()));
    let mut out = BufWriter::with_capacity(BUFFER, tmp.file());
    out.write_all(&[0u8; HEADER]).map_err(write_error)?;
    let mut out_sum = Checksum::new();
    let mut put = |out: &mut BufWriter<&mut File>, b: &[u8]| -> Result<()> {
        out_sum.update(b);
        out.write_all(b).map_err(write_error)
    };

    // The records.
    let mut changed: Vec<(u64, TokenRecord)> = snap.tokens.iter().map(|(&h, &r)| (h, r)).collect();
    changed.sort_unstable_by_key(|t| t.0);
    let mut changed = changed.into_iter().peekable();
    let mut records = 0u64;
    let mut emit = |out: &mut BufWriter<&mut File>, h: u64, r: &TokenRecord| -> Result<()> {
        if !keep(r) {
            return Ok(());
        }
        let r = TokenRecord {
            spam: r.spam.min(max_spam),
            ham: r.ham.min(max_ham),
            last_day: tokenfile::clamp_day(r.last_day, day),
        };
        if r.spam == 0 && r.ham == 0 {
            return Ok(());
        }
        records += 1;
        put(out, &tokenfile::record_bytes(h, &r))
    };
    let mut in_sum = Checksum::new();
    let mut input = base.map(|b| (b, b.src.reader(HEADER as u64)));
    if let Some((b, r)) = &mut input {
        let mut rec = [0u8; RECORD];
        let mut previous = None;
        for _ in 0..b.header.records {
            r.read_exact(&mut rec).map_err(|e| b.src.read_error(e))?;
            in_sum.update(&rec);
            let (h, old) = tokenfile::record_at(&rec, 0);
            if previous.is_some_and(|p| p >= h) {
                return Err(refuse(corrupt(anyhow!("the token records are not in order"), &b.src.path)));
            }
            previous = Some(h);
            while let Some((c, new)) = changed.next_if(|(c, _)| *c < h) {
                emit(&mut out, c, &new)?;
            }
            match changed.next_if(|(c, _)| *c == h) {
                Some((_, new)) => emit(&mut out, h, &new)?,
                None => emit(&mut out, h, &old)?,
            }
        }
    }
    for (c, new) in changed {
        emit(&mut out, c, &new)?;
    }

    // The ledger: the base's entries in digest order with the run's set and removed ones.
    let in_base = |d: &Digest| base.and_then(|b| b.learned(d)).is_some();
    let mut edits: Vec<(Digest, Option<Learned>)> = snap.ledger.iter().map(|(&d, &l)| (d, Some(l))).collect();
    edits.extend(snap.ledger_gone.iter().filter(|d| !snap.ledger.contains_key(*d)).map(|&d| (d, None)));
    edits.sort_unstable();
    let base_count = base.and_then(|b| b.ledger).map_or(0, |l| l.count);
    let added = edits.iter().filter(|(d, l)| l.is_some() && !in_base(d)).count() as u64;
    let removed = edits.iter().filter(|(d, l)| l.is_none() && in_base(d)).count() as u64;
    if let Some(e) = base.and_then(|b| b.error.get()) {
        bail!("{e}");
    }
    let count = base_count + added - removed;
    let prefix = tokenfile::encode_ledger_prefix(count);
    put(&mut out, &prefix)?;
    let mut entries = 0u64;
    let mut entry = |out: &mut BufWriter<&mut File>, d: &Digest, l: Learned| -> Result<()> {
        entries += 1;
        put(out, &tokenfile::ledger_entry_bytes(d, l))
    };
    let mut edits = edits.into_iter().peekable();
    if let Some((b, r)) = &mut input {
        // The prefix and, when the snapshot holds the whole ledger, the entries: read for the
        // checksum only.
        let mut skip = b.header.ledger_len;
        if let Some(l) = b.ledger {
            skip = l.start - (HEADER as u64 + b.header.records * RECORD as u64);
        }
        let mut buf = vec![0u8; 1 << 16];
        while skip > 0 {
            let n = (buf.len() as u64).min(skip) as usize;
            r.read_exact(&mut buf[..n]).map_err(|e| b.src.read_error(e))?;
            in_sum.update(&buf[..n]);
            skip -= n as u64;
        }
        if let Some(l) = b.ledger {
            let mut e = [0u8; LEDGER_ENTRY];
            for _ in 0..l.count {
                r.read_exact(&mut e).map_err(|e| b.src.read_error(e))?;
                in_sum.update(&e);
                let d: Digest = e[..16].try_into().expect("16 bytes");
                while let Some((c, new)) = edits.next_if(|(c, _)| *c < d) {
                    if let Some(new) = new {
                        entry(&mut out, &c, new)?;
                    }
                }
                let kept = match edits.next_if(|(c, _)| *c == d) {
                    Some((_, new)) => new,
                    None => Learned::from_byte(e[16]),
                };
                if let Some(l) = kept {
                    entry(&mut out, &d, l)?;
                }
            }
        }
        if in_sum.finish() != b.header.body_checksum {
            return Err(refuse(corrupt(anyhow!("checksum mismatch in the token records or the ledger"), &b.src.path)));
        }
    }
    for (d, new) in edits {
        if let Some(l) = new {
            entry(&mut out, &d, l)?;
        }
    }
    if entries != count {
        bail!("internal error: {entries} ledger entries written, {count} expected");
    }
    out.flush().map_err(write_error)?;
    drop(out);
    let ledger_len = prefix.len() as u64 + count * LEDGER_ENTRY as u64;
    let head = tokenfile::header_bytes(snap.totals, now, records, ledger_len, out_sum.finish());
    tmp.file().write_all_at(&head, 0).map_err(write_error)?;
    tmp.file().sync_all().with_context(|| format!("cannot sync {}", tmp_path.display()))?;
    Ok(tmp)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::test_rng::splitmix as rng;

    /// A token file of `n` random tokens and `entries` ledger entries (sorted or not), its
    /// tokens and its ledger.
    pub(in crate::store) fn sample(
        n: usize,
        entries: usize,
        sorted_ledger: bool,
        seed: u64,
    ) -> (Vec<u8>, Vec<(u64, TokenRecord)>, WholeLedger) {
        let mut next = rng(seed);
        let day = today();
        let mut tokens: Vec<(u64, TokenRecord)> = (0..n as u32)
            .map(|i| (next(), TokenRecord { spam: 1 + i % 5, ham: i % 3, last_day: day - i % 50 }))
            .collect();
        tokens.sort_unstable_by_key(|t| t.0);
        tokens.dedup_by_key(|t| t.0);
        let mut ledger: Vec<(Digest, Learned)> = (0..entries)
            .map(|i| {
                let mut d = [0u8; 16];
                d[..8].copy_from_slice(&next().to_le_bytes());
                d[8..].copy_from_slice(&next().to_le_bytes());
                (d, Learned::from_byte((i % 6) as u8).unwrap())
            })
            .collect();
        if sorted_ledger {
            ledger.sort_unstable();
        }
        let file = tokenfile::encode(Totals { ham: 10, spam: 10 }, 0, &tokens, &ledger);
        (file, tokens, ledger)
    }

    /// Lookups read the same from the mapped file and, when it cannot be mapped (an address-
    /// space limit), with `pread`; and a ledger not in digest order is handed over whole.
    #[test]
    fn lookups_read_the_file_mapped_or_not() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(DB_FILE);
        let (file, tokens, ledger) = sample(3000, 500, true, 3);
        std::fs::write(&path, &file).unwrap();
        let (mut base, whole) = Base::open(&path, true).unwrap().unwrap();
        assert!(whole.is_none() && base.src.map.is_some());
        let mut next = rng(99);
        for mapped in [true, false] {
            if !mapped {
                base.src.map = None;
            }
            for (h, r) in tokens.iter().step_by(7) {
                assert_eq!(base.record(*h), Some(*r));
            }
            for _ in 0..200 {
                let h = next();
                assert_eq!(base.record(h), tokens.binary_search_by_key(&h, |t| t.0).ok().map(|i| tokens[i].1));
            }
            for (d, l) in &ledger {
                assert_eq!(base.learned(d), Some(*l));
            }
            assert_eq!(base.learned(&[0x5a; 16]), None);
            assert!(base.error.get().is_none());
        }
        // A ledger out of order (no spamfilt wrote one): read whole, nothing looked up in the file.
        let (file, _, ledger) = sample(10, 40, false, 4);
        std::fs::write(&path, &file).unwrap();
        let (base, whole) = Base::open(&path, false).unwrap().unwrap();
        assert_eq!(whole, Some(ledger.clone()));
        assert_eq!(base.learned(&ledger[0].0), None);
    }

    /// The ledger's length prefix is bincode's, at every size of it.
    #[test]
    fn the_ledger_prefix_is_bincodes() {
        for count in [0u64, 1, 250, 251, 65_535, 65_536, 1 << 32] {
            let prefix = tokenfile::encode_ledger_prefix(count);
            let len = prefix.len() as u64 + count * LEDGER_ENTRY as u64;
            assert_eq!(tokenfile::ledger_prefix(&prefix, len).unwrap(), (count, prefix.len()));
            assert!(tokenfile::ledger_prefix(&prefix, len + 1).is_err());
        }
        let entries: Vec<(Digest, u8)> = vec![([1; 16], 0); 300];
        let bytes = bincode::encode_to_vec(&entries, bincode::config::standard()).unwrap();
        assert_eq!(&bytes[..3], &tokenfile::encode_ledger_prefix(300)[..]);
    }
}
