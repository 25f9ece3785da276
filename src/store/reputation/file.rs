//! The reputation database for writers: loaded whole (`load`: `db dump`, the `ip` and `address`
//! commands), or open with only what a run touches in memory (`open`: training, see `stream`);
//! edited, then saved.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::journal::{lock_journal, read_journal, read_to_fold, report_skipped, JournalEntry};
use super::reader::parse_header;
use super::stream::{Base, Opened};
use super::{
    address_key, checksum, checksum_parts, config, exact_key, ip_from_key, ip_key, is_v6_member, sender_block,
    sender_key, Correspondent, DnsAnswers, IpRecord, Key, LearnedSender, OwnAddress, Record,
};
use super::{ReputationLookup, FILE, HEADER, INDEX, MAGIC};
use crate::store::Notes;

/// The database for writers. Loaded whole (`load`), `records` holds every record. Opened for a
/// training run (`open`), the file stays on disk (`base`) and `records` holds only the records
/// the run looked at or changed, `gone` the keys it removed; `save` merges them into the file
/// as it copies it (see `stream`). Read and edit through the methods (`get`, `set`, and those
/// below), which look a record up in the file when it is not in `records` yet; `records`
/// itself, and the methods that go through every record (`ips`, `expire`, ...), are the whole
/// database only when loaded whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reputation {
    pub records: BTreeMap<Key, Record>,
    /// How many bytes of the journal `load` applied (`save` applies the rest, then removes it).
    pub(super) journal_seen: u64,
    /// The file on disk, when opened for a run (see `open`).
    pub(super) base: Option<BaseRef>,
    /// Keys removed from the base (never also in `records`).
    pub(super) gone: BTreeSet<Key>,
}

/// `reputation.db` written aside by [`Reputation::prepare`], not yet renamed: the temporary
/// file (synced), the journal bytes folded into it, and the journal's lock, held until this is
/// dropped (after the commit), so that nothing is appended to the journal meanwhile.
pub struct Prepared {
    pub(crate) tmp: crate::store::files::TempFile,
    pub(crate) folded: Option<crate::store::commit::Folded>,
    pub(crate) lock: std::fs::File,
    counts: (u64, u64),
}

/// The base file, shared by clones (compared by identity).
#[derive(Debug, Clone)]
pub(super) struct BaseRef(pub(super) Arc<Base>);

