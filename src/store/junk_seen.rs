//! When `purge` first saw each message in a Junk folder: `purge-seen.state` in the database
//! directory. A message's age counts from the time it came into the folder (the later of its
//! Maildir name's delivery time and its ctime, `mailbox::maildir_entered`); purge writes that
//! time down the first night it sees the message, and later nights count from what was written.
//! A tool that changes the ctime of every file in Junk each night (a backup that restores
//! access times, a `chmod -R`, an indexer setting extended attributes) therefore no longer keeps
//! Junk young for ever: the ctime it set is later than the time written down, and the earlier
//! time counts (attack report F18, the part left after the ctime was taken in).
//!
//! A message is known by its folder (as named to `purge`, made absolute) and its Maildir name up
//! to the flags (`1700000000.M1P2.host,S=1234` of `…:2,S`): a flag change or the move from `new/`
//! to `cur/` renames the file but keeps the message. What purge no longer sees in a folder it
//! read is dropped at once, so the file holds at most what the Junk folders hold; entries of
//! folders this run did not read are kept (one cron line per folder). A message moved out of Junk
//! and back under the same name between two runs keeps its first time; one moved out and back
//! across a run starts again.
//!
//! The record belongs to the host, like `dns-resolver.state`: the Maildir is this host's, so with
//! the shared Redis store it stays in the host's database directory. It is written aside and
//! renamed over (`files::write_atomic`). A file that cannot be read (damaged, a link planted in
//! the directory, not ours) is said and ignored: that run counts from the names and ctimes, as
//! before the file existed, and writes a fresh one.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Result};

use super::files;

/// The file's name in the database directory.
pub const FILE: &str = "purge-seen.state";
const MAGIC: &str = "spamfilt-purge-seen 1";

/// The message's key within its folder: its Maildir name up to the flags.
pub fn message_key(name: &str) -> &str {
    name.split_once(':').map_or(name, |(base, _)| base)
}

/// First sightings: folder → message key → Unix seconds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    folders: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Seen {
    /// Since when the message `key` of `folder` counts, given the time it came into the folder
    /// by its name and ctime (`entered`): the time written down before, if earlier.
    pub fn since(&self, folder: &str, key: &str, entered: u64) -> u64 {
        self.folders.get(folder).and_then(|m| m.get(key)).map_or(entered, |&t| t.min(entered))
    }

    /// Writes down that `key` of `folder` counts from `since`.
    pub fn note(&mut self, folder: &str, key: &str, since: u64) {
        if storable(folder) && storable(key) {
            self.folders.entry(folder.to_string()).or_default().insert(key.to_string(), since);
        }
    }

    /// Forgets `key` of `folder` (a message purge deleted).
    pub fn forget(&mut self, folder: &str, key: &str) {
        if let Some(m) = self.folders.get_mut(folder) {
            m.remove(key);
        }
    }

    /// Takes over the folders of `older` that this record has no entry for (the folders this run
    /// did not read), so that purging one folder does not forget another's sightings.
    pub fn keep_other_folders(&mut self, older: Seen, read: &[String]) {
        for (folder, keys) in older.folders {
            if !read.contains(&folder) {
                self.folders.entry(folder).or_insert(keys);
            }
        }
    }

    /// How many messages are written down.
    pub fn len(&self) -> usize {
        self.folders.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn encode(&self) -> String {
        let mut out = format!(
            "# spamfilt purge: when purge first saw each message in Junk (Unix seconds, folder, Maildir name up to the flags).\n\
             # A message's age counts from this time; remove the file to count from the names and ctimes again.\n{MAGIC}\n"
        );
        for (folder, keys) in &self.folders {
            for (key, t) in keys {
                out.push_str(&format!("{t}\t{folder}\t{key}\n"));
            }
        }
        out
    }

    fn decode(text: &str) -> Option<Seen> {
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        if lines.next()? != MAGIC {
            return None;
        }
        let mut seen = Seen::default();
        for line in lines.filter(|l| !l.is_empty()) {
            let mut f = line.splitn(3, '\t');
            let t: u64 = f.next()?.parse().ok()?;
            let (folder, key) = (f.next()?, f.next()?);
            if folder.is_empty() || key.is_empty() {
                return None;
            }
            seen.note(folder, key, t);
        }
        Some(seen)
    }
}

/// A name the line format can hold (paths with a tab or a line break are not written down: those
/// messages count from their names and ctimes, as before this file).
fn storable(s: &str) -> bool {
    !s.is_empty() && !s.contains(['\t', '\n', '\r'])
}

