//! A writer's view of `reputation.db` without loading it, and the streaming merge that writes
//! the next one (as `store::merge` does for `tokens.db`).
//!
//! A training run changes the records its messages name (their relays, senders and
//! correspondents) and those the journal names (DNS answers, honeypot hits): a few for one
//! message, of the hundreds of thousands a database may hold. So a writer does not decode the
//! file into memory: [`Base::open`] checks it through once in fixed buffers (the checksum, the
//! index's order and bounds, every record's decoding), the run looks up the records it touches
//! in the file itself ([`Base::get`]) and keeps only those (`Reputation::records`, and the keys
//! it removed, `Reputation::gone`), and [`write`] makes the new file by reading the old one once
//! in key order and merging the sorted changes in. Memory is the changes plus fixed buffers,
//! whatever the size of the database; the new file is written aside and renamed over the old
//! one, so readers (deliveries map the file) see the old file or the new one and a crash
//! leaves the old one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::reader::parse_header_of;
use super::{config, Fnv, Key, Record, FILE, HEADER, INDEX, MAGIC_V1};
use crate::store::files;

/// Buffer size of the streaming reads and writes.
const BUFFER: usize = 1 << 20;

/// The reputation file a writer replaces, open and not loaded.
pub(crate) struct Base {
    /// The file, mapped when small (see [`files::Replaced`]).
    src: files::Replaced,
    count: u64,
    /// Messages learned with a relay over all its IP records (summed at open: the header's
    /// figure is 0 in files written before it was kept).
    pub(super) relayed: u64,
    /// The first error a lookup met reading the file (reported when the run writes).
    error: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Base").field("path", &self.src.path).field("count", &self.count).finish_non_exhaustive()
    }
}

/// What [`Base::open`] found.
pub(crate) enum Opened {
    /// A file that can be merged into as it is.
    Stream(Base),
    /// A file that needs every record in memory once: format 1 (its IPv6 records are merged
    /// into their /64s, see `Reputation::merge_v6_members`), or an index out of key order (no
    /// spamfilt wrote one). The caller loads it whole; the next write is format 2, in order.
    Whole,
}

fn corrupt(e: anyhow::Error, path: &Path) -> anyhow::Error {
    e.context(format!("the reputation database {} is corrupt", path.display()))
}

impl Base {
    /// Opens `path` for a writer and checks it all, reading it through twice in fixed buffers:
    /// the header, the checksum, the index's order and bounds, and that every record decodes
    /// (what loading it whole checked). `Ok(None)` when there is no file.
    pub(crate) fn open(path: &Path) -> Result<Option<Opened>> {
        let Some((file, meta)) = files::open_read(path, "reputation database")? else { return Ok(None) };
        let len = meta.len();
        let mut head = [0u8; HEADER];
        let n = len.min(HEADER as u64) as usize;
        file.read_exact_at(&mut head[..n], 0)
            .map_err(|e| files::cannot_io(e, format!("cannot read the reputation database {}", path.display())))?;
        let count = parse_header_of(&head[..n], len).map_err(|e| corrupt(e, path))? as u64;
        if &head[..8] == MAGIC_V1 {
            return Ok(Some(Opened::Whole));
        }
        let src = files::Replaced::new(path, file, len, "reputation database");
        let mut base = Base { src, count, relayed: 0, error: Default::default() };
        let stored = u64::from_le_bytes(head[16..24].try_into().expect("8 bytes"));
        let blob_len = len - base.blob_at();
        // First pass: the checksum over the index and the blob, the index's order and bounds.
        let mut sum = Fnv::new();
        let mut r = base.src.reader(HEADER as u64);
        let mut e = [0u8; INDEX];
        let mut previous: Option<Key> = None;
        let mut sorted = true;
        for _ in 0..count {
            r.read_exact(&mut e).map_err(|e| base.src.read_error(e))?;
            sum.update(&e);
            let (k, off, n) = entry(&e);
            sorted &= previous.is_none_or(|p| p < k);
            previous = Some(k);
            if off + n > blob_len {
                return Err(corrupt(anyhow!("record out of bounds"), path));
            }
        }
        let mut buf = vec![0u8; 1 << 16];
        let mut left = blob_len;
        while left > 0 {
            let n = (buf.len() as u64).min(left) as usize;
            r.read_exact(&mut buf[..n]).map_err(|e| base.src.read_error(e))?;
            sum.update(&buf[..n]);
            left -= n as u64;
        }
        if sum.finish() != stored {
            return Err(corrupt(anyhow!("checksum mismatch"), path));
        }
        if !sorted {
            return Ok(Some(Opened::Whole));
        }
        // Second pass: every record decodes; the messages learned with a relay.
        let mut relayed = 0u64;
        base.each(|_, bytes| {
            let (r, _): (Record, usize) = bincode::decode_from_slice(bytes, config())
                .map_err(|_| corrupt(anyhow!("undecodable record"), path))?;
            if let Record::Ip(ip) = r {
                relayed += ip.spam as u64 + ip.ham as u64;
            }
            Ok(())
        })?;
        base.relayed = relayed;
        Ok(Some(Opened::Stream(base)))
    }

