//! The learning queue: messages the filter decided to learn (a honeypot hit is spam by
//! definition) wait in `queue/` beside the database until the next training run (`train`,
//! `forget`, `purge` — the daily cron purge at the latest) learns them under the write lock.
//!
//! The filter never rewrites the token database: a delivery stays as cheap as a read, and
//! twenty deliveries at once never wait for each other. Each queued message is one file,
//! written aside and renamed into place, so a half-written one is never learned; it is removed
//! only after the databases that learned it are written.
//!
//! Only what spamfilt made is ever read or removed: `queue/` must be a real directory of ours
//! (a link is refused), and a file counts only when its name is one we give
//! (`spam-NANOS-PID-RANDOM`, or `spam-NANOS-PID` from older versions), it is a regular file of
//! ours (not a link) and, when it is removed, it is still the file that was read.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{files, Class, Notes};

const DIR: &str = "queue";
/// Where the filter notes what it did not queue because the queue was full (one line each:
/// `SECONDS BYTES`), for the next training run to report.
const DROPPED: &str = "dropped";
/// The dropped log stops growing here (a line is about 20 bytes: thousands of drops).
const MAX_DROPPED_LOG: u64 = 64 * 1024;

/// How much the queue may hold (`[queue]` in the config file). A honeypot that attracts a
/// flood must not fill the disk: once either limit is reached, further messages are not queued
/// (the filter still delivers them, scored, and still records the sending IP's honeypot hit),
/// and the next training run says how many were dropped. Filters count and add under a lock,
/// so the limits hold however many run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueLimits {
    /// At most this many queued messages (default 200).
    pub max_messages: usize,
    /// At most this many bytes of queued messages in all (default 16 MiB; each message is cut
    /// to `scan_limit`, 512 KiB by default).
    pub max_bytes: u64,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits { max_messages: 200, max_bytes: 16 << 20 }
    }
}

/// What `add` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    Queued(PathBuf),
    /// Not queued: the queue already holds this many messages and bytes.
    Dropped {
        messages: usize,
        bytes: u64,
    },
}

/// One queued message (its bytes are read when it is learned: see [`Queued::read`]).
pub struct Queued {
    pub class: Class,
    pub origin: Origin,
}

/// Where a queued message waits.
pub enum Origin {
    /// A file in `queue/`; `meta`: the file as listed (removal checks it is still this file).
    File { path: PathBuf, meta: fs::Metadata },
    /// An entry of the shared queue in Redis (`field` in `{P}:queue`), read with the store.
    Shared { field: Vec<u8>, body: Vec<u8> },
}

