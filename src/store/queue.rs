//! The learning queue: messages the filter decided to learn (a honeypot hit is spam by
//! definition) wait in `queue/` beside the database until the next training run (`train`,
//! `forget`, `purge` — the daily cron purge at the latest) learns them under the write lock.
//!
//! The filter never rewrites the token database: a delivery stays as cheap as a read, and
//! twenty deliveries at once never wait for each other. Each queued message is one file,
//! written aside and renamed into place, so a half-written one is never learned; it is removed
//! only after the databases that learned it are written.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Class;

const DIR: &str = "queue";

/// One queued message.
pub struct Queued {
    pub path: PathBuf,
    pub class: Class,
    pub bytes: Vec<u8>,
}

/// Queues (the first `limit` bytes of) a message to be learned as `class`.
pub fn add(db_dir: &Path, class: Class, message: &[u8], limit: usize) -> Result<PathBuf> {
    let dir = db_dir.join(DIR);
    if !dir.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create the learning queue {}", dir.display()))?;
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let name = format!("{}-{nanos}-{}", class.name(), std::process::id());
    let tmp = dir.join(format!(".tmp-{name}"));
    let path = dir.join(&name);
    let result = (|| -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(&message[..message.len().min(limit)]).with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all().with_context(|| format!("cannot sync {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("cannot queue {}", path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|_| path)
}

/// The queued messages, oldest first. Temporary files (a writer that died mid-write) are
/// skipped; unreadable entries are reported and left for the user to look at.
pub fn list(db_dir: &Path) -> Result<Vec<Queued>> {
    let dir = db_dir.join(DIR);
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read the learning queue {}", dir.display())),
    };
    let mut names: Vec<String> = rd.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
    names.sort_by_key(|n| n.split('-').nth(1).and_then(|t| t.parse::<u128>().ok()).unwrap_or(0));
    let mut out = Vec::new();
    for name in names {
        let class = if name.starts_with("spam-") {
            Class::Spam
        } else if name.starts_with("ham-") {
            Class::Ham
        } else {
            continue;
        };
        let path = dir.join(&name);
        match fs::read(&path) {
            Ok(bytes) => out.push(Queued { path, class, bytes }),
            Err(e) => eprintln!("spamfilt: cannot read the queued message {}: {e}", path.display()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_list_in_order() {
        let d = tempfile::tempdir().unwrap();
        assert!(list(d.path()).unwrap().is_empty());
        add(d.path(), Class::Spam, b"Subject: one\n\nx\n", 1 << 20).unwrap();
        add(d.path(), Class::Spam, b"Subject: two\n\nyyyyyyyy\n", 12).unwrap();
        fs::write(d.path().join(DIR).join(".tmp-spam-1-1"), b"half").unwrap();
        let q = list(d.path()).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].bytes, b"Subject: one\n\nx\n");
        assert_eq!(q[1].bytes, b"Subject: two");
        assert_eq!(q[1].class, Class::Spam);
    }
}
