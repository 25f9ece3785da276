//! Storage: the token database and the training ledger on disk, locking and atomic replace.
//!
//! One file, `tokens.db` (format in `tokenfile` and docs/db-format.md), holds the token counts
//! and the ledger, so one rename replaces both atomically.
//!
//! * Readers (the filter, `check`) map the file and read only the header and the records they
//!   look up. They never lock: a writer never modifies the file in place, it writes a new one
//!   and renames it over, so a reader keeps the consistent old file it opened.
//! * Writers take an exclusive lock on `lock` (a kernel lock, released when the process dies, so
//!   never stale), look up what they change in the current file without loading it, and write
//!   `tokens.db.tmp-RANDOM` by streaming the current file with their changes merged in (its
//!   checksum verified on the way, see `merge`), fsync it, rename it over `tokens.db` and fsync
//!   the directory. A writer killed at any instant leaves the old or the new file; two writers
//!   serialize and lose no count. A run that replaces several files (the weights, the counts,
//!   `reputation.db` and the journal it folded in) renames them after a commit record that
//!   names them, which the next writer completes if the run was killed between the renames
//!   (`commit`).
//! * The directory is created 0700 and the files 0600: mail is private. Every file in it is
//!   opened, created and replaced through `files` (no symbolic link followed, unpredictable
//!   temporary names, a directory or file others can write refused).

pub(crate) mod commit;
pub mod dump;
pub mod files;
pub mod junk_seen;
pub mod lint_told;
pub mod lrfile;
mod maintenance;
pub use maintenance::Restored;
mod mapped;
mod merge;
pub mod queue;
pub mod redis;
pub mod reputation;
pub mod resolver;
pub mod salvage;
mod snapshot;
pub mod tokenfile;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
pub use mapped::{LrReader, Reader};
use mapped::{Mapped, ReaderKind};
pub use redis::{Fetched, RedisConfig};
pub use snapshot::Snapshot;

pub use crate::bayes::{Counts, Totals};

/// Which class a message was learned as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub enum Class {
    Ham,
    Spam,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Ham => "ham",
            Class::Spam => "spam",
        }
    }
}

/// A learned message's content digest (see `learn::digest`).
pub type Digest = [u8; 16];

/// A ledger entry: the class a message was learned as, and whether it was learned with the
/// trace tokens of its Received fields (the gate's marker `features::TRACE_MARKER` and the
/// Received words), so that undoing it (a move, `forget`) takes back the marker it counted
/// whatever copy of the message is given then. `received` is `None` for an entry written
/// before this was recorded: undone from the copy in hand, as then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Learned {
    pub class: Class,
    pub received: Option<bool>,
}

impl Learned {
    /// The entry's byte in `tokens.db`'s ledger: 0 ham, 1 spam (`received` unknown, as every
    /// entry was before), 2 and 3 learned without Received fields, 4 and 5 with them.
    pub fn byte(self) -> u8 {
        self.class as u8
            + match self.received {
                None => 0,
                Some(false) => 2,
                Some(true) => 4,
            }
    }

    /// The entry of a ledger byte written by [`Learned::byte`]; `None` for any other byte.
    pub fn from_byte(b: u8) -> Option<Learned> {
        let class = if b.is_multiple_of(2) { Class::Ham } else { Class::Spam };
        let received = match b / 2 {
            0 => None,
            1 => Some(false),
            2 => Some(true),
            _ => return None,
        };
        Some(Learned { class, received })
    }
}

impl From<Class> for Learned {
    fn from(class: Class) -> Learned {
        Learned { class, received: None }
    }
}

pub use crate::hash::token_hash;

pub use crate::hash::PreHashedBuild;
/// A map keyed by token hash.
pub type TokenMap<V> = HashMap<u64, V, PreHashedBuild>;

/// What a storage operation has to tell the user besides its result or error: a corrupt file
/// moved aside, damaged journal bytes skipped, a file in the queue that is not ours. Library code
/// does not print (only `commands` talks to the terminal): the caller passes one in and shows
/// it, also when the operation then failed (a file moved aside stays moved).
pub type Notes = Vec<String>;

/// Told at once (not with the notes, at the end) when a command starts to wait for something
/// that may take long: the Redis trainer lock held by another. `commands` sets it to print on
/// stderr; unset, nothing is said.
pub static WAITING: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

/// A write whose outcome is not known: the whole transaction was sent to the Redis store and
/// the connection was lost before its answer, and the store could not tell afterwards whether
/// it was applied. Callers must not say "unchanged" (see `failed`).
#[derive(Debug)]
pub struct OutcomeUnknown(pub String);

impl std::fmt::Display for OutcomeUnknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OutcomeUnknown {}

/// A write the Redis store applied in part: a command of the commit's MULTI/EXEC failed when it
/// ran (a key of the wrong type, a count that cannot be incremented) and Redis, which does not
/// undo a transaction, applied the others. Callers must not say "unchanged" (see `failed`).
#[derive(Debug)]
pub struct PartlyApplied(pub String);

impl std::fmt::Display for PartlyApplied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PartlyApplied {}

/// `e` from an update of the database at `place`, as `what` failed: "unchanged", unless the
/// outcome is not known (`OutcomeUnknown`) or the write was applied in part (`PartlyApplied`).
pub fn failed(e: anyhow::Error, what: &str, place: &str) -> anyhow::Error {
    if e.chain().any(|c| c.is::<PartlyApplied>()) {
        e.context(format!("{what}; the database in {place} was changed in part"))
    } else if e.chain().any(|c| c.is::<OutcomeUnknown>()) {
        e.context(format!("{what}; the database in {place} may or may not have been changed"))
    } else {
        e.context(format!("{what}; the database in {place} is unchanged"))
    }
}

/// Read access to token counts, in batches: what scoring needs and all it needs.
pub trait TokenLookup: Sync {
    fn totals(&self) -> Totals;
    /// The counts of each hash, in the same order (zero counts for unknown tokens).
    fn lookup(&self, hashes: &[u64]) -> Vec<Counts>;
    /// Like `lookup`, but a record that cannot be right (see `tokenfile::lookup_checked`) is an
    /// error that says so: the database is damaged and should not be used.
    fn lookup_checked(&self, hashes: &[u64]) -> std::result::Result<Vec<Counts>, String> {
        Ok(self.lookup(hashes))
    }
    /// A store across a network answers everything one message needs in one round trip: the
    /// totals, the counts of `hashes` (checked as `lookup_checked` checks them), the LR
    /// table and what `rep` asks of the reputation (`Fetched::rep`). `None` (the default):
    /// not such a store, look up with the other methods. An error is a complete cause for
    /// `X-Spam-Degraded`.
    fn fetch(&self, _hashes: &[u64], _rep: &reputation::Wanted) -> Option<std::result::Result<Fetched, String>> {
        None
    }
}

/// An in-memory store, for tests and scratch evaluation.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    pub totals: Totals,
    pub tokens: TokenMap<Counts>,
}

