//! What the policy service remembers between requests and processes, beside the reputation
//! database: unknown recipients tried per client, and clients (or one envelope sender through
//! a client) refused for a while for directory harvesting.
//!
//! One small file per client under `policy/` in the database directory, named by the client's
//! block as the reputation database keys it (an IPv4 address; an IPv6 address's /64, by its
//! first address: `policy/unknown/192.0.2.7`, `policy/refused/2001:db8:1:2::`), so a request
//! costs one or two small file operations whatever the number of clients, one /64 makes one
//! file however many of its addresses it uses (attack report F16), and several service
//! processes (Postfix's spawn starts one per SMTP server process) share it without a lock:
//! - `unknown/NAME`: one line per unknown recipient, `TIME TAG` (the Unix time and a tag of the
//!   envelope sender, see [`sender_tag`]; lines of a binary from before the tags hold the time
//!   alone and count for the client only); appended with a single `write` (O_APPEND), counted
//!   within the window; rewritten with only recent lines (at most [`KEEP_LINES`]) when it grows.
//!   Files older than the window are removed by the service itself, at most once per window
//!   ([`State::sweep`], `swept` saying when), and by `ip expire`; so are the `refused/` files whose
//!   refusals have all ended.
//! - `refused/NAME`: `since=`, `until=` and `reason=` lines (the client refused), and a
//!   `sender=TAG SINCE UNTIL REASON` line for each envelope sender refused through it (at most
//!   [`MAX_SENDERS`], see the harvest check in `policy`), written aside and renamed.
//!
//! Files a binary from before the /64s wrote for an IPv6 address (`refused/2001:db8:1:2::5`)
//! are still honoured (a refusal in force), lifted by `ip remove` and removed by `ip expire`;
//! their counts are not added to the /64's (they are an hour's at most).
//!
//! Every file operation goes through `store::files` (no symbolic link followed, private files
//! and directories, nothing another user could have planted). `spamfilt ip show` reads them; `ip remove` and `ip expire` delete them.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest as _, Sha256};

use crate::store::files;
use crate::store::reputation::ip_block;

/// The directory under the database directory.
pub const DIR: &str = "policy";

/// At most this many recent lines are kept in an `unknown/` file when it is rewritten (a
/// client refused per envelope sender may try many senders' unknown recipients: the file,
/// and what a request reads, stays bounded).
pub const KEEP_LINES: usize = 128;

/// The file in `policy/` that says when `unknown/` and `refused/` were last swept (see `State::sweep`).
const SWEPT: &str = "swept";

/// At most this many envelope senders are refused through one client at a time; beyond that
/// the refusal that ends first goes (the file, and what a request reads, stays bounded).
pub const MAX_SENDERS: usize = 64;

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

/// The file name of `ip`'s client: its block's first address.
fn name(ip: IpAddr) -> String {
    ip_block(ip).to_string()
}

/// The name a binary from before the /64s gave an IPv6 address's files, when it is not
/// `name`'s.
fn old_name(ip: IpAddr) -> Option<String> {
    let ip = crate::received::canonical(ip);
    (ip != ip_block(ip)).then(|| ip.to_string())
}

