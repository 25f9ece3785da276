//! `reputation.journal`: what filter runs learned, appended without the database lock.

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};

use super::{checksum, config, domain_key, exact_key, ip_from_key, ip_key, Cached, DnsAnswers, Key};
use crate::store::commit::Folded;
use crate::store::Notes;

/// The journal: what filter runs learned (DNS answers, honeypot hits), appended without taking
/// the database lock, so a delivery never rewrites `reputation.db` (whose size would then set
/// its cost). Every writer (`train`, `forget`, `purge`, `ip`) folds it into `reputation.db` and
/// removes it.
///
/// Frames (all integers little endian): the magic `SFJ` 0x01, the body's length (u32), an
/// FNV-1a 64 checksum of the body (u64), the body (a bincode `JournalEntry`). A damaged frame
/// (bad checksum, undecodable, a length that runs into the next frame) is skipped and reading
/// resumes at the next magic, so one bad frame never hides the valid ones after it; a frame cut
/// short at the end (a crash mid-append) ends the journal harmlessly. Journals of versions
/// before the magic (frames of a u32 length and a bincode entry) are read from the start until
/// the first frame that does not decode.
///
/// Readers (a delivery) replay only the journal's last `MAX_REPLAY` bytes, so a journal left to
/// grow (no training for a long time) costs a delivery at most that; older answers are asked
/// again until the next training run folds them in.
pub const JOURNAL: &str = "reputation.journal";
pub(super) const JOURNAL_LOCK: &str = "reputation.journal.lock";
pub(super) const FRAME_MAGIC: &[u8; 4] = b"SFJ\x01";
pub(super) const FRAME_HEADER: usize = 16;
/// No entry is this large (a message's DNS answers are a few hundred bytes).
const MAX_FRAME: usize = 1 << 20;
/// How much of the journal's end a reader replays: about 400 DNS-enabled deliveries' answers
/// (an entry with a reverse name, a DNSBL and two URIBL answers is about 150 bytes). Measured on
/// a release build: replaying 64 KiB adds about 1-3 ms to a delivery, 256 KiB 11-20 ms.
pub const MAX_REPLAY: u64 = 64 << 10;

/// One filter run's contribution to the reputation database.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct JournalEntry {
    pub now: u64,
    pub honeypot: Option<Key>,
    pub ptr: Vec<(Key, Cached<Option<String>>)>,
    pub dnsbl: Vec<(Key, String, Cached<bool>)>,
    pub uribl: Vec<(String, String, Cached<bool>)>,
}