    fn blob_at(&self) -> u64 {
        HEADER as u64 + self.count * INDEX as u64
    }

    /// Every record in key order, its key and its bytes, reading the index and the blob each
    /// in order (a record whose bytes are not where the previous one ended is read where it is).
    fn each(&self, mut f: impl FnMut(Key, &[u8]) -> Result<()>) -> Result<()> {
        let mut index = self.src.reader(HEADER as u64);
        let mut blob = self.src.reader(self.blob_at());
        let mut at = 0u64;
        let mut e = [0u8; INDEX];
        let mut bytes = Vec::new();
        for _ in 0..self.count {
            index.read_exact(&mut e).map_err(|e| self.src.read_error(e))?;
            let (k, off, n) = entry(&e);
            bytes.resize(n as usize, 0);
            if off == at {
                blob.read_exact(&mut bytes).map_err(|e| self.src.read_error(e))?;
                at += n;
            } else {
                self.src.read_exact_at(&mut bytes, self.blob_at() + off)?;
            }
            f(k, &bytes)?;
        }
        Ok(())
    }

    /// The index position of `key`, if the file has it; a read error is kept for [`write`]
    /// (and reads as absent meanwhile: the run's result is never written).
    fn find(&self, key: &Key) -> Option<(u64, u64)> {
        let (mut lo, mut hi) = (0u64, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let mut e = [0u8; INDEX];
            if let Err(err) = self.src.read_exact_at(&mut e, HEADER as u64 + mid * INDEX as u64) {
                let _ = self.error.set(format!("{err:#}"));
                return None;
            }
            let (k, off, n) = entry(&e);
            match k.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some((off, n)),
            }
        }
        None
    }

    /// Whether the file has a record under `key`.
    pub(super) fn contains(&self, key: &Key) -> bool {
        self.find(key).is_some()
    }

    /// The record under `key`, if the file has one.
    /// The first error a lookup met reading the file, if any.
    pub(super) fn lookup_error(&self) -> Option<&str> {
        self.error.get().map(String::as_str)
    }

    pub(super) fn get(&self, key: &Key) -> Option<Record> {
        let (off, n) = self.find(key)?;
        let mut bytes = vec![0u8; n as usize];
        if let Err(err) = self.src.read_exact_at(&mut bytes, self.blob_at() + off) {
            let _ = self.error.set(format!("{err:#}"));
            return None;
        }
        match bincode::decode_from_slice::<Record, _>(&bytes, config()) {
            Ok((r, _)) => Some(r),
            Err(_) => {
                let _ = self.error.set(format!("{:#}", corrupt(anyhow!("undecodable record"), &self.src.path)));
                None
            }
        }
    }
}