/// The tag of an envelope sender in the state files: 16 hex digits of SHA-256 of the address
/// in lower case (`<>`, the null sender, is the empty address). A tag, not the address: the
/// files never hold what a client wrote, so no line of them can be forged by it.
pub fn sender_tag(sender: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"harvest-sender:");
    h.update(sender.trim().to_ascii_lowercase().as_bytes());
    h.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn remove(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A `refused/` file: the client's refusal (`until` 0: none) and its senders'.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Refusals {
    client: Option<Refusal>,
    /// (tag, refusal)
    senders: Vec<(String, Refusal)>,
}

impl Refusals {
    fn parse(bytes: &[u8]) -> Refusals {
        let text = String::from_utf8_lossy(bytes);
        let mut r = Refusal { since: 0, until: 0, reason: String::new() };
        let mut senders = Vec::new();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("since", v)) => r.since = v.trim().parse().unwrap_or(0),
                Some(("until", v)) => r.until = v.trim().parse().unwrap_or(0),
                Some(("reason", v)) => r.reason = v.to_string(),
                Some(("sender", v)) => {
                    let mut f = v.splitn(4, ' ');
                    let (Some(tag), Some(since), Some(until)) = (f.next(), f.next(), f.next()) else { continue };
                    let (Ok(since), Ok(until)) = (since.parse(), until.parse()) else { continue };
                    let reason = f.next().unwrap_or("").to_string();
                    senders.push((tag.to_string(), Refusal { since, until, reason }));
                }
                _ => {}
            }
        }
        Refusals { client: (r.until > 0).then_some(r), senders }
    }

    fn text(&self) -> String {
        let mut t = String::new();
        if let Some(r) = &self.client {
            t.push_str(&format!("since={}\nuntil={}\nreason={}\n", r.since, r.until, clean(&r.reason)));
        }
        for (tag, r) in &self.senders {
            t.push_str(&format!("sender={tag} {} {} {}\n", r.since, r.until, clean(&r.reason)));
        }
        t
    }

    /// Whether anything is in force at `now`.
    fn live(&self, now: u64) -> bool {
        self.client.as_ref().is_some_and(|r| r.until > now) || self.senders.iter().any(|(_, r)| r.until > now)
    }
}

/// A honeypot recipient whose transaction may still turn out to have a real one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingTrap {
    /// Postfix's `instance` of the transaction.
    pub instance: String,
    pub rcpt: String,
    pub since: u64,
}

/// How long a pending trap waits for its transaction to end: one day. An SMTP transaction lasts
/// seconds (Postfix gives up on a client after `smtpd_timeout`, 300 s, of silence), and the end
/// of the connection decides it; a trap still pending later is one whose end the service
/// missed (the process killed by a `postfix reload` or stop mid-connection). The client's next
/// transaction within the day still makes it a hit (a spammer's retry is what the trap is for);
/// older, it is dropped without a hit, by `ip expire` (weekly in contrib/crontab) or when the
/// client comes back, rather than kept until `ip remove` and turned into a fresh refusal by a
/// visit months later.
pub const TRAP_MAX_AGE: u64 = 24 * 3600;

