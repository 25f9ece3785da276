//! Read-only views of the database files: the token file mapped (or read whole) with its
//! header checked, and the readers scoring is handed (tokens, LR weights).

use super::*;

/// The bytes of a token file: mapped for readers (they touch only what they look up), read
/// into memory for writers and `db stats` (they read everything anyway, and a read cannot fault
/// when someone truncates the file meanwhile).
pub(super) enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Read(v) => v,
        }
    }
}

/// An open token file whose header was validated.
pub(super) struct Mapped {
    pub(super) map: FileBytes,
    pub(super) header: tokenfile::Header,
}

impl Mapped {
    /// Maps (or with `read`, reads) the file and validates the header (not the body).
    /// `Ok(None)` when there is no file.
    pub(super) fn open(path: &Path, read: bool) -> Result<Option<Mapped>> {
        let map = if read {
            match files::read(path, "token database")? {
                Some(v) => FileBytes::Read(v),
                None => return Ok(None),
            }
        } else {
            match files::map(path, "token database")? {
                Some(m) => FileBytes::Mapped(m),
                None => return Ok(None),
            }
        };
        let header = tokenfile::parse_header(&map)
            .with_context(|| format!("the token database {} is corrupt", path.display()))?;
        Ok(Some(Mapped { map, header }))
    }

    pub(super) fn records(&self) -> &[u8] {
        tokenfile::records(&self.map, &self.header)
    }
}

/// A read-only view for scoring: the mapped file, or the Redis store (looked up in one round
/// trip per message, see `TokenLookup::fetch`).
pub struct Reader {
    pub(super) inner: ReaderKind,
}

pub(super) enum ReaderKind {
    Mapped(Mapped),
    /// `lr`: whether the LR table is fetched too.
    Redis {
        store: std::sync::Arc<super::redis::Redis>,
        lr: bool,
        /// Where the host keeps its local copy of the LR table.
        dir: PathBuf,
    },
}

impl Reader {
    /// Whether the Redis store's LR table is fetched with the counts (the file store's LR
    /// weights have their own reader, `Database::lr_reader`).
    pub fn with_lr(mut self, on: bool) -> Reader {
        if let ReaderKind::Redis { lr, .. } = &mut self.inner {
            *lr = on;
        }
        self
    }
}

impl TokenLookup for Reader {
    fn totals(&self) -> Totals {
        match &self.inner {
            ReaderKind::Mapped(m) => m.header.totals,
            ReaderKind::Redis { store, .. } => {
                store.fetch(&[], &Default::default(), false, None).map(|f| f.totals).unwrap_or_default()
            }
        }
    }
    fn lookup(&self, hashes: &[u64]) -> Vec<Counts> {
        match &self.inner {
            ReaderKind::Mapped(m) => tokenfile::lookup(m.records(), hashes),
            ReaderKind::Redis { .. } => {
                self.lookup_checked(hashes).unwrap_or_else(|_| vec![Counts::default(); hashes.len()])
            }
        }
    }
    fn lookup_checked(&self, hashes: &[u64]) -> std::result::Result<Vec<Counts>, String> {
        match &self.inner {
            ReaderKind::Mapped(m) => tokenfile::lookup_checked(
                m.records(),
                hashes,
                m.header.totals,
                tokenfile::day_bound(&m.header, today()),
            ),
            ReaderKind::Redis { store, .. } => store.fetch(hashes, &Default::default(), false, None).map(|f| f.counts),
        }
    }
    fn fetch(
        &self,
        hashes: &[u64],
        rep: &super::reputation::Wanted,
    ) -> Option<std::result::Result<super::redis::Fetched, String>> {
        match &self.inner {
            ReaderKind::Mapped(_) => None,
            ReaderKind::Redis { store, lr, dir } => Some(store.fetch(hashes, rep, *lr, Some(dir))),
        }
    }
}

/// A read-only view of the LR weights for scoring: the mapped file.
pub struct LrReader {
    pub(super) map: memmap2::Mmap,
    pub(super) header: lrfile::Header,
}

impl crate::lr::Table for LrReader {
    fn learned(&self) -> (u64, u64) {
        (self.header.ham, self.header.spam)
    }
    fn logit(&self, features: &[u32]) -> f64 {
        lrfile::logit(&self.map, &self.header, features)
    }
}
