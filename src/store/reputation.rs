//! The reputation database, `reputation.db` beside the token database: what spamfilt has
//! learned about senders.
//!
//! - IP addresses: first and last seen, when the last spam came, how many messages from it were
//!   learned as spam and as ham, honeypot hits, whether the user listed it by hand, and cached
//!   DNS answers (reverse name, DNS blocklists) with their expiry.
//! - Link domains: cached URI blocklist answers.
//! - Known correspondents: the people the user wrote to (from `train --ham` of sent mail).
//!
//! Layout (little-endian), chosen so a filter run reads only what it looks up:
//! ```text
//! 0   8  magic "SPFREP01"
//! 8   4  record count N
//! 12  4  messages learned with a relay (sum of spam and ham over the addresses; 0 before it was kept)
//! 16  8  checksum (FNV-1a 64) of everything after the header
//! 24  N × 24  index: key (16 bytes), offset (u32), length (u32), sorted by key
//! ..  records: each a bincode 2 encoding of `Record` at its offset in the blob
//! ```
//! Keys: an IP address is its 16-byte IPv6 form (IPv4 mapped); a domain or an address is the
//! first 16 bytes of SHA-256 of `domain:NAME` / `addr:ADDRESS`. The filter maps the file and
//! binary-searches the index (cost independent of the size); writers hold the database
//! directory's lock, read and verify everything, and replace the file atomically like the token
//! database. bincode 2.0.1 (pinned, serde-free) encodes the variable-length records.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest as _, Sha256};

const MAGIC: &[u8; 8] = b"SPFREP01";
const HEADER: usize = 24;
const INDEX: usize = 24;
pub const FILE: &str = "reputation.db";

/// A cached DNS answer and when it expires (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Cached<T> {
    pub value: T,
    pub expires: u64,
}

/// What is known about one IP address.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct IpRecord {
    pub first_seen: u64,
    pub last_seen: u64,
    /// When a message from it was last learned as spam or hit a honeypot (0: never).
    pub last_spam: u64,
    pub spam: u32,
    pub ham: u32,
    pub honeypot: u32,
    /// Added by hand (`spamfilt ip add`): a spam source until removed.
    pub manual: bool,
    /// The reverse-DNS name (`None`: there is none), when looked up.
    pub ptr: Option<Cached<Option<String>>>,
    /// DNS blocklist answers by zone: listed or not.
    pub dnsbl: Vec<(String, Cached<bool>)>,
}

impl IpRecord {
    /// Whether anything in the record is still worth keeping at `now`.
    fn alive(&self, now: u64, expire_days: u32) -> bool {
        let horizon = expire_days as u64 * 86_400;
        self.manual
            || (self.last_spam > 0 && now.saturating_sub(self.last_spam) < horizon)
            || (self.ham > 0 && now.saturating_sub(self.last_seen) < horizon)
            || self.ptr.as_ref().is_some_and(|c| c.expires > now)
            || self.dnsbl.iter().any(|(_, c)| c.expires > now)
    }
}

/// Cached URI blocklist answers for one link domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct DomainRecord {
    pub domain: String,
    pub uribl: Vec<(String, Cached<bool>)>,
}

/// Someone the user wrote to.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Correspondent {
    pub address: String,
    pub messages: u32,
    pub last: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Record {
    Ip(IpRecord),
    Domain(DomainRecord),
    Correspondent(Correspondent),
}

pub type Key = [u8; 16];

fn hashed(prefix: &str, name: &str) -> Key {
    let mut h = Sha256::new();
    h.update(prefix.as_bytes());
    h.update(name.to_ascii_lowercase().as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize()[..16]);
    k
}

/// 16 bytes for an address (IPv4 as IPv4-mapped IPv6): the IP database key.
pub fn ip_key(ip: IpAddr) -> [u8; 16] {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The address of a key made by [`ip_key`].
pub fn ip_from_key(k: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(k)).to_canonical()
}

pub fn domain_key(domain: &str) -> Key {
    hashed("domain:", domain)
}

