//! What the policy service remembers between requests and processes, beside the reputation
//! database: unknown recipients tried per client address, and addresses refused for a while
//! for directory harvesting.
//!
//! One small file per address under `policy/` in the database directory, named by the address
//! (`policy/unknown/192.0.2.7`, `policy/refused/192.0.2.7`), so a request costs one or two
//! small file operations whatever the number of addresses, and several service processes
//! (Postfix's spawn starts one per SMTP server process) share it without a lock:
//! - `unknown/ADDR`: one line per unknown recipient, the Unix time; appended with a single
//!   `write` (O_APPEND), counted within the window; rewritten without the old lines when it grows.
//! - `refused/ADDR`: `since=`, `until=` and `reason=` lines, written aside and renamed.
//!
//! Every file operation goes through `store::files` (no symbolic link followed, private files
//! and directories, nothing another user could have planted). `spamfilt ip show` reads them; `ip remove` and `ip expire` delete them.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::store::files;

/// The directory under the database directory.
pub const DIR: &str = "policy";

/// An address refused for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub since: u64,
    pub until: u64,
    pub reason: String,
}

/// The state directory of one database.
#[derive(Debug, Clone)]
pub struct State {
    dir: PathBuf,
}

fn name(ip: IpAddr) -> String {
    crate::received::canonical(ip).to_string()
}