impl JournalEntry {
    pub fn new(answers: &DnsAnswers, honeypot: Option<IpAddr>, now: u64) -> JournalEntry {
        JournalEntry {
            now,
            honeypot: honeypot.map(ip_key),
            ptr: answers.ptr.iter().map(|(ip, c)| (exact_key(*ip), c.clone())).collect(),
            dnsbl: answers.dnsbl.iter().map(|(ip, z, c)| (exact_key(*ip), z.clone(), c.clone())).collect(),
            uribl: answers.uribl.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.honeypot.is_none() && self.ptr.is_empty() && self.dnsbl.is_empty() && self.uribl.is_empty()
    }

    /// The keys whose records applying it changes (each once). A honeypot hit is its address's
    /// /64's (an entry from before the /64s names the address).
    pub(super) fn keys(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .honeypot
            .iter()
            .map(|k| ip_key(ip_from_key(*k)))
            .chain(self.ptr.iter().map(|(k, _)| *k))
            .chain(self.dnsbl.iter().map(|(k, _, _)| *k))
            .chain(self.uribl.iter().map(|(d, _, _)| domain_key(d)))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The entry as one journal frame.
    fn frame(&self) -> Result<Vec<u8>> {
        let body = bincode::encode_to_vec(self, config()).context("cannot encode a journal entry")?;
        anyhow::ensure!(body.len() <= MAX_FRAME, "a journal entry of {} bytes is too large", body.len());
        let mut frame = Vec::with_capacity(FRAME_HEADER + body.len());
        frame.extend_from_slice(FRAME_MAGIC);
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frame.extend_from_slice(&checksum(&body).to_le_bytes());
        frame.extend_from_slice(&body);
        Ok(frame)
    }
}

pub(super) fn journal_lock(dir: &Path) -> Result<std::fs::File> {
    crate::store::files::open_write(&dir.join(JOURNAL_LOCK), "journal lock file", false)
}

/// The journal's lock, taken exclusively (waiting for appenders, who hold it shared while they
/// append): no entry is appended until it is dropped.
pub(crate) fn lock_journal(dir: &Path) -> Result<std::fs::File> {
    let lock = journal_lock(dir)?;
    lock.lock().with_context(|| format!("cannot lock {}", dir.join(JOURNAL_LOCK).display()))?;
    Ok(lock)
}

/// Appends one entry to the journal (a filter run). Waits at most `wait` for a writer that is
/// folding the journal in; `Ok(false)` if it had to give up (the entry is then dropped: DNS
/// answers are asked again, a honeypot message's IP is still counted when it is learned).
pub fn append_journal(dir: &Path, e: &JournalEntry, wait: std::time::Duration) -> Result<bool> {
    use std::io::Write;
    if e.is_empty() {
        return Ok(true);
    }
    let frame = e.frame()?;
    crate::store::files::ensure_dir(dir)?;
    let lock = journal_lock(dir)?;
    let deadline = std::time::Instant::now() + wait;
    loop {
        match lock.try_lock_shared() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
            Err(std::fs::TryLockError::Error(err)) => return Err(err).context("cannot lock the reputation journal"),
        }
    }
    let path = dir.join(JOURNAL);
    let mut f = crate::store::files::open_write(&path, "reputation journal", true)?;
    // One write of the whole frame: appends from concurrent filters do not interleave.
    f.write_all(&frame).with_context(|| format!("cannot append to {}", path.display()))?;
    Ok(true)
}

/// Parses journal bytes: the entries of the intact frames, where the last whole frame ends, and
/// how many bytes were skipped as damaged. `legacy`: the bytes start at the journal's start, so
/// frames of the format before the magic are read until the first that does not decode.
fn parse_journal(bytes: &[u8], mut legacy: bool) -> (Vec<JournalEntry>, usize, usize) {
    let decode = |body: &[u8]| -> Option<JournalEntry> {
        match bincode::decode_from_slice::<JournalEntry, _>(body, config()) {
            Ok((e, used)) if used == body.len() => Some(e),
            _ => None,
        }
    };
    let (mut pos, mut end, mut skipped) = (0usize, 0usize, 0usize);
    let mut out = Vec::new();
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.starts_with(FRAME_MAGIC) {
            if rest.len() < FRAME_HEADER {
                break; // cut short at the end
            }
            let len = u32::from_le_bytes(rest[4..8].try_into().unwrap()) as usize;
            let sum = u64::from_le_bytes(rest[8..16].try_into().unwrap());
            if len <= MAX_FRAME && rest.len() < FRAME_HEADER + len {
                // Cut short at the end, unless another frame starts inside it (then it is damaged).
                if memchr::memmem::find(&rest[4..], FRAME_MAGIC).is_none() {
                    break;
                }
            } else if len <= MAX_FRAME {
                let body = &rest[FRAME_HEADER..FRAME_HEADER + len];
                if checksum(body) == sum {
                    if let Some(e) = decode(body) {
                        out.push(e);
                        pos += FRAME_HEADER + len;
                        end = pos;
                        legacy = false;
                        continue;
                    }
                }
            }
        } else if legacy && rest.len() >= 4 {
            let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
            match rest.get(4..4 + len).and_then(decode) {
                Some(e) => {
                    out.push(e);
                    pos += 4 + len;
                    end = pos;
                    continue;
                }
                // An old frame cut short at the end (nothing newer after it).
                None if rest.len() < 4 + len && memchr::memmem::find(rest, FRAME_MAGIC).is_none() => break,
                None => {}
            }
        }
        // Damaged: resume at the next frame's magic.
        legacy = false;
        match memchr::memmem::find(&rest[1..], FRAME_MAGIC) {
            Some(k) => {
                skipped += k + 1;
                pos += k + 1;
            }
            None => {
                skipped += rest.len();
                break;
            }
        }
    }
    (out, end, skipped)
}