impl PendingTrap {
    /// Whether it waited longer than [`TRAP_MAX_AGE`] at `now` (a file without a readable
    /// `since=` is stale).
    pub fn stale(&self, now: u64) -> bool {
        self.since == 0 || self.since.saturating_add(TRAP_MAX_AGE) <= now
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

    /// The paths of `ip`'s files in `policy/WHICH` (its block's, then the one a binary from
    /// before the /64s named by the address), if that directory exists (see `existing`).
    fn files(&self, which: &str, ip: IpAddr) -> Result<Vec<PathBuf>> {
        Ok(match self.existing(which)? {
            Some(d) => std::iter::once(name(ip)).chain(old_name(ip)).map(|n| d.join(n)).collect(),
            None => Vec::new(),
        })
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

    fn read_refusals(path: &Path) -> Result<Refusals> {
        Ok(files::read(path, "policy refusal")?.map(|b| Refusals::parse(&b)).unwrap_or_default())
    }

    /// The refusal of `ip`'s client in force at `now`, if any.
    pub fn refused(&self, ip: IpAddr, now: u64) -> Result<Option<Refusal>> {
        for path in self.files("refused", ip)? {
            if let Some(r) = Self::read_refusals(&path)?.client.filter(|r| r.until > now) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// The refusal in force at `now` for mail from `ip`'s client: the client's, or with
    /// `sender`, that envelope sender's through it. One file read.
    pub fn refusal(&self, ip: IpAddr, sender: Option<&str>, now: u64) -> Result<Option<Refusal>> {
        let tag = sender.map(sender_tag);
        for path in self.files("refused", ip)? {
            let r = Self::read_refusals(&path)?;
            if let Some(c) = r.client.filter(|r| r.until > now) {
                return Ok(Some(c));
            }
            if let Some(tag) = &tag {
                if let Some((_, s)) = r.senders.into_iter().find(|(t, r)| t == tag && r.until > now) {
                    return Ok(Some(s));
                }
            }
        }
        Ok(None)
    }

    /// The envelope senders' refusals in force through `ip`'s client (`ip show`).
    pub fn sender_refusals(&self, ip: IpAddr, now: u64) -> Result<Vec<Refusal>> {
        let mut out = Vec::new();
        for path in self.files("refused", ip)? {
            out.extend(Self::read_refusals(&path)?.senders.into_iter().map(|(_, r)| r).filter(|r| r.until > now));
        }
        Ok(out)
    }

    /// Refuses `ip`'s client until `r.until` (its senders' refusals are kept).
    pub fn refuse(&self, ip: IpAddr, r: &Refusal) -> Result<()> {
        let dir = self.sub("refused")?;
        let mut all = Self::read_refusals(&dir.join(name(ip)))?;
        all.client = Some(r.clone());
        files::write_atomic(&dir, &name(ip), all.text().as_bytes())
    }

    /// Refuses mail from `sender` through `ip`'s client until `r.until`; refusals that ended
    /// are dropped, and beyond `MAX_SENDERS` the one that ends first.
    pub fn refuse_sender(&self, ip: IpAddr, sender: &str, r: &Refusal) -> Result<()> {
        let dir = self.sub("refused")?;
        let mut all = Self::read_refusals(&dir.join(name(ip)))?;
        let tag = sender_tag(sender);
        all.senders.retain(|(t, s)| *t != tag && s.until > r.since);
        all.senders.push((tag, r.clone()));
        if all.senders.len() > MAX_SENDERS {
            all.senders.sort_by_key(|(_, s)| std::cmp::Reverse(s.until));
            all.senders.truncate(MAX_SENDERS);
        }
        files::write_atomic(&dir, &name(ip), all.text().as_bytes())
    }

    /// Records an unknown recipient from `ip`'s client at `now`, sent by `sender` (the envelope
    /// sender); returns how many there were within the last `window` seconds, this one
    /// included: from the client (`per_sender` false) or from that sender through it.
    pub fn count_unknown(&self, ip: IpAddr, sender: &str, per_sender: bool, now: u64, window: u64) -> Result<u32> {
        let dir = self.sub("unknown")?;
        let path = dir.join(name(ip));
        let tag = sender_tag(sender);
        let mut f = files::open_write(&path, "policy count", true)?;
        f.write_all(format!("{now} {tag}\n").as_bytes())
            .with_context(|| format!("cannot append to {}", path.display()))?;
        drop(f);
        let bytes = files::read(&path, "policy count")?.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<(u64, &str)> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split_ascii_whitespace();
                Some((f.next()?.parse().ok()?, f.next().unwrap_or("")))
            })
            .collect();
        let recent: Vec<&(u64, &str)> = lines.iter().filter(|(t, _)| t + window > now && *t <= now + 60).collect();
        let n = recent.iter().filter(|(_, t)| !per_sender || *t == tag).count();
        // Old lines are dropped once they are most of the file, and only the last KEEP_LINES
        // recent ones are kept (an append racing with this rewrite may be lost: one count
        // less, never a wrong refusal).
        if lines.len() > 16 && (recent.len() * 2 < lines.len() || lines.len() > 2 * KEEP_LINES) {
            let keep: String =
                recent[recent.len().saturating_sub(KEEP_LINES)..].iter().map(|(t, g)| format!("{t} {g}\n")).collect();
            files::write_atomic(&dir, &name(ip), keep.as_bytes())?;
        }
        Ok(n as u32)
    }

    /// Removes what a client's unknown recipients left that no longer counts, at most once per
    /// `window` (the harvest window) per database, `policy/swept` keeping when it last did: the
    /// `unknown/` files whose modification time is older than `window` at `now` (every line was
    /// written at or before it), by `lstat` alone; and the `refused/` files older than
    /// `refusals` (the longest a refusal lasts, `harvest_refuse_hours`), once reading one says
    /// nothing in it is in force. Returns how many went, or `None` when a sweep was not due.
    ///
    /// Without it those files were removed only by `ip expire` (weekly in contrib/crontab): a
    /// client that moves to a fresh IPv6 /64 for each connection (a /48 holds 65,536 of them)
    /// left one `unknown/` file (a 4 KiB block and an inode) per unknown recipient it tried, and
    /// a `refused/` file per `harvest_limit` + 1 of them, for up to a week. Now what stays is
    /// the clients of the last two windows and the refusals of the last `refusals` and a window.
    pub fn sweep(&self, now: u64, window: u64, refusals: u64) -> Result<Option<usize>> {
        if !files::check_subdir(&self.dir)? {
            return Ok(None);
        }
        let last = files::read(&self.dir.join(SWEPT), "policy sweep time")?
            .and_then(|b| String::from_utf8_lossy(&b).trim().parse::<u64>().ok())
            .unwrap_or(0);
        if last <= now && now < last.saturating_add(window) {
            return Ok(None);
        }
        files::write_atomic(&self.dir, SWEPT, format!("{now}\n").as_bytes())?;
        let mut gone = 0;
        for (which, age) in [("unknown", window), ("refused", refusals)] {
            let Some(dir) = self.existing(which)? else { continue };
            let entries = fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().parse::<IpAddr>().is_err() {
                    continue;
                }
                let Ok(meta) = e.metadata() else { continue };
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(u64::MAX, |d| d.as_secs());
                if !meta.file_type().is_file() || modified.saturating_add(age) >= now {
                    continue;
                }
                // A refused/ file that cannot be read (another user's, writable by others) is
                // kept and passed over, as one that cannot be removed: one such file stopped
                // every sweep at it for good. `ip expire` and `lint` say what is wrong with it.
                let path = e.path();
                let ended = which == "unknown" || Self::read_refusals(&path).is_ok_and(|r| !r.live(now));
                if ended && remove(&path).unwrap_or(false) {
                    gone += 1;
                }
            }
        }
        Ok(Some(gone))
    }

    /// When `ip` was last probed for an open proxy (`spamfilt ip probe`), and what was found.
    /// Probes are per address (a proxy is one host), not per /64.
    pub fn probed(&self, ip: IpAddr) -> Result<Option<(u64, String)>> {
        let Some(dir) = self.existing("probed")? else { return Ok(None) };
        let path = dir.join(crate::received::canonical(ip).to_string());
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
        let name = crate::received::canonical(ip).to_string();
        files::write_atomic(&dir, &name, format!("when={now}\nresult={}\n", clean(result)).as_bytes())
    }

    /// Forgets the unknown recipients counted for `ip`'s client (once it is refused, or
    /// lifted), or with `sender` only that sender's.
    pub fn clear_unknown(&self, ip: IpAddr, sender: Option<&str>) -> Result<bool> {
        let Some(tag) = sender.map(sender_tag) else {
            let mut any = false;
            for path in self.files("unknown", ip)? {
                any |= remove(&path)?;
            }
            return Ok(any);
        };
        let Some(dir) = self.existing("unknown")? else { return Ok(false) };
        let Some(bytes) = files::read(&dir.join(name(ip)), "policy count")? else { return Ok(false) };
        let text = String::from_utf8_lossy(&bytes);
        let keep: String = text
            .lines()
            .filter(|l| l.split_ascii_whitespace().nth(1) != Some(&tag))
            .map(|l| format!("{l}\n"))
            .collect();
        files::write_atomic(&dir, &name(ip), keep.as_bytes())?;
        Ok(true)
    }

    /// The honeypot recipient `ip`'s client gave in a transaction not yet known to be for
    /// honeypots only (`policy::Transaction`): `policy/trap/ADDR`, `instance=`, `rcpt=` and
    /// `since=` lines. Written only at a honeypot recipient (rare); read at each request of the
    /// client (one open of a file that is almost never there).
    pub fn pending_trap(&self, ip: IpAddr) -> Result<Option<PendingTrap>> {
        let Some(path) = self.files("trap", ip)?.into_iter().next() else { return Ok(None) };
        Self::read_trap(&path)
    }

    fn read_trap(path: &Path) -> Result<Option<PendingTrap>> {
        let Some(bytes) = files::read(path, "policy pending trap")? else { return Ok(None) };
        let mut t = PendingTrap::default();
        for line in String::from_utf8_lossy(&bytes).lines() {
            match line.split_once('=') {
                Some(("instance", v)) => t.instance = v.to_string(),
                Some(("rcpt", v)) => t.rcpt = v.to_string(),
                Some(("since", v)) => t.since = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
        Ok(Some(t))
    }

    /// Records a pending trap of `ip`'s client (replacing one there).
    pub fn set_pending_trap(&self, ip: IpAddr, t: &PendingTrap) -> Result<()> {
        let dir = self.sub("trap")?;
        let text = format!("instance={}\nrcpt={}\nsince={}\n", clean(&t.instance), clean(&t.rcpt), t.since);
        files::write_atomic(&dir, &name(ip), text.as_bytes())
    }

    /// Removes `ip`'s pending trap; `true` when this call removed it (of several processes that
    /// see it end, only the one that removes it records the hit).
    pub fn take_pending_trap(&self, ip: IpAddr) -> Result<bool> {
        match self.files("trap", ip)?.into_iter().next() {
            Some(path) => remove(&path),
            None => Ok(false),
        }
    }

    /// Whether `lift` would remove anything: a refusal (in force or ended), counts or a probe
    /// record of `ip`. Reads only (`ip remove --dry-run`).
    pub fn holds(&self, ip: IpAddr) -> Result<bool> {
        let probed = self.existing("probed")?.map(|d| d.join(crate::received::canonical(ip).to_string()));
        for path in self.files("refused", ip)?.into_iter().chain(self.files("unknown", ip)?).chain(probed) {
            match fs::symlink_metadata(&path) {
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            }
        }
        Ok(false)
    }

    /// Lifts the refusals of `ip`'s client (and of its senders) and forgets the counts and the
    /// address's probe; whether there was anything.
    pub fn lift(&self, ip: IpAddr) -> Result<bool> {
        let mut any = false;
        for path in self.files("refused", ip)? {
            any |= remove(&path)?;
        }
        any |= self.clear_unknown(ip, None)?;
        any |= self.take_pending_trap(ip)?;
        if let Some(d) = self.existing("probed")? {
            any |= remove(&d.join(crate::received::canonical(ip).to_string()))?;
        }
        Ok(any)
    }

    /// Removes refusals that ended, counts older than `window` and pending traps older than
    /// [`TRAP_MAX_AGE`]; returns how many files went.
    pub fn expire(&self, now: u64, window: u64) -> Result<usize> {
        let mut gone = 0;
        for which in ["refused", "unknown", "trap"] {
            let Some(dir) = self.existing(which)? else { continue };
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
            };
            for e in entries.flatten() {
                let path = e.path();
                if e.file_name().to_string_lossy().parse::<IpAddr>().is_err() {
                    continue;
                }
                let stale = match which {
                    "refused" => !Self::read_refusals(&path)?.live(now),
                    "unknown" => {
                        let text = files::read(&path, "policy count")?.unwrap_or_default();
                        !String::from_utf8_lossy(&text)
                            .lines()
                            .filter_map(|l| l.split_ascii_whitespace().next()?.parse::<u64>().ok())
                            .any(|t| t + window > now)
                    }
                    _ => Self::read_trap(&path)?.is_some_and(|t| t.stale(now)),
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

    /// A pending trap whose client never came back is dropped by `ip expire` a day on (it
    /// stayed until `ip remove`); a younger one, and the other files, stay.
    #[test]
    fn expire_drops_pending_traps_older_than_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::at(dir.path());
        let (old, young) = (v4(192, 0, 2, 1), v4(192, 0, 2, 2));
        let trap = |since| PendingTrap { instance: "1.1".into(), rcpt: "oud@mijn.example".into(), since };
        s.set_pending_trap(old, &trap(1_000)).unwrap();
        s.set_pending_trap(young, &trap(1_000 + 3600)).unwrap();
        let trap_dir = dir.path().join(DIR).join("trap");
        // A file of nothing readable (no `since=`) goes with the stale ones; a name that is no
        // address is not ours and stays.
        fs::write(trap_dir.join("192.0.2.3"), "rcpt=x\n").unwrap();
        fs::write(trap_dir.join("notes"), "x").unwrap();
        assert_eq!(s.expire(1_000 + TRAP_MAX_AGE - 1, 60).unwrap(), 1, "only the one without a time");
        assert!(s.pending_trap(old).unwrap().is_some());
        assert_eq!(s.expire(1_000 + TRAP_MAX_AGE, 60).unwrap(), 1, "a day old");
        assert_eq!(s.pending_trap(old).unwrap(), None);
        assert_eq!(s.pending_trap(young).unwrap(), Some(trap(1_000 + 3600)));
        assert_eq!(s.expire(1_000 + 3600 + TRAP_MAX_AGE, 60).unwrap(), 1);
        assert_eq!(s.pending_trap(young).unwrap(), None);
        assert!(trap_dir.join("notes").exists());
    }

    /// A client on a fresh IPv6 /64 for each connection leaves one `unknown/` file per
    /// unknown recipient it tries, and one `refused/` file per refusal; they went only with
    /// `ip expire` (weekly). The service removes them itself, at most once per window.
    #[test]
    fn files_that_no_longer_count_are_swept_once_per_window() {
        use std::time::{Duration, UNIX_EPOCH};
        let dir = tempfile::tempdir().unwrap();
        let s = State::at(dir.path());
        let unknown = dir.path().join(DIR).join("unknown");
        let refused = dir.path().join(DIR).join("refused");
        let v6 = |i: u16| IpAddr::from([0x2001, 0xdb8, 7, i, 0, 0, 0, 1]);
        let count = |d: &Path| fs::read_dir(d).unwrap().count();
        let aged = |path: PathBuf, t: u64| {
            let f = fs::File::options().write(true).open(path).unwrap();
            f.set_modified(UNIX_EPOCH + Duration::from_secs(t)).unwrap();
        };
        // A file of the time `t`, as count_unknown leaves it.
        let put = |ip: IpAddr, t: u64| {
            fs::write(unknown.join(name(ip)), format!("{t} 0123456789abcdef\n")).unwrap();
            aged(unknown.join(name(ip)), t);
        };
        // Requests now make the directories.
        let now = crate::store::now_secs();
        assert_eq!(s.count_unknown(v6(9999), "a@b.example", false, now, 3600).unwrap(), 1);
        let base = now + 86_400;
        for i in 0..200 {
            put(v6(i), base + u64::from(i));
        }
        // Refusals (24 hours): one that ended, one still in force though its file is older than
        // that (a longer refuse_hours then), one written at `base`.
        let refusal = |since: u64, until: u64| Refusal { since, until, reason: "harvesting".into() };
        s.refuse(v6(500), &refusal(base - 3 * 86_400, base - 2 * 86_400)).unwrap();
        aged(refused.join(name(v6(500))), base - 3 * 86_400);
        s.refuse(v6(501), &refusal(base - 3 * 86_400, base + 86_400)).unwrap();
        aged(refused.join(name(v6(501))), base - 3 * 86_400);
        s.refuse(v6(502), &refusal(base, base + 86_400)).unwrap();
        aged(refused.join(name(v6(502))), base);
        assert_eq!((count(&unknown), count(&refused)), (201, 3));
        assert_eq!(s.sweep(base, 3600, 86_400).unwrap(), Some(2), "a day later: the first count and v6(500)");
        assert_eq!(fs::read_to_string(dir.path().join(DIR).join(SWEPT)).unwrap(), format!("{base}\n"));
        assert_eq!(count(&refused), 2);
        assert!(s.refused(v6(501), base).unwrap().is_some(), "a refusal in force stays");
        // Past the window: what is older than it goes.
        assert_eq!(s.sweep(base + 3600 + 100, 3600, 86_400).unwrap(), Some(100));
        assert_eq!(count(&unknown), 100, "the 100 files younger than the window");
        // Not again within the window.
        assert_eq!(s.sweep(base + 3600 + 150, 3600, 86_400).unwrap(), None);
        // A name that is not an address is not ours: left alone.
        fs::write(unknown.join("notes"), "x").unwrap();
        assert_eq!(s.sweep(base + 2 * 86_400, 3600, 86_400).unwrap(), Some(102), "and both refusals, ended");
        assert_eq!((count(&unknown), count(&refused)), (1, 0));
        // A refused/ file that cannot be read (writable by others: refused by the reader) is
        // kept and passed over; the ended refusals beside it still go (on 3ff8665 the sweep
        // stopped at it, every time).
        use std::os::unix::fs::PermissionsExt;
        let later = base + 5 * 86_400;
        for i in 600..610 {
            s.refuse(v6(i), &refusal(later - 3 * 86_400, later - 2 * 86_400)).unwrap();
            aged(refused.join(name(v6(i))), later - 3 * 86_400);
        }
        fs::set_permissions(refused.join(name(v6(605))), fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(s.sweep(later, 3600, 86_400).unwrap(), Some(9));
        assert_eq!(count(&refused), 1, "only the unreadable file is left");
        assert!(refused.join(name(v6(605))).exists());
    }

    #[test]
    fn counts_within_the_window_and_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::at(dir.path());
        let ip = v4(192, 0, 2, 7);
        for i in 1..=5 {
            assert_eq!(s.count_unknown(ip, "a@b.example", false, 1000 + i, 3600).unwrap(), i as u32);
        }
        // An hour later the old ones no longer count.
        assert_eq!(s.count_unknown(ip, "a@b.example", false, 1000 + 3600 + 3, 3600).unwrap(), 3);
        assert_eq!(s.count_unknown(v4(192, 0, 2, 8), "a@b.example", false, 5000, 3600).unwrap(), 1);
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
            s.count_unknown(ip, "a@b.example", false, i * 1000, 600).unwrap();
        }
        let text = fs::read_to_string(dir.path().join("policy/unknown/2001:db8::")).unwrap();
        assert!(text.lines().count() < 20, "{text}");
        // Many recent lines (senders refused one by one through a relay): at most KEEP_LINES
        // are kept, so a request reads a bounded file.
        for i in 0..1000u64 {
            s.count_unknown(ip, &format!("s{i}@b.example"), true, 100_000 + i, 3600).unwrap();
        }
        let n = fs::read_to_string(dir.path().join("policy/unknown/2001:db8::")).unwrap().lines().count();
        assert!(n <= 2 * KEEP_LINES + 1, "{n} lines");
    }

    /// Attack report F16: every address of an IPv6 /64 is one client: one file, one count,
    /// one refusal. A refusal a binary from before the /64s wrote for one address still holds.
    #[test]
    fn ipv6_clients_are_counted_and_refused_per_64() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::at(dir.path());
        for i in 1..=200u32 {
            let ip: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
            assert_eq!(s.count_unknown(ip, "x@y.example", false, 1000, 3600).unwrap(), i);
        }
        let names: Vec<String> = fs::read_dir(dir.path().join("policy/unknown"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["2001:db8:1:2::"]);
        let r = Refusal { since: 1000, until: 9000, reason: "harvesting".into() };
        s.refuse("2001:db8:1:2::5".parse().unwrap(), &r).unwrap();
        assert!(s.refused("2001:db8:1:2:dead:beef:1:1".parse().unwrap(), 2000).unwrap().is_some());
        assert!(s.refused("2001:db8:1:3::5".parse().unwrap(), 2000).unwrap().is_none());
        // A file of an older binary, named by the address.
        fs::write(dir.path().join("policy/refused/2001:db8:9:9::7"), "since=1\nuntil=9000\nreason=old\n").unwrap();
        let old: IpAddr = "2001:db8:9:9::7".parse().unwrap();
        assert_eq!(s.refused(old, 2000).unwrap().unwrap().reason, "old");
        assert!(s.refused("2001:db8:9:9::8".parse().unwrap(), 2000).unwrap().is_none());
        assert!(s.lift(old).unwrap());
        assert!(s.refused(old, 2000).unwrap().is_none());
        // IPv4 stays per address.
        s.refuse(v4(192, 0, 2, 7), &r).unwrap();
        assert!(s.refused(v4(192, 0, 2, 8), 2000).unwrap().is_none());
    }

    /// Attack report F20: counted and refused per envelope sender through a client, when asked.
    #[test]
    fn senders_through_a_client_are_counted_and_refused_apart() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::at(dir.path());
        let ip = v4(209, 85, 220, 41);
        for i in 1..=6u64 {
            assert_eq!(s.count_unknown(ip, &format!("u{i}@gmail.example"), true, 1000 + i, 3600).unwrap(), 1);
        }
        for i in 1..=3u32 {
            assert_eq!(s.count_unknown(ip, "Same@Gmail.example", true, 2000, 3600).unwrap(), i);
        }
        assert_eq!(s.count_unknown(ip, "x@gmail.example", false, 2000, 3600).unwrap(), 10, "the client as a whole");
        let r = Refusal { since: 2000, until: 9000, reason: "from <same@gmail.example>".into() };
        s.refuse_sender(ip, "same@gmail.example", &r).unwrap();
        s.clear_unknown(ip, Some("same@gmail.example")).unwrap();
        assert_eq!(s.count_unknown(ip, "same@gmail.example", true, 2001, 3600).unwrap(), 1, "cleared");
        assert_eq!(s.refusal(ip, Some("SAME@gmail.example"), 3000).unwrap(), Some(r.clone()));
        assert_eq!(s.refusal(ip, Some("other@gmail.example"), 3000).unwrap(), None);
        assert_eq!(s.refusal(ip, None, 3000).unwrap(), None);
        assert_eq!(s.refused(ip, 3000).unwrap(), None, "the client is not refused");
        assert_eq!(s.sender_refusals(ip, 3000).unwrap().len(), 1);
        // A client refusal keeps the senders'; bounded; expire keeps the file while one holds.
        let c = Refusal { since: 2000, until: 5000, reason: "client".into() };
        s.refuse(ip, &c).unwrap();
        assert_eq!(s.refusal(ip, Some("other@gmail.example"), 3000).unwrap(), Some(c));
        assert_eq!(s.refusal(ip, Some("same@gmail.example"), 6000).unwrap(), Some(r));
        for i in 0..(2 * MAX_SENDERS as u64) {
            let r = Refusal { since: 2000, until: 9000 + i, reason: format!("s{i}") };
            s.refuse_sender(ip, &format!("s{i}@x.example"), &r).unwrap();
        }
        assert_eq!(s.sender_refusals(ip, 3000).unwrap().len(), MAX_SENDERS);
        assert_eq!(s.expire(6000, 60).unwrap(), 1, "the count file; the refusals hold");
        assert!(s.refusal(ip, Some(&format!("s{}@x.example", 2 * MAX_SENDERS - 1)), 6000).unwrap().is_some());
        assert_eq!(s.expire(20_000, 60).unwrap(), 1, "all ended");
    }

    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::at(dir.path());
        let target = dir.path().join("victim");
        fs::write(&target, "keep").unwrap();
        fs::create_dir_all(dir.path().join("policy/unknown")).unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("policy/unknown/192.0.2.9")).unwrap();
        assert!(s.count_unknown(v4(192, 0, 2, 9), "", false, 1, 60).is_err());
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
        let e = format!("{:#}", s.count_unknown(ip, "", false, 1, 60).unwrap_err());
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