impl TokenLookup for MemoryStore {
    fn totals(&self) -> Totals {
        self.totals
    }
    fn lookup(&self, hashes: &[u64]) -> Vec<Counts> {
        hashes.iter().map(|h| self.tokens.get(h).copied().unwrap_or_default()).collect()
    }
}

/// One token's record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenRecord {
    pub spam: u32,
    pub ham: u32,
    /// Days since 1970-01-01 when the token was last learned.
    pub last_day: u32,
}

/// What `db stats` shows about the LR weight file.
#[derive(Debug, Clone, Copy)]
pub struct LrStats {
    pub ham: u64,
    pub spam: u64,
    pub bits: u8,
    pub file_size: u64,
    /// The weights were made the way this binary makes features (otherwise they are not used).
    pub current: bool,
}

/// What `db stats` shows.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub totals: Totals,
    /// The LR weights, when there are any.
    pub lr: Option<LrStats>,
    pub tokens: u64,
    pub ledger_entries: u64,
    pub file_size: u64,
    /// Seconds since the epoch of the last write (0: never written).
    pub last_update: u64,
}

/// The database: the files in a directory, or with `[store] redis` the token counts, ledger
/// and LR weights in Redis (the directory then keeps the lock, the reputation database and the
/// queue).
#[derive(Debug, Clone)]
pub struct Database {
    dir: PathBuf,
    redis: Option<std::sync::Arc<redis::Redis>>,
}

const DB_FILE: &str = "tokens.db";
pub(crate) const LOCK_FILE: &str = "lock";

impl Database {
    pub fn at(dir: &Path) -> Database {
        Database { dir: dir.to_path_buf(), redis: None }
    }

    /// The database of `dir`, its tokens in Redis when `redis` says where.
    pub fn with_store(dir: &Path, redis: Option<&RedisConfig>) -> Database {
        Database { dir: dir.to_path_buf(), redis: redis.map(|c| std::sync::Arc::new(redis::Redis::new(c.clone()))) }
    }

    /// The Redis store, when the tokens are there.
    pub fn redis(&self) -> Option<&redis::Redis> {
        self.redis.as_deref()
    }

    /// Where the database is, for messages: the directory, or the Redis store and the
    /// directory that keeps the rest.
    pub fn place(&self) -> String {
        match &self.redis {
            Some(r) => format!("{} (keys {{{}}}:*) and {}", r.cfg.shown(), r.cfg.prefix, self.dir.display()),
            None => self.dir.display().to_string(),
        }
    }

    /// Where the token counts are, for messages: the file, or the Redis URL and key prefix.
    pub fn location(&self) -> String {
        match &self.redis {
            Some(r) => format!("{} (keys {{{}}}:*)", r.cfg.shown(), r.cfg.prefix),
            None => self.file_path().display().to_string(),
        }
    }