/// The journal's entries from byte `from` on (writers), where the last whole frame ends (an
/// offset in the file), and how many damaged bytes were skipped.
pub(super) fn read_journal(dir: &Path, from: u64) -> Result<(Vec<JournalEntry>, u64, u64)> {
    use std::io::{Read, Seek};
    let path = dir.join(JOURNAL);
    let Some((mut file, _)) = crate::store::files::open_read(&path, "reputation journal")? else {
        return Ok((Vec::new(), 0, 0));
    };
    let mut bytes = Vec::new();
    file.seek(std::io::SeekFrom::Start(from))
        .and_then(|_| file.read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let (entries, end, skipped) = parse_journal(&bytes, from == 0);
    Ok((entries, from + end as u64, skipped as u64))
}

/// What a writer folds into `reputation.db` (under [`lock_journal`]): the entries from byte
/// `from` on, how many damaged bytes were skipped, and the whole journal as folded (see
/// `store::commit`: the commit drops exactly those bytes). No journal, or an empty one: no
/// entries and `None`.
pub(super) fn read_to_fold(dir: &Path, from: u64) -> Result<(Vec<JournalEntry>, u64, Option<Folded>)> {
    use std::io::Read;
    let path = dir.join(JOURNAL);
    let Some((mut file, meta)) = crate::store::files::open_read(&path, "reputation journal")? else {
        return Ok((Vec::new(), 0, None));
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.is_empty() {
        return Ok((Vec::new(), 0, None));
    }
    let at = (from as usize).min(bytes.len());
    let (entries, _, skipped) = parse_journal(&bytes[at..], at == 0);
    Ok((entries, skipped as u64, Some(Folded::of(&meta, &bytes))))
}

/// The entries of the journal's last `tail` bytes (readers): reading starts at the first frame
/// that begins there.
///
/// A journal of the format before the magic has nothing to find in its tail, so a reader saw
/// none of a longer one until the next training run folded it in. The first reader that meets
/// one longer than `tail` converts it (see [`convert_legacy`]) and then reads the new tail.
pub(super) fn read_journal_tail(dir: &Path, tail: u64) -> Result<Vec<JournalEntry>> {
    let path = dir.join(JOURNAL);
    let Some((mut file, meta)) = crate::store::files::open_read(&path, "reputation journal")? else {
        return Ok(Vec::new());
    };
    let from = meta.len().saturating_sub(tail);
    if from > 0 && !starts_with_magic(&mut file)? && convert_legacy(dir).unwrap_or(false) {
        return read_framed_tail(dir, tail);
    }
    read_tail_of(&mut file, &path, from, tail)
}

/// `read_journal_tail` once the journal is converted (no second conversion).
fn read_framed_tail(dir: &Path, tail: u64) -> Result<Vec<JournalEntry>> {
    let path = dir.join(JOURNAL);
    let Some((mut file, meta)) = crate::store::files::open_read(&path, "reputation journal")? else {
        return Ok(Vec::new());
    };
    read_tail_of(&mut file, &path, meta.len().saturating_sub(tail), tail)
}

/// Whether the journal starts with a frame's magic (the format since frames have one).
fn starts_with_magic(file: &mut std::fs::File) -> Result<bool> {
    use std::io::{Read, Seek};
    let mut head = [0u8; 4];
    file.seek(std::io::SeekFrom::Start(0))
        .and_then(|_| file.read_exact(&mut head))
        .context("cannot read the journal")?;
    Ok(&head == FRAME_MAGIC)
}

/// Rewrites a journal of the old format (or one whose first frame is damaged) as frames with
/// the magic, entry for entry, so readers find its tail. Done only when no writer is at work:
/// it takes the database directory's lock (a writer holds it from reading the journal to
/// folding it, and counts on its offsets) and the journal's lock (appenders hold it shared),
/// both without waiting; `Ok(false)` when either is busy or the journal is no longer old.
/// The entries are the ones a fold would keep; the file is written aside and renamed.
fn convert_legacy(dir: &Path) -> Result<bool> {
    let db_lock = crate::store::files::open_write(&dir.join(crate::store::LOCK_FILE), "lock file", false)?;
    if db_lock.try_lock().is_err() {
        return Ok(false);
    }
    // A commit killed part way leaves the journal's folded bytes for the next writer to drop
    // (see `store::commit`): rewritten now, they would no longer be found, and count twice.
    if crate::store::commit::pending(dir) {
        return Ok(false);
    }
    let lock = journal_lock(dir)?;
    if lock.try_lock().is_err() {
        return Ok(false);
    }
    let path = dir.join(JOURNAL);
    let Some((mut file, _)) = crate::store::files::open_read(&path, "reputation journal")? else { return Ok(false) };
    if starts_with_magic(&mut file)? {
        return Ok(false);
    }
    drop(file);
    let (entries, _, _) = read_journal(dir, 0)?;
    let mut framed = Vec::new();
    for e in &entries {
        framed.extend_from_slice(&e.frame()?);
    }
    crate::store::write_atomic(dir, JOURNAL, &framed)?;
    Ok(true)
}

fn read_tail_of(file: &mut std::fs::File, path: &Path, from: u64, tail: u64) -> Result<Vec<JournalEntry>> {
    use std::io::{Read, Seek};
    let mut bytes = Vec::new();
    file.seek(std::io::SeekFrom::Start(from))
        .and_then(|_| file.take(tail).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(parse_journal(&bytes, from == 0).0)
}

/// Notes, for the caller to tell the user, that a writer skipped damaged journal bytes.
pub(super) fn report_skipped(dir: &Path, skipped: u64, notes: &mut Notes) {
    if skipped > 0 {
        notes.push(format!(
            "skipped {skipped} damaged bytes in {}; every intact entry around them was kept",
            dir.join(JOURNAL).display()
        ));
    }
}