impl Queued {
    /// The message (a file read without following a link).
    pub fn read(&self) -> Result<Vec<u8>> {
        match &self.origin {
            Origin::File { path, .. } => files::read(path, "queued message")?
                .with_context(|| format!("the queued message {} vanished", path.display())),
            Origin::Shared { body, .. } => Ok(body.clone()),
        }
    }

    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        match &self.origin {
            Origin::File { meta, .. } => meta.len(),
            Origin::Shared { body, .. } => body.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A name for a queued message: `CLASS-NANOS-PID-RANDOM` (a file in `queue/`, a field of the
/// shared queue).
pub fn new_name(class: Class) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}-{}-{}", class.name(), std::process::id(), files::random_suffix())
}

/// Queues (the first `limit` bytes of) a message to be learned as `class`, unless the queue is
/// at one of its `limits` (then the drop is noted for the next training run). Checking costs a
/// directory read and a `stat` per queued message, bounded by `limits.max_messages`. What in the
/// queue is not ours is noted in `notes` (see [`list`]).
pub fn add(
    db_dir: &Path,
    class: Class,
    message: &[u8],
    limit: usize,
    limits: &QueueLimits,
    notes: &mut Notes,
) -> Result<Added> {
    files::ensure_dir(db_dir)?;
    let dir = files::ensure_subdir(db_dir, DIR).context("cannot use the learning queue")?;
    let body = &message[..message.len().min(limit)];
    // Counting and adding are one step under the queue's lock, so filters running at once
    // cannot each see room for one more and all add it (they overshot by one each).
    let _lock = lock(db_dir, LOCK_WAIT)?;
    let (messages, bytes) = size(db_dir, notes)?;
    if messages >= limits.max_messages || bytes + body.len() as u64 > limits.max_bytes {
        let log = dir.join(DROPPED);
        let mut f = files::open_write(&log, "queue's dropped log", true)?;
        if f.metadata().map(|m| m.len()).unwrap_or(0) < MAX_DROPPED_LOG {
            let line = format!("{} {}\n", super::now_secs(), body.len());
            f.write_all(line.as_bytes()).with_context(|| format!("cannot write {}", log.display()))?;
        }
        return Ok(Added::Dropped { messages, bytes });
    }
    let name = new_name(class);
    let mut tmp = files::TempFile::new(&dir, &name)?;
    let shown = tmp.path().display().to_string();
    tmp.file().write_all(body).with_context(|| format!("cannot write {shown}"))?;
    tmp.commit().with_context(|| format!("cannot queue {}", dir.join(&name).display()))?;
    Ok(Added::Queued(dir.join(name)))
}

/// The lock filters take to count the queue and add to it (training only removes, so it needs
/// none). It is held for a directory read and one write of at most `scan_limit` bytes.
const LOCK_FILE: &str = "queue.lock";
/// How long a filter waits for the queue's lock before it gives up queueing (the message is
/// delivered, scored, either way; the error says why it was not queued).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn lock(db_dir: &Path, wait: std::time::Duration) -> Result<fs::File> {
    let path = db_dir.join(LOCK_FILE);
    let lock = files::open_write(&path, "queue lock file", false)?;
    let deadline = std::time::Instant::now() + wait;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(lock),
            Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            Err(fs::TryLockError::WouldBlock) => {
                anyhow::bail!(
                    "the learning queue stayed locked for {} s ({}); not queued",
                    wait.as_secs(),
                    path.display()
                )
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}

/// How many messages the queue holds and their bytes in all (`notes` as for [`list`]).
pub fn size(db_dir: &Path, notes: &mut Notes) -> Result<(usize, u64)> {
    let q = list(db_dir, notes)?;
    Ok((q.len(), q.iter().map(Queued::len).sum()))
}

/// How many messages the filter did not queue since the last call, and their bytes; the note
/// is removed. `(0, 0)` when none were dropped.
pub fn take_dropped(db_dir: &Path) -> Result<(u64, u64)> {
    let dir = db_dir.join(DIR);
    if !files::check_subdir(&dir)? {
        return Ok((0, 0));
    }
    let log = dir.join(DROPPED);
    let Some((mut f, meta)) = files::open_read(&log, "queue's dropped log")? else { return Ok((0, 0)) };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut f, &mut text).with_context(|| format!("cannot read {}", log.display()))?;
    files::remove_if_same(&log, &meta)?;
    let mut n = 0;
    let mut bytes = 0;
    for line in text.lines() {
        n += 1;
        bytes += line.split_whitespace().nth(1).and_then(|b| b.parse::<u64>().ok()).unwrap_or(0);
    }
    Ok((n, bytes))
}

