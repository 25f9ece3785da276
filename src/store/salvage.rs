//! Checking a token database through and through (`spamfilt lint`) and rebuilding a damaged one
//! from what still verifies (`spamfilt db salvage`).
//!
//! The format (docs/db-format.md) has no checksum per record, so what "verifies" is what a
//! record must satisfy to be right: records sorted by hash without duplicates (the longest
//! increasing run of hashes is kept, so one damaged hash costs one record, not its
//! neighbours), counts no larger than the messages learned, a last-learned day between 2000 and
//! the day after the later of today and the file's update time (`tokenfile::day_bound`). The
//! ledger is a bincode list of (16-byte digest, entry byte) pairs, 17 bytes each, and is
//! read pair by pair. A record damaged into other plausible values cannot be told apart.

use std::fs;

use anyhow::{Context, Result};

use super::tokenfile::{self, HEADER, LEDGER_ENTRY, RECORD};
use super::{now_secs, today, Class, Database, Digest, Learned, Snapshot, TokenRecord, Totals, DB_FILE};

/// What `salvage` kept and dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Salvaged {
    pub records_kept: u64,
    pub records_dropped: u64,
    pub ledger_kept: u64,
    pub ledger_dropped: u64,
    pub totals: Totals,
    /// Whether the header was intact (else the totals were rebuilt from the ledger).
    pub header_intact: bool,
    /// Where the damaged file was moved.
    pub aside: std::path::PathBuf,
}

/// The length of a bincode varint at the start of `b` and its value.
fn varint(b: &[u8]) -> Option<(usize, u64)> {
    match *b.first()? {
        n @ 0..=250 => Some((1, n as u64)),
        251 => Some((3, u16::from_le_bytes(b.get(1..3)?.try_into().ok()?) as u64)),
        252 => Some((5, u32::from_le_bytes(b.get(1..5)?.try_into().ok()?) as u64)),
        253 => Some((9, u64::from_le_bytes(b.get(1..9)?.try_into().ok()?))),
        _ => None,
    }
}

/// Whether `b` is exactly a ledger section: a count, then that many 17-byte entries.
fn is_ledger(b: &[u8]) -> bool {
    match varint(b) {
        Some((n, count)) => {
            (b.len() - n) as u64 == count.saturating_mul(LEDGER_ENTRY as u64)
                && b[n..].chunks(LEDGER_ENTRY).all(|e| e.len() == LEDGER_ENTRY && Learned::from_byte(e[16]).is_some())
        }
        None => false,
    }
}

/// The ledger entries that decode, and how many did not.
fn salvage_ledger(b: &[u8]) -> (Vec<(Digest, Learned)>, u64) {
    let Some((n, count)) = varint(b) else { return (Vec::new(), 0) };
    let mut kept = Vec::new();
    let mut dropped = 0;
    for e in b[n..].chunks(LEDGER_ENTRY).take(count.min(usize::MAX as u64) as usize) {
        match (e.len() == LEDGER_ENTRY, e.get(16).and_then(|&b| Learned::from_byte(b))) {
            (true, Some(l)) => kept.push((e[..16].try_into().expect("16 bytes"), l)),
            _ => dropped += 1,
        }
    }
    (kept, dropped)
}