impl PartialEq for BaseRef {
    fn eq(&self, other: &BaseRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

fn ip_counts(r: Option<&Record>) -> u64 {
    match r {
        Some(Record::Ip(ip)) => ip.spam as u64 + ip.ham as u64,
        _ => 0,
    }
}

impl ReputationLookup for Reputation {
    fn relayed(&self) -> u64 {
        let Some(base) = &self.base else { return self.records.values().map(|r| ip_counts(Some(r))).sum() };
        // The file's sum, with what the run changed.
        let mut n = base.0.relayed as i128;
        for k in self.records.keys().chain(&self.gone) {
            n += ip_counts(self.records.get(k)) as i128 - ip_counts(base.0.get(k).as_ref()) as i128;
        }
        n.max(0) as u64
    }

    fn get(&self, key: &Key) -> Option<Record> {
        if let Some(r) = self.records.get(key) {
            return Some(r.clone());
        }
        match &self.base {
            Some(b) if !self.gone.contains(key) => b.0.get(key),
            _ => None,
        }
    }
}

impl Reputation {
    /// Reads and verifies the file (checksum and every record), then applies the journal. Empty
    /// when there is neither. Damaged journal bytes that were skipped are noted in `notes`.
    pub fn load(dir: &Path, notes: &mut Notes) -> Result<Reputation> {
        let rep = Reputation::load_file(dir)?;
        rep.with_journal(dir, notes)
    }

    /// The file alone, loaded whole.
    fn load_file(dir: &Path) -> Result<Reputation> {
        let path = dir.join(FILE);
        // Read, not mapped: a writer reads it all anyway, and a read cannot fault when someone
        // truncates the file meanwhile.
        let mut rep = match crate::store::files::read(&path, "reputation database")? {
            Some(bytes) => Reputation::decode(&bytes)
                .with_context(|| format!("the reputation database {} is corrupt", path.display()))?,
            None => Reputation::default(),
        };
        // Format 1 kept IPv6 reputation per address: it goes to the /64s now, and the save writes
        // format 2.
        rep.merge_v6_members();
        Ok(rep)
    }

    /// Opens the database for a writer that edits some records (a training run), without
    /// loading it: the file is checked through (checksum, index, every record) as `load`
    /// checks it, then only what the journal and the run touch is read into memory, and `save`
    /// merges the changes into the file as it copies it (see `stream`). A format 1 file (or
    /// one whose index is out of order) is loaded whole once, as `load` does: its IPv6 records
    /// move to their /64s, and the save writes format 2. Then the journal is applied.
    pub fn open(dir: &Path, notes: &mut Notes) -> Result<Reputation> {
        let rep = match Base::open(&dir.join(FILE))? {
            None => Reputation::default(),
            Some(Opened::Whole) => Reputation::load_file(dir)?,
            Some(Opened::Stream(b)) => Reputation { base: Some(BaseRef(Arc::new(b))), ..Reputation::default() },
        };
        rep.with_journal(dir, notes)
    }

    /// The first error met reading a record of the file during the run (a partial database: see
    /// `open`), as an error to stop on before anything is written: the run must not commit
    /// `tokens.db` and then fail on `reputation.db`, leaving the message's reputation unlearned.
    pub fn check_lookups(&self) -> Result<()> {
        match self.base.as_ref().and_then(|b| b.0.lookup_error()) {
            Some(e) => anyhow::bail!("{e}"),
            None => Ok(()),
        }
    }

    /// Whether only some records are in memory (see `open`).
    pub fn is_partial(&self) -> bool {
        self.base.is_some()
    }

    /// `self` with the journal applied.
    fn with_journal(self, dir: &Path, notes: &mut Notes) -> Result<Reputation> {
        let mut rep = self;
        let (entries, seen, skipped) = read_journal(dir, 0)?;
        report_skipped(dir, skipped, notes);
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
        Ok(Reputation { records, ..Reputation::default() })
    }

    /// The file, from the records in memory (a database loaded whole).
    pub fn encode(&self) -> Vec<u8> {
        let [head, index, blob] = self.encode_parts();
        [head, index, blob].concat()
    }

    /// The file in its three parts (header, index, blob), written one after the other: one
    /// copy of the records' bytes in memory, not the three that putting them together takes.
    fn encode_parts(&self) -> [Vec<u8>; 3] {
        let mut blob = Vec::new();
        let mut index = Vec::with_capacity(self.records.len() * INDEX);
        for (k, r) in &self.records {
            let bytes = super::encode_record(r);
            index.extend_from_slice(k);
            index.extend_from_slice(&(blob.len() as u32).to_le_bytes());
            index.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            blob.extend_from_slice(&bytes);
        }
        let mut head = Vec::with_capacity(HEADER);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&(self.records.len() as u32).to_le_bytes());
        head.extend_from_slice(&(self.relayed().min(u32::MAX as u64) as u32).to_le_bytes());
        head.extend_from_slice(&checksum_parts(&[&index, &blob]).to_le_bytes());
        [head, index, blob]
    }

    /// Writes the database atomically and folds the journal in: under the journal's exclusive
    /// lock, what filters appended since `load` is applied, the file replaced, the journal's
    /// folded bytes dropped, as one commit (see `store::commit`: a process killed part way
    /// leaves a record the next writer completes, so no journal entry is lost or applied twice).
    /// The caller holds the directory's lock. Damaged journal bytes that were skipped are noted
    /// in `notes`.
    pub fn save(&mut self, dir: &Path, notes: &mut Notes) -> Result<()> {
        self.save_keeping(dir, notes, None).map(drop)
    }

    /// `save` with every record passed through `expire` on the way (`ip expire`): a database
    /// opened for a run is expired as its file is copied, never loaded. Returns how many
    /// records were dropped and how many are left.
    pub fn save_expired(&mut self, dir: &Path, notes: &mut Notes, now: u64, expire_days: u32) -> Result<(u64, u64)> {
        self.save_keeping(dir, notes, Some(&mut |_, r| expire_one(r, now, expire_days)))
    }

    /// `save`, with `keep` (when given) deciding of every record, which it may edit, whether
    /// it stays. Returns how many records were dropped and how many were written.
    fn save_keeping(
        &mut self,
        dir: &Path,
        notes: &mut Notes,
        keep: Option<super::stream::Keep<'_>>,
    ) -> Result<(u64, u64)> {
        let prepared = self.prepare_keeping(dir, notes, keep)?;
        let counts = prepared.counts;
        crate::store::commit::commit(dir, vec![prepared.tmp], &[], prepared.folded, Some(&prepared.lock))?;
        self.journal_seen = 0;
        Ok(counts)
    }

    /// What `save` writes, written aside and not yet renamed, for a caller that commits it with
    /// other files (a training run: with `tokens.db` and `lr.weights`, see `store::commit`).
    /// The journal's lock is held until the returned value is dropped.
    pub fn prepare(&mut self, dir: &Path, notes: &mut Notes) -> Result<Prepared> {
        self.prepare_keeping(dir, notes, None)
    }

    fn prepare_keeping(
        &mut self,
        dir: &Path,
        notes: &mut Notes,
        keep: Option<super::stream::Keep<'_>>,
    ) -> Result<Prepared> {
        let lock = lock_journal(dir)?;
        let (late, skipped, folded) = read_to_fold(dir, self.journal_seen)?;
        report_skipped(dir, skipped, notes);
        for e in &late {
            self.apply(e);
        }
        crate::store::files::check_dir(dir)?;
        let (tmp, counts) = match &self.base {
            None => {
                let before = self.records.len();
                if let Some(keep) = keep {
                    self.records.retain(|k, r| keep(k, r));
                }
                let mut tmp = crate::store::files::TempFile::new(dir, FILE)?;
                let path = tmp.path().to_path_buf();
                for part in self.encode_parts() {
                    tmp.file().write_all(&part).with_context(|| format!("cannot write {}", path.display()))?;
                }
                tmp.sync()?;
                (tmp, ((before - self.records.len()) as u64, self.records.len() as u64))
            }
            Some(b) => super::stream::write(dir, Some(&b.0), &self.records, &self.gone, self.relayed(), keep)?,
        };
        Ok(Prepared { tmp, folded, lock, counts })
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

    /// The reputation record of an address's block (its /64 for IPv6: see `ip_block`), created
    /// empty if new.
    pub fn ip_mut(&mut self, ip: IpAddr, now: u64) -> &mut IpRecord {
        self.key_mut(ip_key(ip), now)
    }

    /// The record that holds the cached DNS answers of the address `ip` itself (see
    /// `exact_key`), created empty if new.
    pub fn dns_mut(&mut self, ip: IpAddr, now: u64) -> &mut IpRecord {
        // An address of a /64 other than its first: only DNS answers, no times (a dump keeps
        // them as `ptr` and `dnsbl` lines alone).
        self.key_mut(exact_key(ip), if exact_key(ip) == ip_key(ip) { now } else { 0 })
    }

    /// Moves the reputation of IP records kept per IPv6 address (by a binary from before the
    /// /64s: `reputation.db` format 1, a dump of version 3 or older, a Redis store) to their
    /// /64's record: counts summed, the later times kept; what stays at the address's own key
    /// is its cached DNS answers, if any. Returns how many records were moved. Idempotent.
    pub fn merge_v6_members(&mut self) -> usize {
        debug_assert!(!self.is_partial(), "every record, of a database opened for a run");
        let moved: Vec<(Key, IpRecord)> = self
            .records
            .iter()
            .filter(|(k, _)| is_v6_member(k))
            .filter_map(|(k, r)| match r {
                Record::Ip(r) if r.has_counts() => Some((*k, r.clone())),
                _ => None,
            })
            .collect();
        for (k, r) in &moved {
            let ip = ip_from_key(*k);
            let first = if r.first_seen > 0 { r.first_seen } else { r.last_seen };
            self.ip_mut(ip, first).add_counts(r);
            if r.ptr.is_some() || !r.dnsbl.is_empty() {
                self.records.insert(*k, Record::Ip(r.dns_only()));
            } else {
                self.records.remove(k);
            }
        }
        moved.len()
    }

    /// Brings the record under `key` into `records` from the file, if it is there and not yet.
    fn fetch(&mut self, key: &Key) {
        if let Some(b) = &self.base {
            if !self.records.contains_key(key) && !self.gone.contains(key) {
                if let Some(r) = b.0.get(key) {
                    self.records.insert(*key, r);
                }
            }
        }
    }

    /// The record under `key` for editing (`records`' entry, with what the file has there).
    pub(super) fn entry(&mut self, key: Key) -> std::collections::btree_map::Entry<'_, Key, Record> {
        self.fetch(&key);
        self.gone.remove(&key);
        self.records.entry(key)
    }

    /// The record under `key`, for editing, if there is one.
    fn record_mut(&mut self, key: &Key) -> Option<&mut Record> {
        self.fetch(key);
        self.records.get_mut(key)
    }

    /// Sets (`Some`) or removes (`None`) the record under `key`.
    pub fn set(&mut self, key: Key, record: Option<Record>) {
        match record {
            Some(r) => {
                self.gone.remove(&key);
                self.records.insert(key, r);
            }
            None => self.remove(&key),
        }
    }

    /// Removes the record under `key`.
    pub fn remove(&mut self, key: &Key) {
        self.records.remove(key);
        if self.base.is_some() {
            self.gone.insert(*key);
        }
    }

    fn key_mut(&mut self, key: Key, now: u64) -> &mut IpRecord {
        // An IP key holds an IP record (other kinds use hashed keys); anything else is replaced.
        let rec = self.entry(key).or_insert(Record::Ip(IpRecord::default()));
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
        self.honeypot_hits(ip, 1, now);
    }

    /// Records `n` honeypot hits from `ip`, the last at `last` (as `n` calls of `honeypot_hit`
    /// would, the last of them at `last`; an earlier `last` than what the record has changes
    /// no time).
    pub fn honeypot_hits(&mut self, ip: IpAddr, n: u32, last: u64) {
        let r = self.ip_mut(ip, last);
        r.honeypot = r.honeypot.saturating_add(n);
        r.last_seen = r.last_seen.max(last);
        r.last_spam = r.last_spam.max(last);
    }

    /// Records that `addr` is one of the user's own addresses (mail the user wrote was from it):
    /// it replaces a correspondent record of the same address (a database trained before mail
    /// delivered to the user stopped counting as written by the user may hold one).
    pub fn add_own(&mut self, addr: &str, now: u64) {
        let address = addr.to_ascii_lowercase();
        let rec = self.entry(address_key(addr)).or_insert_with(|| Record::Own(OwnAddress::default()));
        match rec {
            Record::Own(o) => {
                o.address = address;
                o.last = o.last.max(now);
            }
            other => *other = Record::Own(OwnAddress { address, last: now }),
        }
    }

    /// Records that the user wrote to `addr`; nothing when it is one of the user's own.
    pub fn add_correspondent(&mut self, addr: &str, now: u64) {
        let rec = self.entry(address_key(addr)).or_insert_with(|| {
            Record::Correspondent(Correspondent { address: addr.to_ascii_lowercase(), ..Default::default() })
        });
        if let Record::Correspondent(c) = rec {
            c.messages = c.messages.saturating_add(1);
            c.last = now;
        }
    }

    /// Takes back one message written to `addr` (it was moved or forgotten): the correspondent
    /// goes with the last one.
    pub fn take_correspondent(&mut self, addr: &str) {
        let key = address_key(addr);
        if let Some(Record::Correspondent(c)) = self.record_mut(&key) {
            c.messages = c.messages.saturating_sub(1);
            if c.messages == 0 {
                self.remove(&key);
            }
        }
    }

    /// Counts a message from `addr` through the block of `ip` learned as spam or ham: `delta` +1
    /// when learned, -1 when unlearned (a move or `forget`: the record goes with its last
    /// message).
    pub fn count_sender(&mut self, addr: &str, ip: IpAddr, spam: bool, delta: i32, now: u64) {
        let key = sender_key(addr, ip);
        let rec = self.entry(key).or_insert_with(|| {
            Record::Sender(LearnedSender {
                address: addr.to_ascii_lowercase(),
                block: sender_block(ip),
                ..Default::default()
            })
        });
        let Record::Sender(r) = rec else { return };
        let field = if spam { &mut r.spam } else { &mut r.ham };
        *field = field.saturating_add_signed(delta);
        if delta > 0 {
            r.last = r.last.max(now);
        }
        if r.ham == 0 && r.spam == 0 {
            self.remove(&key);
        }
    }

    /// Every learned sender.
    pub fn learned_senders(&self) -> impl Iterator<Item = &LearnedSender> {
        debug_assert!(!self.is_partial(), "every record, of a database opened for a run");
        self.records.values().filter_map(|r| match r {
            Record::Sender(s) => Some(s),
            _ => None,
        })
    }

    /// Drops IP records with nothing left worth keeping (no spam within `expire_days`, no
    /// recent ham, no live cache entry, not manual), expired cache entries, expired domain
    /// records, and learned senders with no ham and nothing learned within `expire_days` (one
    /// is made for every spam's From and relay block; without this they would pile up for good).
    /// Correspondents, the user's own addresses and learned senders with ham are kept (they
    /// follow the ledger; a message unlearned after its record went takes nothing back).
    /// Returns how many records were dropped.
    pub fn expire(&mut self, now: u64, expire_days: u32) -> usize {
        debug_assert!(!self.is_partial(), "every record, of a database opened for a run");
        let before = self.records.len();
        self.records.retain(|_, r| expire_one(r, now, expire_days));
        before - self.records.len()
    }

    /// Every IP record with its address (an IPv6 /64's first address: see `ip_label`), not
    /// the records that hold only an IPv6 address's cached DNS answers.
    pub fn ips(&self) -> impl Iterator<Item = (IpAddr, &IpRecord)> {
        debug_assert!(!self.is_partial(), "every record, of a database opened for a run");
        self.records.iter().filter_map(|(k, r)| match r {
            Record::Ip(ip) if !is_v6_member(k) || ip.has_counts() => Some((ip_from_key(*k), ip)),
            _ => None,
        })
    }

    /// The user's own addresses (see `OwnAddress`).
    pub fn own_addresses(&self) -> impl Iterator<Item = &OwnAddress> {
        debug_assert!(!self.is_partial(), "every record, of a database opened for a run");
        self.records.values().filter_map(|r| match r {
            Record::Own(o) => Some(o),
            _ => None,
        })
    }

    pub fn correspondents(&self) -> impl Iterator<Item = &Correspondent> {
        debug_assert!(!self.is_partial(), "every record, of a database opened for a run");
        self.records.values().filter_map(|r| match r {
            Record::Correspondent(c) => Some(c),
            _ => None,
        })
    }
}

/// What `Reputation::expire` does to one record: its expired cache entries dropped; `false`
/// when nothing is left worth keeping.
fn expire_one(r: &mut Record, now: u64, expire_days: u32) -> bool {
    match r {
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
        Record::Sender(l) => l.ham > 0 || now.saturating_sub(l.last) < u64::from(expire_days) * 86_400,
        Record::Correspondent(_) | Record::Own(_) => true,
    }
}
