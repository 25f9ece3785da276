//! Storage: the token database and the training ledger on disk, locking and atomic replace.
//!
//! PLACEHOLDER persistence (whole-file bincode); the API below is the contract the rest of the
//! program uses and stays; the file format behind it is replaced by the mmap'ed fixed-record one.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use crate::bayes::{Counts, Totals};

/// Which class a message was learned as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
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

/// The stable 64-bit key of a token (FNV-1a, then a 64-bit finalizer for avalanche).
pub fn token_hash(token: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in token.as_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // murmur3 fmix64
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// Read access to token counts, in batches: what scoring needs and all it needs.
pub trait TokenLookup {
    fn totals(&self) -> Totals;
    /// The counts of each hash, in the same order (zero counts for unknown tokens).
    fn lookup(&self, hashes: &[u64]) -> Vec<Counts>;
}

/// An in-memory store, for tests and scratch evaluation.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    pub totals: Totals,
    pub tokens: HashMap<u64, Counts>,
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct TokenRecord {
    pub spam: u32,
    pub ham: u32,
    /// Days since 1970-01-01 when the token was last learned.
    pub last_day: u32,
}

/// What `db stats` shows.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub totals: Totals,
    pub tokens: u64,
    pub ledger_entries: u64,
    pub file_size: u64,
    /// Seconds since the epoch of the last write.
    pub last_update: u64,
}

#[derive(Debug, Default, bincode::Encode, bincode::Decode)]
struct Image {
    spam_msgs: u64,
    ham_msgs: u64,
    last_update: u64,
    tokens: Vec<(u64, TokenRecord)>,
    ledger: Vec<(Digest, Class)>,
}

/// The database in a directory.
#[derive(Debug, Clone)]
pub struct Database {
    dir: PathBuf,
}

const DB_FILE: &str = "tokens.db";