    /// The commit record of a write that was interrupted (a process killed while it replaced
    /// the database's files), which the next writer completes (see `commit`); `None` when
    /// there is none, and always with Redis (one transaction a run).
    pub fn interrupted_write(&self) -> Option<PathBuf> {
        (self.redis.is_none() && commit::pending(&self.dir)).then(|| self.dir.join(commit::RECORD))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The token database file.
    pub fn file_path(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }

    /// Opens the database for scoring: maps the file and checks its header, nothing more.
    /// `Ok(None)` when none has been written yet; an error when it is unreadable or corrupt.
    /// The directory and the file are checked (see `files`): a link, or a directory others can
    /// write, is an error.
    /// With Redis nothing is asked here: each message's lookups are one round trip (`fetch`).
    pub fn reader(&self) -> Result<Option<Reader>> {
        if let Some(r) = &self.redis {
            return Ok(Some(Reader { inner: ReaderKind::Redis { store: r.clone(), lr: true, dir: self.dir.clone() } }));
        }
        if !files::check_dir(&self.dir)? {
            return Ok(None);
        }
        Ok(Mapped::open(&self.file_path(), false)?.map(|m| Reader { inner: ReaderKind::Mapped(m) }))
    }

    /// Reads and fully verifies the current contents into an editable snapshot.
    fn load_snapshot(&self) -> Result<Option<Snapshot>> {
        if !files::check_dir(&self.dir)? {
            return Ok(None);
        }
        let Some(m) = Mapped::open(&self.file_path(), true)? else { return Ok(None) };
        let path = self.file_path();
        tokenfile::verify_body(&m.map, &m.header)
            .with_context(|| format!("the token database {} is corrupt", path.display()))?;
        let records = m.records();
        let mut tokens = TokenMap::with_capacity_and_hasher(m.header.records as usize, Default::default());
        for i in 0..m.header.records as usize {
            let (h, r) = tokenfile::record_at(records, i);
            tokens.insert(h, r);
        }
        let ledger = tokenfile::ledger(&m.map, &m.header)
            .with_context(|| format!("the token database {} is corrupt", path.display()))?;
        Ok(Some(Snapshot {
            totals: m.header.totals,
            tokens,
            ledger: ledger.into_iter().collect(),
            ..Snapshot::default()
        }))
    }

    /// The current token file for a writer, not loaded (see `merge`): its header, length and
    /// ledger checked, and with `verify` its body checksum too (otherwise the write checks it
    /// as it streams the file).
    fn load_base(&self, verify: bool) -> Result<Option<Snapshot>> {
        if !files::check_dir(&self.dir)? {
            return Ok(None);
        }
        let Some((base, whole_ledger)) = merge::Base::open(&self.file_path(), verify)? else { return Ok(None) };
        Ok(Some(Snapshot {
            totals: base.header.totals,
            ledger: whole_ledger.unwrap_or_default().into_iter().collect(),
            base: Some(base),
            ..Snapshot::default()
        }))
    }

    /// The LR weight file's path.
    pub fn lr_path(&self) -> PathBuf {
        self.dir.join(lrfile::FILE)
    }

    /// Reads and verifies the LR weights. `Ok(None)` when there are none, or when they were made
    /// with other feature parameters than this binary's (they mean nothing to it: training
    /// starts afresh).
    fn load_lr(&self) -> Result<Option<crate::lr::Model>> {
        let path = self.lr_path();
        if !files::check_dir(&self.dir)? {
            return Ok(None);
        }
        // Read, not mapped: a writer must not depend on a file another process could change.
        let Some(map) = files::read(&path, "LR weight file")? else { return Ok(None) };
        let m = lrfile::decode(&map).with_context(|| format!("the LR weight file {} is corrupt", path.display()))?;
        Ok(Some(m).filter(|m| m.shape == crate::lr::Shape::default()))
    }

    /// Reads and verifies the whole LR weight file, as training does (`lint`): `Ok` when it is
    /// missing or sound.
    pub fn verify_lr(&self) -> Result<()> {
        self.load_lr().map(drop)
    }

    /// Opens the LR weights for scoring: maps the file and checks its header, nothing more.
    /// `Ok(None)` when there are none or they were made with other feature parameters.
    /// With Redis: `None` (the reader fetches the table with the counts).
    pub fn lr_reader(&self) -> Result<Option<LrReader>> {
        if self.redis.is_some() {
            return Ok(None);
        }
        let path = self.lr_path();
        if !files::check_dir(&self.dir)? {
            return Ok(None);
        }
        let Some(map) = files::map(&path, "LR weight file")? else { return Ok(None) };
        let header =
            lrfile::parse_header(&map).with_context(|| format!("the LR weight file {} is corrupt", path.display()))?;
        let current = crate::lr::Shape::default();
        if header.shape != current || header.fingerprint != current.fingerprint() {
            return Ok(None);
        }
        Ok(Some(LrReader { map, header }))
    }

    /// The whole database, read without the write lock (for read-only decisions).
    pub fn snapshot(&self) -> Result<Snapshot> {
        if let Some(r) = &self.redis {
            return r.snapshot();
        }
        let mut snap = self.load_snapshot()?.unwrap_or_default();
        snap.lr = self.load_lr()?;
        Ok(snap)
    }

    /// Runs `f` on the current contents under the exclusive write lock and writes the result
    /// atomically. If `f` fails, nothing is written. With `force`, a corrupt database is moved
    /// aside (never deleted) and started afresh, which `notes` says.
    pub fn update<R>(&self, force: bool, notes: &mut Notes, f: impl FnOnce(&mut Snapshot) -> Result<R>) -> Result<R> {
        if let Some(r) = &self.redis {
            let mut tx = r.begin(force, redis::Parts { tokens: true, reputation: false, queue: false }, notes)?;
            let mut snap = tx.take();
            let out = f(&mut snap)?;
            snap.apply_lr();
            tx.commit(&snap, None, false)?;
            return Ok(out);
        }
        let _lock = self.lock()?;
        let mut snap = self.load_for_update(force, notes)?;
        let r = f(&mut snap)?;
        self.write_learned(&mut snap)?;
        Ok(r)
    }

    /// Like `update`, for training: the token database and the reputation database
    /// (`reputation.db`) are edited together under the one lock and replaced as one commit
    /// (see `commit`: a run killed part way is completed by the next writer, never lost or
    /// counted twice). Messages queued by the filter (honeypot hits) are handed to `f` too;
    /// their queue files are removed only after both databases are written. `notes` gets what
    /// the user should be told (see [`Notes`]).
    pub fn update_all<R>(
        &self,
        force: bool,
        notes: &mut Notes,
        f: impl FnOnce(&mut Snapshot, &mut reputation::Reputation, Vec<queue::Queued>) -> Result<R>,
    ) -> Result<R> {
        let _lock = self.lock()?;
        let mut tx = match &self.redis {
            Some(r) => Some(r.begin(force, redis::Parts { tokens: true, reputation: true, queue: true }, notes)?),
            None => None,
        };
        let mut snap = match &mut tx {
            Some(tx) => tx.take(),
            None => self.load_for_update(force, notes)?,
        };
        let mut rep = match &mut tx {
            Some(tx) => tx.take_reputation(),
            None => {
                // Not loaded: what the run touches is read from the file, and the save merges
                // it in as it copies the file (`reputation::Reputation::open`).
                let opened = reputation::Reputation::open(&self.dir, notes);
                self.recover(opened, reputation::FILE, force, notes)?
            }
        };
        // This host's queue, and with Redis the shared one (what the filters of every host
        // queued; the commit removes what was learned, in the same transaction).
        let mut queued = queue::list(&self.dir, notes)?;
        if let Some(tx) = &mut tx {
            queued.extend(tx.take_queue());
        }
        let done: Vec<(PathBuf, fs::Metadata)> = queued
            .iter()
            .filter_map(|q| match &q.origin {
                queue::Origin::File { path, meta } => Some((path.clone(), meta.clone())),
                queue::Origin::Shared { .. } => None,
            })
            .collect();
        let r = f(&mut snap, &mut rep, queued)?;
        match tx {
            Some(tx) => {
                snap.apply_lr();
                tx.commit(&snap, Some(&rep), false)?;
                self.fold_local_journal(notes);
            }
            None => {
                // A record that could not be read stops the run here, before anything is
                // written.
                rep.check_lookups()?;
                let tokens = self.prepare_learned(&mut snap)?;
                let rep = rep.prepare(&self.dir, notes)?;
                self.commit(tokens, Some(rep))?;
            }
        }
        for (path, meta) in done {
            // Only the queue file that was read, if it is still that file.
            let _ = files::remove_if_same(&path, &meta);
        }
        Ok(r)
    }

    /// With Redis, this host's `reputation.db` keeps only the DNS answers its filters cached
    /// (the journal); a training run folds the journal in, as with files. Its failure costs
    /// only cached answers, so it is a note, not an error.
    fn fold_local_journal(&self, notes: &mut Notes) {
        if !self.dir.join(reputation::JOURNAL).exists() {
            return;
        }
        let folded = reputation::Reputation::open(&self.dir, notes).and_then(|mut local| local.save(&self.dir, notes));
        if let Err(e) = folded {
            notes.push(format!("the DNS answers cached on this host were not folded in: {e:#}"));
        }
    }

    /// The whole reputation database (IP addresses, cached DNS answers, correspondents), read
    /// without the lock: `reputation.db` with its journal; with Redis the shared records (the
    /// pending honeypot hits applied) with this host's cached DNS answers on them.
    pub fn load_reputation(&self, notes: &mut Notes) -> Result<reputation::Reputation> {
        let Some(r) = &self.redis else { return reputation::Reputation::load(&self.dir, notes) };
        let mut rep = r.reputation()?;
        if let Ok(local) = reputation::Reputation::load(&self.dir, notes) {
            reputation::overlay_local_dns(&mut rep, &local);
        }
        Ok(rep)
    }

    /// Edits the reputation database under the write lock (`ip add`, `ip remove`, `ip expire`):
    /// `reputation.db`, or the records in Redis (one MULTI/EXEC, the pending honeypot hits
    /// folded in). With Redis, `local` edits this host's `reputation.db` too (its cached DNS
    /// answers). Nothing is written when `f` fails.
    pub fn update_reputation<R>(
        &self,
        notes: &mut Notes,
        f: impl FnOnce(&mut reputation::Reputation) -> Result<R>,
        local: impl FnOnce(&mut reputation::Reputation),
    ) -> Result<R> {
        let _lock = self.lock()?;
        match &self.redis {
            None => {
                let mut rep = reputation::Reputation::load(&self.dir, notes)?;
                let out = f(&mut rep)?;
                rep.save(&self.dir, notes)?;
                Ok(out)
            }
            Some(r) => {
                let mut tx = r.begin(false, redis::Parts { tokens: false, reputation: true, queue: false }, notes)?;
                let mut rep = tx.take_reputation();
                let out = f(&mut rep)?;
                let snap = tx.take();
                tx.commit(&snap, Some(&rep), false)?;
                if self.dir.join(reputation::FILE).exists() || self.dir.join(reputation::JOURNAL).exists() {
                    // The shared records are written: what is left in this host's old file
                    // only costs a note when it cannot be edited.
                    let edited = reputation::Reputation::load(&self.dir, notes).and_then(|mut mine| {
                        local(&mut mine);
                        mine.save(&self.dir, notes)
                    });
                    if let Err(e) = edited {
                        notes.push(format!("this host's own reputation database was left as it is: {e:#}"));
                    }
                }
                Ok(out)
            }
        }
    }

    /// `ip expire`'s pass over the reputation records (`Reputation::expire`) under the write
    /// lock: `reputation.db` is expired as it is copied, never loaded (see
    /// `reputation::Reputation::save_expired`); in Redis, as `update_reputation` edits it, with
    /// this host's own `reputation.db` expired too. Returns how many records were dropped and
    /// how many are left.
    pub fn expire_reputation(&self, notes: &mut Notes, now: u64, expire_days: u32) -> Result<(u64, u64)> {
        if self.redis.is_some() {
            return self.update_reputation(
                notes,
                |rep| Ok((rep.expire(now, expire_days) as u64, rep.records.len() as u64)),
                |local| {
                    local.expire(now, expire_days);
                },
            );
        }
        let _lock = self.lock()?;
        reputation::Reputation::open(&self.dir, notes)?.save_expired(&self.dir, notes, now, expire_days)
    }

    /// The current contents for a writer (the lock held): a corrupt file is refused, or with
    /// `force` moved aside (never deleted) and started afresh.
    /// The token file is not loaded (see `merge`): with `force` it is verified whole first, so
    /// that a damaged one is moved aside before the run; without, the write verifies it as it
    /// reads it and refuses to replace a damaged one.
    fn load_for_update(&self, force: bool, notes: &mut Notes) -> Result<Snapshot> {
        let mut snap = self.recover(self.load_base(force), DB_FILE, force, notes)?.unwrap_or_default();
        snap.lr = self.recover(self.load_lr(), lrfile::FILE, force, notes)?;
        Ok(snap)
    }

    /// A load's result for a writer: a corrupt `file` is refused, or with `force` moved aside
    /// (never deleted) and replaced by an empty one, which `notes` says. Only a file that was
    /// read and found damaged: one that could not be opened or read (permission denied, a
    /// symbolic link, not a regular file: `files::CannotUse`) is not known to be damaged, and is
    /// refused with what to do, also with `force` (moving an intact database aside would start
    /// training afresh, and leave `tokens.db` and `lr.weights` disagreeing).
    fn recover<T: Default>(&self, loaded: Result<T>, file: &str, force: bool, notes: &mut Notes) -> Result<T> {
        match loaded {
            Ok(v) => Ok(v),
            Err(e) if files::cannot_use(&e) => {
                let fix = match files::fix_for(&e, &self.dir.join(file)) {
                    f if f.is_empty() => f,
                    f => format!(": {f}"),
                };
                let forced =
                    if force { "; --force moves aside only a file that was read and found damaged" } else { "" };
                Err(e.context(format!(
                    "{file} could not be read, so it is not known to be damaged and is left as it is{forced}{fix}"
                )))
            }
            Err(e) if force => {
                let aside = self.dir.join(format!("{file}.corrupt-{}", now_secs()));
                fs::rename(self.dir.join(file), &aside)
                    .with_context(|| format!("cannot move the corrupt database aside to {}", aside.display()))?;
                notes.push(format!("{e:#}; moved it aside to {} and starting afresh", aside.display()));
                Ok(T::default())
            }
            Err(e) if file == DB_FILE => Err(refuse_tokens(e)),
            Err(e) => Err(e.context("refusing to write over it (--force moves it aside and starts it afresh)")),
        }
    }

    /// Takes the exclusive write lock of the database directory (creating it), waiting for
    /// another writer to finish. Held until the returned file is dropped (or the process dies).
    pub fn lock(&self) -> Result<File> {
        let lock = self.lock_file()?;
        let lock_path = self.dir.join(LOCK_FILE);
        lock.lock().with_context(|| format!("cannot lock {}", lock_path.display()))?;
        crate::in_hand::on_out_of_memory(format!(
            "spamfilt: out of memory (a process memory limit?) while updating the database in {}: stopped; \
             nothing in it was changed in place (its files are only ever replaced whole). Raise the limit \
             (Dovecot: vsz_limit of the service that runs it) or make the database smaller (spamfilt db expire)\n",
            self.dir.display()
        ));
        // A writer killed part way through a commit: completed before anything else.
        commit::finish(&self.dir).with_context(|| {
            format!("the last write of the database in {} was interrupted and cannot be completed", self.dir.display())
        })?;
        self.remove_stale_temporaries();
        Ok(lock)
    }

    /// Removes what a writer killed before its rename left (`tokens.db.tmp-…`, `lr.weights.tmp-…`,
    /// 1–2 MB each, and `reputation.db.tmp-…`, as large as `reputation.db`: 46 MB for a million
    /// IP records), that would otherwise pile up over months of nightly runs. Only writers that
    /// hold this lock write those names (every `reputation.db` writer holds it: training, `ip`,
    /// `db load`, `db migrate`, a Redis host's journal fold), so with it held none is in use.
    /// Other names (the policy service's and a Redis host's cache, written without this lock)
    /// are left alone, and so is everything while a commit record is there (it names
    /// temporary files that are not stale: see `commit`; `lock` completes it first).
    /// `commit.tmp-…` is a record a writer was killed writing (nothing was renamed then);
    /// `reputation.journal.tmp-…` a journal rewritten without a commit's folded bytes, or a
    /// reader's conversion of an old-format one, killed before its rename (both hold this lock).
    fn remove_stale_temporaries(&self) {
        if commit::pending(&self.dir) {
            return;
        }
        let Ok(entries) = fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let stale =
                [DB_FILE, lrfile::FILE, reputation::FILE, reputation::JOURNAL, commit::RECORD].iter().any(|f| {
                    name.strip_prefix(f)
                        .and_then(|rest| rest.strip_prefix(".tmp-"))
                        .is_some_and(|suffix| suffix.len() == 16 && suffix.bytes().all(|b| b.is_ascii_hexdigit()))
                });
            if stale {
                // A link is removed, not followed; a failure leaves the file for the next run.
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn lock_file(&self) -> Result<File> {
        self.ensure_dir()?;
        files::open_write(&self.dir.join(LOCK_FILE), "lock file", false)
    }

    /// Creates the directory, private to the user, and checks it (see `files`).
    fn ensure_dir(&self) -> Result<()> {
        files::ensure_dir(&self.dir).context("the database directory cannot be used")
    }

    /// Writes a snapshot aside, fsyncs it, renames it over the database and fsyncs the directory
    /// (with the weights, when they changed, as one commit: see `commit`).
    /// The snapshot has no LR changes waiting (see [`Database::write_learned`]).
    fn write(&self, snap: &Snapshot) -> Result<()> {
        let prepared = self.prepare(snap)?;
        self.commit(prepared, None)
    }

    /// [`Database::write`] of what a run learned (see [`Database::prepare_learned`]).
    fn write_learned(&self, snap: &mut Snapshot) -> Result<()> {
        let prepared = self.prepare_learned(snap)?;
        self.commit(prepared, None)
    }

    /// What [`Database::write`] writes, written aside and synced, not yet renamed.
    fn prepare(&self, snap: &Snapshot) -> Result<Prepared> {
        debug_assert!(snap.lr_pending.is_empty(), "LR changes not applied");
        files::check_dir(&self.dir)?;
        let tokens_tmp = self.merged(snap, &mut |_| true)?;
        self.with_lr(tokens_tmp, snap)
    }

    /// [`Database::prepare`] of what a run learned: its LR changes are applied on another
    /// thread while the token file is written and synced, then the weights are written.
    fn prepare_learned(&self, snap: &mut Snapshot) -> Result<Prepared> {
        if snap.lr_pending.is_empty() {
            return self.prepare(snap);
        }
        files::check_dir(&self.dir)?;
        let tokens_tmp = snap.apply_lr_alongside(|snap| self.merged(snap, &mut |_| true))?;
        self.with_lr(tokens_tmp, snap)
    }

    /// The token file of `snap` written aside (see `merge::write`), not yet renamed.
    fn merged(&self, snap: &Snapshot, keep: &mut dyn FnMut(&TokenRecord) -> bool) -> Result<files::TempFile> {
        merge::write(&self.dir, snap, keep, refuse_tokens)
    }

    /// The token file written aside as `tokens_tmp`, with the weights written beside it when
    /// they changed.
    fn with_lr(&self, tokens_tmp: files::TempFile, snap: &Snapshot) -> Result<Prepared> {
        let mut temps = vec![tokens_tmp];
        if let (true, Some(m)) = (snap.lr_dirty, &snap.lr) {
            temps.push(self.written(lrfile::FILE, &lrfile::encode(m, now_secs()))?);
        }
        Ok(Prepared { temps, remove_lr: snap.lr_dirty && snap.lr.is_none() })
    }

    /// Replaces the files `tokens` and `rep` wrote aside as one (see `commit`): every file is
    /// written and synced aside before any is renamed, so a full disk or a failed write leaves
    /// all as they were, and a process killed between the renames leaves a record the next
    /// writer completes. (Before the record, the weights were renamed before the counts, so
    /// that a crash between them had the next run given the same messages count them again;
    /// the reputation could not be put right that way.) Removing the weights (no model: `db
    /// load` of a dump without them) is a step of the same record, the first: it was done after
    /// the commit, and a kill between left the old weights beside the new counts for good.
    fn commit(&self, tokens: Prepared, rep: Option<reputation::Prepared>) -> Result<()> {
        let mut temps = tokens.temps;
        let (mut folded, mut lock) = (None, None);
        if let Some(rep) = rep {
            temps.push(rep.tmp);
            folded = rep.folded;
            lock = Some(rep.lock);
        }
        // Only weights that are there are recorded as removed (a record that removes nothing
        // keeps the format older binaries read: see `commit`).
        let removes: &[&'static str] =
            if tokens.remove_lr && fs::symlink_metadata(self.lr_path()).is_ok() { &[lrfile::FILE] } else { &[] };
        commit::commit(&self.dir, temps, removes, folded, lock.as_ref())
    }

    /// `bytes` written and synced to a temporary file beside `name`, not yet renamed.
    fn written(&self, name: &str, bytes: &[u8]) -> Result<files::TempFile> {
        let mut tmp = files::TempFile::new(&self.dir, name)?;
        let path = tmp.path().to_path_buf();
        tmp.file().write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
        tmp.file().sync_all().with_context(|| format!("cannot sync {}", path.display()))?;
        Ok(tmp)
    }
}

/// What a writer wrote aside for the token database (see [`Database::prepare`]): the files to
/// rename (`tokens.db`'s, and `lr.weights`' when the weights changed), and whether the weights
/// go (they changed to none).
struct Prepared {
    temps: Vec<files::TempFile>,
    remove_lr: bool,
}

/// A damaged token file's error, as a writer refuses it.
fn refuse_tokens(e: anyhow::Error) -> anyhow::Error {
    e.context(
        "refusing to write over it (`spamfilt db salvage` keeps what is intact; --force moves it aside and starts afresh)",
    )
}

/// Writes `bytes` to `dir/name` atomically (see `files::write_atomic`).
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    files::write_atomic(dir, name, bytes)
}

/// Maps a file of the database directory read-only (see `files::map`). `Ok(None)` when it does
/// not exist.
pub fn map_file(path: &Path, what: &str) -> Result<Option<memmap2::Mmap>> {
    files::map(path, what)
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Today as days since the epoch (what `last_day` records).
pub fn today() -> u32 {
    (now_secs() / 86_400) as u32
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
    use anyhow::bail;

    #[test]
    fn update_then_read() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(&tmp.path().join("db"));
        assert!(db.reader().unwrap().is_none());
        db.update(false, &mut Notes::new(), |s| {
            s.learn(&[1, 2], Class::Spam, 100);
            s.learn(&[2, 3], Class::Ham, 100);
            s.set_ledger([1; 16], Some(Class::Spam.into()));
            Ok(())
        })
        .unwrap();
        let r = db.reader().unwrap().unwrap();
        assert_eq!(r.totals(), Totals { ham: 1, spam: 1 });
        assert_eq!(
            r.lookup(&[1, 2, 3, 4]),
            vec![Counts { spam: 1, ham: 0 }, Counts { spam: 1, ham: 1 }, Counts { spam: 0, ham: 1 }, Counts::default()]
        );
        let st = db.stats().unwrap();
        assert_eq!((st.tokens, st.ledger_entries), (3, 1));
        assert_eq!(db.snapshot().unwrap().ledger(&[1; 16]), Some(Class::Spam));
    }

    /// One run's changes, as `train`, `forget` and a move make them, read back through the
    /// snapshot's methods as they are made.
    fn some_changes(s: &mut Snapshot, tokens: &[(u64, TokenRecord)], ledger: &[(Digest, Learned)]) {
        let day = today();
        let present: Vec<u64> = tokens.iter().step_by(97).map(|t| t.0).collect();
        s.learn(&present, Class::Spam, day);
        s.learn(&[0, 1, 2, u64::MAX], Class::Ham, day);
        assert_eq!(s.token(1), Some(TokenRecord { spam: 0, ham: 1, last_day: day }));
        s.unlearn(&present[..10], Class::Ham);
        for _ in 0..6 {
            s.unlearn_tokens(&present[10..20], Class::Spam);
        }
        for &h in &present[10..20] {
            assert!(s.token(h).is_none_or(|r| r.spam == 0 && r.ham > 0), "{:?}", s.token(h));
        }
        // Taken to nothing, then learned again in the same run: from nothing, as today's.
        s.unlearn_tokens(&[tokens[3].0], Class::Spam);
        s.unlearn_tokens(&[tokens[3].0], Class::Spam);
        s.set_token(tokens[5].0, None);
        assert_eq!(s.token(tokens[5].0), None);
        s.learn(&[tokens[5].0], Class::Ham, day);
        assert_eq!(s.token(tokens[5].0), Some(TokenRecord { spam: 0, ham: 1, last_day: day }));
        // Ledger: removed, changed, added, added and removed, removed and put back.
        s.set_ledger(ledger[0].0, None);
        assert_eq!(s.learned(&ledger[0].0), None);
        s.set_ledger(ledger[5].0, Some(Learned { class: Class::Spam, received: Some(true) }));
        s.set_ledger([0xee; 16], Some(Class::Ham.into()));
        s.set_ledger([0x00; 16], Some(Class::Spam.into()));
        s.set_ledger([0x01; 16], Some(Class::Spam.into()));
        s.set_ledger([0x01; 16], None);
        s.set_ledger(ledger[7].0, None);
        s.set_ledger(ledger[7].0, Some(Class::Ham.into()));
        assert_eq!(s.learned(&ledger[7].0), Some(Class::Ham.into()));
        assert_eq!(s.ledger(&ledger[9].0), Some(ledger[9].1.class));
        assert_eq!(s.learned(&[0x01; 16]), None);
        s.totals.spam += 1;
        s.totals.ham = s.totals.ham.saturating_sub(8);
    }

    /// A writer no longer loads the file (`merge`): it merges its changes into the old file as
    /// it streams it. The file it writes is the one the whole database in memory, changed the
    /// same way, encodes to (counts clamped to the totals, records with no count dropped).
    #[test]
    fn the_streaming_merge_writes_what_the_whole_database_would() {
        let tmp = tempfile::tempdir().unwrap();
        let (file, tokens, ledger) = merge::tests::sample(5000, 300, true, 1);
        let (streamed, whole) = (Database::at(&tmp.path().join("s")), Database::at(&tmp.path().join("w")));
        for db in [&streamed, &whole] {
            fs::create_dir_all(db.dir()).unwrap();
            fs::set_permissions(db.dir(), fs::Permissions::from_mode(0o700)).unwrap();
            fs::write(db.file_path(), &file).unwrap();
        }
        streamed
            .update(false, &mut Notes::new(), |s| {
                assert!(s.base.is_some() && s.tokens.is_empty() && s.ledger.is_empty());
                some_changes(s, &tokens, &ledger);
                Ok(())
            })
            .unwrap();
        {
            let _lock = whole.lock().unwrap();
            let mut s = whole.load_snapshot().unwrap().unwrap();
            assert!(s.base.is_none() && s.tokens.len() == tokens.len());
            some_changes(&mut s, &tokens, &ledger);
            whole.write(&s).unwrap();
        }
        let (a, b) = (fs::read(streamed.file_path()).unwrap(), fs::read(whole.file_path()).unwrap());
        assert_eq!(&a[..48], &b[..48], "header");
        assert_eq!(&a[56..64], &b[56..64], "body checksum");
        assert_eq!(&a[tokenfile::HEADER..], &b[tokenfile::HEADER..], "records and ledger");
        // And that is `tokenfile::encode` of its contents.
        let snap = streamed.snapshot().unwrap();
        let mut t: Vec<(u64, TokenRecord)> = snap.tokens.iter().map(|(&h, &r)| (h, r)).collect();
        t.sort_unstable_by_key(|t| t.0);
        let mut l: Vec<(Digest, Learned)> = snap.ledger.iter().map(|(&d, &l)| (d, l)).collect();
        l.sort_unstable();
        assert_eq!(&tokenfile::encode(snap.totals, 0, &t, &l)[tokenfile::HEADER..], &a[tokenfile::HEADER..]);
        assert_eq!(snap.totals, Totals { ham: 3, spam: 12 });
        assert!(t.iter().all(|(_, r)| r.ham <= 3 && (r.spam > 0 || r.ham > 0)), "clamped to the totals");
        assert_eq!(snap.learned(&[0xee; 16]), Some(Class::Ham.into()));
        assert_eq!(snap.ledger.len(), ledger.len() + 2 - 1);
        assert_eq!(streamed.verify().unwrap(), None);
    }

    /// A run that did not load the file still never writes over a damaged one: the write
    /// checks the body checksum as it streams the old file, and the file stays as it was.
    #[test]
    fn a_damaged_file_is_refused_by_the_write_and_left_as_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(tmp.path());
        db.update(false, &mut Notes::new(), |s| {
            s.learn(&[1, 2, 3], Class::Spam, today());
            s.set_ledger([4; 16], Some(Class::Spam.into()));
            s.set_ledger([5; 16], Some(Class::Ham.into()));
            Ok(())
        })
        .unwrap();
        let good = fs::read(db.file_path()).unwrap();
        // A record's count, a ledger digest (the order still holds), a ledger entry's class.
        for (at, bit) in [(tokenfile::HEADER + 9, 0x40), (good.len() - 17 - 2, 0x01), (good.len() - 1, 0x80)] {
            let mut bad = good.clone();
            bad[at] ^= bit;
            fs::write(db.file_path(), &bad).unwrap();
            let err = db
                .update(false, &mut Notes::new(), |s| {
                    s.learn(&[7], Class::Ham, today());
                    Ok(())
                })
                .unwrap_err();
            let text = format!("{err:#}");
            assert!(text.contains("is corrupt") && text.contains("--force"), "{text}");
            assert_eq!(fs::read(db.file_path()).unwrap(), bad, "byte {at}");
            let left: Vec<_> = fs::read_dir(tmp.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".tmp-"))
                .collect();
            assert!(left.is_empty(), "{left:?}");
        }
        fs::write(db.file_path(), &good).unwrap();
    }

    /// `db expire` streams the file too: what it drops and keeps is as before.
    #[test]
    fn expire_streams_and_keeps_the_ledger() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(tmp.path());
        let old = today() - 400;
        db.update(false, &mut Notes::new(), |s| {
            s.learn(&[10, 11], Class::Spam, old);
            s.learn(&[11, 12], Class::Ham, today());
            s.set_ledger([1; 16], Some(Class::Spam.into()));
            Ok(())
        })
        .unwrap();
        assert_eq!(db.expire(120, 1).unwrap(), 1);
        let snap = db.snapshot().unwrap();
        let mut kept: Vec<u64> = snap.tokens.keys().copied().collect();
        kept.sort_unstable();
        assert_eq!(kept, vec![11, 12]);
        assert_eq!(snap.ledger(&[1; 16]), Some(Class::Spam));
    }