pub fn address_key(addr: &str) -> Key {
    hashed("addr:", addr)
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 1 << 20 }>()
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Read access by key, as scoring needs it.
pub trait ReputationLookup: Sync {
    fn get(&self, key: &Key) -> Option<Record>;

    /// How many learned messages came with a relay (the sum of spam and ham over all addresses):
    /// what an address's share of the user's mail is measured against. 0 when unknown.
    fn relayed(&self) -> u64 {
        0
    }

    fn ip(&self, ip: IpAddr) -> Option<IpRecord> {
        match self.get(&ip_key(ip)) {
            Some(Record::Ip(r)) => Some(r),
            _ => None,
        }
    }
    fn domain(&self, domain: &str) -> Option<DomainRecord> {
        match self.get(&domain_key(domain)) {
            Some(Record::Domain(r)) => Some(r),
            _ => None,
        }
    }
    fn correspondent(&self, addr: &str) -> Option<Correspondent> {
        match self.get(&address_key(addr)) {
            Some(Record::Correspondent(r)) => Some(r),
            _ => None,
        }
    }
}

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
        if !super::files::check_dir(dir)? {
            return Ok(None);
        }
        let journal = read_journal_tail(dir, MAX_REPLAY)?;
        let mut touched: Vec<(Key, u32)> =
            journal.iter().enumerate().flat_map(|(i, e)| e.keys().into_iter().map(move |k| (k, i as u32))).collect();
        touched.sort_unstable();
        let map = match super::files::map(&path, "reputation database")? {
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

/// Checks the header and that the index fits; returns the record count.
fn parse_header(file: &[u8]) -> Result<usize> {
    if file.len() < HEADER || &file[..8] != MAGIC {
        bail!("not a spamfilt reputation database (bad magic)");
    }
    let count = u32::from_le_bytes(file[8..12].try_into().unwrap()) as usize;
    if HEADER + count * INDEX > file.len() {
        bail!("truncated: {count} records do not fit in {} bytes", file.len());
    }
    Ok(count)
}

/// The whole database in memory, for writers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reputation {
    pub records: BTreeMap<Key, Record>,
    /// How many bytes of the journal `load` applied (`save` applies the rest, then removes it).
    journal_seen: u64,
}

impl ReputationLookup for Reputation {
    fn relayed(&self) -> u64 {
        self.records
            .values()
            .map(|r| match r {
                Record::Ip(ip) => ip.spam as u64 + ip.ham as u64,
                _ => 0,
            })
            .sum()
    }

    fn get(&self, key: &Key) -> Option<Record> {
        self.records.get(key).cloned()
    }
}

impl Reputation {
    /// Reads and verifies the file (checksum and every record), then applies the journal. Empty
    /// when there is neither.
    pub fn load(dir: &Path) -> Result<Reputation> {
        let path = dir.join(FILE);
        // Read, not mapped: a writer reads it all anyway, and a read cannot fault when someone
        // truncates the file meanwhile.
        let mut rep = match super::files::read(&path, "reputation database")? {
            Some(bytes) => Reputation::decode(&bytes)
                .with_context(|| format!("the reputation database {} is corrupt", path.display()))?,
            None => Reputation::default(),
        };
        let (entries, seen, skipped) = read_journal(dir, 0)?;
        report_skipped(dir, skipped);
        for e in &entries {
            rep.apply(e);
        }
        rep.journal_seen = seen;
        Ok(rep)
    }