/// How old an unfinished queue file is before training removes it: no filter takes that long
/// to write one (a termination signal between writing it and renaming it leaves it for good).
const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the unfinished queue files (`NAME.tmp-RANDOM`, NAME one `add` gives) older than an
/// hour: a filter stopped by a signal while queueing left them, and nothing else ever would
/// remove them (review, smaller notes). Only regular files of ours; a link or anything we did not
/// name is left alone. How many were removed.
pub fn remove_stale_temporaries(db_dir: &Path) -> Result<u64> {
    let dir = db_dir.join(DIR);
    if !files::check_subdir(&dir).context("cannot use the learning queue")? {
        return Ok(0);
    }
    let rd = fs::read_dir(&dir).with_context(|| format!("cannot read the learning queue {}", dir.display()))?;
    let (me, now) = (files::euid(), std::time::SystemTime::now());
    let mut removed = 0;
    for entry in rd.flatten() {
        let Ok(name) = entry.file_name().into_string() else { continue };
        let Some((base, random)) = name.rsplit_once(".tmp-") else { continue };
        if parse_name(base).is_none() || random.len() != 16 || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else { continue };
        let age = meta.modified().ok().and_then(|t| now.duration_since(t).ok()).unwrap_or_default();
        if meta.file_type().is_file()
            && meta.uid() == me
            && age > STALE_TEMPORARY
            && files::remove_if_same(&path, &meta)?
        {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether `name` is one `add` gives: `CLASS-NANOS-PID-RANDOM` (or `CLASS-NANOS-PID`, as
/// versions before the random part named them). The class and the time when it is.
pub fn parse_name(name: &str) -> Option<(Class, u128)> {
    let mut parts = name.split('-');
    let class = match parts.next()? {
        "spam" => Class::Spam,
        "ham" => Class::Ham,
        _ => return None,
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 39 && s.bytes().all(|b| b.is_ascii_digit());
    let nanos = parts.next().filter(|s| digits(s))?;
    parts.next().filter(|s| digits(s))?;
    match parts.next() {
        None => {}
        Some(r) if r.len() == 16 && r.bytes().all(|b| b.is_ascii_hexdigit()) => {}
        Some(_) => return None,
    }
    if parts.next().is_some() {
        return None;
    }
    Some((class, nanos.parse().ok()?))
}

/// The queued messages, oldest first. Anything else in the directory (a temporary file of a
/// writer that died mid-write, a file we did not name, a link, another user's file) is skipped;
/// a link or foreign file is noted in `notes`, for the caller to tell the user.
pub fn list(db_dir: &Path, notes: &mut Notes) -> Result<Vec<Queued>> {
    let dir = db_dir.join(DIR);
    if !files::check_subdir(&dir).context("cannot use the learning queue")? {
        return Ok(Vec::new());
    }
    let rd = fs::read_dir(&dir).with_context(|| format!("cannot read the learning queue {}", dir.display()))?;
    let mut found: Vec<(u128, String, Class)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| parse_name(&n).map(|(c, t)| (t, n, c)))
        .collect();
    found.sort();
    let me = files::euid();
    let mut out = Vec::new();
    for (_, name, class) in found {
        let path = dir.join(&name);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_file() && (m.uid() == me || m.uid() == 0) => {
                out.push(Queued { class, origin: Origin::File { path, meta: m } })
            }
            Ok(_) => notes.push(format!(
                "skipping {}: not a regular file of yours, so not something spamfilt queued",
                path.display()
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => notes.push(format!("cannot read the queued message {}: {e}", path.display())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, PermissionsExt};

    use super::files::private_dir;
    use super::*;

    #[test]
    fn add_and_list_in_order() {
        let d = private_dir();
        assert!(list(d.path(), &mut Notes::new()).unwrap().is_empty());
        let l = QueueLimits::default();
        add(d.path(), Class::Spam, b"Subject: one\n\nx\n", 1 << 20, &l, &mut Notes::new()).unwrap();
        add(d.path(), Class::Spam, b"Subject: two\n\nyyyyyyyy\n", 12, &l, &mut Notes::new()).unwrap();
        fs::write(d.path().join(DIR).join("spam-1-1.tmp-0123456789abcdef"), b"half").unwrap();
        let q = list(d.path(), &mut Notes::new()).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].read().unwrap(), b"Subject: one\n\nx\n");
        assert_eq!(q[1].read().unwrap(), b"Subject: two");
        assert_eq!(q[1].class, Class::Spam);
    }

    #[test]
    fn names_we_did_not_give_and_links_are_left_alone() {
        assert_eq!(parse_name("spam-17-42"), Some((Class::Spam, 17)));
        assert_eq!(parse_name("ham-17-42-0123456789abcdef"), Some((Class::Ham, 17)));
        for bad in ["spam-17", "notes.txt", "spam-x-1", "spam-1-2-3", "spam-1-2-0123456789abcdef-x", ".tmp-spam-1-1"] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
        let d = private_dir();
        let outside = private_dir();
        fs::write(outside.path().join("secret"), b"Subject: s\n\n").unwrap();
        fs::create_dir(d.path().join(DIR)).unwrap();
        fs::set_permissions(d.path().join(DIR), fs::Permissions::from_mode(0o700)).unwrap();
        symlink(outside.path().join("secret"), d.path().join(DIR).join("spam-1-1")).unwrap();
        fs::write(d.path().join(DIR).join("notes.txt"), b"mine").unwrap();
        let mut notes = Notes::new();
        assert!(list(d.path(), &mut notes).unwrap().is_empty());
        // The link is named for the user (the file we did not name is not ours to mention).
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("spam-1-1: not a regular file of yours"), "{notes:?}");
        // A queue directory that is a link is refused, for adding and for listing.
        let d2 = private_dir();
        symlink(outside.path(), d2.path().join(DIR)).unwrap();
        assert!(format!(
            "{:#}",
            add(d2.path(), Class::Spam, b"Subject: x\n\n", 100, &QueueLimits::default(), &mut Notes::new())
                .unwrap_err()
        )
        .contains("symbolic link"));
        assert!(list(d2.path(), &mut Notes::new()).is_err());
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_queue_stops_at_its_limits_and_counts_what_it_dropped() {
        let d = private_dir();
        let l = QueueLimits { max_messages: 3, max_bytes: 100 };
        let m = |n: usize| vec![b'x'; n];
        assert!(matches!(add(d.path(), Class::Spam, &m(40), 1000, &l, &mut Notes::new()).unwrap(), Added::Queued(_)));
        assert!(matches!(add(d.path(), Class::Spam, &m(40), 1000, &l, &mut Notes::new()).unwrap(), Added::Queued(_)));
        // 80 + 40 > 100 bytes: dropped; a smaller one still fits, then the count is reached.
        assert_eq!(
            add(d.path(), Class::Spam, &m(40), 1000, &l, &mut Notes::new()).unwrap(),
            Added::Dropped { messages: 2, bytes: 80 }
        );
        assert!(matches!(add(d.path(), Class::Spam, &m(10), 1000, &l, &mut Notes::new()).unwrap(), Added::Queued(_)));
        assert_eq!(
            add(d.path(), Class::Spam, &m(1), 1000, &l, &mut Notes::new()).unwrap(),
            Added::Dropped { messages: 3, bytes: 90 }
        );
        assert_eq!(size(d.path(), &mut Notes::new()).unwrap(), (3, 90));
        assert_eq!(list(d.path(), &mut Notes::new()).unwrap().len(), 3, "the dropped log is not a queued message");
        assert_eq!(take_dropped(d.path()).unwrap(), (2, 41));
        assert_eq!(take_dropped(d.path()).unwrap(), (0, 0));
    }

    #[test]
    fn the_limits_hold_when_many_add_at_once() {
        // 24 threads add at the same moment to a queue that holds 3: without the lock, each
        // counted the queue before any had written and most of them queued.
        let d = private_dir();
        let l = QueueLimits { max_messages: 3, max_bytes: 1 << 20 };
        let start = std::sync::Barrier::new(24);
        let added: Vec<bool> = std::thread::scope(|s| {
            let ts: Vec<_> = (0..24)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let r = add(d.path(), Class::Spam, &[b'x'; 1000], 1000, &l, &mut Notes::new()).unwrap();
                        matches!(r, Added::Queued(_))
                    })
                })
                .collect();
            ts.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(added.iter().filter(|&&q| q).count(), 3);
        assert_eq!(size(d.path(), &mut Notes::new()).unwrap(), (3, 3000));
        assert_eq!(take_dropped(d.path()).unwrap(), (21, 21000));
    }
}