    /// A file whose ledger is not in digest order (no spamfilt wrote one) is still edited
    /// right, and written in order.
    #[test]
    fn a_ledger_out_of_order_is_read_whole_and_written_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(tmp.path());
        let (file, _, ledger) = merge::tests::sample(100, 30, false, 2);
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(db.file_path(), &file).unwrap();
        db.update(false, &mut Notes::new(), |s| {
            assert_eq!(s.learned(&ledger[3].0), Some(ledger[3].1));
            s.set_ledger(ledger[3].0, None);
            s.set_ledger([9; 16], Some(Class::Ham.into()));
            Ok(())
        })
        .unwrap();
        let bytes = fs::read(db.file_path()).unwrap();
        let h = tokenfile::parse_header(&bytes).unwrap();
        let read = tokenfile::ledger(&bytes, &h).unwrap();
        assert!(read.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(read.len(), 30);
        assert!(!read.iter().any(|(d, _)| *d == ledger[3].0) && read.iter().any(|(d, _)| *d == [9; 16]));
    }

    #[test]
    fn records_dated_by_a_clock_ahead_are_not_damage() {
        // A file a writer wrote while its clock was 30 days ahead: its update time and its
        // records' days are all the reader's future. The filter reads them as intact.
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(tmp.path());
        let ahead = today() + 30;
        let recs = [(1u64, TokenRecord { spam: 1, ham: 0, last_day: ahead })];
        let file = tokenfile::encode(Totals { ham: 1, spam: 1 }, ahead as u64 * 86_400, &recs, &[]);
        std::fs::write(tmp.path().join(DB_FILE), file).unwrap();
        let r = db.reader().unwrap().unwrap();
        assert_eq!(r.lookup_checked(&[1, 2]), Ok(vec![Counts { spam: 1, ham: 0 }, Counts::default()]));
        assert_eq!(db.verify().unwrap(), None);
        // The next writer (its clock right again) dates them no later than its own day, so the
        // file it writes needs no allowance; the counts stay.
        db.update(false, &mut Notes::new(), |s| {
            s.learn(&[3], Class::Ham, today());
            Ok(())
        })
        .unwrap();
        let snap = db.snapshot().unwrap();
        assert_eq!(snap.tokens[&1], TokenRecord { spam: 1, ham: 0, last_day: today() });
        assert_eq!(db.reader().unwrap().unwrap().lookup_checked(&[1, 3]).unwrap()[0], Counts { spam: 1, ham: 0 });
    }