    fn decode(file: &[u8]) -> Result<Reputation> {
        let count = parse_header(file)?;
        let stored = u64::from_le_bytes(file[16..24].try_into().unwrap());
        if checksum(&file[HEADER..]) != stored {
            bail!("checksum mismatch");
        }
        let blob = &file[HEADER + count * INDEX..];
        let mut records = BTreeMap::new();
        for i in 0..count {
            let e = &file[HEADER + i * INDEX..HEADER + (i + 1) * INDEX];
            let mut k = [0u8; 16];
            k.copy_from_slice(&e[..16]);
            let off = u32::from_le_bytes(e[16..20].try_into().unwrap()) as usize;
            let len = u32::from_le_bytes(e[20..24].try_into().unwrap()) as usize;
            let bytes = off.checked_add(len).and_then(|end| blob.get(off..end)).context("record out of bounds")?;
            let (r, _): (Record, usize) = bincode::decode_from_slice(bytes, config()).context("undecodable record")?;
            records.insert(k, r);
        }
        Ok(Reputation { records, journal_seen: 0 })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut blob = Vec::new();
        let mut index = Vec::with_capacity(self.records.len() * INDEX);
        for (k, r) in &self.records {
            let bytes = bincode::encode_to_vec(r, config()).expect("records encode");
            index.extend_from_slice(k);
            index.extend_from_slice(&(blob.len() as u32).to_le_bytes());
            index.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            blob.extend_from_slice(&bytes);
        }
        let mut out = Vec::with_capacity(HEADER + index.len() + blob.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.records.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.relayed().min(u32::MAX as u64) as u32).to_le_bytes());
        let mut body = index;
        body.extend_from_slice(&blob);
        out.extend_from_slice(&checksum(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Writes the database atomically and folds the journal in: under the journal's exclusive
    /// lock, what filters appended since `load` is applied, the file replaced, the journal removed.
    /// The caller holds the directory's lock.
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        let lock = journal_lock(dir)?;
        lock.lock().with_context(|| format!("cannot lock {}", dir.join(JOURNAL_LOCK).display()))?;
        let (late, _, skipped) = read_journal(dir, self.journal_seen)?;
        report_skipped(dir, skipped);
        for e in &late {
            self.apply(e);
        }
        super::write_atomic(dir, FILE, &self.encode())?;
        match std::fs::remove_file(dir.join(JOURNAL)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", dir.join(JOURNAL).display())),
        }
        self.journal_seen = 0;
        Ok(())
    }

    /// Makes `save` leave out what the journal holds now (a restore from a dump replaces it:
    /// the dump already has what had been journaled when it was written).
    pub fn skip_journal(&mut self, dir: &Path) -> Result<()> {
        self.journal_seen = read_journal(dir, 0)?.1;
        Ok(())
    }

    /// Applies one journal entry.
    pub fn apply(&mut self, e: &JournalEntry) {
        if let Some(k) = e.honeypot {
            self.honeypot_hit(ip_from_key(k), e.now);
        }
        let answers = DnsAnswers {
            ptr: e.ptr.iter().map(|(k, c)| (ip_from_key(*k), c.clone())).collect(),
            dnsbl: e.dnsbl.iter().map(|(k, z, c)| (ip_from_key(*k), z.clone(), c.clone())).collect(),
            uribl: e.uribl.clone(),
        };
        self.merge_dns(&answers, e.now);
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// The record of an address, created empty if new.
    pub fn ip_mut(&mut self, ip: IpAddr, now: u64) -> &mut IpRecord {
        // An IP key holds an IP record (other kinds use hashed keys); anything else is replaced.
        let rec = self.records.entry(ip_key(ip)).or_insert(Record::Ip(IpRecord::default()));
        if !matches!(rec, Record::Ip(_)) {
            *rec = Record::Ip(IpRecord::default());
        }
        let Record::Ip(r) = rec else { unreachable!("just made an IP record") };
        if r.first_seen == 0 {
            r.first_seen = now;
        }
        r
    }

    /// Counts a learned message from `ip`: `delta` +1 when learned, -1 when unlearned.
    pub fn count_learned(&mut self, ip: IpAddr, spam: bool, delta: i32, now: u64) {
        let r = self.ip_mut(ip, now);
        r.last_seen = now;
        let field = if spam { &mut r.spam } else { &mut r.ham };
        *field = field.saturating_add_signed(delta);
        if spam && delta > 0 {
            r.last_spam = now;
        }
    }

    /// Records a honeypot hit from `ip`.
    pub fn honeypot_hit(&mut self, ip: IpAddr, now: u64) {
        let r = self.ip_mut(ip, now);
        r.honeypot = r.honeypot.saturating_add(1);
        r.last_seen = now;
        r.last_spam = now;
    }

    /// Records that the user wrote to `addr`.
    pub fn add_correspondent(&mut self, addr: &str, now: u64) {
        let rec = self.records.entry(address_key(addr)).or_insert_with(|| {
            Record::Correspondent(Correspondent { address: addr.to_ascii_lowercase(), ..Default::default() })
        });
        if let Record::Correspondent(c) = rec {
            c.messages = c.messages.saturating_add(1);
            c.last = now;
        }
    }

    /// Merges DNS answers learned by a filter run into the cache.
    pub fn merge_dns(&mut self, answers: &DnsAnswers, now: u64) {
        for (ip, ptr) in &answers.ptr {
            let r = self.ip_mut(*ip, now);
            r.ptr = Some(ptr.clone());
        }
        for (ip, zone, c) in &answers.dnsbl {
            let r = self.ip_mut(*ip, now);
            r.dnsbl.retain(|(z, _)| z != zone);
            r.dnsbl.push((zone.clone(), c.clone()));
        }
        for (domain, zone, c) in &answers.uribl {
            let rec = self
                .records
                .entry(domain_key(domain))
                .or_insert_with(|| Record::Domain(DomainRecord { domain: domain.clone(), uribl: Vec::new() }));
            if let Record::Domain(d) = rec {
                d.uribl.retain(|(z, _)| z != zone);
                d.uribl.push((zone.clone(), c.clone()));
            }
        }
    }

    /// Drops IP records with nothing left worth keeping (no spam within `expire_days`, no
    /// recent ham, no live cache entry, not manual), expired cache entries and expired domain
    /// records. Correspondents are kept. Returns how many records were dropped.
    pub fn expire(&mut self, now: u64, expire_days: u32) -> usize {
        let before = self.records.len();
        self.records.retain(|_, r| match r {
            Record::Ip(ip) => {
                ip.dnsbl.retain(|(_, c)| c.expires > now);
                if ip.ptr.as_ref().is_some_and(|c| c.expires <= now) {
                    ip.ptr = None;
                }
                ip.alive(now, expire_days)
            }
            Record::Domain(d) => {
                d.uribl.retain(|(_, c)| c.expires > now);
                !d.uribl.is_empty()
            }
            Record::Correspondent(_) => true,
        });
        before - self.records.len()
    }

    /// Every IP record with its address.
    pub fn ips(&self) -> impl Iterator<Item = (IpAddr, &IpRecord)> {
        self.records.iter().filter_map(|(k, r)| match r {
            Record::Ip(ip) => Some((ip_from_key(*k), ip)),
            _ => None,
        })
    }

    pub fn correspondents(&self) -> impl Iterator<Item = &Correspondent> {
        self.records.values().filter_map(|r| match r {
            Record::Correspondent(c) => Some(c),
            _ => None,
        })
    }
}

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
const JOURNAL_LOCK: &str = "reputation.journal.lock";
const FRAME_MAGIC: &[u8; 4] = b"SFJ\x01";
const FRAME_HEADER: usize = 16;
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
            ptr: answers.ptr.iter().map(|(ip, c)| (ip_key(*ip), c.clone())).collect(),
            dnsbl: answers.dnsbl.iter().map(|(ip, z, c)| (ip_key(*ip), z.clone(), c.clone())).collect(),
            uribl: answers.uribl.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.honeypot.is_none() && self.ptr.is_empty() && self.dnsbl.is_empty() && self.uribl.is_empty()
    }

