//! Replacing several files of the database directory as one: what a run wrote aside
//! (`lr.weights`, `tokens.db`, `reputation.db`), the weights it removes (`db load` of a dump
//! without them) and the journal bytes it folded into `reputation.db`.
//!
//! One rename is atomic; two are not. A training run killed after `tokens.db`'s rename and
//! before `reputation.db`'s would lose the run's reputation counts for good: the ledger in
//! `tokens.db` knows the messages, so the same `train` again is a no-op (the other order counts
//! them twice on the re-run). So a commit of more than one step goes:
//!
//! 1. every file is written aside (`NAME.tmp-` and 16 hex digits) and synced;
//! 2. the commit record `commit` is written aside, synced and renamed into place (the directory
//!    synced): it names the temporary files, the files removed (only `lr.weights`: a run that
//!    ends with no weights) and, when the journal was folded in, the journal bytes that were
//!    (length, device, inode and a digest of them);
//! 3. the files are removed, then renamed into place in the order of [`TARGETS`] (a removal
//!    takes the removed file's place in that order: the weights go first);
//! 4. the folded journal bytes are dropped: the journal removed, or (after an interruption,
//!    when deliveries appended since) rewritten without them;
//! 5. the record is removed.
//!
//! A process killed before step 2 leaves temporary files only (the next writer removes them:
//! nothing was renamed). Killed after it, the next writer to take the lock ([`finish`], from
//! `Database::lock`) completes steps 3 to 5 first: a named temporary file that is gone was
//! renamed already, and journal bytes that are no longer at the start of that same journal were
//! dropped already. Every step can so be done again without effect, and the run lands whole,
//! exactly once. The stale-temporary cleanup never runs while a record is there.
//!
//! A commit of one file and no journal (`db expire`, `ip` without a journal, a run that does not
//! change the weights) is its one rename, as before: no record.
//!
//! The record's format is 1 (`spamfilt commit 1`) when it removes nothing, as before removals
//! were recorded, so that a binary from before then still completes every record it could; a
//! record that removes a file is format 2, which such a binary refuses at its first line,
//! renaming nothing (its error says to look at the record; the newer binary completes it).

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use sha2::{Digest as _, Sha256};

use super::reputation::{lock_journal, JOURNAL};
use super::{files, lrfile, reputation, OutcomeUnknown, DB_FILE};

/// The commit record's name in the database directory.
pub(crate) const RECORD: &str = "commit";
/// The record's first line (its format): 1 when it removes nothing, 2 when it does (a `remove`
/// line, which a binary from before removals were recorded does not read: it refuses the
/// record at this line, renaming nothing).
const HEAD: &str = "spamfilt commit 1";
const HEAD_V2: &str = "spamfilt commit 2";
/// The start of every version's first line.
const HEAD_PREFIX: &str = "spamfilt commit ";
/// No record is larger (three names and a journal line are about 200 bytes).
const MAX_RECORD: u64 = 4096;

/// The files a commit may replace, in the order it renames them: the weights first (as before
/// the record, so that an interrupted commit without one is still no worse), then the counts
/// and the ledger, then the reputation.
pub(crate) const TARGETS: [&str; 3] = [lrfile::FILE, DB_FILE, reputation::FILE];

/// The files a commit may remove: the weights, when a run leaves none (`db load` of a dump
/// without them: old weights beside the new counts would not match them).
pub(crate) const REMOVABLE: [&str; 1] = [lrfile::FILE];

/// The start of the reputation journal a commit folded into `reputation.db`: its first `len`
/// bytes, of the journal file `dev`/`ino`, whose digest is `digest`. The device is written
/// for a person reading the record, not compared when it is completed: `st_dev` is not stable
/// across a restart (btrfs subvolumes, LVM, NFS number their devices as they are mounted), and a
/// power loss is one of the interruptions the record is for. The inode, the length and the
/// digest say whether it is the same journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Folded {
    pub len: u64,
    pub dev: u64,
    pub ino: u64,
    pub digest: String,
}

impl Folded {
    /// The whole journal `bytes` (the file `meta` describes), as folded.
    pub(crate) fn of(meta: &fs::Metadata, bytes: &[u8]) -> Folded {
        Folded { len: bytes.len() as u64, dev: meta.dev(), ino: meta.ino(), digest: digest(bytes) }
    }
}

