//! The memory of a DNS resolver that gave no answer: `dns-resolver.state` in the database
//! directory, read by a delivery before it asks the resolver, so that with a dead resolver not
//! every message waits the whole `timeout_ms` (admin report M8 follow-up).
//!
//! A delivery whose live queries all went unanswered (no response at all, not even to the
//! canary query any live resolver answers: a dead or unreachable resolver) writes the record; for the back-off that follows, deliveries ask nothing and say so
//! in the message. The first delivery after the back-off asks (one probe): it first pushes the
//! record's end on by the next back-off, so the deliveries that start while it waits do not ask
//! too; silence again doubles the back-off (60 s, 2, 4, 8 min, then 15 min at most), and any
//! response removes the record. Partial answers (one query answered, one not) are a resolver
//! that is there: they leave no record.
//!
//! Why these times: a resolver that restarts (a reload, a package upgrade) is back within a
//! minute, so the first minute costs a few messages their DNS evidence; one that stays dead
//! costs one `timeout_ms` per 15 minutes instead of one per message, and its return is noticed
//! within 15 minutes.
//!
//! The record belongs to the host, not to the learned data: the resolver is this host's (most
//! often 127.0.0.1:53), so with the shared Redis store it stays in the host's database
//! directory too; another host's resolver may be fine. The file is tiny, written aside and
//! renamed over (`files::write_atomic`) without a lock: a reader sees the old record or the new
//! one, and two deliveries writing at once write the same facts. A record for another resolver
//! (the config changed) is ignored. Reading it costs one small file read, and only for a
//! message with a DNS query the cache could not answer.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::files;

/// The file's name in the database directory.
pub const FILE: &str = "dns-resolver.state";
/// The first back-off after a silent delivery, in seconds...
pub const FIRST_BACKOFF: u64 = 60;
/// ...doubled while the resolver stays silent, up to this.
pub const MAX_BACKOFF: u64 = 900;

/// A resolver that gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    pub resolver: SocketAddr,
    /// When it was last asked and gave no answer (seconds since the epoch).
    pub at: u64,
    /// Deliveries ask it nothing before this.
    pub until: u64,
    /// The back-off that led to `until`, in seconds.
    pub backoff: u64,
}

impl Silence {
    /// The record after a delivery at `now` that got no answer, given the one before it.
    pub fn after(prior: Option<&Silence>, resolver: SocketAddr, now: u64) -> Silence {
        let backoff = prior.filter(|p| p.resolver == resolver).map_or(FIRST_BACKOFF, |p| p.next_backoff());
        Silence { resolver, at: now, until: now + backoff, backoff }
    }

    /// The record while one delivery at `now` probes: what it will be if the probe gets no
    /// answer either, so that the deliveries starting meanwhile do not ask too.
    pub fn probing(&self, now: u64) -> Silence {
        let backoff = self.next_backoff();
        Silence { until: now + backoff, backoff, ..self.clone() }
    }

    /// The latest time the resolver can have been silent since: `at` less the back-offs that
    /// must have passed before the current one (60, 120, 240, 480 s before a 900 s one; each
    /// probe comes only after the back-off before it was over).
    pub fn silent_since(&self) -> u64 {
        let (mut b, mut before) = (FIRST_BACKOFF, 0u64);
        while b < self.backoff {
            before += b;
            b = (b * 2).min(MAX_BACKOFF);
        }
        self.at.saturating_sub(before)
    }

    fn next_backoff(&self) -> u64 {
        (self.backoff.max(FIRST_BACKOFF / 2) * 2).min(MAX_BACKOFF)
    }

    /// What the message says: `resolver 192.0.2.1:53 gave no answer at 03:41:07Z; not asked
    /// again until 03:42:07Z`.
    pub fn describe(&self) -> String {
        format!(
            "resolver {} gave no answer at {}; not asked again until {}",
            self.resolver,
            clock(self.at),
            clock(self.until)
        )
    }

    fn encode(&self) -> String {
        format!(
            "# spamfilt: this DNS resolver gave no answer; deliveries ask it nothing until `until` (Unix seconds)\n\
             resolver {}\nat {}\nuntil {}\nbackoff {}\n",
            self.resolver, self.at, self.until, self.backoff
        )
    }