    /// The keys whose records applying it changes (each once).
    fn keys(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .honeypot
            .iter()
            .copied()
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

fn journal_lock(dir: &Path) -> Result<std::fs::File> {
    super::files::open_write(&dir.join(JOURNAL_LOCK), "journal lock file", false)
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
    super::files::ensure_dir(dir)?;
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
    let mut f = super::files::open_write(&path, "reputation journal", true)?;
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
fn read_journal(dir: &Path, from: u64) -> Result<(Vec<JournalEntry>, u64, u64)> {
    use std::io::{Read, Seek};
    let path = dir.join(JOURNAL);
    let Some((mut file, _)) = super::files::open_read(&path, "reputation journal")? else {
        return Ok((Vec::new(), 0, 0));
    };
    let mut bytes = Vec::new();
    file.seek(std::io::SeekFrom::Start(from))
        .and_then(|_| file.read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let (entries, end, skipped) = parse_journal(&bytes, from == 0);
    Ok((entries, from + end as u64, skipped as u64))
}

/// The entries of the journal's last `tail` bytes (readers): reading starts at the first frame
/// that begins there.
fn read_journal_tail(dir: &Path, tail: u64) -> Result<Vec<JournalEntry>> {
    use std::io::{Read, Seek};
    let path = dir.join(JOURNAL);
    let Some((mut file, meta)) = super::files::open_read(&path, "reputation journal")? else {
        return Ok(Vec::new());
    };
    let from = meta.len().saturating_sub(tail);
    let mut bytes = Vec::new();
    file.seek(std::io::SeekFrom::Start(from))
        .and_then(|_| file.take(tail).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(parse_journal(&bytes, from == 0).0)
}

/// Says (on stderr) that a writer skipped damaged journal bytes.
fn report_skipped(dir: &Path, skipped: u64) {
    if skipped > 0 {
        eprintln!(
            "spamfilt: skipped {skipped} damaged bytes in {}; every intact entry around them was kept",
            dir.join(JOURNAL).display()
        );
    }
}

/// DNS answers a filter run obtained, to be cached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsAnswers {
    pub ptr: Vec<(IpAddr, Cached<Option<String>>)>,
    pub dnsbl: Vec<(IpAddr, String, Cached<bool>)>,
    pub uribl: Vec<(String, String, Cached<bool>)>,
}

impl DnsAnswers {
    pub fn is_empty(&self) -> bool {
        self.ptr.is_empty() && self.dnsbl.is_empty() && self.uribl.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::received::v4;

    #[test]
    fn round_trip_and_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let mut rep = Reputation::default();
        for i in 0..1000u32 {
            rep.count_learned(v4(10, (i >> 8) as u8, i as u8, 1), true, 1, 1_000_000);
        }
        rep.honeypot_hit("2001:db8::1".parse().unwrap(), 1_000_000);
        rep.add_correspondent("Jan@Klant.be", 1_000_000);
        rep.merge_dns(
            &DnsAnswers {
                uribl: vec![(
                    "evil.example".into(),
                    "multi.uribl.example".into(),
                    Cached { value: true, expires: 2_000_000 },
                )],
                ..Default::default()
            },
            1_000_000,
        );
        rep.save(dir.path()).unwrap();
        let back = Reputation::load(dir.path()).unwrap();
        assert_eq!(back, rep);
        let r = Reader::open(dir.path()).unwrap().unwrap();
        assert_eq!(r.len(), 1003);
        assert_eq!(r.ip(v4(10, 3, 5, 1)).unwrap().spam, 1);
        assert!(r.ip(v4(10, 9, 9, 9)).is_none());
        assert_eq!(r.ip("2001:db8::1".parse().unwrap()).unwrap().honeypot, 1);
        assert_eq!(r.correspondent("jan@klant.be").unwrap().messages, 1);
        assert!(r.domain("evil.example").unwrap().uribl[0].1.value);
    }

    #[test]
    fn the_journal_is_replayed_by_readers_and_folded_in_by_writers() {
        let dir = tempfile::tempdir().unwrap();
        let mut rep = Reputation::default();
        rep.count_learned(v4(192, 0, 2, 1), true, 1, 100);
        rep.save(dir.path()).unwrap();
        let listed = Cached { value: true, expires: 10_000 };
        let answers = DnsAnswers { dnsbl: vec![(v4(192, 0, 2, 1), "zen.test".into(), listed)], ..Default::default() };
        let wait = std::time::Duration::from_millis(100);
        assert!(append_journal(dir.path(), &JournalEntry::new(&answers, None, 200), wait).unwrap());
        assert!(append_journal(
            dir.path(),
            &JournalEntry::new(&DnsAnswers::default(), Some(v4(192, 0, 2, 9)), 300),
            wait
        )
        .unwrap());
        // A frame cut short by a crash ends the journal without harm.
        let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join(JOURNAL)).unwrap();
        std::io::Write::write_all(&mut f, &[200, 0, 0, 0, 1, 2]).unwrap();
        let r = Reader::open(dir.path()).unwrap().unwrap();
        let one = r.ip(v4(192, 0, 2, 1)).unwrap();
        assert_eq!((one.spam, one.dnsbl.len()), (1, 1));
        assert_eq!(r.ip(v4(192, 0, 2, 9)).unwrap().honeypot, 1);
        // A writer loads it, another filter appends meanwhile, the save takes both and removes it.
        let mut w = Reputation::load(dir.path()).unwrap();
        let late = JournalEntry::new(&DnsAnswers::default(), Some(v4(192, 0, 2, 10)), 400);
        // (the torn frame is still at the end; a real appender would come after it: drop it first)
        std::fs::write(dir.path().join(JOURNAL), {
            let b = std::fs::read(dir.path().join(JOURNAL)).unwrap();
            b[..w.journal_seen as usize].to_vec()
        })
        .unwrap();
        assert!(append_journal(dir.path(), &late, wait).unwrap());
        w.save(dir.path()).unwrap();
        assert!(!dir.path().join(JOURNAL).exists());
        let back = Reputation::load(dir.path()).unwrap();
        assert_eq!(back.ip(v4(192, 0, 2, 9)).unwrap().honeypot, 1);
        assert_eq!(back.ip(v4(192, 0, 2, 10)).unwrap().honeypot, 1, "the late entry was lost");
        assert_eq!(back.ip(v4(192, 0, 2, 1)).unwrap().dnsbl.len(), 1);
        // Only a journal, no database yet: readers see it.
        let d2 = tempfile::tempdir().unwrap();
        append_journal(d2.path(), &late, wait).unwrap();
        assert_eq!(Reader::open(d2.path()).unwrap().unwrap().ip(v4(192, 0, 2, 10)).unwrap().honeypot, 1);
    }

    #[test]
    fn corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mut rep = Reputation::default();
        rep.count_learned(v4(192, 0, 2, 1), true, 1, 5);
        rep.save(dir.path()).unwrap();
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert!(Reputation::load(dir.path()).unwrap_err().to_string().contains("corrupt"));
        std::fs::write(&path, b"garbage").unwrap();
        assert!(Reader::open(dir.path()).is_err());
    }

    #[test]
    fn the_header_records_the_messages_learned_with_a_relay() {
        let dir = tempfile::tempdir().unwrap();
        let mut rep = Reputation::default();
        rep.count_learned(v4(192, 0, 2, 1), true, 1, 86_400);
        rep.count_learned(v4(192, 0, 2, 2), false, 1, 86_400);
        rep.save(dir.path()).unwrap();
        assert_eq!(Reader::open(dir.path()).unwrap().unwrap().relayed(), 2);
    }

    #[test]
    fn expiry() {
        let day = 86_400;
        let mut rep = Reputation::default();
        rep.count_learned(v4(192, 0, 2, 1), true, 1, day);
        rep.count_learned(v4(192, 0, 2, 2), true, 1, 40 * day);
        rep.ip_mut(v4(192, 0, 2, 3), day).manual = true;
        rep.add_correspondent("jan@klant.be", day);
        assert_eq!(rep.expire(45 * day, 30), 1);
        assert!(rep.ip(v4(192, 0, 2, 1)).is_none());
        assert!(rep.ip(v4(192, 0, 2, 2)).is_some());
        assert!(rep.ip(v4(192, 0, 2, 3)).is_some());
    }

    fn honeypot_entry(last: u8, now: u64) -> JournalEntry {
        JournalEntry::new(&DnsAnswers::default(), Some(v4(192, 0, 2, last)), now)
    }

    #[test]
    fn a_damaged_frame_hides_nothing_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let wait = std::time::Duration::from_millis(100);
        let mut offsets = vec![0u64];
        for i in 1..=4 {
            assert!(append_journal(dir.path(), &honeypot_entry(i, 100 + i as u64), wait).unwrap());
            offsets.push(std::fs::metadata(dir.path().join(JOURNAL)).unwrap().len());
        }
        // Damage the second frame's body, and the third frame's length field.
        let path = dir.path().join(JOURNAL);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[offsets[1] as usize + FRAME_HEADER + 2] ^= 0x55;
        bytes[offsets[2] as usize + 6] ^= 0x7f;
        std::fs::write(&path, &bytes).unwrap();
        let r = Reader::open(dir.path()).unwrap().unwrap();
        assert_eq!(r.ip(v4(192, 0, 2, 1)).unwrap().honeypot, 1);
        assert!(r.ip(v4(192, 0, 2, 2)).is_none() && r.ip(v4(192, 0, 2, 3)).is_none());
        assert_eq!(r.ip(v4(192, 0, 2, 4)).unwrap().honeypot, 1, "an entry after the damage was hidden");
        // The fold keeps it too.
        let mut w = Reputation::load(dir.path()).unwrap();
        w.save(dir.path()).unwrap();
        let back = Reputation::load(dir.path()).unwrap();
        assert_eq!(back.ip(v4(192, 0, 2, 4)).unwrap().honeypot, 1);
        assert_eq!(back.ip(v4(192, 0, 2, 1)).unwrap().honeypot, 1);
    }

    #[test]
    fn journals_of_the_old_format_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = Vec::new();
        for i in 1..=3u8 {
            let body = bincode::encode_to_vec(honeypot_entry(i, 100), config()).unwrap();
            old.extend_from_slice(&(body.len() as u32).to_le_bytes());
            old.extend_from_slice(&body);
        }
        std::fs::write(dir.path().join(JOURNAL), &old).unwrap();
        // A new filter appends after the old frames.
        append_journal(dir.path(), &honeypot_entry(9, 200), std::time::Duration::from_millis(100)).unwrap();
        let r = Reader::open(dir.path()).unwrap().unwrap();
        for i in [1, 2, 3, 9] {
            assert_eq!(r.ip(v4(192, 0, 2, i)).unwrap().honeypot, 1, "192.0.2.{i}");
        }
        let (entries, end, skipped) = read_journal(dir.path(), 0).unwrap();
        assert_eq!((entries.len(), skipped), (4, 0));
        assert_eq!(end, std::fs::metadata(dir.path().join(JOURNAL)).unwrap().len());
    }