/// The sightings written in `dir`; empty when there are none yet. An error names the file and
/// what to do.
pub fn read(dir: &Path) -> Result<Seen> {
    let path = dir.join(FILE);
    if !files::check_dir(dir)? {
        return Ok(Seen::default());
    }
    let Some(bytes) = files::read(&path, "purge record")? else { return Ok(Seen::default()) };
    match std::str::from_utf8(&bytes).ok().and_then(Seen::decode) {
        Some(s) => Ok(s),
        None => bail!("{} is not spamfilt's purge record (remove it; the next purge writes it again)", path.display()),
    }
}

/// Replaces the record in `dir` with `seen`.
pub fn write(dir: &Path, seen: &Seen) -> Result<()> {
    files::write_atomic(dir, FILE, seen.encode().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_sighting_counts_and_a_later_ctime_does_not() {
        let mut s = Seen::default();
        assert_eq!(s.since("/m/.Junk", "1700000000.M1P2.h", 1_800_000_000), 1_800_000_000);
        s.note("/m/.Junk", "1700000000.M1P2.h", 1_800_000_000);
        // A nightly tool set the ctime a week later: the first time counts.
        assert_eq!(s.since("/m/.Junk", "1700000000.M1P2.h", 1_800_604_800), 1_800_000_000);
        // Another folder, another message: their own times.
        assert_eq!(s.since("/m/.Spam", "1700000000.M1P2.h", 1_800_604_800), 1_800_604_800);
        assert_eq!(s.since("/m/.Junk", "1700000001.M1P2.h", 1_800_604_800), 1_800_604_800);
    }

    #[test]
    fn flags_are_not_part_of_the_key() {
        assert_eq!(message_key("1700000000.M1P2.host,S=12:2,S"), "1700000000.M1P2.host,S=12");
        assert_eq!(message_key("1700000000.M1P2.host,S=12:2,FS"), "1700000000.M1P2.host,S=12");
        assert_eq!(message_key("1700000000.M1P2.host"), "1700000000.M1P2.host");
    }

    #[test]
    fn round_trip_and_other_folders_kept() {
        let mut s = Seen::default();
        s.note("/m/.Junk", "1.M1.h", 10);
        s.note("/m/.Junk", "2.M1.h", 20);
        s.note("/m/.Spam", "3.M1.h", 30);
        s.note("/bad\tfolder", "4.M1.h", 40); // not storable: not written down
        assert_eq!(s.len(), 3);
        let back = Seen::decode(&s.encode()).expect("decodes");
        assert_eq!(back, s);
        // A run that read only .Junk and saw only 2.M1.h keeps .Spam's entry, drops 1.M1.h.
        let mut now = Seen::default();
        now.note("/m/.Junk", "2.M1.h", back.since("/m/.Junk", "2.M1.h", 25));
        now.keep_other_folders(back, &["/m/.Junk".to_string()]);
        assert_eq!(now.since("/m/.Junk", "2.M1.h", 99), 20);
        assert_eq!(now.since("/m/.Junk", "1.M1.h", 99), 99);
        assert_eq!(now.since("/m/.Spam", "3.M1.h", 99), 30);
        now.forget("/m/.Spam", "3.M1.h");
        assert_eq!(now.len(), 1);
    }

    #[test]
    fn damaged_records_are_refused() {
        assert_eq!(Seen::decode(""), None);
        assert_eq!(Seen::decode("spamfilt-purge-seen 2\n"), None);
        assert_eq!(Seen::decode("spamfilt-purge-seen 1\nx\t/m\tk\n"), None);
        assert_eq!(Seen::decode("spamfilt-purge-seen 1\n5\t/m\n"), None);
        assert!(Seen::decode("# note\nspamfilt-purge-seen 1\n5\t/m\tk\n").is_some_and(|s| s.len() == 1));
    }

    #[test]
    fn read_and_write_in_a_directory() {
        let dir = std::env::temp_dir().join(format!("spamfilt-seen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        assert!(read(&dir).unwrap().is_empty());
        let mut s = Seen::default();
        s.note("/m/.Junk", "1.M1.h", 10);
        write(&dir, &s).unwrap();
        assert_eq!(read(&dir).unwrap(), s);
        std::fs::write(dir.join(FILE), "garbage").unwrap();
        let e = read(&dir).unwrap_err().to_string();
        assert!(e.contains("purge-seen.state") && e.contains("remove it"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