    #[test]
    fn concurrent_writers_lose_no_count() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let dir = &dir;
                scope.spawn(move || {
                    for i in 0..10u64 {
                        Database::at(dir)
                            .update(false, &mut Notes::new(), |s| {
                                s.learn(&[42, 1000 * t + i], Class::Spam, 1);
                                Ok(())
                            })
                            .unwrap();
                    }
                });
            }
        });
        let r = Database::at(&dir).reader().unwrap().unwrap();
        assert_eq!(r.totals().spam, 40);
        assert_eq!(r.lookup(&[42])[0].spam, 40);
    }

    #[test]
    fn an_open_reader_keeps_its_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(tmp.path());
        db.update(false, &mut Notes::new(), |s| {
            s.learn(&[7], Class::Ham, 1);
            Ok(())
        })
        .unwrap();
        let old = db.reader().unwrap().unwrap();
        db.update(false, &mut Notes::new(), |s| {
            s.learn(&[7, 8], Class::Ham, 1);
            Ok(())
        })
        .unwrap();
        assert_eq!(old.totals().ham, 1);
        assert_eq!(old.lookup(&[7, 8]), vec![Counts { spam: 0, ham: 1 }, Counts::default()]);
        assert_eq!(db.reader().unwrap().unwrap().totals().ham, 2);
    }

    #[test]
    fn a_failed_update_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(tmp.path());
        let r: Result<()> = db.update(false, &mut Notes::new(), |s| {
            s.learn(&[1], Class::Spam, 1);
            bail!("stop")
        });
        assert!(r.is_err());
        assert!(db.reader().unwrap().is_none());
    }

    #[test]
    fn corrupt_files_are_refused_and_force_moves_them_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(tmp.path());
        db.update(false, &mut Notes::new(), |s| {
            s.learn(&[1, 2, 3], Class::Spam, 1);
            Ok(())
        })
        .unwrap();
        // Flip a byte in the records: the header still validates (readers stay cheap), but
        // writers and stats verify the whole file.
        let mut bytes = fs::read(db.file_path()).unwrap();
        bytes[tokenfile::HEADER + 9] ^= 0xff;
        fs::write(db.file_path(), &bytes).unwrap();
        assert!(format!("{:#}", db.stats().unwrap_err()).contains("corrupt"));
        let err = db.update(false, &mut Notes::new(), |_| Ok(())).unwrap_err();
        assert!(format!("{err:#}").contains("--force"), "{err:#}");
        let mut notes = Notes::new();
        db.update(true, &mut notes, |s| {
            s.learn(&[9], Class::Ham, 1);
            Ok(())
        })
        .unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("is corrupt")
                && notes[0].contains("; moved it aside to")
                && notes[0].contains("tokens.db.corrupt-"),
            "{notes:?}"
        );
        assert_eq!(db.reader().unwrap().unwrap().totals(), Totals { ham: 1, spam: 0 });
        let aside: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("tokens.db.corrupt-"))
            .collect();
        assert_eq!(aside.len(), 1);
        // Truncation is caught by the reader's cheap check.
        fs::write(db.file_path(), &bytes[..bytes.len() - 3]).unwrap();
        assert!(format!("{:#}", db.reader().err().unwrap()).contains("truncated"));
    }

    #[test]
    fn files_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(&tmp.path().join("new-db"));
        db.update(false, &mut Notes::new(), |_| Ok(())).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(db.dir()), 0o700);
        assert_eq!(mode(&db.file_path()), 0o600);
        assert_eq!(mode(&db.dir().join(LOCK_FILE)), 0o600);
    }

    #[test]
    fn expire_drops_rare_stale_tokens_only() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(tmp.path());
        let old = today() - 400;
        db.update(false, &mut Notes::new(), |s| {
            s.learn(&[1], Class::Spam, old); // rare and stale: dropped
            s.learn(&[2], Class::Spam, today()); // rare but recent: kept
            for _ in 0..5 {
                s.learn(&[3], Class::Ham, old); // stale but common: kept
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(db.expire(120, 2).unwrap(), 1);
        let r = db.reader().unwrap().unwrap();
        assert_eq!(r.lookup(&[1, 2, 3]).iter().map(|c| c.spam + c.ham).collect::<Vec<_>>(), vec![0, 1, 5]);
    }

    /// A trainer killed between writing its files aside and renaming them leaves them; the next
    /// writer to take the lock removes them, and nothing else.
    #[test]
    fn a_killed_writers_temporary_files_go_with_the_next_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(&tmp.path().join("db"));
        drop(db.lock().unwrap());
        let stale = [
            "tokens.db.tmp-0123456789abcdef",
            "lr.weights.tmp-fedcba9876543210",
            "reputation.db.tmp-00112233aabbccdd",
            "reputation.journal.tmp-0123456789abcdef",
            "commit.tmp-0123456789abcdef",
        ];
        let kept = [
            "tokens.db.tmp-notes",
            "lr.redis-cache.tmp-0123456789abcdef",
            "reputation.db.tmp-notes",
            "reputation.journal.tmp-notes",
            "reputation.journal",
            "tokens.db",
            "reputation.db",
        ];
        for name in stale.iter().chain(&kept) {
            fs::write(db.dir().join(name), b"half").unwrap();
        }
        let _lock = db.lock().unwrap();
        for name in stale {
            assert!(!db.dir().join(name).exists(), "{name} stays");
        }
        for name in kept {
            assert!(db.dir().join(name).exists(), "{name} went");
        }
    }

    #[test]
    fn lr_weights_are_written_in_an_order_independent_way_and_loaded_back() {
        let tmp = tempfile::tempdir().unwrap();
        let msgs: Vec<([u8; 16], Vec<u32>, Class)> = (0..30u8)
            .map(|i| {
                ([i; 16], vec![i as u32, 100 + (i % 7) as u32, 500], if i % 3 == 0 { Class::Spam } else { Class::Ham })
            })
            .collect();
        let train = |name: &str, order: &mut dyn Iterator<Item = &([u8; 16], Vec<u32>, Class)>| {
            let db = Database::at(&tmp.path().join(name));
            db.update(false, &mut Notes::new(), |s| {
                for (d, f, c) in order {
                    s.queue_lr(d, f, None, Some(*c));
                }
                Ok(())
            })
            .unwrap();
            db
        };
        let a = train("a", &mut msgs.iter());
        let b = train("b", &mut msgs.iter().rev());
        let (ma, mb) = (a.snapshot().unwrap().lr.unwrap(), b.snapshot().unwrap().lr.unwrap());
        assert_eq!(ma, mb);
        assert_eq!((ma.ham, ma.spam), (20, 10));
        assert!(ma.logit(&[0, 100]) > 0.0 && ma.logit(&[1, 101]) < 0.0);
        // The reader sees what the writer wrote.
        let r = a.lr_reader().unwrap().unwrap();
        assert_eq!(crate::lr::Table::learned(&r), (20, 10));
        let (q, exp) = crate::lr::quantise(&ma.weights);
        let q: Vec<u8> = q.iter().map(|&b| b as u8).collect();
        let read = crate::lr::Table::logit(&r, &[0, 100]);
        assert_eq!(read, crate::lr::logit(&crate::lr::QuantWeights(&q, exp), &[0, 100]));
        assert!((read - ma.logit(&[0, 100])).abs() < 2.0 / (1u64 << exp) as f64, "{read}");
        // An update that does not train leaves the file alone; a forget changes it.
        let before = fs::read(a.lr_path()).unwrap();
        a.expire(1, 0).unwrap();
        assert_eq!(fs::read(a.lr_path()).unwrap(), before);
        a.update(false, &mut Notes::new(), |s| {
            s.queue_lr(&msgs[0].0, &msgs[0].1, Some(Class::Spam), None);
            Ok(())
        })
        .unwrap();
        assert_eq!(a.lr_reader().unwrap().map(|r| crate::lr::Table::learned(&r)), Some((20, 9)));
        assert_eq!(a.stats().unwrap().lr.map(|l| (l.ham, l.spam, l.current)), Some((20, 9, true)));
    }

    /// A version 1 weight file (before the i8 table) is scored as it is, with its f32 weights,
    /// and the next training run writes it as version 2 with the same weights.
    #[test]
    fn a_version_1_weight_file_is_read_and_converted_by_the_next_training() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(tmp.path());
        db.update(false, &mut Notes::new(), |s| {
            s.learn(&[1], Class::Spam, 1);
            s.queue_lr(&[1; 16], &[1, 2, 300], None, Some(Class::Spam));
            s.queue_lr(&[2; 16], &[2, 7], None, Some(Class::Ham));
            Ok(())
        })
        .unwrap();
        let m = db.snapshot().unwrap().lr.unwrap();
        fs::write(db.lr_path(), lrfile::encode_v1(&m, 5)).unwrap();
        let r = db.lr_reader().unwrap().unwrap();
        assert_eq!(crate::lr::Table::logit(&r, &[1, 300, 7]), m.logit(&[1, 300, 7]));
        assert_eq!(db.snapshot().unwrap().lr.unwrap(), m);
        assert_eq!(db.stats().unwrap().lr.map(|l| (l.ham, l.spam, l.current)), Some((1, 1, true)));
        // A run that changes nothing for LR leaves the file as it is; one that learns converts it.
        db.expire(1, 0).unwrap();
        assert_eq!(fs::read(db.lr_path()).unwrap()[8], 1);
        db.update(false, &mut Notes::new(), |s| {
            s.queue_lr(&[3; 16], &[9], None, Some(Class::Ham));
            Ok(())
        })
        .unwrap();
        let bytes = fs::read(db.lr_path()).unwrap();
        assert_eq!(lrfile::parse_header(&bytes).unwrap().version, 2);
        let after = lrfile::decode(&bytes).unwrap();
        assert_eq!(after.weights[300], m.weights[300], "weights not touched by the run are kept exactly");
        assert_eq!((after.ham, after.spam), (2, 1));
    }

    #[test]
    fn a_corrupt_weight_file_is_refused_and_force_moves_it_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(tmp.path());
        let learn = |s: &mut Snapshot| {
            s.learn(&[1], Class::Spam, 1);
            s.queue_lr(&[1; 16], &[1, 2], None, Some(Class::Spam));
            Ok(())
        };
        db.update(false, &mut Notes::new(), learn).unwrap();
        let mut bytes = fs::read(db.lr_path()).unwrap();
        bytes[lrfile::HEADER + 4] ^= 0x10;
        fs::write(db.lr_path(), &bytes).unwrap();
        assert!(format!("{:#}", db.stats().unwrap_err()).contains("LR weight file"));
        assert!(format!("{:#}", db.update(false, &mut Notes::new(), learn).unwrap_err()).contains("--force"));
        db.update(true, &mut Notes::new(), learn).unwrap();
        assert_eq!(db.snapshot().unwrap().lr.unwrap().spam, 1);
        assert!(fs::read_dir(tmp.path()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("lr.weights.corrupt-")));
    }

    #[test]
    fn dump_and_load_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let a = Database::at(&tmp.path().join("a"));
        a.update(false, &mut Notes::new(), |s| {
            s.learn(&[5, 6], Class::Spam, 10);
            s.set_ledger([3; 16], Some(Class::Spam.into()));
            Ok(())
        })
        .unwrap();
        let mut text = Vec::new();
        a.dump(&mut text, &mut Notes::new()).unwrap();
        let b = Database::at(&tmp.path().join("b"));
        let r = b.restore(Box::new(text.as_slice()), &mut Notes::new()).unwrap();
        let (st, rep) = (r.stats, r.reputation);
        assert!(r.checked && r.version == 4);
        assert_eq!((st.tokens, st.ledger_entries, rep), (2, 1, Some(0)));
        let mut again = Vec::new();
        b.dump(&mut again, &mut Notes::new()).unwrap();
        assert_eq!(text, again);
    }
}
