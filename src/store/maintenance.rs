//! Whole-database operations the `db` command runs: statistics, dump and restore, expiry. Each goes
//! through the same lock and atomic replace as training (see the module above).

use super::*;

/// What `Database::restore` loaded.
#[derive(Debug)]
pub struct Restored {
    pub stats: Stats,
    /// Reputation records loaded (`None`: the dump had no reputation section).
    pub reputation: Option<usize>,
    /// The dump's version.
    pub version: u32,
    /// Whether the dump was checked complete (version 3 on: its end line and counts).
    pub checked: bool,
}

impl Database {
    pub fn stats(&self) -> Result<Stats> {
        if let Some(r) = &self.redis {
            return r.stats();
        }
        if !files::check_dir(&self.dir)? {
            return Ok(Stats::default());
        }
        let Some(m) = Mapped::open(&self.file_path(), true)? else { return Ok(Stats::default()) };
        tokenfile::verify_body(&m.map, &m.header)
            .with_context(|| format!("the token database {} is corrupt", self.file_path().display()))?;
        let ledger = tokenfile::ledger(&m.map, &m.header)
            .with_context(|| format!("the token database {} is corrupt", self.file_path().display()))?;
        let lr = match files::read(&self.lr_path(), "LR weight file")? {
            Some(map) => Some(
                lrfile::stats(&map)
                    .with_context(|| format!("the LR weight file {} is corrupt", self.lr_path().display()))?,
            ),
            None => None,
        };
        Ok(Stats {
            totals: m.header.totals,
            lr,
            tokens: m.header.records,
            ledger_entries: ledger.len() as u64,
            file_size: m.map.len() as u64,
            last_update: m.header.updated,
        })
    }

    /// Writes the documented text dump (see `dump`).
    /// Both databases: the token database with its ledger, and the reputation database (IP
    /// reputation, cached DNS answers, known correspondents) with its journal applied.
    /// Damaged journal bytes that were skipped are noted in `notes`.
    pub fn dump(&self, out: &mut dyn Write, notes: &mut Notes) -> Result<()> {
        let snap = self.snapshot()?;
        let rep = self.load_reputation(notes)?;
        dump::write(&snap, &rep, out)
    }

    /// Replaces the databases with a dump, atomically each, under the write lock (a corrupt
    /// one is moved aside first). The whole dump is read and checked first (a version 3 dump
    /// must end with its end line and counts, see `dump`): a dump that is not whole changes
    /// nothing. A version 1 dump has no reputation section: reputation.db is then left as it
    /// is. Returns the token stats, the number of reputation records loaded, the dump's version
    /// and whether it was checked complete; a file moved aside is noted in `notes`.
    pub fn restore(&self, input: Box<dyn std::io::BufRead + '_>, notes: &mut Notes) -> Result<Restored> {
        self.restore_loaded(dump::read(input)?, notes)
    }

    /// `restore` of a dump already read (and checked) with `dump::read`.
    pub fn restore_loaded(&self, loaded: dump::Loaded, notes: &mut Notes) -> Result<Restored> {
        let (version, checked) = (loaded.version, loaded.checked);
        let t = &loaded.tokens;
        let stats = Stats {
            totals: t.totals,
            tokens: t.tokens.len() as u64,
            ledger_entries: t.ledger.len() as u64,
            ..Stats::default()
        };
        let _lock = self.lock()?;
        let mut tokens = loaded.tokens;
        // A dump without an [lr] section leaves no weights: old ones would not match the counts.
        tokens.lr_dirty = true;
        if let Some(r) = &self.redis {
            // One transaction replaces the tokens and (when the dump has them) the records.
            let n = loaded.reputation.as_ref().map(|rep| rep.records.len());
            let parts = redis::Parts { tokens: true, reputation: false, queue: false };
            r.begin(true, parts, notes)?.commit(&tokens, loaded.reputation.as_ref(), true)?;
            return Ok(Restored { stats, reputation: n, version, checked });
        }
        self.replace_tokens(&tokens, loaded.reputation.as_ref(), notes)?;
        let records = loaded.reputation.map(|rep| rep.records.len());
        Ok(Restored { stats, reputation: records, version, checked })
    }

    /// Replaces the token counts, ledger and LR weights with `snap` (the lock held), and with
    /// `rep` the reputation records: a corrupt file is moved aside first; in Redis, one
    /// MULTI/EXEC replaces the keys.
    pub fn replace_tokens(
        &self,
        snap: &Snapshot,
        rep: Option<&reputation::Reputation>,
        notes: &mut Notes,
    ) -> Result<()> {
        match &self.redis {
            Some(r) => r
                .begin(true, redis::Parts { tokens: true, reputation: false, queue: false }, notes)?
                .commit(snap, rep, true),
            None => {
                // Every file that will be replaced is checked first (a corrupt one moved aside,
                // one that cannot be opened refused), so that such a refusal changes nothing.
                self.load_for_update(true, notes)?;
                if rep.is_some() {
                    // Only to move a corrupt file aside; its contents are replaced (checked
                    // through, not loaded).
                    let old = reputation::Reputation::open(&self.dir, notes);
                    self.recover(old, reputation::FILE, true, notes)?;
                }
                // Both replaced as one commit (see `commit`).
                let tokens = self.prepare(snap)?;
                let rep = match rep {
                    Some(rep) => {
                        let mut rep = rep.clone();
                        rep.skip_journal(&self.dir)?;
                        Some(rep.prepare(&self.dir, notes)?)
                    }
                    None => None,
                };
                self.commit(tokens, rep)
            }
        }
    }

    /// Drops tokens seen at most `max_count` times in all and not for `days` days.
    pub fn expire(&self, days: u32, max_count: u32) -> Result<u64> {
        let cutoff = today().saturating_sub(days);
        let keep = |r: &TokenRecord| r.spam as u64 + r.ham as u64 > max_count as u64 || r.last_day >= cutoff;
        if self.redis.is_some() {
            // Without `force` nothing is moved aside: there is nothing to note.
            return self.update(false, &mut Notes::new(), |snap| {
                let before = snap.tokens.len();
                snap.tokens.retain(|_, r| keep(r));
                Ok((before - snap.tokens.len()) as u64)
            });
        }
        // The file is streamed through once, the records dropped on the way (see `merge`).
        let _lock = self.lock()?;
        let snap = self.load_for_update(false, &mut Notes::new())?;
        let mut dropped = 0u64;
        let tmp = self.merged(&snap, &mut |r| {
            let kept = keep(r);
            dropped += u64::from(!kept);
            kept
        })?;
        tmp.commit()?;
        Ok(dropped)
    }
}