fn remove(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

impl State {
    pub fn at(db_dir: &Path) -> State {
        State { dir: db_dir.join(DIR) }
    }

    /// `policy/WHICH` when it exists, checked without following a link: `policy` itself and
    /// `WHICH` must each be a real directory of ours (a link is refused, as `queue` is), so no
    /// file is read, written or removed in a directory a link names (attack report F2).
    /// `Ok(None)` when either is missing.
    fn existing(&self, which: &str) -> Result<Option<PathBuf>> {
        if !files::check_subdir(&self.dir)? {
            return Ok(None);
        }
        let d = self.dir.join(which);
        Ok(files::check_subdir(&d)?.then_some(d))
    }

    /// The path of `ip`'s file in `policy/WHICH`, if that directory exists (see `existing`).
    fn file(&self, which: &str, ip: IpAddr) -> Result<Option<PathBuf>> {
        Ok(self.existing(which)?.map(|d| d.join(name(ip))))
    }

    fn sub(&self, which: &str) -> Result<PathBuf> {
        // The common case, two lstats: it is there and sound.
        if let Some(d) = self.existing(which)? {
            return Ok(d);
        }
        let db = self.dir.parent().unwrap_or(Path::new("."));
        files::ensure_dir(db)?;
        let policy = files::ensure_subdir(db, DIR)?;
        files::ensure_subdir(&policy, which)
    }

    /// The refusal in force for `ip` at `now`, if any.
    pub fn refused(&self, ip: IpAddr, now: u64) -> Result<Option<Refusal>> {
        let Some(path) = self.file("refused", ip)? else { return Ok(None) };
        let Some(bytes) = files::read(&path, "policy refusal")? else { return Ok(None) };
        let text = String::from_utf8_lossy(&bytes);
        let mut r = Refusal { since: 0, until: 0, reason: String::new() };
        for line in text.lines() {
            match line.split_once('=') {
                Some(("since", v)) => r.since = v.trim().parse().unwrap_or(0),
                Some(("until", v)) => r.until = v.trim().parse().unwrap_or(0),
                Some(("reason", v)) => r.reason = v.to_string(),
                _ => {}
            }
        }
        Ok((r.until > now).then_some(r))
    }

    /// Refuses `ip` until `r.until`.
    pub fn refuse(&self, ip: IpAddr, r: &Refusal) -> Result<()> {
        let dir = self.sub("refused")?;
        let reason: String = r.reason.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let text = format!("since={}\nuntil={}\nreason={reason}\n", r.since, r.until);
        files::write_atomic(&dir, &name(ip), text.as_bytes())
    }

    /// Records an unknown recipient from `ip` at `now`; returns how many there were within the
    /// last `window` seconds, this one included.
    pub fn count_unknown(&self, ip: IpAddr, now: u64, window: u64) -> Result<u32> {
        let dir = self.sub("unknown")?;
        let path = dir.join(name(ip));
        let mut f = files::open_write(&path, "policy count", true)?;
        f.write_all(format!("{now}\n").as_bytes()).with_context(|| format!("cannot append to {}", path.display()))?;
        drop(f);
        let bytes = files::read(&path, "policy count")?.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let times: Vec<u64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        let recent: Vec<u64> = times.iter().copied().filter(|&t| t + window > now && t <= now + 60).collect();
        // Old lines are dropped once they are most of the file (an append racing with this
        // rewrite may be lost: one count less, never a wrong refusal).
        if times.len() > 16 && recent.len() * 2 < times.len() {
            let keep: String = recent.iter().map(|t| format!("{t}\n")).collect();
            files::write_atomic(&dir, &name(ip), keep.as_bytes())?;
        }
        Ok(recent.len() as u32)
    }

    /// When `ip` was last probed for an open proxy (`spamfilt ip probe`), and what was found.
    pub fn probed(&self, ip: IpAddr) -> Result<Option<(u64, String)>> {
        let Some(path) = self.file("probed", ip)? else { return Ok(None) };
        let Some(bytes) = files::read(&path, "probe record")? else { return Ok(None) };
        let text = String::from_utf8_lossy(&bytes);
        let mut when = 0;
        let mut result = String::new();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("when", v)) => when = v.trim().parse().unwrap_or(0),
                Some(("result", v)) => result = v.to_string(),
                _ => {}
            }
        }
        Ok(Some((when, result)))
    }

    /// Records a probe of `ip`.
    pub fn record_probe(&self, ip: IpAddr, now: u64, result: &str) -> Result<()> {
        let dir = self.sub("probed")?;
        let result: String = result.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        files::write_atomic(&dir, &name(ip), format!("when={now}\nresult={result}\n").as_bytes())
    }

    /// Forgets the unknown recipients counted for `ip` (once it is refused, or lifted).
    pub fn clear_unknown(&self, ip: IpAddr) -> Result<bool> {
        match self.file("unknown", ip)? {
            Some(path) => remove(&path),
            None => Ok(false),
        }
    }

    /// Whether `lift` would remove anything: a refusal (in force or ended), counts or a probe
    /// record of `ip`. Reads only (`ip remove --dry-run`).
    pub fn holds(&self, ip: IpAddr) -> Result<bool> {
        for which in ["refused", "unknown", "probed"] {
            let Some(path) = self.file(which, ip)? else { continue };
            match fs::symlink_metadata(&path) {
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            }
        }
        Ok(false)
    }

    /// Lifts a refusal and forgets the counts; whether there was anything.
    pub fn lift(&self, ip: IpAddr) -> Result<bool> {
        let gone = |which| match self.file(which, ip)? {
            Some(path) => remove(&path),
            None => Ok(false),
        };
        let a = gone("refused")?;
        let b = self.clear_unknown(ip)?;
        let c = gone("probed")?;
        Ok(a || b || c)
    }

    /// Removes refusals that ended and counts older than `window`; returns how many files went.
    pub fn expire(&self, now: u64, window: u64) -> Result<usize> {
        let mut gone = 0;
        for (which, dead) in [("refused", true), ("unknown", false)] {
            let Some(dir) = self.existing(which)? else { continue };
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
            };
            for e in entries.flatten() {
                let path = e.path();
                let Ok(ip) = e.file_name().to_string_lossy().parse::<IpAddr>() else { continue };
                let stale = if dead {
                    self.refused(ip, now)?.is_none()
                } else {
                    let text = files::read(&path, "policy count")?.unwrap_or_default();
                    !String::from_utf8_lossy(&text)
                        .lines()
                        .filter_map(|l| l.trim().parse::<u64>().ok())
                        .any(|t| t + window > now)
                };
                if stale && remove(&path)? {
                    gone += 1;
                }
            }
        }
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::received::v4;

    #[test]
    fn counts_within_the_window_and_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::at(dir.path());
        let ip = v4(192, 0, 2, 7);
        for i in 1..=5 {
            assert_eq!(s.count_unknown(ip, 1000 + i, 3600).unwrap(), i as u32);
        }
        // An hour later the old ones no longer count.
        assert_eq!(s.count_unknown(ip, 1000 + 3600 + 3, 3600).unwrap(), 3);
        assert_eq!(s.count_unknown(v4(192, 0, 2, 8), 5000, 3600).unwrap(), 1);
        assert_eq!(s.refused(ip, 5000).unwrap(), None);
        let r = Refusal { since: 5000, until: 6000, reason: "harvesting\nX: y".into() };
        s.refuse(ip, &r).unwrap();
        let back = s.refused(ip, 5500).unwrap().unwrap();
        assert_eq!((back.since, back.until, back.reason.as_str()), (5000, 6000, "harvesting X: y"));
        assert_eq!(s.refused(ip, 6000).unwrap(), None, "a refusal ends");
        assert_eq!(s.expire(7000, 3600).unwrap(), 1, "the refusal that ended");
        assert_eq!(s.expire(20_000, 3600).unwrap(), 2, "counts older than the window");
        assert!(!s.lift(ip).unwrap());
        s.refuse(ip, &r).unwrap();
        assert!(s.lift(ip).unwrap());
        assert_eq!(s.refused(ip, 5500).unwrap(), None);
    }

    #[test]
    fn long_files_are_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::at(dir.path());
        let ip: IpAddr = "2001:db8::7".parse().unwrap();
        for i in 0..40 {
            s.count_unknown(ip, i * 1000, 600).unwrap();
        }
        let text = fs::read_to_string(dir.path().join("policy/unknown/2001:db8::7")).unwrap();
        assert!(text.lines().count() < 20, "{text}");
    }

    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::at(dir.path());
        let target = dir.path().join("victim");
        fs::write(&target, "keep").unwrap();
        fs::create_dir_all(dir.path().join("policy/unknown")).unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("policy/unknown/192.0.2.9")).unwrap();
        assert!(s.count_unknown(v4(192, 0, 2, 9), 1, 60).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
    }

    /// Attack report F2: `policy` itself a link to a directory with `unknown/` and `refused/`:
    /// the service wrote its files there and `ip remove` removed files there.
    #[test]
    fn a_linked_policy_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        for sub in ["unknown", "refused", "probed"] {
            fs::create_dir(elsewhere.path().join(sub)).unwrap();
        }
        let planted = elsewhere.path().join("refused/198.51.100.99");
        fs::write(&planted, "keep").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(DIR)).unwrap();
        let s = State::at(dir.path());
        let ip = v4(198, 51, 100, 99);
        let e = format!("{:#}", s.count_unknown(ip, 1, 60).unwrap_err());
        assert!(e.contains("symbolic link"), "{e}");
        let r = Refusal { since: 1, until: 9, reason: "test".into() };
        assert!(s.refuse(ip, &r).is_err());
        assert!(s.record_probe(ip, 1, "open").is_err());
        assert!(s.refused(ip, 2).is_err());
        assert!(s.probed(ip).is_err());
        assert!(s.holds(ip).is_err());
        assert!(s.lift(ip).is_err());
        assert!(s.expire(100, 60).is_err());
        assert_eq!(fs::read_to_string(&planted).unwrap(), "keep");
        let written: usize = ["unknown", "refused", "probed"]
            .iter()
            .map(|d| fs::read_dir(elsewhere.path().join(d)).unwrap().count())
            .sum();
        assert_eq!(written, 1, "only the planted file is there");
    }
}