    #[test]
    fn readers_replay_a_bounded_tail_and_writers_everything() {
        let dir = tempfile::tempdir().unwrap();
        let wait = std::time::Duration::from_millis(100);
        // The first entry, then enough big ones to push it out of the readers' tail.
        append_journal(dir.path(), &honeypot_entry(1, 100), wait).unwrap();
        let mut filler = DnsAnswers::default();
        for i in 0..40u8 {
            filler.uribl.push((
                format!("domain-{i}-{}.example", "x".repeat(60)),
                "zone.example".into(),
                Cached { value: true, expires: 9 },
            ));
        }
        let mut frames = 0;
        while std::fs::metadata(dir.path().join(JOURNAL)).unwrap().len() < MAX_REPLAY + 10_000 {
            append_journal(dir.path(), &JournalEntry::new(&filler, None, 100), wait).unwrap();
            frames += 1;
        }
        append_journal(dir.path(), &honeypot_entry(2, 100), wait).unwrap();
        assert!(frames > 10);
        let r = Reader::open(dir.path()).unwrap().unwrap();
        assert!(r.ip(v4(192, 0, 2, 1)).is_none(), "the reader read past its bound");
        assert_eq!(r.ip(v4(192, 0, 2, 2)).unwrap().honeypot, 1);
        assert!(r.domain(&format!("domain-3-{}.example", "x".repeat(60))).is_some());
        let w = Reputation::load(dir.path()).unwrap();
        assert_eq!(w.ip(v4(192, 0, 2, 1)).unwrap().honeypot, 1);
        assert_eq!(w.ip(v4(192, 0, 2, 2)).unwrap().honeypot, 1);
    }
}