    fn decode(text: &str) -> Option<Silence> {
        let mut resolver = None;
        let (mut at, mut until, mut backoff) = (None, None, None);
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (key, value) = line.split_once(' ')?;
            match key {
                "resolver" => resolver = Some(value.trim().parse().ok()?),
                "at" => at = Some(value.trim().parse().ok()?),
                "until" => until = Some(value.trim().parse().ok()?),
                "backoff" => backoff = Some(value.trim().parse().ok()?),
                _ => return None,
            }
        }
        Some(Silence { resolver: resolver?, at: at?, until: until?, backoff: backoff? })
    }
}

/// `HH:MM:SSZ` of a time (the back-off is at most 15 minutes: the day goes without saying).
fn clock(secs: u64) -> String {
    let rem = secs % 86_400;
    format!("{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The record for `resolver` in `dir`, if there is one. A record for another resolver is
/// `None`; a file that is not such a record is an error naming it.
pub fn read(dir: &Path, resolver: SocketAddr) -> Result<Option<Silence>> {
    let path = dir.join(FILE);
    if !files::check_dir(dir)? {
        return Ok(None);
    }
    let Some(bytes) = files::read(&path, "DNS resolver state")? else { return Ok(None) };
    let Some(s) = std::str::from_utf8(&bytes).ok().and_then(Silence::decode) else {
        bail!(
            "{} is not spamfilt's DNS resolver state (remove it; the next silent delivery writes it again)",
            path.display()
        )
    };
    Ok((s.resolver == resolver).then_some(s))
}

/// Writes the record (aside, renamed over), creating the database directory if need be.
pub fn write(dir: &Path, s: &Silence) -> Result<()> {
    files::ensure_dir(dir)?;
    files::write_atomic(dir, FILE, s.encode().as_bytes())
        .with_context(|| format!("cannot record the silent DNS resolver in {}", dir.join(FILE).display()))
}

/// Removes the record: the resolver answered.
pub fn clear(dir: &Path) -> Result<()> {
    let path = dir.join(FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_to_its_cap_and_an_answer_clears_it() {
        let d = files::private_dir();
        let r: SocketAddr = "192.0.2.1:53".parse().unwrap();
        assert_eq!(read(d.path(), r).unwrap(), None);
        let s = Silence::after(None, r, 1_000);
        assert_eq!((s.until, s.backoff), (1_060, 60));
        write(d.path(), &s).unwrap();
        assert_eq!(read(d.path(), r).unwrap(), Some(s.clone()));
        // Another resolver in the config: the record is not its.
        assert_eq!(read(d.path(), "127.0.0.1:53".parse().unwrap()).unwrap(), None);
        let mut prior = s;
        let mut backoffs = Vec::new();
        for i in 0..6 {
            let now = prior.until + i;
            assert_eq!(prior.probing(now).until, now + prior.probing(now).backoff);
            prior = Silence::after(Some(&prior), r, now);
            backoffs.push(prior.backoff);
        }
        assert_eq!(backoffs, [120, 240, 480, 900, 900, 900]);
        let since = |backoff| Silence { resolver: r, at: 10_000, until: 10_000 + backoff, backoff }.silent_since();
        assert_eq!([since(60), since(120), since(240), since(480), since(900)], [10_000, 9_940, 9_820, 9_580, 9_100]);
        assert_eq!(
            Silence { resolver: r, at: 3 * 3600 + 41 * 60 + 7, until: 3 * 3600 + 42 * 60 + 7, backoff: 60 }.describe(),
            "resolver 192.0.2.1:53 gave no answer at 03:41:07Z; not asked again until 03:42:07Z"
        );
        clear(d.path()).unwrap();
        clear(d.path()).unwrap();
        assert_eq!(read(d.path(), r).unwrap(), None);
        // A file that is not a record is named.
        std::fs::write(d.path().join(FILE), b"garbage\n").unwrap();
        let err = format!("{:#}", read(d.path(), r).unwrap_err());
        assert!(err.contains(FILE) && err.contains("remove it"), "{err}");
    }
}