/// An index entry: the key, the record's offset in the blob and its length.
fn entry(e: &[u8; INDEX]) -> (Key, u64, u64) {
    let k: Key = e[..16].try_into().expect("16 bytes");
    let off = u32::from_le_bytes(e[16..20].try_into().expect("4 bytes")) as u64;
    let n = u32::from_le_bytes(e[20..24].try_into().expect("4 bytes")) as u64;
    (k, off, n)
}

/// Bytes written at a position of a file, through a buffer (the index and the blob of the new
/// file are written at once, each at its own place).
struct At<'a> {
    file: &'a File,
    path: &'a Path,
    pos: u64,
    buf: Vec<u8>,
}

impl At<'_> {
    fn put(&mut self, b: &[u8]) -> Result<()> {
        if self.buf.len() + b.len() > BUFFER {
            self.flush()?;
        }
        self.buf.extend_from_slice(b);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.file.write_all_at(&self.buf, self.pos).with_context(|| format!("cannot write {}", self.path.display()))?;
        self.pos += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

/// What `write` asks of every record when given (`ip expire`): whether it stays; it may edit it.
pub(super) type Keep<'a> = &'a mut dyn FnMut(&Key, &mut Record) -> bool;

/// A record of the merge: the base file's bytes, or the run's record.
enum Item<'a> {
    Old(&'a [u8]),
    New(&'a Record),
}

/// The base file's records in key order with `changes` merged in and `gone` left out, each
/// handed to `f`.
fn merged(
    base: Option<&Base>,
    changes: &BTreeMap<Key, Record>,
    gone: &BTreeSet<Key>,
    mut f: impl FnMut(&Key, Item<'_>) -> Result<()>,
) -> Result<()> {
    let mut changed = changes.iter().peekable();
    if let Some(b) = base {
        b.each(|k, old| {
            while let Some((c, r)) = changed.next_if(|(c, _)| **c < k) {
                f(c, Item::New(r))?;
            }
            match changed.next_if(|(c, _)| **c == k) {
                Some((_, r)) => f(&k, Item::New(r)),
                None if gone.contains(&k) => Ok(()),
                None => f(&k, Item::Old(old)),
            }
        })?;
    }
    for (c, r) in changed {
        f(c, Item::New(r))?;
    }
    Ok(())
}

/// Writes the reputation file to a temporary file in `dir` (synced, not yet renamed): the base
/// file's records read once in key order, with `changes` (records set) and `gone` (records
/// removed) merged in; all of `changes` when there is no base. `relayed` goes in the header.
/// With `keep`, every record is decoded and offered to it (read twice: once to count what
/// stays, once to write it), and the header's `relayed` is summed over what stays. Returns the
/// file, how many records were dropped and how many written.
pub(super) fn write(
    dir: &Path,
    base: Option<&Base>,
    changes: &BTreeMap<Key, Record>,
    gone: &BTreeSet<Key>,
    relayed: u64,
    mut keep: Option<Keep<'_>>,
) -> Result<(files::TempFile, (u64, u64))> {
    if let Some(e) = base.and_then(|b| b.error.get()) {
        bail!("{e}");
    }
    let path = base.map(|b| b.src.path.clone()).unwrap_or_else(|| dir.join(FILE));
    let decode = |item: Item<'_>| -> Result<Record> {
        match item {
            Item::New(r) => Ok(r.clone()),
            Item::Old(bytes) => bincode::decode_from_slice::<Record, _>(bytes, config())
                .map(|(r, _)| r)
                .map_err(|_| corrupt(anyhow!("undecodable record"), &path)),
        }
    };
    let (count, dropped) = match keep.as_mut() {
        None => {
            let in_base = |k: &Key| base.is_some_and(|b| b.contains(k));
            let added = changes.keys().filter(|k| !in_base(k)).count() as u64;
            let removed = gone.iter().filter(|k| !changes.contains_key(*k) && in_base(k)).count() as u64;
            (base.map_or(0, |b| b.count) + added - removed, 0)
        }
        Some(keep) => {
            let (mut kept, mut seen) = (0u64, 0u64);
            merged(base, changes, gone, |k, item| {
                seen += 1;
                kept += u64::from(keep(k, &mut decode(item)?));
                Ok(())
            })?;
            (kept, seen - kept)
        }
    };
    if let Some(e) = base.and_then(|b| b.error.get()) {
        bail!("{e}");
    }
    anyhow::ensure!(count <= u32::MAX as u64, "too many reputation records: {count}");
    let blob_at = HEADER as u64 + count * INDEX as u64;

    let mut tmp = files::TempFile::new(dir, FILE)?;
    let tmp_path = tmp.path().to_path_buf();
    let file: &File = tmp.file();
    let mut index = At { file, path: &tmp_path, pos: HEADER as u64, buf: Vec::with_capacity(BUFFER) };
    let mut blob = At { file, path: &tmp_path, pos: blob_at, buf: Vec::with_capacity(BUFFER) };
    let mut sum = Fnv::new();
    let mut written = 0u64;
    let mut blob_len = 0u64;
    let mut relayed_kept = 0u64;
    let mut emit = |k: &Key, bytes: &[u8]| -> Result<()> {
        anyhow::ensure!(blob_len + bytes.len() as u64 <= u32::MAX as u64, "the reputation database is too large");
        let mut e = [0u8; INDEX];
        e[..16].copy_from_slice(k);
        e[16..20].copy_from_slice(&(blob_len as u32).to_le_bytes());
        e[20..24].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        sum.update(&e);
        index.put(&e)?;
        blob.put(bytes)?;
        blob_len += bytes.len() as u64;
        written += 1;
        Ok(())
    };
    merged(base, changes, gone, |k, item| match (keep.as_mut(), item) {
        (None, Item::Old(bytes)) => emit(k, bytes),
        (None, Item::New(r)) => emit(k, &super::encode_record(r)),
        (Some(keep), item) => {
            let mut r = decode(item)?;
            if !keep(k, &mut r) {
                return Ok(());
            }
            if let Record::Ip(ip) = &r {
                relayed_kept += ip.spam as u64 + ip.ham as u64;
            }
            emit(k, &super::encode_record(&r))
        }
    })?;
    if written != count {
        bail!("internal error: {written} reputation records written, {count} expected");
    }
    index.flush()?;
    blob.flush()?;
    // The checksum runs over the index, then the blob: the blob is read back for it.
    let mut r = BufReader::with_capacity(BUFFER, files::Positioned::new(file, blob_at));
    let mut buf = vec![0u8; 1 << 16];
    let mut left = blob_len;
    while left > 0 {
        let n = (buf.len() as u64).min(left) as usize;
        r.read_exact(&mut buf[..n]).with_context(|| format!("cannot read {}", tmp_path.display()))?;
        sum.update(&buf[..n]);
        left -= n as u64;
    }
    let relayed = if keep.is_some() { relayed_kept } else { relayed };
    let mut head = Vec::with_capacity(HEADER);
    head.extend_from_slice(super::MAGIC);
    head.extend_from_slice(&(count as u32).to_le_bytes());
    head.extend_from_slice(&(relayed.min(u32::MAX as u64) as u32).to_le_bytes());
    head.extend_from_slice(&sum.finish().to_le_bytes());
    file.write_all_at(&head, 0).with_context(|| format!("cannot write {}", tmp_path.display()))?;
    file.sync_all().with_context(|| format!("cannot sync {}", tmp_path.display()))?;
    Ok((tmp, (dropped, written)))
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::path::Path;

    use super::super::journal::append_journal;
    use super::super::*;
    use super::write;
    use crate::received::v4;
    use crate::store::Notes;
    use crate::test_rng::splitmix as rng;

    fn ip(n: u64) -> IpAddr {
        if n.is_multiple_of(7) {
            format!("2001:db8:{:x}:{:x}::{:x}", (n >> 16) & 0xffff, n & 0xff, n % 3).parse().unwrap()
        } else {
            v4(10, (n >> 16) as u8, (n >> 8) as u8, n as u8)
        }
    }

    /// A database of every kind of record, about `n` of them, saved whole in `dir`.
    fn sample(dir: &Path, n: u64, seed: u64) {
        let mut next = rng(seed);
        let mut rep = Reputation::default();
        for i in 0..n {
            let a = ip(next() % (n * 4));
            let now = 1_000_000 + next() % 100_000;
            match i % 6 {
                0 | 1 => rep.count_learned(a, next().is_multiple_of(2), 1, now),
                2 => rep.merge_dns(
                    &DnsAnswers {
                        ptr: vec![(a, Cached { value: Some(format!("host{i}.example")), expires: now + 86_400 })],
                        dnsbl: vec![(a, "zen.example".into(), Cached { value: i % 4 == 0, expires: now + 3600 })],
                        uribl: vec![(
                            format!("d{i}.example"),
                            "multi.example".into(),
                            Cached { value: true, expires: now },
                        )],
                    },
                    now,
                ),
                3 => rep.add_correspondent(&format!("friend{}@klant.example", next() % n), now),
                4 => rep.count_sender(
                    &format!("nieuws{}@winkel.example", next() % n),
                    a,
                    next().is_multiple_of(3),
                    1,
                    now,
                ),
                _ => rep.honeypot_hit(a, now),
            }
        }
        rep.add_own("me@mijn.example", 1_000_000);
        rep.save(dir, &mut Notes::new()).unwrap();
    }

    /// The same edits on a database, whatever way it is held.
    fn edit(rep: &mut Reputation, n: u64, seed: u64) {
        let mut next = rng(seed);
        for i in 0..n / 10 + 5 {
            let a = ip(next() % (n * 4));
            let now = 2_000_000 + i;
            match i % 9 {
                0 => rep.count_learned(a, true, 1, now),
                1 => rep.count_learned(a, false, -1, now),
                2 => rep.take_correspondent(&format!("friend{}@klant.example", next() % n)),
                3 => rep.add_correspondent(&format!("new{i}@klant.example"), now),
                4 => rep.count_sender(&format!("nieuws{}@winkel.example", next() % n), a, false, -1, now),
                5 => rep.honeypot_hits(a, 2, now),
                6 => rep.add_own(&format!("friend{}@klant.example", next() % n), now),
                7 => rep.set(ip_key(a), None),
                _ => {
                    let k = address_key(&format!("friend{}@klant.example", next() % n));
                    let before = rep.get(&k);
                    rep.set(k, Some(Record::Correspondent(Correspondent::default())));
                    rep.set(k, before);
                }
            }
        }
    }

    fn journal(dir: &Path, seed: u64) {
        let mut next = rng(seed);
        let wait = std::time::Duration::from_millis(200);
        for i in 0..20 {
            let a = ip(next() % 4000);
            let answers = DnsAnswers {
                ptr: vec![(a, Cached { value: None, expires: 3_000_000 })],
                uribl: vec![(format!("d{i}.example"), "multi.example".into(), Cached { value: false, expires: 1 })],
                ..Default::default()
            };
            let hit = (i % 3 == 0).then(|| ip(next() % 4000));
            assert!(append_journal(dir, &JournalEntry::new(&answers, hit, 2_500_000 + i), wait).unwrap());
        }
    }

    /// Opened for a run and merged, or loaded whole and written whole: the same file, byte for
    /// byte, whatever the edits (every record kept, changes applied, removals removed), the
    /// journal folded in the same way.
    #[test]
    fn the_merge_writes_what_loading_it_whole_writes() {
        for (n, seed) in [(0u64, 1u64), (1, 2), (50, 3), (1000, 4), (5000, 5)] {
            let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            if n > 0 {
                sample(a.path(), n, seed);
                sample(b.path(), n, seed);
            }
            journal(a.path(), seed);
            journal(b.path(), seed);
            let mut whole = Reputation::load(a.path(), &mut Notes::new()).unwrap();
            let mut part = Reputation::open(b.path(), &mut Notes::new()).unwrap();
            assert_eq!(part.is_partial(), n > 0);
            if n == 1000 {
                // Looked up with `pread`, as a file too large to map is.
                let b = part.base.as_mut().unwrap();
                std::sync::Arc::get_mut(&mut b.0).unwrap().src.map = None;
            }
            assert!(part.records.len() <= 100, "{n}: {} records in memory", part.records.len());
            edit(&mut whole, n.max(100), seed + 100);
            edit(&mut part, n.max(100), seed + 100);
            assert_eq!(part.relayed(), whole.relayed(), "{n}");
            for k in whole.records.keys().take(200) {
                assert_eq!(part.get(k), whole.get(k));
            }
            whole.save(a.path(), &mut Notes::new()).unwrap();
            part.save(b.path(), &mut Notes::new()).unwrap();
            let (fa, fb) = (std::fs::read(a.path().join(FILE)).unwrap(), std::fs::read(b.path().join(FILE)).unwrap());
            assert_eq!(&fb[..8], MAGIC);
            assert!(fa == fb, "{n}: the merged file differs from the whole one");
            assert!(!b.path().join(super::super::JOURNAL).exists());
            // And what it holds reads back.
            assert_eq!(Reputation::load(b.path(), &mut Notes::new()).unwrap().records, whole.records);
        }
    }

    /// `ip expire` streamed drops and keeps what expiring the whole database does, and writes
    /// the same file.
    #[test]
    fn expiry_streamed_is_expiry_whole() {
        for (now, days) in [(1_050_000u64, 1u32), (1_100_000, 0), (1_000_000, 30), (9_000_000, 1)] {
            let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            sample(a.path(), 3000, 21);
            sample(b.path(), 3000, 21);
            journal(a.path(), 21);
            journal(b.path(), 21);
            let mut whole = Reputation::load(a.path(), &mut Notes::new()).unwrap();
            let mut part = Reputation::open(b.path(), &mut Notes::new()).unwrap();
            assert!(part.is_partial());
            edit(&mut whole, 3000, 22);
            edit(&mut part, 3000, 22);
            let total = whole.records.len() as u64;
            let dropped = whole.expire(now, days) as u64;
            whole.save(a.path(), &mut Notes::new()).unwrap();
            let counts = part.save_expired(b.path(), &mut Notes::new(), now, days).unwrap();
            assert_eq!(counts, (dropped, total - dropped), "{now} {days}");
            assert!(dropped > 0 || now == 1_000_000, "{now} {days}: nothing expired");
            let (fa, fb) = (std::fs::read(a.path().join(FILE)).unwrap(), std::fs::read(b.path().join(FILE)).unwrap());
            assert!(fa == fb, "{now} {days}: the file expired as it was copied differs");
            assert_eq!(Reader::open(b.path()).unwrap().unwrap().relayed(), whole.relayed());
        }
    }

    /// A run killed before its rename leaves the old file, byte for byte, which readers go on
    /// reading; one mapped before the rename keeps its file after it.
    #[test]
    fn a_run_that_does_not_finish_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        sample(dir.path(), 500, 9);
        let path = dir.path().join(FILE);
        let before = std::fs::read(&path).unwrap();
        let mut part = Reputation::open(dir.path(), &mut Notes::new()).unwrap();
        let a = v4(192, 0, 2, 77);
        part.count_learned(a, true, 1, 5_000_000);
        let Some(b) = &part.base else { panic!("opened whole") };
        let (tmp, _) = write(dir.path(), Some(&b.0), &part.records, &part.gone, part.relayed(), None).unwrap();
        // Written and synced aside, not renamed: as a run killed now leaves it.
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let mapped = Reader::open(dir.path()).unwrap().unwrap();
        assert!(mapped.ip(a).is_none());
        drop(tmp);
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let left = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".tmp-"));
        assert_eq!(left.count(), 0, "the temporary file is removed");
        part.save(dir.path(), &mut Notes::new()).unwrap();
        assert!(mapped.ip(a).is_none(), "a reader keeps the file it mapped");
        assert_eq!(Reader::open(dir.path()).unwrap().unwrap().ip(a).unwrap().spam, 1);
    }

    /// A record that could not be read during the run (an I/O error, a record that no longer
    /// decodes) stops the run at `check_lookups`, before `update_all` writes tokens.db (review of
    /// the streaming change: it surfaced only at reputation.db's save, after tokens.db).
    #[test]
    fn a_lookup_error_stops_the_run_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        sample(dir.path(), 50, 12);
        let part = Reputation::open(dir.path(), &mut Notes::new()).unwrap();
        part.check_lookups().unwrap();
        let Some(b) = &part.base else { panic!("opened whole") };
        let _ = b.0.error.set("cannot read the reputation database: Input/output error".into());
        let e = part.check_lookups().unwrap_err().to_string();
        assert!(e.contains("Input/output error"), "{e}");
    }

    /// What loading the file whole refused, opening it refuses: a bad checksum, a record that
    /// does not decode (a newer kind), a truncated file, a newer format.
    #[test]
    fn a_damaged_file_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        sample(dir.path(), 300, 11);
        let path = dir.path().join(FILE);
        let good = std::fs::read(&path).unwrap();
        let open = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            let e = Reputation::open(dir.path(), &mut Notes::new()).err().map(|e| format!("{e:#}"));
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "changed");
            e
        };
        assert!(open(&good).is_none());
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 3] ^= 1;
        assert!(open(&bad).unwrap().contains("checksum"), "{bad:?}");
        assert!(open(&good[..n - 1]).unwrap().contains("corrupt"));
        assert!(open(&good[..30]).unwrap().contains("truncated"));
        // A record of a kind this binary does not know, the checksum made right.
        let mut rep = Reputation::default();
        rep.count_learned(v4(192, 0, 2, 1), true, 1, 10);
        let mut file = rep.encode();
        let count = u32::from_le_bytes(file[8..12].try_into().unwrap()) as usize;
        file[HEADER + count * INDEX] = 9;
        let sum = checksum(&file[HEADER..]);
        file[16..24].copy_from_slice(&sum.to_le_bytes());
        assert!(open(&file).unwrap().contains("undecodable"));
        let mut newer = good.clone();
        newer[6..8].copy_from_slice(b"03");
        assert!(open(&newer).unwrap().contains("format 03"));
    }

    /// A format 1 file is loaded whole once (its IPv6 records go to their /64s) and written as
    /// format 2, as loading it did; then merged into.
    #[test]
    fn format_1_is_upgraded_by_the_first_run() {
        let dir = tempfile::tempdir().unwrap();
        let a: IpAddr = "2001:db8:1:2::5".parse().unwrap();
        let mut old = Reputation::default();
        old.records
            .insert(exact_key(a), Record::Ip(IpRecord { spam: 2, first_seen: 5, last_seen: 5, ..Default::default() }));
        old.count_learned(v4(192, 0, 2, 1), false, 1, 5);
        let mut bytes = old.encode();
        bytes[..8].copy_from_slice(MAGIC_V1);
        std::fs::write(dir.path().join(FILE), &bytes).unwrap();
        let mut part = Reputation::open(dir.path(), &mut Notes::new()).unwrap();
        assert!(!part.is_partial());
        assert_eq!(part.ip(a).unwrap().spam, 2);
        assert!(!part.records.contains_key(&exact_key(a)));
        part.count_learned(a, true, 1, 10);
        part.save(dir.path(), &mut Notes::new()).unwrap();
        assert_eq!(&std::fs::read(dir.path().join(FILE)).unwrap()[..8], MAGIC);
        let mut next = Reputation::open(dir.path(), &mut Notes::new()).unwrap();
        assert!(next.is_partial());
        assert_eq!(next.ip("2001:db8:1:2::9".parse().unwrap()).unwrap().spam, 3);
        assert_eq!(next.relayed(), 4);
        next.count_learned(v4(192, 0, 2, 1), false, 1, 20);
        next.save(dir.path(), &mut Notes::new()).unwrap();
        let back = Reader::open(dir.path()).unwrap().unwrap();
        assert_eq!((back.relayed(), back.len()), (5, 2));
    }
}