/// The indices of the longest strictly increasing run (not necessarily contiguous) of `keys`.
fn longest_increasing(keys: &[u64]) -> Vec<usize> {
    // Patience sorting: tails[k] = index of the smallest tail of an increasing run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<Option<usize>> = vec![None; keys.len()];
    for (i, &k) in keys.iter().enumerate() {
        let pos = tails.partition_point(|&t| keys[t] < k);
        prev[i] = if pos > 0 { Some(tails[pos - 1]) } else { None };
        if pos == tails.len() {
            tails.push(i);
        } else {
            tails[pos] = i;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut at = tails.last().copied();
    while let Some(i) = at {
        out.push(i);
        at = prev[i];
    }
    out.reverse();
    out
}

/// What can be read back from the bytes of a (possibly damaged) token file.
struct Recovered {
    tokens: Vec<(u64, TokenRecord)>,
    records_seen: u64,
    ledger: Vec<(Digest, Learned)>,
    ledger_dropped: u64,
    totals: Totals,
    header_intact: bool,
}

fn recover(file: &[u8], today: u32) -> Recovered {
    let header = tokenfile::parse_header(file).ok();
    // Where the records end and the ledger starts.
    let (records, ledger_bytes, totals) = match &header {
        Some(h) => {
            let recs = tokenfile::records(file, h);
            (recs, &file[HEADER + recs.len()..], Some(h.totals))
        }
        None => {
            let body = file.get(HEADER..).unwrap_or_default();
            // The split that leaves exactly a ledger after whole records (the longest such
            // ledger: a short one, such as a last byte 0 read as an empty ledger, can match by
            // chance); if none does, every whole record is a candidate and the ledger is lost.
            let split = (0..=body.len() / RECORD).find(|&k| is_ledger(&body[k * RECORD..]));
            match split {
                Some(k) => (&body[..k * RECORD], &body[k * RECORD..], None),
                None => (&body[..body.len() / RECORD * RECORD], &[][..], None),
            }
        }
    };
    let (ledger, ledger_dropped) = salvage_ledger(ledger_bytes);
    let (ledger_ham, ledger_spam) = ledger.iter().fold((0u64, 0u64), |(h, s), (_, l)| match l.class {
        Class::Ham => (h + 1, s),
        Class::Spam => (h, s + 1),
    });
    let n = records.len() / RECORD;
    let all: Vec<(u64, TokenRecord)> = (0..n).map(|i| tokenfile::record_at(records, i)).collect();
    // Without the header, the ledger counts the messages learned; without either, only the
    // day and non-zero checks apply.
    let from_ledger = Totals { ham: ledger_ham, spam: ledger_spam };
    let bound =
        totals.unwrap_or(if ledger.is_empty() { Totals { ham: u64::MAX, spam: u64::MAX } } else { from_ledger });
    let today = header.as_ref().map_or(today, |h| tokenfile::day_bound(h, today));
    let plausible: Vec<&(u64, TokenRecord)> =
        all.iter().filter(|(_, r)| tokenfile::plausible(r, bound, today)).collect();
    let keys: Vec<u64> = plausible.iter().map(|(h, _)| *h).collect();
    let tokens: Vec<(u64, TokenRecord)> = longest_increasing(&keys).into_iter().map(|i| *plausible[i]).collect();
    let totals = totals.unwrap_or_else(|| {
        // Every learned message is in the ledger; a token never counts more messages than that.
        let max_spam = tokens.iter().map(|(_, r)| r.spam as u64).max().unwrap_or(0);
        let max_ham = tokens.iter().map(|(_, r)| r.ham as u64).max().unwrap_or(0);
        Totals { ham: ledger_ham.max(max_ham), spam: ledger_spam.max(max_spam) }
    });
    Recovered { tokens, records_seen: n as u64, ledger, ledger_dropped, totals, header_intact: header.is_some() }
}

impl Database {
    /// Checks the whole token database as a writer would, and every record as the filter does.
    /// `Ok(None)` when there is no database yet; `Ok(Some(problem))` when it is damaged.
    pub fn verify(&self) -> Result<Option<String>> {
        let path = self.file_path();
        let map = match super::map_file(&path, "token database") {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(None),
            // Not read (permission denied, a link…): said with what to do.
            Err(e) if super::files::cannot_use(&e) => {
                let fix = super::files::fix_for(&e, &path);
                let text = crate::problems::error_text(&e);
                return Ok(Some(if fix.is_empty() { text } else { format!("{text}: {fix}") }));
            }
            Err(e) => return Ok(Some(e.root_cause().to_string())),
        };
        let h = match tokenfile::parse_header(&map) {
            Ok(h) => h,
            Err(e) => return Ok(Some(format!("{e} (spamfilt db salvage rebuilds it from what is intact)"))),
        };
        let damaged = |what: String| Ok(Some(format!("{what} (spamfilt db salvage keeps the intact records)")));
        if let Err(e) = tokenfile::verify_body(&map, &h) {
            return damaged(e.to_string());
        }
        if let Err(e) = tokenfile::ledger(&map, &h) {
            return damaged(e.to_string());
        }
        let recs = tokenfile::records(&map, &h);
        let today = tokenfile::day_bound(&h, today());
        let mut last = None;
        for i in 0..h.records as usize {
            let (hash, r) = tokenfile::record_at(recs, i);
            if last.is_some_and(|l| l >= hash) || !tokenfile::plausible(&r, h.totals, today) {
                return damaged(format!("token record {i} of {} is damaged", h.records));
            }
            last = Some(hash);
        }
        Ok(None)
    }

    /// Rebuilds a damaged token database from the records and ledger entries that verify (see
    /// the module comment), under the write lock. The damaged file is moved aside, never
    /// deleted. `Ok(None)` when there is nothing to salvage (no database, or an intact one).
    pub fn salvage(&self) -> Result<Option<Salvaged>> {
        let _lock = self.lock()?;
        if self.verify()?.is_none() {
            return Ok(None);
        }
        let path = self.file_path();
        let file = super::files::read(&path, "token database")?
            .with_context(|| format!("{} disappeared while salvaging it", path.display()))?;
        let r = recover(&file, today());
        let snap = Snapshot {
            totals: r.totals,
            tokens: r.tokens.iter().copied().collect(),
            ledger: r.ledger.iter().copied().collect(),
            ..Snapshot::default()
        };
        let aside = self.dir.join(format!("{DB_FILE}.corrupt-{}", now_secs()));
        fs::rename(&path, &aside)
            .with_context(|| format!("cannot move the damaged database aside to {}", aside.display()))?;
        if let Err(e) = self.write(&snap) {
            // Put the original back rather than leave no database at all.
            let _ = fs::rename(&aside, &path);
            return Err(e);
        }
        Ok(Some(Salvaged {
            records_kept: r.tokens.len() as u64,
            records_dropped: r.records_seen - r.tokens.len() as u64,
            ledger_kept: snap.ledger.len() as u64,
            ledger_dropped: r.ledger_dropped + (r.ledger.len() - snap.ledger.len()) as u64,
            totals: r.totals,
            header_intact: r.header_intact,
            aside,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Sample = (Vec<(u64, TokenRecord)>, Vec<(Digest, Learned)>, Vec<u8>);

    fn sample() -> Sample {
        let day = today();
        let tokens: Vec<(u64, TokenRecord)> = (1..=300u64)
            .map(|i| (i * 0x0100_0000_0000, TokenRecord { spam: (i % 3) as u32, ham: 1, last_day: day }))
            .collect();
        // Entries of every kind: from before the Received flag, with it and without.
        let flag = |i: u8| [None, Some(true), Some(false)][i as usize % 3];
        let ledger: Vec<(Digest, Learned)> = (0..5u8)
            .map(|i| ([i; 16], Learned { class: Class::Ham, received: flag(i) }))
            .chain((5..8u8).map(|i| ([i; 16], Learned { class: Class::Spam, received: flag(i) })))
            .collect();
        let file = tokenfile::encode(Totals { ham: 5, spam: 3 }, 1, &tokens, &ledger);
        (tokens, ledger, file)
    }

    #[test]
    fn longest_increasing_run() {
        assert_eq!(longest_increasing(&[1, 2, 99, 4, 5]), vec![0, 1, 3, 4]);
        assert_eq!(longest_increasing(&[]), Vec::<usize>::new());
        assert_eq!(longest_increasing(&[5, 5, 6]).len(), 2);
    }

    #[test]
    fn a_damaged_header_keeps_every_record_and_rebuilds_the_totals() {
        let (tokens, ledger, mut file) = sample();
        for b in &mut file[..HEADER] {
            *b = 0xa5;
        }
        let r = recover(&file, today());
        assert!(!r.header_intact);
        assert_eq!(r.tokens, tokens);
        assert_eq!(r.ledger, ledger);
        assert_eq!(r.totals, Totals { ham: 5, spam: 3 });
    }

    #[test]
    fn a_damaged_record_is_dropped_alone() {
        let (tokens, ledger, mut file) = sample();
        // A count far above the messages learned, and a hash out of order.
        file[HEADER + 10 * RECORD + 8..HEADER + 10 * RECORD + 12].copy_from_slice(&[0xff, 0xff, 0, 0]);
        file[HEADER + 20 * RECORD + 7] ^= 0x40;
        let r = recover(&file, today());
        assert!(r.header_intact);
        assert_eq!(r.tokens.len(), tokens.len() - 2);
        assert!(!r.tokens.contains(&tokens[10]) && !r.tokens.contains(&tokens[20]));
        assert_eq!(r.ledger, ledger);
    }

    #[test]
    fn ledger_split_is_found_without_a_header() {
        let (_, ledger, mut file) = sample();
        // The last byte 0 also reads as an empty ledger: the longer one must win.
        *file.last_mut().unwrap() = 0;
        let body = &file[HEADER..];
        let k = (0..=body.len() / RECORD).find(|&k| is_ledger(&body[k * RECORD..])).unwrap();
        assert_eq!(k, 300);
        assert_eq!(salvage_ledger(&body[k * RECORD..]).0[..7], ledger[..7]);
    }
}
