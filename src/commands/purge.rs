//! `spamfilt purge`: the nightly Junk clean-up. Messages older than the age are learned as
//! spam (what the user left in Junk that long is spam), then deleted, in that order: the
//! database is committed before the first file is removed, so a crash loses no training.
//! A message the user trained as ham is left alone.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use crate::cli::{GlobalArgs, PurgeArgs};
use crate::config::Settings;
use crate::learn::{self, Outcome};
use crate::mailbox;
use crate::store::reputation::Reputation;
use crate::store::{self, Class, Database};

pub fn run(settings: &Settings, g: &GlobalArgs, args: &PurgeArgs) -> Result<ExitCode> {
    let age = parse_age(&args.older_than)?;
    let cutoff = SystemTime::now().checked_sub(age).unwrap_or(UNIX_EPOCH);
    // Refuse anything that is not a Maildir before touching any folder.
    for folder in &args.folders {
        if !folder.is_dir() {
            bail!("{} is not a folder", folder.display());
        }
        if !mailbox::is_maildir(folder) {
            bail!("{} is not a Maildir (it needs cur/ and new/); refusing to purge it", folder.display());
        }
    }
    let mut old: Vec<PathBuf> = Vec::new();
    for folder in &args.folders {
        for file in mailbox::list_dir_messages(folder)? {
            if delivery_time(&file)? < cutoff {
                old.push(file);
            }
        }
    }
    let mut keep_ham: Vec<&Path> = Vec::new();
    let mut unreadable: Vec<&Path> = Vec::new();
    let mut to_delete: Vec<&Path> = Vec::new();
    let mut learned = 0u64;
    let mut known = 0u64;
    let today = store::today();
    let db = Database::at(&settings.db_dir);
    let now = store::now_secs();
    let mut decide = |snap: Option<&mut store::Snapshot>, mut rep: Option<&mut Reputation>| -> Result<()> {
        let mut snap = snap;
        for file in &old {
            let raw = match std::fs::read(file) {
                Ok(raw) => raw,
                Err(e) => {
                    eprintln!("spamfilt: cannot read {}: {e}", file.display());
                    unreadable.push(file);
                    continue;
                }
            };
            let m = learn::prepare(&raw, settings.scoring.scan_limit, &settings.tokenizer, &settings.sender.trusted);
            let ledger = snap.as_deref().and_then(|s| s.ledger(&m.digest));
            match ledger {
                Some(Class::Ham) => {
                    keep_ham.push(file);
                    continue;
                }
                Some(Class::Spam) => known += 1,
                None => {
                    if let Some(s) = snap.as_deref_mut() {
                        if !args.dry_run && !args.no_train {
                            let rep = rep.as_deref_mut().expect("a reputation database when learning");
                            if learn::learn_with_sender(s, rep, &m, Class::Spam, today, now) == Outcome::Learned {
                                learned += 1;
                            }
                        } else if !args.no_train {
                            learned += 1;
                        }
                    }
                }
            }
            to_delete.push(file);
        }
        Ok(())
    };
    if args.dry_run {
        // Read the ledger without taking the write lock or writing anything.
        let mut snap = db.snapshot()?;
        decide(Some(&mut snap), None)?;
    } else {
        db.update_all(false, |snap, rep, queued| {
            super::train::learn_queued(settings, g, snap, rep, queued);
            decide(Some(snap), Some(rep))
        })
        .with_context(|| {
            format!("purge failed before deleting anything; {} is unchanged", settings.db_dir.display())
        })?;
    }
    let mut deleted = 0u64;
    let mut failed = false;
    for file in &to_delete {
        if args.dry_run {
            if g.verbose > 0 {
                println!("would delete {}", file.display());
            }
            continue;
        }
        match std::fs::remove_file(file) {
            Ok(()) => {
                deleted += 1;
                if g.verbose > 0 {
                    println!("deleted {}", file.display());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {} // moved away meanwhile
            Err(e) => {
                eprintln!("spamfilt: cannot delete {}: {e}", file.display());
                failed = true;
            }
        }
    }
    for file in &keep_ham {
        eprintln!("spamfilt: kept {}: it was trained as ham", file.display());
    }
    if !g.quiet {
        let verb = if args.dry_run { "would delete" } else { "deleted" };
        let n = if args.dry_run { to_delete.len() as u64 } else { deleted };
        println!(
            "{verb} {n} messages older than {}; learned {learned} as spam, {known} already known as spam, kept {} trained as ham, {} unreadable",
            args.older_than,
            keep_ham.len(),
            unreadable.len()
        );
    }
    Ok(if failed || !unreadable.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Parses an age: `10d`, `36h`, `90m`, `2w`, `30s`; a bare number is days.
pub fn parse_age(s: &str) -> Result<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "d"),
    };
    let n: u64 = num.parse().with_context(|| format!("bad age {s:?}: expected e.g. 10d, 36h or 2w"))?;
    let secs = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => bail!("bad age {s:?}: the unit must be s, m, h, d or w"),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

/// When a Maildir message was delivered: the timestamp that starts its file name (every Maildir
/// deliverer writes `SECONDS.UNIQUE.HOST`), or the file's modification time when the name has
/// none.
pub fn delivery_time(file: &Path) -> Result<SystemTime> {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    if name[digits.len()..].starts_with('.') {
        if let Ok(secs) = digits.parse::<u64>() {
            return Ok(UNIX_EPOCH + Duration::from_secs(secs));
        }
    }
    let meta = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    meta.modified().with_context(|| format!("no modification time for {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        let d = |s| parse_age(s).map(|d| d.as_secs()).ok();
        assert_eq!(d("10d"), Some(864_000));
        assert_eq!(d("10"), Some(864_000));
        assert_eq!(d("36h"), Some(129_600));
        assert_eq!(d("2w"), Some(1_209_600));
        assert_eq!(d("90m"), Some(5400));
        assert_eq!(d("10x"), None);
        assert_eq!(d("d"), None);
        assert_eq!(d(""), None);
    }

    #[test]
    fn delivery_time_from_name() {
        let t = delivery_time(Path::new("/x/cur/1700000000.M1P2.host:2,S")).unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    }
}
