//! The notes `lint` has already told: `lint-told.state` in the database directory.
//!
//! `lint` points out addresses that look like the user's own relays (a suggestion, not a
//! problem: see `commands::lint::notes`). The crontab runs `lint -q` every week and cron mails
//! what it prints, so an address the user decided to leave out of `trusted_networks` (a large
//! provider's outbound relay carrying a tenth of the mail is no relay of theirs) was mailed
//! every Sunday for ever. With `-q` a note is now printed once per address: `lint` writes down
//! the addresses it noted, and `lint -q` leaves out those written down before. Without `-q`
//! every note is printed, as `ip list` shows them. An address that no longer looks like a relay
//! is dropped from the file, so it is told again if it comes back.
//!
//! Like `purge-seen.state`, the file belongs to the host (the reputation it comes from is the
//! host's own). It is written aside and renamed over (`files::write_atomic`), and only into a
//! database directory of the user running `lint`: root checking another user's database with
//! `--db` leaves no file of root's there. A file that cannot be read (damaged, a link planted,
//! another user's) counts as empty: the notes are told again and the file written afresh.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Result;

use super::files;

/// The file's name in the database directory.
pub const FILE: &str = "lint-told.state";
const MAGIC: &str = "spamfilt-lint-told 1";

/// The addresses (as `reputation::ip_label` writes them) written in `dir`; empty when there is
/// no readable record.
pub fn read(dir: &Path) -> BTreeSet<String> {
    let Ok(Some(bytes)) = files::read(&dir.join(FILE), "lint record") else { return BTreeSet::new() };
    std::str::from_utf8(&bytes).ok().and_then(decode).unwrap_or_default()
}

/// Replaces the record in `dir` with `told`, when `dir` is the user's own; else does nothing.
pub fn write(dir: &Path, told: &BTreeSet<String>) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() && m.uid() == files::euid() => files::write_atomic(dir, FILE, encode(told).as_bytes()),
        _ => Ok(()),
    }
}

fn encode(told: &BTreeSet<String>) -> String {
    let mut out = format!(
        "# spamfilt lint: the addresses lint -q has pointed out as looking like your own relays; it does not\n\
         # repeat them (lint without -q and ip list always show them). Remove the file to hear them again.\n{MAGIC}\n"
    );
    for ip in told {
        out.push_str(ip);
        out.push('\n');
    }
    out
}

fn decode(text: &str) -> Option<BTreeSet<String>> {
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    if lines.next()? != MAGIC {
        return None;
    }
    lines.filter(|l| !l.is_empty()).map(|l| storable(l).then(|| l.to_string())).collect()
}

/// An address label: what `ip_label` writes, nothing that could break the line format.
fn storable(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit() || b".:/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let told: BTreeSet<String> = ["192.0.2.25", "2001:db8:1:2::/64"].iter().map(|s| s.to_string()).collect();
        assert_eq!(decode(&encode(&told)), Some(told.clone()));
        assert_eq!(decode(&encode(&BTreeSet::new())), Some(BTreeSet::new()));
        assert_eq!(decode(""), None);
        assert_eq!(decode("spamfilt-lint-told 2\n"), None);
        assert_eq!(decode("spamfilt-lint-told 1\n192.0.2.1 x\n"), None);
    }

    #[test]
    fn read_and_write_in_a_directory() {
        let dir = files::private_dir();
        assert!(read(dir.path()).is_empty());
        let told: BTreeSet<String> = ["198.51.100.7".to_string()].into();
        write(dir.path(), &told).unwrap();
        assert_eq!(read(dir.path()), told);
        // A link planted in its place is not followed: read as empty.
        std::fs::remove_file(dir.path().join(FILE)).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join(FILE)).unwrap();
        assert!(read(dir.path()).is_empty());
    }
}
