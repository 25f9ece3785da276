//! `train --older-than AGE --below SCORE`: which of the messages given to `train` to learn.
//!
//! The mirror of the nightly purge ("what stayed in Junk that long is spam"): what the user kept
//! in the inbox longer than AGE, and the filter, scoring it now as `check` does, puts below
//! SCORE, is ham. How long it has been there is read as `purge` reads it
//! (`mailbox::maildir_entered`): from the later of the Maildir file name's delivery time and the
//! file's ctime. The question is how long the user has had to move it out, so a message moved
//! into the inbox today under an old name (from another folder or Maildir, a backup), or first
//! seen today (the client's move from `new/` to `cur/` after a holiday), waits its AGE from
//! then; a flag change (a rename) starts it again, which only learns that ham later. The score
//! is computed afresh from the message (an X-Spam-* field in the file counts for nothing).
//! A message the ledger knows, in either class, is passed over before it is scored: one the user
//! trained as spam is never learned as ham this way, and a rerun only reads and parses the
//! messages it learned before (their digest) and scores the new ones.

use std::time::{Duration, SystemTime};

use anyhow::Result;

use crate::cli::GlobalArgs;
use crate::config::Settings;
use crate::mailbox::Entry;
use crate::store::Class;

/// What selects: the age (with the text given, for messages) and the score bound.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    pub older_than: Option<(Duration, &'a str)>,
    pub below: Option<f64>,
    /// `--balanced`: learn no more ham than this times the spam learned (with `below`).
    pub balanced: Option<f64>,
}

/// Why messages were not selected, counted for the summary.
#[derive(Debug, Default)]
pub struct Skipped {
    pub given: u64,
    pub selected: u64,
    pub young: u64,
    pub no_time: u64,
    pub known: u64,
    pub scored: u64,
    /// Not looked at or not chosen: as much ham as spam learned (`--balanced`).
    pub later: u64,
}

enum Decision {
    Known(Class),
    /// Unreadable or not mail: handed on to learning as it is, which reports it as it reports
    /// any message it cannot read (not counted as selected).
    PassOn,
    Scored(f64),
}

/// `--older-than` needs a delivery time for every message: refuses (before anything is
/// learned) what is not a message file of its own (standard input, a message of an mbox) and a
/// path that cannot be opened (no such folder, no permission), saying why.
pub fn check_entries(entries: &[Entry], rules: &Rules) -> Result<()> {
    if let Some((_, age)) = rules.older_than {
        // A folder that cannot be opened (a mistyped cron line) fails the run before anything is
        // chosen: `--balanced` would otherwise leave it "for a later run" for ever, unsaid.
        if let Some(e) = entries.iter().find(|e| e.is_unreadable()) {
            let why = e.read().err().map(|err| crate::problems::error_text(&err)).unwrap_or_default();
            anyhow::bail!("{why}; nothing learned");
        }
        if let Some(e) = entries.iter().find(|e| e.file().is_none()) {
            let what = if e.name == "-" { "standard input".to_string() } else { e.name.clone() };
            anyhow::bail!(
                "--older-than {age} reads each message's delivery time from its Maildir file name \
                 (1700000000.M1P2.host:2,S); {what} is not a message file of its own (name a Maildir folder \
                 such as ~/Maildir/cur); nothing learned"
            );
        }
    }
    Ok(())
}