impl Database {
    pub fn at(dir: &Path) -> Database {
        Database { dir: dir.to_path_buf() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }

    /// The token database file.
    pub fn file_path(&self) -> PathBuf {
        self.path()
    }

    /// The whole database, read without the write lock (for read-only decisions).
    pub fn snapshot(&self) -> Result<Snapshot> {
        let img = self.read_image()?.unwrap_or_default();
        Ok(Snapshot {
            totals: Totals { spam: img.spam_msgs, ham: img.ham_msgs },
            tokens: img.tokens.into_iter().collect(),
            ledger: img.ledger.into_iter().collect(),
        })
    }

    /// Writes the documented text dump.
    pub fn dump(&self, _out: &mut dyn Write) -> Result<()> {
        anyhow::bail!("db dump: placeholder store")
    }

    /// Replaces the database with a dump.
    pub fn load(&self, _input: Box<dyn std::io::BufRead + '_>) -> Result<Stats> {
        anyhow::bail!("db load: placeholder store")
    }

    /// Drops rare, stale tokens; returns how many.
    pub fn expire(&self, _days: u32, _max_count: u32) -> Result<u64> {
        anyhow::bail!("db expire: placeholder store")
    }

    fn read_image(&self) -> Result<Option<Image>> {
        let bytes = match fs::read(self.path()) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.path().display())),
        };
        let (img, _) = bincode::decode_from_slice(&bytes, bincode::config::standard())
            .with_context(|| format!("{} is corrupt", self.path().display()))?;
        Ok(Some(img))
    }

    /// Opens the database for scoring. `Ok(None)` when none has been written yet.
    pub fn reader(&self) -> Result<Option<Reader>> {
        Ok(self.read_image()?.map(|img| Reader {
            store: MemoryStore {
                totals: Totals { spam: img.spam_msgs, ham: img.ham_msgs },
                tokens: img.tokens.iter().map(|(h, r)| (*h, Counts { spam: r.spam, ham: r.ham })).collect(),
            },
        }))
    }

    /// Runs `f` on the current contents under the exclusive write lock and writes the result
    /// atomically. If `f` fails, nothing is written. With `force`, an unreadable database is
    /// started afresh.
    pub fn update<R>(&self, force: bool, f: impl FnOnce(&mut Snapshot) -> Result<R>) -> Result<R> {
        fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(self.dir.join("lock"))?;
        lock.lock()?;
        let img = match self.read_image() {
            Ok(img) => img.unwrap_or_default(),
            Err(_) if force => Image::default(),
            Err(e) => return Err(e),
        };
        let mut snap = Snapshot {
            totals: Totals { spam: img.spam_msgs, ham: img.ham_msgs },
            tokens: img.tokens.into_iter().collect(),
            ledger: img.ledger.into_iter().collect(),
        };
        let r = f(&mut snap)?;
        let mut tokens: Vec<_> = snap.tokens.into_iter().collect();
        tokens.sort_unstable_by_key(|t| t.0);
        let img = Image {
            spam_msgs: snap.totals.spam,
            ham_msgs: snap.totals.ham,
            last_update: now_secs(),
            tokens,
            ledger: snap.ledger.into_iter().collect(),
        };
        let bytes = bincode::encode_to_vec(&img, bincode::config::standard())?;
        let tmp = self.dir.join("tokens.db.tmp");
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, self.path())?;
        Ok(r)
    }

    pub fn stats(&self) -> Result<Stats> {
        let img = self.read_image()?.unwrap_or_default();
        Ok(Stats {
            totals: Totals { spam: img.spam_msgs, ham: img.ham_msgs },
            tokens: img.tokens.len() as u64,
            ledger_entries: img.ledger.len() as u64,
            file_size: fs::metadata(self.path()).map(|m| m.len()).unwrap_or(0),
            last_update: img.last_update,
        })
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Today as days since the epoch (what `last_day` records).
pub fn today() -> u32 {
    (now_secs() / 86_400) as u32
}

/// A read-only view for scoring.
pub struct Reader {
    store: MemoryStore,
}

impl TokenLookup for Reader {
    fn totals(&self) -> Totals {
        self.store.totals
    }
    fn lookup(&self, hashes: &[u64]) -> Vec<Counts> {
        self.store.lookup(hashes)
    }
}

/// The whole database, editable, inside [`Database::update`].
pub struct Snapshot {
    totals: Totals,
    tokens: HashMap<u64, TokenRecord>,
    ledger: HashMap<Digest, Class>,
}

impl Snapshot {
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Counts one message of `class` with these (de-duplicated) token hashes.
    pub fn learn(&mut self, hashes: &[u64], class: Class, today: u32) {
        for &h in hashes {
            let r = self.tokens.entry(h).or_default();
            match class {
                Class::Spam => r.spam = r.spam.saturating_add(1),
                Class::Ham => r.ham = r.ham.saturating_add(1),
            }
            r.last_day = r.last_day.max(today);
        }
        match class {
            Class::Spam => self.totals.spam += 1,
            Class::Ham => self.totals.ham += 1,
        }
    }

    /// Undoes [`Snapshot::learn`] (counts never go below zero; empty tokens are dropped).
    pub fn unlearn(&mut self, hashes: &[u64], class: Class) {
        for &h in hashes {
            if let Some(r) = self.tokens.get_mut(&h) {
                match class {
                    Class::Spam => r.spam = r.spam.saturating_sub(1),
                    Class::Ham => r.ham = r.ham.saturating_sub(1),
                }
                if r.spam == 0 && r.ham == 0 {
                    self.tokens.remove(&h);
                }
            }
        }
        match class {
            Class::Spam => self.totals.spam = self.totals.spam.saturating_sub(1),
            Class::Ham => self.totals.ham = self.totals.ham.saturating_sub(1),
        }
    }

    pub fn ledger(&self, digest: &Digest) -> Option<Class> {
        self.ledger.get(digest).copied()
    }

    pub fn set_ledger(&mut self, digest: Digest, class: Option<Class>) {
        match class {
            Some(c) => self.ledger.insert(digest, c),
            None => self.ledger.remove(&digest),
        };
    }
}
