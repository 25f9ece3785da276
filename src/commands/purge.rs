//! `spamfilt purge`: the nightly Junk clean-up. Messages in Junk longer than the age (counted
//! from the later of the name's delivery time and the file's ctime, which a move into the
//! folder sets, as first seen by purge: `store::junk_seen`) are learned as spam (what the user left in Junk that long is spam), then
//! deleted, in that order: the database is committed before the first file is removed, so a
//! crash loses no training.
//! A message the user trained as ham is left alone, and so is a file that is not mail (see
//! `mailbox::not_mail`: an empty file, a text note): purge deletes only what it learned as spam
//! or found already learned as spam, never what it could not learn.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use crate::cli::{GlobalArgs, PurgeArgs};
use crate::config::Settings;
use crate::learn::{self, Outcome};
use crate::mailbox;
use crate::store::junk_seen;
use crate::store::reputation::Reputation;
use crate::store::{self, Class};

pub fn run(settings: &Settings, g: &GlobalArgs, args: &PurgeArgs) -> Result<ExitCode> {
    let age = parse_age(&args.older_than)?;
    if age < MIN_AGE && !args.force {
        bail!(
            "refusing --older-than {}: under one day, purge would delete Junk before anyone could look at it \
             (use --force if that is really what you want)",
            args.older_than
        );
    }
    let cutoff = cutoff(age);
    // Refuse anything that is not a Junk Maildir before touching any folder.
    for folder in &args.folders {
        check_folder(folder, args.force)?;
    }
    let mut old: Vec<PathBuf> = Vec::new();
    let mut metas: std::collections::HashMap<PathBuf, std::fs::Metadata> = Default::default();
    let mut not_messages = 0u64;
    let mut links: Vec<PathBuf> = Vec::new();
    // When each message was first seen here (`store::junk_seen`): a ctime set later by some
    // nightly tool does not keep Junk young. Unreadable: said, and this run counts as before.
    let seen_before = if settings.has_db_dir() {
        junk_seen::read(&settings.db_dir).unwrap_or_else(|e| {
            // A database directory that cannot be used at all (another user's) fails the run
            // below with the reason: not said twice, once as if the purge went on (newcomer's
            // pass: root with a user's HOME).
            if crate::store::files::check_dir(&settings.db_dir).is_ok() {
                eprintln!("spamfilt: {e:#}; this purge counts ages from the file names and ctimes");
            }
            junk_seen::Seen::default()
        })
    } else {
        junk_seen::Seen::default()
    };
    let mut seen = junk_seen::Seen::default();
    let mut read_folders: Vec<String> = Vec::new();
    // The folder and key each old file is written down under, to forget it once deleted.
    let mut keys: std::collections::HashMap<PathBuf, (String, String)> = Default::default();
    // Messages not yet in the folder longer than the age: left for a later run, and counted so
    // that the summary says why a Junk full of old mail copied in today loses nothing.
    let mut young = 0u64;
    for folder in &args.folders {
        let (files, skipped, linked) = maildir_messages(folder)?;
        not_messages += skipped;
        links.extend(linked);
        let folder_key = std::path::absolute(folder).unwrap_or_else(|_| folder.clone()).to_string_lossy().into_owned();
        read_folders.push(folder_key.clone());
        for (file, meta, entered) in files {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let key = junk_seen::message_key(&name).to_string();
            let entered_secs = entered.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let since = seen_before.since(&folder_key, &key, entered_secs);
            seen.note(&folder_key, &key, since);
            if UNIX_EPOCH + Duration::from_secs(since) < cutoff {
                metas.insert(file.clone(), meta);
                keys.insert(file.clone(), (folder_key.clone(), key));
                old.push(file);
            } else {
                young += 1;
                if g.verbose > 0 && !g.quiet {
                    let days = SystemTime::now()
                        .duration_since(UNIX_EPOCH + Duration::from_secs(since))
                        .map_or(0.0, |d| d.as_secs_f64() / 86_400.0);
                    println!(
                        "kept {}: in the folder {days:.1} days, not older than {}",
                        super::shown_path(&file),
                        args.older_than
                    );
                }
            }
        }
    }
    seen.keep_other_folders(seen_before, &read_folders);
    let mut vanished = 0u64;
    let mut keep_ham: Vec<&Path> = Vec::new();
    let mut unreadable: Vec<&Path> = Vec::new();
    let mut not_mail = 0u64;
    let mut to_delete: Vec<&Path> = Vec::new();
    let mut learned = 0u64;
    let mut known = 0u64;
    let mut would_learn = std::collections::HashSet::new();
    let today = store::today();
    let db = settings.database();
    let now = store::now_secs();
    let mut decide = |snap: Option<&mut store::Snapshot>, mut rep: Option<&mut Reputation>| -> Result<()> {
        let mut snap = snap;
        for file in &old {
            let Some(listed) = metas.get(file) else { continue };
            let raw = match store::files::read_listed(file, listed) {
                // The file listed (same device and inode), which is what is deleted below, and
                // only if it is still there.
                Ok(Some(raw)) => raw,
                // Moved or deleted meanwhile (the user, another client), or another file put in
                // its place: skipped and counted.
                Ok(None) => {
                    vanished += 1;
                    continue;
                }
                Err(e) => {
                    eprintln!("spamfilt: cannot read {}: {e}", super::shown_path(file));
                    unreadable.push(file);
                    continue;
                }
            };
            // Not learned (its "digest" would be that of every other empty or header-less
            // file: the second would count as already known) and so not deleted either: what it
            // is, is for the user to see. Said even with -q, as an unreadable file is.
            if let Some(why) = mailbox::not_mail(&raw) {
                eprintln!(
                    "spamfilt: {}: not a mail message ({why}); left in place, neither learned nor deleted",
                    super::shown_path(file)
                );
                not_mail += 1;
                continue;
            }
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
                            // Nothing is learned, so the ledger does not say a second copy is
                            // known, as it would in the real run: the dry run remembers.
                            if would_learn.insert(m.digest) {
                                learned += 1;
                            } else {
                                known += 1;
                            }
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
        let mut notes = store::Notes::new();
        let mut queued_note = None;
        let done = db.update_all(false, &mut notes, |snap, rep, queued| {
            queued_note = super::train::learn_queued(settings, g, snap, rep, queued);
            decide(Some(snap), Some(rep))
        });
        super::print_notes(&notes);
        done.map_err(|e| store::failed(e, "purge failed before deleting anything", &db.place()))?;
        super::train::say_queued(queued_note);
    }
    let mut deleted = 0u64;
    let mut failed = false;
    for file in &to_delete {
        if args.dry_run {
            if g.verbose > 0 {
                println!("would delete {}", super::shown_path(file));
            }
            continue;
        }
        // Only the file that was listed and read, if it is still that file (not a link or another
        // file put in its place meanwhile).
        let Some(meta) = metas.get(*file) else { continue };
        match store::files::remove_if_same(file, meta) {
            Ok(true) => {
                deleted += 1;
                if let Some((folder, key)) = keys.get(*file) {
                    seen.forget(folder, key);
                }
                if g.verbose > 0 {
                    println!("deleted {}", super::shown_path(file));
                }
            }
            Ok(false) => vanished += 1, // moved away meanwhile
            Err(e) => {
                // The path once, then why (the error's context names the path again).
                eprintln!(
                    "spamfilt: cannot delete {}: {}",
                    super::shown_path(file),
                    crate::problems::root_cause_text(&e)
                );
                failed = true;
            }
        }
    }
    if !args.dry_run && settings.has_db_dir() {
        if let Err(e) = junk_seen::write(&settings.db_dir, &seen) {
            eprintln!("spamfilt: cannot write the purge record: {e:#}; the next purge counts ages from the file names and ctimes");
        }
    }
    // Not an error (the user's own correction, kept on purpose): said unless quiet, so that a
    // nightly `-q` run in cron mails nothing for it.
    if !g.quiet {
        for file in &keep_ham {
            eprintln!("spamfilt: kept {}: it was trained as ham", super::shown_path(file));
        }
    }
    if !g.quiet {
        let (verb, learn) = if args.dry_run { ("would delete", "would learn") } else { ("deleted", "learned") };
        let n = if args.dry_run { to_delete.len() as u64 } else { deleted };
        println!(
            "{verb} {n} messages older than {}; {learn} {learned} as spam, {known} already known as spam, kept {} trained as ham, {} unreadable{}",
            args.older_than,
            keep_ham.len(),
            unreadable.len(),
            if not_mail > 0 { format!(", {not_mail} skipped (not mail)") } else { String::new() }
        );
        if young > 0 {
            println!(
                "left {young} messages in the folder {} or less for a later run (the age counts from when a message \
                 came into the folder: the later of its file name's delivery time and the file's ctime, which a copy \
                 or move sets, or the earlier time purge wrote down when it first saw it, in purge-seen.state; -v \
                 names them)",
                args.older_than
            );
        }
        if vanished > 0 || not_messages > 0 {
            println!(
                "skipped {vanished} messages that vanished meanwhile (moved or deleted by something else) and left alone {not_messages} files that are not Maildir messages"
            );
        }
        if !links.is_empty() {
            let mut shown: Vec<String> = links.iter().take(3).map(|f| super::shown_path(f)).collect();
            if links.len() > 3 {
                shown.push(format!("and {} more", links.len() - 3));
            }
            println!(
                "left alone {}: {} (purge deletes what it learns, so it never follows a link)",
                super::plural(links.len() as u64, "symbolic link", "symbolic links"),
                shown.join(", ")
            );
        }
    }
    Ok(if failed || !unreadable.is_empty() || not_mail > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The least `--older-than` accepted without `--force`.
const MIN_AGE: Duration = Duration::from_secs(86_400);

/// Words that name a spam folder, in its name (case-insensitive): Junk, Spam, Bulk (Yahoo),
/// Ongewenst (Outlook in Dutch: "Ongewenste e-mail").
const JUNK_NAMES: [&str; 4] = ["junk", "spam", "bulk", "ongewenst"];

/// Refuses (unless `force`) a folder purge must not eat: not a Maildir, the root of a
/// Maildir++ mailbox (the inbox, with `.Junk/`, `.Sent/`… inside), a folder whose name does not
/// say it holds spam, or one whose `cur/` or `new/` is a symbolic link to somewhere else.
fn check_folder(folder: &Path, force: bool) -> Result<()> {
    match std::fs::metadata(folder) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("{} is not a folder", folder.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("{} does not exist", folder.display()),
        Err(e) => {
            bail!("cannot read {}: {}", folder.display(), crate::problems::error_text(&e.into()))
        }
    }
    if !mailbox::is_maildir(folder) {
        bail!("{} is not a Maildir (it needs cur/ and new/); refusing to purge it", folder.display());
    }
    if force {
        return Ok(());
    }
    let mut subfolders: Vec<String> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read folder {}", folder.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n.len() > 1 && n != ".." && mailbox::is_maildir(&folder.join(n)))
        .collect();
    if !subfolders.is_empty() {
        subfolders.sort();
        subfolders.truncate(4);
        bail!(
            "refusing to purge {}: it is the root of a Maildir++ mailbox (your inbox, with the folders {} inside); \
             purge learns every old message in it as spam and deletes it. Name the Junk folder itself (e.g. {}/.Junk), \
             or use --force",
            folder.display(),
            subfolders.join(", "),
            folder.display()
        );
    }
    let real = std::fs::canonicalize(folder).with_context(|| format!("cannot resolve {}", folder.display()))?;
    let name = real.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    if !JUNK_NAMES.iter().any(|w| name.contains(w)) {
        bail!(
            "refusing to purge {}: its name does not say it holds spam (none of Junk, Spam, Bulk, Ongewenst); \
             purge learns every old message in it as spam and deletes it. Use --force if it really is your spam folder",
            folder.display()
        );
    }
    for sub in ["cur", "new"] {
        let p = folder.join(sub);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            bail!(
                "refusing to purge {}: {} is a symbolic link to somewhere else (use --force if that is intended)",
                folder.display(),
                p.display()
            );
        }
    }
    Ok(())
}

/// A message file: its path, metadata (not following a link) and the time it came into the
/// folder (`mailbox::maildir_entered`).
type MessageFile = (PathBuf, std::fs::Metadata, SystemTime);

/// The message files in `cur/` and `new/` of a Maildir: regular files (not links) with Maildir
/// names, each with its metadata and the time it came into the folder: the later of its name's
/// delivery time and its ctime, so that what was moved into Junk today under an old name is
/// not old (attack report F18). Anything else (`notes.txt`, a folder) is left alone and
/// counted; symbolic links are left alone and listed (third).
fn maildir_messages(folder: &Path) -> Result<(Vec<MessageFile>, u64, Vec<PathBuf>)> {
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut links = Vec::new();
    for sub in ["new", "cur"] {
        let dir = folder.join(sub);
        let rd = std::fs::read_dir(&dir).with_context(|| format!("cannot read folder {}", dir.display()))?;
        for entry in rd {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            // DirEntry::metadata does not follow a link.
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", super::shown_path(&entry.path()))),
            };
            match mailbox::maildir_entered(&name, &meta) {
                Some(entered) if meta.file_type().is_file() => out.push((entry.path(), meta, entered)),
                _ if name.starts_with('.') => {}
                _ if meta.file_type().is_symlink() => links.push(entry.path()),
                _ => skipped += 1,
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    links.sort();
    Ok((out, skipped, links))
}

/// The time before which a message that came then is older than `age` now.
pub fn cutoff(age: Duration) -> SystemTime {
    SystemTime::now().checked_sub(age).unwrap_or(UNIX_EPOCH)
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
}