/// The messages of `entries` to learn, in order, and what was passed over. With `--below`,
/// messages are scored with what `check` scores with (`check::Parts`); messages the ledger
/// knows are passed over unscored.
pub fn select(
    settings: &Settings,
    g: &GlobalArgs,
    entries: Vec<Entry>,
    rules: &Rules,
) -> Result<(Vec<Entry>, Skipped)> {
    let mut skipped = Skipped { given: entries.len() as u64, ..Skipped::default() };
    let cutoff = rules.older_than.map(|(age, _)| super::purge::cutoff(age));
    let now = SystemTime::now();
    // Since when the message has been in the folder: the later of its name's delivery time and
    // its ctime (a file that cannot be looked at is taken by its name: reading it fails below
    // and says why).
    let entered = |e: &Entry| -> Option<SystemTime> {
        let path = e.file()?;
        let name = path.file_name()?.to_string_lossy().into_owned();
        match std::fs::metadata(path) {
            Ok(meta) => crate::mailbox::maildir_entered(&name, &meta),
            Err(_) => crate::mailbox::maildir_delivery(&name),
        }
    };
    // The age first: it costs no read (one look at the file's metadata).
    let mut old: Vec<(Entry, Option<SystemTime>)> = Vec::with_capacity(entries.len());
    for e in entries {
        let Some(cutoff) = cutoff else {
            old.push((e, None));
            continue;
        };
        match entered(&e) {
            Some(t) if t < cutoff => old.push((e, Some(t))),
            Some(t) => {
                skipped.young += 1;
                if g.verbose > 0 {
                    let age = rules.older_than.map_or("", |(_, a)| a);
                    println!("skipped {}: {}not older than {age}", super::Shown(&e.name), age_note(Some(t), now));
                }
            }
            None => {
                skipped.no_time += 1;
                if g.verbose > 0 {
                    println!(
                        "skipped {}: its name has no delivery time (not a Maildir message file)",
                        super::Shown(&e.name)
                    );
                }
            }
        }
    }
    let Some(below) = rules.below else {
        skipped.selected = old.len() as u64;
        return Ok((old.into_iter().map(|(e, _)| e).collect(), skipped));
    };
    let snap = settings.database().snapshot()?;
    // `--balanced RATIO`: no more ham than RATIO times the spam learned. The newest messages
    // first, a part at a time, until that many are chosen: what is left waits for a later run
    // unread, so a run costs what it learns, not the size of the folder.
    let budget = rules.balanced.map(|ratio| {
        let t = snap.totals();
        // Saturating: a huge ratio is no bound.
        ((t.spam as f64 * ratio).floor() as u64).saturating_sub(t.ham)
    });
    if budget.is_some() {
        old.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
    }
    let part = match budget {
        Some(b) => usize::try_from(b).unwrap_or(usize::MAX).saturating_mul(2).max(32),
        None => old.len().max(1),
    };
    let parts = super::check::Parts::open(settings, g)?;
    let scorer = parts.scorer(settings, g);
    let mut out = Vec::with_capacity(old.len());
    for (i, chunk) in old.chunks(part).enumerate() {
        if budget.is_some_and(|b| skipped.selected >= b) {
            skipped.later += (old.len() - i * part) as u64;
            break;
        }
        super::map_ordered(
            chunk,
            |(e, _)| {
                let Ok(raw) = e.read() else { return Decision::PassOn };
                let msg = crate::message::Message::parse(&raw, settings.scoring.scan_limit);
                if let Some(class) = snap.ledger(&crate::learn::digest(&msg)) {
                    return Decision::Known(class);
                }
                drop(msg);
                // The bytes already read: the file is not read a second time.
                match super::check::score_read(&scorer, &e.name, &raw) {
                    Ok(s) => Decision::Scored(s.verdict.score),
                    Err(_) => Decision::PassOn,
                }
            },
            |(e, t), d| match d {
                Decision::Known(class) => {
                    skipped.known += 1;
                    if g.verbose > 1 || (g.verbose > 0 && class == Class::Spam) {
                        println!("skipped {}: already learned as {}", super::Shown(&e.name), class.name());
                    }
                }
                Decision::Scored(_) if budget.is_some_and(|b| skipped.selected >= b) => {
                    skipped.later += 1;
                    if g.verbose > 0 {
                        println!(
                            "skipped {}: enough ham learned for the spam (--balanced); left for a later run",
                            super::Shown(&e.name)
                        );
                    }
                }
                Decision::Scored(score) if score < below => {
                    if g.verbose > 0 {
                        println!(
                            "learning {} as ham: {}scores {} now (below {})",
                            super::Shown(&e.name),
                            age_note(*t, now),
                            crate::verdict::format_score(score),
                            crate::verdict::format_score(below)
                        );
                    }
                    skipped.selected += 1;
                    out.push(e.clone());
                }
                Decision::Scored(score) => {
                    skipped.scored += 1;
                    if g.verbose > 0 {
                        println!(
                            "skipped {}: scores {} now (not below {})",
                            super::Shown(&e.name),
                            crate::verdict::format_score(score),
                            crate::verdict::format_score(below)
                        );
                    }
                }
                Decision::PassOn => out.push(e.clone()),
            },
        );
    }
    Ok((out, skipped))
}

/// "in the folder 12.3 days, " (nothing when the time is not known).
fn age_note(entered: Option<SystemTime>, now: SystemTime) -> String {
    match entered {
        Some(t) => {
            let days = now.duration_since(t).map_or(0.0, |d| d.as_secs_f64() / 86_400.0);
            format!("in the folder {days:.1} days, ")
        }
        None => String::new(),
    }
}

/// The summary line (unless quiet): how many of the messages given were selected, and why the
/// others were not.
pub fn summary(s: &Skipped, rules: &Rules, class: Class) -> String {
    let mut why = Vec::new();
    if let Some((_, age)) = rules.older_than {
        why.push(format!("{} in the folder {age} or less", s.young));
        if s.no_time > 0 {
            why.push(format!("{} without a delivery time in their name", s.no_time));
        }
    }
    if let Some(below) = rules.below {
        why.push(format!("{} scoring {} or more now", s.scored, crate::verdict::format_score(below)));
        why.push(format!("{} learned before (not scored again)", s.known));
    }
    if rules.balanced.is_some() {
        why.push(format!("{} left for a later run (--balanced: enough ham learned for the spam)", s.later));
    }
    format!("selected {} of {} messages given as {}; passed over {}", s.selected, s.given, class.name(), why.join(", "))
}