/// The first 16 bytes of SHA-256, in hex.
fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The file a temporary file of a commit replaces: `Some(T)` for `T.tmp-` and 16 hex digits
/// with `T` one of [`TARGETS`]; `None` for any other name.
pub(crate) fn target_of(name: &str) -> Option<&'static str> {
    TARGETS.into_iter().find(|t| {
        name.strip_prefix(t)
            .and_then(|rest| rest.strip_prefix(".tmp-"))
            .is_some_and(|s| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

/// A commit record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    /// The files removed (of [`REMOVABLE`]), before any rename.
    removes: Vec<String>,
    /// The temporary files, in the order they are renamed.
    renames: Vec<String>,
    journal: Option<Folded>,
}

impl Record {
    /// The record's text: `spamfilt commit 1` (`2` when it removes a file), a `remove NAME`
    /// line per file removed, a `rename NAME` line per file, a `journal LEN DEV INO DIGEST`
    /// line when the journal was folded in, and `end` with the digest of the lines above it (a
    /// damaged record is refused, never half followed).
    fn text(&self) -> String {
        let mut t = format!("{}\n", if self.removes.is_empty() { HEAD } else { HEAD_V2 });
        for name in &self.removes {
            t.push_str(&format!("remove {name}\n"));
        }
        for name in &self.renames {
            t.push_str(&format!("rename {name}\n"));
        }
        if let Some(j) = &self.journal {
            t.push_str(&format!("journal {} {} {} {}\n", j.len, j.dev, j.ino, j.digest));
        }
        let sum = digest(t.as_bytes());
        t.push_str(&format!("end {sum}\n"));
        t
    }

    /// Reads the record at `path` (written by [`Record::text`]), refusing anything else with an
    /// error that names it: not ours (a link, another's, others can write it), too large, not
    /// its format, damaged, or naming a file that is not one of the database's temporary files.
    fn read(path: &Path) -> Result<Option<Record>> {
        let Some((file, _)) = files::open_read(path, "commit record")? else { return Ok(None) };
        let mut bytes = Vec::new();
        file.take(MAX_RECORD + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
        let refuse = |why: String| {
            anyhow::anyhow!(
                "refusing to complete the commit recorded in {}: {why}; nothing was renamed. spamfilt writes \
                 this file only while it replaces the database's files; look at it, and move it away to go on \
                 (the run it recorded is then not completed)",
                path.display()
            )
        };
        if bytes.len() as u64 > MAX_RECORD {
            return Err(refuse(format!("it is larger than {MAX_RECORD} bytes")));
        }
        let text = String::from_utf8(bytes).map_err(|_| refuse("it is not text".into()))?;
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        let v2 = match first {
            HEAD => false,
            HEAD_V2 => true,
            _ => match first.strip_prefix(HEAD_PREFIX) {
                Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                    return Err(refuse(format!(
                        "its format, {}, is not one this spamfilt reads (written by a newer spamfilt?)",
                        v.escape_debug()
                    )))
                }
                _ => return Err(refuse(format!("it does not start with `{HEAD}` or `{HEAD_V2}`"))),
            },
        };
        let mut record = Record { removes: Vec::new(), renames: Vec::new(), journal: None };
        let mut body = format!("{first}\n");
        let mut end = None;
        for line in lines {
            if end.is_some() {
                return Err(refuse("it goes on after its end line".into()));
            }
            let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
            // What the error shows of the record: escaped (no control characters of a planted
            // file reach the terminal).
            let (shown, shown_rest) = (line.escape_debug(), rest.escape_debug());
            match word {
                "remove" if v2 && record.renames.is_empty() && record.journal.is_none() => {
                    let Some(&target) = REMOVABLE.iter().find(|&&t| t == rest) else {
                        return Err(refuse(format!(
                            "it removes `{shown_rest}`, which is not a file a commit removes ({})",
                            REMOVABLE.join(", ")
                        )));
                    };
                    if record.removes.iter().any(|n| n == target) {
                        return Err(refuse(format!("it removes {target} twice")));
                    }
                    record.removes.push(target.to_string());
                }
                "rename" => {
                    let Some(target) = target_of(rest) else {
                        return Err(refuse(format!(
                            "it names `{shown_rest}`, which is not a temporary file of this database ({} followed by \
                             .tmp- and 16 hex digits, in this directory)",
                            TARGETS.join(", ")
                        )));
                    };
                    if record.renames.iter().any(|n| target_of(n) == Some(target)) {
                        return Err(refuse(format!("it names two temporary files for {target}")));
                    }
                    if record.removes.iter().any(|n| n == target) {
                        return Err(refuse(format!("it both removes and replaces {target}")));
                    }
                    record.renames.push(rest.to_string());
                }
                "journal" => {
                    let f: Vec<&str> = rest.split(' ').collect();
                    let num = |s: &str| s.parse::<u64>().ok();
                    match (f.as_slice(), record.journal.is_none()) {
                        ([len, dev, ino, digest], true) if digest.len() == 32 => {
                            let (Some(len), Some(dev), Some(ino)) = (num(len), num(dev), num(ino)) else {
                                return Err(refuse(format!("its journal line `{shown}` is not numbers")));
                            };
                            record.journal = Some(Folded { len, dev, ino, digest: digest.to_string() });
                        }
                        _ => return Err(refuse(format!("its journal line `{shown}` is not one spamfilt writes"))),
                    }
                }
                "end" => {
                    end = Some(rest.to_string());
                    continue;
                }
                _ => return Err(refuse(format!("it has a line spamfilt does not write: `{shown}`"))),
            }
            body.push_str(line);
            body.push('\n');
        }
        match end {
            None => Err(refuse("it has no end line (cut short?)".into())),
            Some(sum) if sum != digest(body.as_bytes()) => {
                Err(refuse("it is damaged (its digest does not match)".into()))
            }
            Some(_) => Ok(Some(record)),
        }
    }

    /// Checks the temporary files the record names before any is renamed: each is missing
    /// (renamed already) or a regular file of ours that others cannot write, with no other
    /// name; a symbolic link or a hard link (which a rename would put in the database's place:
    /// a file elsewhere would then be the database) is refused.
    fn check_files(&self, dir: &Path) -> Result<()> {
        for name in &self.renames {
            let path = dir.join(name);
            match fs::symlink_metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
                Ok(m) if m.file_type().is_symlink() => bail!(
                    "refusing to complete the commit recorded in {}: the file it names, {}, is a symbolic link \
                     (spamfilt never follows links in its database directory); nothing was renamed. Remove the \
                     link and the record to go on (the run it recorded is then not completed)",
                    dir.join(RECORD).display(),
                    path.display()
                ),
                Ok(_) => {
                    let opened = files::open_read(&path, "temporary file").with_context(|| {
                        format!("refusing to complete the commit recorded in {}", dir.join(RECORD).display())
                    })?;
                    // A writer's temporary file has one name; a hard link also has another.
                    if let Some((_, m)) = opened.filter(|(_, m)| m.nlink() != 1) {
                        bail!(
                            "refusing to complete the commit recorded in {}: the file it names, {}, has {} names \
                             (a hard link: spamfilt's temporary files have one); nothing was renamed. Remove it \
                             and the record to go on (the run it recorded is then not completed)",
                            dir.join(RECORD).display(),
                            path.display(),
                            m.nlink()
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

/// Replaces files as one (see the module): `temps` (written aside; each replaces the file its
/// name says, at most one of each of [`TARGETS`]), `removes` (files of [`REMOVABLE`] that go,
/// none of them replaced too) and, with `journal`, the journal bytes folded into
/// `reputation.db`'s (`journal_lock`: the journal's lock, held since they were read).
///
/// A failure before the record is written leaves everything as it was (the temporary files are
/// removed). A failure after it is an [`OutcomeUnknown`]: the record stays, and the next writer
/// completes it.
pub(crate) fn commit(
    dir: &Path,
    mut temps: Vec<files::TempFile>,
    removes: &[&'static str],
    journal: Option<Folded>,
    journal_lock: Option<&File>,
) -> Result<()> {
    if journal.is_none() && removes.is_empty() && temps.len() <= 1 {
        return temps.pop().map_or(Ok(()), files::TempFile::commit);
    }
    let name = |t: &files::TempFile| t.path().file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let rank = |t: &files::TempFile| TARGETS.iter().position(|&x| Some(x) == target_of(&name(t)));
    temps.sort_by_key(rank);
    for t in &mut temps {
        assert!(rank(t).is_some(), "not a file a commit replaces: {}", t.path().display());
        assert!(!removes.iter().any(|&r| target_of(&name(t)) == Some(r)), "a file both removed and replaced");
        t.sync()?;
    }
    for r in removes {
        assert!(REMOVABLE.contains(r), "not a file a commit removes: {r}");
    }
    let record = Record {
        removes: removes.iter().map(|r| r.to_string()).collect(),
        renames: temps.iter().map(name).collect(),
        journal,
    };
    let unknown = |e: anyhow::Error| {
        anyhow::Error::new(OutcomeUnknown(format!(
            "{e:#}: the files of the database in {} were left part way through being replaced; the next command \
             that writes it completes that from {}",
            dir.display(),
            dir.join(RECORD).display()
        )))
    };
    // From the record's rename on, the temporary files are the record's: none is removed,
    // whatever happens. Also when writing the record fails after its rename (the directory's
    // fsync): the next writer would take a named file that is gone for one renamed, and drop
    // journal bytes that were never folded in. So they are kept first, and removed here only
    // when the record is not in place.
    let kept: Vec<std::path::PathBuf> = temps.into_iter().map(files::TempFile::keep).collect();
    if let Err(e) = files::write_atomic(dir, RECORD, record.text().as_bytes()) {
        return match fs::symlink_metadata(dir.join(RECORD)) {
            Err(m) if m.kind() == std::io::ErrorKind::NotFound => {
                for path in &kept {
                    let _ = fs::remove_file(path);
                }
                Err(e)
            }
            _ => Err(unknown(e)),
        };
    }
    complete(dir, &record, journal_lock, false).map_err(unknown)
}

/// Completes a commit a process was killed in, if its record is there (the caller holds the
/// database directory's lock): `Ok(true)` when there was one. A record that is not ours, or
/// that names anything but the database's temporary files, is refused with an error naming
/// it, and nothing is renamed.
pub(crate) fn finish(dir: &Path) -> Result<bool> {
    let Some(record) = Record::read(&dir.join(RECORD))? else { return Ok(false) };
    record.check_files(dir)?;
    complete(dir, &record, None, true)?;
    Ok(true)
}

/// Whether a commit record is there (the stale-temporary cleanup then removes nothing).
pub(crate) fn pending(dir: &Path) -> bool {
    fs::symlink_metadata(dir.join(RECORD)).is_ok()
}

/// Steps 3 to 5 (see the module). `again`: completing an interrupted commit, where a
/// temporary file already renamed is gone. A file to remove that is gone was removed already
/// (or was never there).
fn complete(dir: &Path, record: &Record, journal_lock: Option<&File>, again: bool) -> Result<()> {
    let fault = test_fault();
    let mut step = 0;
    for name in &record.removes {
        let path = dir.join(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
        step += 1;
        if fault == Some(step) {
            interrupt(step)?;
        }
    }
    for name in &record.renames {
        let from = dir.join(name);
        let to = dir.join(target_of(name).expect("checked when written or read"));
        match fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if again && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot rename {} to {}", from.display(), to.display())),
        }
        step += 1;
        if fault == Some(step) {
            interrupt(step)?;
        }
    }
    sync_dir(dir)?;
    if let Some(folded) = &record.journal {
        drop_folded(dir, folded, journal_lock)?;
    }
    let path = dir.join(RECORD);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
    sync_dir(dir)
}

/// Drops the folded bytes from the start of the journal, if they are still there: the same
/// file (inode: see [`Folded`]), at least as long, starting with bytes of the same digest. Appended
/// since (deliveries append while a killed commit waits to be completed), the rest is kept, in
/// a journal written aside and renamed over. Under the journal's lock (`held`, or taken here).
fn drop_folded(dir: &Path, folded: &Folded, held: Option<&File>) -> Result<()> {
    let _taken = match held {
        Some(_) => None,
        None => Some(lock_journal(dir)?),
    };
    let path = dir.join(JOURNAL);
    let Some((mut file, meta)) = files::open_read(&path, "reputation journal")? else { return Ok(()) };
    if meta.ino() != folded.ino || meta.len() < folded.len {
        return Ok(());
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    let Some((head, rest)) = bytes.split_at_checked(folded.len as usize) else { return Ok(()) };
    if digest(head) != folded.digest {
        return Ok(());
    }
    if rest.is_empty() {
        fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        sync_dir(dir)
    } else {
        files::write_atomic(dir, JOURNAL, rest)
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync the directory {}", dir.display()))
}

#[cfg(test)]
thread_local! {
    /// For the unit tests: the commit on this thread stops after this many renames.
    pub(crate) static STOP_AFTER: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// After how many steps (removals and renames, in their order) a test wants the commit
/// interrupted: `SPAMFILT_TEST_FAULT=kill-after-rename-N` (a test hook, documented in
/// docs/reliability.md: the process kills itself with SIGKILL there), or in the unit tests
/// [`STOP_AFTER`].
fn test_fault() -> Option<usize> {
    #[cfg(test)]
    if let Some(n) = STOP_AFTER.with(|s| s.take()) {
        return Some(n);
    }
    let v = std::env::var("SPAMFILT_TEST_FAULT").ok()?;
    v.strip_prefix("kill-after-rename-")?.parse().ok()
}

/// The interruption [`test_fault`] asks for.
fn interrupt(renamed: usize) -> Result<()> {
    if std::env::var_os("SPAMFILT_TEST_FAULT").is_some() {
        eprintln!("spamfilt: test: killed after rename {renamed}");
        // SAFETY: kill with this process's own id and a constant signal has no preconditions.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    bail!("test: stopped after rename {renamed}, as a process killed there")
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::store::reputation::{append_journal, JournalEntry, ReputationLookup};
    use crate::store::{today, Class, Database, Notes};

    const DIGEST: [u8; 16] = [7; 16];
    const NOW: u64 = 1_800_000_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// One message learned as spam from 192.0.2.1, as `train` learns it: only when the ledger
    /// does not know it yet (a re-run is a no-op). `stop`: the commit stops after that many
    /// renames, as a process killed there.
    fn train(db: &Database, stop: Option<usize>) -> Result<()> {
        STOP_AFTER.with(|s| s.set(stop));
        let r = db.update_all(false, &mut Notes::new(), |s, rep, _| {
            if s.ledger(&DIGEST).is_none() {
                s.learn(&[1, 2], Class::Spam, today());
                s.set_ledger(DIGEST, Some(Class::Spam.into()));
                s.queue_lr(&DIGEST, &[1, 2], None, Some(Class::Spam));
                rep.count_learned(ip("192.0.2.1"), true, 1, NOW);
            }
            Ok(())
        });
        STOP_AFTER.with(|s| s.set(None));
        r
    }

    /// A delivery's journal entry: a honeypot hit from `from`.
    fn delivery(db: &Database, from: &str) {
        let e = JournalEntry::new(&Default::default(), Some(ip(from)), NOW);
        assert!(append_journal(db.dir(), &e, std::time::Duration::from_secs(5)).unwrap());
    }

    /// What the database holds, as `db dump` reads it: token totals, the ledger, the LR
    /// counts, and the spam count and honeypot hits of the three addresses.
    /// Spam messages, the ledger's entry, the weights' (ham, spam), and (spam, honeypot) of each
    /// address.
    type State = (u64, Option<Class>, Option<(u64, u64)>, Vec<(u32, u32)>);

    fn state(db: &Database) -> State {
        let snap = db.snapshot().unwrap();
        let rep = db.load_reputation(&mut Notes::new()).unwrap();
        let rec = |a: &str| match rep.get(&crate::store::reputation::ip_key(ip(a))) {
            Some(crate::store::reputation::Record::Ip(r)) => (r.spam, r.honeypot),
            _ => (0, 0),
        };
        (
            snap.totals.spam,
            snap.ledger(&DIGEST),
            snap.lr().map(|m| (m.ham, m.spam)),
            vec![rec("192.0.2.1"), rec("198.51.100.1"), rec("198.51.100.2")],
        )
    }

    fn leftovers(db: &Database) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(db.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-") || n == RECORD)
            .collect();
        v.sort();
        v
    }

    /// A run killed after each of its renames (weights, counts and ledger, reputation; the last
    /// also before the journal's folded bytes are dropped), with a delivery appending to the
    /// journal before the next writer: that writer completes the run, which then holds the
    /// run's counts exactly once, the journal entry folded by the run once and the one appended
    /// since once; the same run again changes nothing. Without the record, the kill after the
    /// counts' rename lost the message's reputation for good (the ledger knew it).
    #[test]
    fn a_run_killed_between_its_renames_is_completed_by_the_next_writer() {
        for stop in 1..=3 {
            let tmp = tempfile::tempdir().unwrap();
            let db = Database::at(&tmp.path().join("db"));
            db.update(false, &mut Notes::new(), |s| {
                s.learn(&[9], Class::Spam, today());
                Ok(())
            })
            .unwrap();
            delivery(&db, "198.51.100.1");
            let err = train(&db, Some(stop)).unwrap_err();
            assert!(format!("{err:#}").contains("stopped after rename"), "{err:#}");
            delivery(&db, "198.51.100.2");
            let want = (2, Some(Class::Spam), Some((0, 1)), vec![(1, 0), (0, 1), (0, 1)]);
            // A command that only reads (the filter, db dump) does not complete it; the next
            // writer does, first thing under the lock.
            drop(db.lock().unwrap());
            assert_eq!(state(&db), want, "after rename {stop}");
            assert_eq!(leftovers(&db), Vec::<String>::new(), "after rename {stop}");
            train(&db, None).unwrap();
            assert_eq!(state(&db), want, "the same run again, after rename {stop}");
        }
    }

    /// Without an interruption the same: one commit, nothing left over.
    #[test]
    fn a_run_lands_whole_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(&tmp.path().join("db"));
        delivery(&db, "198.51.100.1");
        train(&db, None).unwrap();
        assert_eq!(state(&db), (1, Some(Class::Spam), Some((0, 1)), vec![(1, 0), (0, 1), (0, 0)]));
        assert_eq!(leftovers(&db), Vec::<String>::new());
        assert!(!db.dir().join(JOURNAL).exists());
    }

    /// `ip expire` (one file and the journal) killed between its rename and the journal's fold:
    /// completed by the next writer, the journal's entries counted once.
    #[test]
    fn an_expiry_killed_before_the_journal_is_dropped_counts_it_once() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(&tmp.path().join("db"));
        train(&db, None).unwrap();
        delivery(&db, "198.51.100.1");
        STOP_AFTER.with(|s| s.set(Some(1)));
        assert!(db.expire_reputation(&mut Notes::new(), NOW, 30).is_err());
        delivery(&db, "198.51.100.2");
        drop(db.lock().unwrap());
        assert_eq!(state(&db).3, vec![(1, 0), (0, 1), (0, 1)]);
        assert_eq!(leftovers(&db), Vec::<String>::new());
    }

    /// A failed rename (here: its file gone) after the record is written is an outcome not
    /// known, said so; the record stays for the next writer, which completes what is left.
    #[test]
    fn a_failed_rename_is_left_to_the_next_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(&tmp.path().join("db"));
        train(&db, None).unwrap();
        let tokens = files::TempFile::new(db.dir(), DB_FILE).unwrap();
        let rep = files::TempFile::new(db.dir(), reputation::FILE).unwrap();
        fs::remove_file(tokens.path()).unwrap();
        let err = commit(db.dir(), vec![tokens, rep], &[], None, None).unwrap_err();
        assert!(err.chain().any(|c| c.is::<OutcomeUnknown>()), "{err:#}");
        assert!(format!("{err:#}").contains("the next command that writes it completes that"), "{err:#}");
        assert!(pending(db.dir()));
        drop(db.lock().unwrap());
        assert!(!pending(db.dir()));
        assert_eq!(leftovers(&db), Vec::<String>::new());
    }

    /// Writing the record failing after its rename (the directory's fsync, an I/O error): the
    /// temporary files stay with the record, the failure is an outcome not known, and the next
    /// writer completes the run, the journal's entry counted once. They were removed with the
    /// error before, and the next writer took them for renamed: the run was not there and the
    /// journal bytes it had folded in were dropped, never counted.
    #[test]
    fn a_failure_after_the_records_rename_leaves_the_run_to_the_next_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(&tmp.path().join("db"));
        delivery(&db, "198.51.100.1");
        files::FAIL_COMMIT.with(|f| f.set(Some((RECORD, true))));
        let err = train(&db, None).unwrap_err();
        files::FAIL_COMMIT.with(|f| f.set(None));
        delivery(&db, "198.51.100.2");
        drop(db.lock().unwrap());
        assert_eq!(state(&db), (1, Some(Class::Spam), Some((0, 1)), vec![(1, 0), (0, 1), (0, 1)]));
        assert!(err.chain().any(|c| c.is::<OutcomeUnknown>()), "{err:#}");
        assert_eq!(leftovers(&db), Vec::<String>::new());
    }

    /// Writing the record failing before its rename: nothing renamed, no temporary file left.
    #[test]
    fn a_failure_before_the_records_rename_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(&tmp.path().join("db"));
        delivery(&db, "198.51.100.1");
        files::FAIL_COMMIT.with(|f| f.set(Some((RECORD, false))));
        let err = train(&db, None).unwrap_err();
        files::FAIL_COMMIT.with(|f| f.set(None));
        assert!(format!("{err:#}").contains("test: cannot replace"), "{err:#}");
        assert!(!err.chain().any(|c| c.is::<OutcomeUnknown>()), "{err:#}");
        assert_eq!(leftovers(&db), Vec::<String>::new());
        drop(db.lock().unwrap());
        assert_eq!(state(&db), (0, None, None, vec![(0, 0), (0, 1), (0, 0)]));
    }

    /// A run stopped after its renames, before the journal's folded bytes are dropped, and the
    /// machine restarted (a power loss) with the journal's device numbered anew (btrfs, LVM,
    /// NFS): its inode, length and digest still say it is the journal folded in, so its bytes
    /// are dropped and counted once. Compared by device too, they were kept, and counted again.
    #[test]
    fn a_journal_whose_device_was_numbered_anew_is_still_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(&tmp.path().join("db"));
        delivery(&db, "198.51.100.1");
        assert!(train(&db, Some(3)).is_err());
        let path = db.dir().join(RECORD);
        let mut record = Record::read(&path).unwrap().unwrap();
        record.journal.as_mut().unwrap().dev ^= 1;
        fs::write(&path, record.text()).unwrap();
        delivery(&db, "198.51.100.2");
        drop(db.lock().unwrap());
        let want = (1, Some(Class::Spam), Some((0, 1)), vec![(1, 0), (0, 1), (0, 1)]);
        assert_eq!(state(&db), want);
        assert_eq!(leftovers(&db), Vec::<String>::new());
        train(&db, None).unwrap();
        assert_eq!(state(&db), want, "the next fold");
    }

    fn record_naming(db: &Database, names: &[&str]) {
        let r = Record { removes: Vec::new(), renames: names.iter().map(|n| n.to_string()).collect(), journal: None };
        fs::write(db.dir().join(RECORD), r.text()).unwrap();
    }

    /// A record naming a path outside the directory, a name that is not a temporary file of
    /// the database, a symbolic link, or one that is damaged or a link itself, is refused with
    /// an error naming it; nothing is renamed, and the temporary files stay.
    #[test]
    fn a_hostile_or_damaged_record_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::at(&tmp.path().join("db"));
        train(&db, None).unwrap();
        let before = fs::read(db.file_path()).unwrap();
        let record = db.dir().join(RECORD).display().to_string();
        let refused = |db: &Database| format!("{:#}", db.lock().unwrap_err());
        fs::write(tmp.path().join("x"), b"outside").unwrap();
        for name in ["../x", "x", "tokens.db", "tokens.db.tmp-../../x", "tokens.db.tmp-0123"] {
            record_naming(&db, &[name]);
            let err = refused(&db);
            assert!(err.contains(&record) && err.contains(&format!("`{name}`")), "{name}: {err}");
            assert!(err.contains("not a temporary file of this database"), "{err}");
        }
        assert_eq!(fs::read(tmp.path().join("x")).unwrap(), b"outside");
        // Control characters of a planted record are shown escaped, never written out.
        record_naming(&db, &["tokens.db.tmp-\u{1b}]0;owned\u{7}\0"]);
        let err = refused(&db);
        assert!(err.contains(r"`tokens.db.tmp-\u{1b}]0;owned\u{7}\0`") && !err.contains('\u{1b}'), "{err}");
        // A named temporary file that is a link: refused, the link's target untouched.
        let link = "tokens.db.tmp-0123456789abcdef";
        symlink(tmp.path().join("x"), db.dir().join(link)).unwrap();
        let kept = files::TempFile::new(db.dir(), reputation::FILE).unwrap().keep();
        let kept_name = kept.file_name().unwrap().to_str().unwrap().to_string();
        record_naming(&db, &[link, &kept_name]);
        let err = refused(&db);
        assert!(err.contains("symbolic link") && err.contains(link) && err.contains(&record), "{err}");
        assert!(fs::symlink_metadata(db.dir().join(link)).unwrap().file_type().is_symlink());
        assert!(kept.exists(), "the stale-file cleanup removed a file the record names");
        assert_eq!(fs::read(db.file_path()).unwrap(), before);
        // Damaged: refused, not half followed.
        fs::remove_file(db.dir().join(link)).unwrap();
        let other =
            format!("{}{}", &kept_name[..kept_name.len() - 1], if kept_name.ends_with('0') { '1' } else { '0' });
        let text = fs::read_to_string(db.dir().join(RECORD)).unwrap().replace(&kept_name, &other);
        fs::write(db.dir().join(RECORD), text).unwrap();
        let err = refused(&db);
        assert!(err.contains("damaged") && err.contains(&record), "{err}");
        // The record itself a link.
        fs::remove_file(db.dir().join(RECORD)).unwrap();
        fs::write(tmp.path().join("r"), Record { removes: Vec::new(), renames: vec![kept_name], journal: None }.text())
            .unwrap();
        symlink(tmp.path().join("r"), db.dir().join(RECORD)).unwrap();
        let err = refused(&db);
        assert!(err.contains("symbolic link") && err.contains(&record), "{err}");
        assert!(kept.exists());
        // A named temporary file that is a hard link to a file elsewhere: refused, the
        // database and that file untouched.
        fs::remove_file(db.dir().join(RECORD)).unwrap();
        let hard = "tokens.db.tmp-fedcba9876543210";
        fs::hard_link(tmp.path().join("x"), db.dir().join(hard)).unwrap();
        record_naming(&db, &[hard]);
        let err = refused(&db);
        assert!(err.contains("hard link") && err.contains(hard) && err.contains(&record), "{err}");
        assert_eq!(fs::read(db.file_path()).unwrap(), before);
        assert_eq!(fs::read(tmp.path().join("x")).unwrap(), b"outside");
        fs::remove_file(db.dir().join(hard)).unwrap();
        // Moved away: the next writer goes on, and removes what the record named.
        fs::remove_file(db.dir().join(RECORD)).unwrap();
        drop(db.lock().unwrap());
        assert!(!kept.exists());
        assert_eq!(fs::read(db.file_path()).unwrap(), before);
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let tmp = tempfile::tempdir().unwrap();
        let r = Record {
            removes: Vec::new(),
            renames: vec!["lr.weights.tmp-0123456789abcdef".into(), "reputation.db.tmp-fedcba9876543210".into()],
            journal: Some(Folded { len: 12, dev: 3, ino: 4, digest: digest(b"x") }),
        };
        fs::write(tmp.path().join(RECORD), r.text()).unwrap();
        assert!(r.text().starts_with("spamfilt commit 1\n"), "a record that removes nothing stays format 1");
        assert_eq!(Record::read(&tmp.path().join(RECORD)).unwrap(), Some(r));
        assert_eq!(target_of("tokens.db.tmp-0123456789abcdef"), Some(DB_FILE));
        assert_eq!(target_of("reputation.journal.tmp-0123456789abcdef"), None);
    }

    /// A record that removes the weights is format 2 and reads back as written; a removal of
    /// anything else, one in a format 1 record, after a rename, of a file also replaced, or a
    /// format this binary does not know, is refused with an error naming the record.
    #[test]
    fn a_record_that_removes_the_weights_is_format_2() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(RECORD);
        let r = Record {
            removes: vec![lrfile::FILE.into()],
            renames: vec!["tokens.db.tmp-0123456789abcdef".into(), "reputation.db.tmp-fedcba9876543210".into()],
            journal: Some(Folded { len: 12, dev: 3, ino: 4, digest: digest(b"x") }),
        };
        let text = r.text();
        assert!(text.starts_with("spamfilt commit 2\nremove lr.weights\nrename tokens.db.tmp-"), "{text}");
        fs::write(&path, &text).unwrap();
        assert_eq!(Record::read(&path).unwrap(), Some(r));
        // Written with a correct digest, so only the refusal asked for can refuse it.
        let signed = |lines: &str| {
            let sum = digest(lines.as_bytes());
            fs::write(&path, format!("{lines}end {sum}\n")).unwrap();
            format!("{:#}", Record::read(&path).unwrap_err())
        };
        let cases = [
            ("spamfilt commit 2\nremove tokens.db\n", "not a file a commit removes"),
            ("spamfilt commit 2\nremove ../lr.weights\n", "not a file a commit removes"),
            ("spamfilt commit 1\nremove lr.weights\n", "a line spamfilt does not write"),
            ("spamfilt commit 2\nrename tokens.db.tmp-0123456789abcdef\nremove lr.weights\n", "does not write"),
            ("spamfilt commit 2\nremove lr.weights\nremove lr.weights\n", "removes lr.weights twice"),
            ("spamfilt commit 2\nremove lr.weights\nrename lr.weights.tmp-0123456789abcdef\n", "both removes and"),
            ("spamfilt commit 3\n", "its format, 3, is not one this spamfilt reads (written by a newer spamfilt?)"),
            ("spamfilt commit x\n", "it does not start with `spamfilt commit 1` or `spamfilt commit 2`"),
        ];
        for (lines, said) in cases {
            let err = signed(lines);
            assert!(err.contains(said) && err.contains(&path.display().to_string()), "{lines:?}: {err}");
        }
    }

    /// `db load` of a dump without weights over a database that has them, stopped after each
    /// step of its commit (the weights' removal, the counts' rename, the reputation's): the next
    /// writer completes it, and the weights are gone with the counts replaced. They were removed
    /// after the record, outside it: stopped after the counts' rename, the old weights stayed.
    #[test]
    fn a_load_without_weights_stopped_between_its_steps_leaves_no_weights() {
        for stop in 1..=3 {
            let tmp = tempfile::tempdir().unwrap();
            let db = Database::at(&tmp.path().join("db"));
            train(&db, None).unwrap();
            assert!(db.lr_path().exists());
            let rep = db.load_reputation(&mut Notes::new()).unwrap();
            let mut snap = crate::store::Snapshot::default();
            snap.learn(&[5], Class::Ham, today());
            snap.lr_dirty = true;
            let _lock = db.lock().unwrap();
            STOP_AFTER.with(|s| s.set(Some(stop)));
            let err = db.replace_tokens(&snap, Some(&rep), &mut Notes::new()).unwrap_err();
            STOP_AFTER.with(|s| s.set(None));
            drop(_lock);
            assert!(format!("{err:#}").contains(&format!("stopped after rename {stop}")), "{err:#}");
            assert!(pending(db.dir()), "after step {stop}");
            drop(db.lock().unwrap());
            assert!(!db.lr_path().exists(), "after step {stop}: the old weights are still there");
            assert_eq!(db.snapshot().unwrap().totals.ham, 1, "after step {stop}");
            assert_eq!(leftovers(&db), Vec::<String>::new(), "after step {stop}");
        }
    }
}
