//! `spamfilt policy`: the Postfix policy service, on standard input and output (spawn(8)) or
//! as a standing service on a unix socket or a loopback TCP port, a thread per connection up to
//! `--threads` connections (past it the one idle longest is closed: see `Open`).
//!
//! Whatever goes wrong (a bad config file, an unreadable or corrupt database, a state file that
//! cannot be written, a recipients command that fails or hangs, a panic) the request is answered
//! `DUNNO`: a broken service must never refuse mail. Standard error is never written in spawn
//! mode (spawn(8) connects it to Postfix): decisions, errors and counters go to `--log` or syslog.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::cli::{GlobalArgs, PolicyArgs};
use crate::config::Settings;
use crate::policy::protocol::{self, Request};
use crate::policy::state::State;
use crate::policy::{self, Check, Outcome};
use crate::store::reputation::{self, JournalEntry, Key, Reader, Record, Reputation, ReputationLookup};
use crate::store::resolver::Silence;

use super::resolver::{Event, Remembering};

/// How long an idle connection of the standing service is kept (Postfix closes its own after
/// smtpd_policy_service_max_idle, 300 s).
const IDLE: Duration = Duration::from_secs(600);

/// Where log lines go.
struct Log {
    file: Option<Mutex<std::fs::File>>,
    syslog: Option<UnixDatagram>,
    stderr: bool,
}

impl Log {
    fn open(path: Option<&Path>, stderr_ok: bool) -> Result<Log> {
        let file = match path {
            Some(p) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(p)
                    .with_context(|| format!("cannot open the log file {}", p.display()))?,
            )),
            None => None,
        };
        let syslog =
            if file.is_none() { UnixDatagram::unbound().ok().filter(|s| s.connect("/dev/log").is_ok()) } else { None };
        let stderr = file.is_none() && syslog.is_none() && stderr_ok;
        Ok(Log { file, syslog, stderr })
    }

    fn line(&self, error: bool, msg: &str) {
        let msg: String = msg.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        if let Some(f) = &self.file {
            let stamp = crate::store::format_utc(crate::store::now_secs());
            if let Ok(mut f) = f.lock() {
                let _ = writeln!(f, "{stamp} spamfilt[{}]: {msg}", std::process::id());
            }
        } else if let Some(s) = &self.syslog {
            // Facility mail (2), severity err (3) or info (6).
            let pri = 2 * 8 + if error { 3 } else { 6 };
            let _ = s.send(format!("<{pri}>spamfilt[{}]: {msg}", std::process::id()).as_bytes());
        } else if self.stderr {
            eprintln!("spamfilt: {msg}");
        }
    }
}

/// Counters: requests, and per check how often it refused (or would have) and marked.
#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
    known_good: AtomicU64,
    refused: [AtomicU64; 5],
    marked: [AtomicU64; 5],
    /// Idle (or stalled) connections the standing service closed to serve a new one.
    closed_to_make_room: AtomicU64,
    /// Requests whose DNS blocklist lookups were skipped: the resolver is backed off.
    dns_skipped: AtomicU64,
}

impl Counters {
    fn index(c: Check) -> usize {
        Check::ALL.iter().position(|&x| x == c).unwrap_or(0)
    }

    fn summary(&self, mode: policy::Mode) -> String {
        let mut s = format!(
            "stats: requests={} errors={} known_good={}",
            self.requests.load(Relaxed),
            self.errors.load(Relaxed),
            self.known_good.load(Relaxed)
        );
        let verb = if mode == policy::Mode::Enforce { "refused" } else { "would_refuse" };
        for c in Check::ALL {
            let i = Self::index(c);
            s.push_str(&format!(
                " {}:{verb}={},marked={}",
                c.name(),
                self.refused[i].load(Relaxed),
                self.marked[i].load(Relaxed)
            ));
        }
        let closed = self.closed_to_make_room.load(Relaxed);
        if closed > 0 {
            s.push_str(&format!(" closed_to_make_room={closed}"));
        }
        let skipped = self.dns_skipped.load(Relaxed);
        if skipped > 0 {
            s.push_str(&format!(" dns_skipped={skipped}"));
        }
        s
    }
}

/// The stamp of the reputation files: reopen when it changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Stamp {
    db: Option<(u64, u64, i64, i64, u64)>,
    journal: Option<u64>,
}

fn stamp(dir: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let db = std::fs::metadata(dir.join(reputation::FILE))
        .ok()
        .map(|m| (m.dev(), m.ino(), m.mtime(), m.mtime_nsec(), m.len()));
    let journal = std::fs::metadata(dir.join(reputation::JOURNAL)).ok().map(|m| m.len());
    Stamp { db, journal }
}

/// The open reputation database, reopened when a writer replaced it or the journal grew.
struct Cache {
    reader: std::result::Result<Option<Arc<Reader>>, String>,
    stamp: Stamp,
    opened: Instant,
    /// What this process appended to the journal since it was last read.
    ours: Vec<JournalEntry>,
}

/// The reputation database with this process's own recent journal entries on top.
struct Overlay<'a> {
    base: Option<&'a Reader>,
    ours: &'a [JournalEntry],
}

impl ReputationLookup for Overlay<'_> {
    fn get(&self, key: &Key) -> Option<Record> {
        let base = self.base.and_then(|b| b.get(key));
        if self.ours.is_empty() {
            return base;
        }
        let mut one = Reputation::default();
        if let Some(b) = base {
            one.records.insert(*key, b);
        }
        for e in self.ours {
            one.apply(e);
        }
        one.records.remove(key)
    }
}

struct Service {
    /// `Err`: the configuration could not be loaded; every request is answered DUNNO.
    settings: std::result::Result<Settings, String>,
    /// The database (with `[store] redis`, the shared reputation is asked once per request).
    db: Option<crate::store::Database>,
    state: State,
    cache: Mutex<Cache>,
    /// Held while a pending trap is taken and recorded, so that another connection of the same
    /// client judges its request after the hit is recorded, not between the two.
    traps: Mutex<()>,
    counters: Counters,
    log: Log,
    /// `-v`: log every answer, not only those where a check fired.
    verbose: bool,
    /// The DNS resolver's back-off as this process last read or wrote it (`dns-resolver.state`,
    /// shared with the filter): within it no request reads the file or asks the resolver.
    dns_memo: Mutex<Option<Silence>>,
    /// When the back-off this process last logged began (`Silence::at`): logged once each.
    dns_logged: AtomicU64,
}

impl Service {
    fn new(g: &GlobalArgs, log: Log) -> Service {
        let settings = super::load(g)
            .and_then(|mut s| {
                s.policy.load_recipients()?;
                Ok(s)
            })
            .map_err(|e| format!("{e:#}"));
        if let Err(e) = &settings {
            log.line(true, &format!("answering DUNNO to everything: {e}"));
        }
        let dir = settings.as_ref().map(|s| s.db_dir.clone()).unwrap_or_default();
        Service {
            db: settings.as_ref().ok().map(Settings::database),
            state: State::at(&dir),
            settings,
            cache: Mutex::new(Cache {
                reader: Ok(None),
                stamp: Stamp { db: None, journal: Some(u64::MAX) },
                opened: Instant::now(),
                ours: Vec::new(),
            }),
            traps: Mutex::new(()),
            counters: Counters::default(),
            log,
            verbose: g.verbose > 0,
            dns_memo: Mutex::new(None),
            dns_logged: AtomicU64::new(0),
        }
    }

    /// What became of the DNS resolver's memory, in the log: a back-off once (when this
    /// process first meets it), its end, and failures to read or write the record.
    fn tell_dns(&self, e: Event<'_>) {
        match e {
            Event::Skipped(s) | Event::Silent(s) => {
                if matches!(e, Event::Skipped(_)) {
                    self.counters.dns_skipped.fetch_add(1, Relaxed);
                }
                if self.dns_logged.swap(s.at, Relaxed) != s.at {
                    self.log.line(
                        true,
                        &format!(
                            "DNS checks skipped: {}; until then the dnsbl check asks nothing and \
                             requests are answered without it",
                            s.describe()
                        ),
                    );
                }
            }
            Event::Answered => self.log.line(false, "DNS resolver answers again: DNS checks resumed"),
            Event::ReadFailed(e) => self.log.line(true, &format!("{e:#}; asking the DNS resolver")),
            Event::WriteFailed(e) => self.log.line(true, &format!("{e:#}")),
        }
    }

    fn mode(&self) -> policy::Mode {
        self.settings.as_ref().map(|s| s.policy.mode).unwrap_or_default()
    }

    /// The reputation reader (reopened if the files changed) and this process's own entries.
    fn reputation(&self, dir: &Path) -> Result<(Option<Arc<Reader>>, Vec<JournalEntry>)> {
        let now = stamp(dir);
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let replaced = now.db != c.stamp.db;
        let grew = now.journal != c.stamp.journal && c.opened.elapsed() >= Duration::from_secs(1);
        if replaced || grew || c.stamp.journal == Some(u64::MAX) {
            c.reader = Reader::open(dir).map(|r| r.map(Arc::new)).map_err(|e| format!("{e:#}"));
            c.stamp = now;
            c.opened = Instant::now();
            c.ours.clear();
        }
        match &c.reader {
            Ok(r) => Ok((r.clone(), c.ours.clone())),
            Err(e) => bail!("{e}"),
        }
    }

    fn judge(&self, req: &Request) -> Result<Outcome> {
        let settings = match &self.settings {
            Ok(s) => s,
            Err(e) => bail!("no configuration: {e}"),
        };
        let (reader, ours) = self.reputation(&settings.db_dir)?;
        let overlay = Overlay { base: reader.as_deref(), ours: &ours };
        // With Redis the client's record and its cached DNS blocklist answers are the shared
        // ones (one round trip; a failure answers DUNNO like any error).
        let client = req.get("client_address").trim().parse::<IpAddr>().ok().map(crate::received::canonical);
        let redis = self.db.as_ref().and_then(|d| d.redis());
        let shared = match (redis, client) {
            (Some(r), Some(ip)) => {
                let zones = settings.sender.dns.iter().flat_map(|d| &d.dnsbl);
                let wanted = reputation::Wanted {
                    // Its /64's record (IPv6), and the address's own (a record from before the /64s).
                    keys: std::iter::once(reputation::ip_key(ip))
                        .chain(Some(reputation::exact_key(ip)).filter(|k| *k != reputation::ip_key(ip)))
                        .collect(),
                    dns: zones.map(|z| reputation::DnsKey::Dnsbl(ip, z.clone())).collect(),
                };
                Some(r.fetch_reputation(&wanted).map_err(anyhow::Error::msg)?)
            }
            _ => None,
        };
        let lookup: &dyn ReputationLookup = match &shared {
            Some(s) => s,
            None => &overlay,
        };
        let now = crate::store::now_secs();
        // The filter's resolver with its memory of a silent server (`dns-resolver.state`):
        // within a back-off no request asks it (nor reads the file again: `dns_memo`).
        let tell = |e: Event<'_>| self.tell_dns(e);
        let live = settings.sender.dns.as_ref().map(|d| Remembering {
            server: d.resolver,
            dir: &settings.db_dir,
            tell: &tell,
            memo: Some(&self.dns_memo),
            canary_after: true,
        });
        let resolver: &dyn crate::dns::Resolver = match &live {
            Some(r) => r,
            None => &crate::dns::CacheOnly,
        };
        let cx = policy::Context {
            policy: &settings.policy,
            sender: &settings.sender,
            reputation: Some(lookup),
            state: &self.state,
            resolver,
            now,
        };
        let out = policy::evaluate(req, &cx)?;
        self.record(settings, None, &out.new_dns, now);
        Ok(out)
    }

    /// Records a honeypot hit and DNS answers: in Redis, or appended to the reputation journal
    /// (and kept as this process's own until the journal is read again). Remembering must never
    /// cost the answer: a failure is only logged.
    fn record(&self, settings: &Settings, hit: Option<IpAddr>, new_dns: &reputation::DnsAnswers, now: u64) {
        if hit.is_none() && new_dns.is_empty() {
            return;
        }
        if let Some(r) = self.db.as_ref().and_then(|d| d.redis()) {
            // Shared at once with every host, in one round trip.
            if let Err(e) = r.record(hit, None, new_dns, now) {
                self.log.line(true, &format!("cannot record in the Redis store: {e}"));
            }
            return;
        }
        let entry = JournalEntry::new(new_dns, hit, now);
        match reputation::append_journal(&settings.db_dir, &entry, Duration::from_millis(200)) {
            Ok(true) => {}
            Ok(false) => self.log.line(true, "the reputation journal stayed locked; an entry was dropped"),
            Err(e) => self.log.line(true, &format!("cannot record in the reputation journal: {e:#}")),
        }
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: while the journal cannot be read again (a trainer holding its lock for
        // long), the oldest of this process's own entries are dropped first.
        if c.ours.len() >= 10_000 {
            c.ours.remove(0);
        }
        c.ours.push(entry);
    }

    /// Records and logs the end of a transaction's honeypot recipient (`policy::Transaction`).
    fn trap_end(&self, end: Result<Option<policy::TrapEnd>>) {
        let Ok(settings) = &self.settings else { return };
        match end {
            Ok(Some(policy::TrapEnd::Hit(ip, rcpt))) => {
                self.record(settings, Some(ip), &Default::default(), crate::store::now_secs());
                self.log.line(
                    false,
                    &format!(
                        "client={ip}: its transaction was for honeypots only (<{rcpt}>): recorded as a trap sender"
                    ),
                );
            }
            Ok(Some(policy::TrapEnd::Expired(ip, rcpt))) => self.log.line(
                false,
                &format!(
                    "client={ip}: honeypot <{rcpt}> pending for more than {} h (its transaction's end was missed): \
                     dropped, not recorded",
                    crate::policy::state::TRAP_MAX_AGE / 3600
                ),
            ),
            Ok(Some(policy::TrapEnd::Beside(ip, rcpt))) => self.log.line(
                false,
                &format!("client={ip}: honeypot <{rcpt}> beside a real recipient in one transaction: not recorded"),
            ),
            Ok(None) => {}
            Err(e) => self.log.line(true, &format!("cannot keep the honeypot state of a transaction: {e:#}")),
        }
    }

    /// The answer to one request; never fails.
    fn answer(&self, req: &Request, tx: &mut policy::Transaction) -> String {
        self.counters.requests.fetch_add(1, Relaxed);
        let state_ok = self.settings.is_ok();
        if state_ok {
            let _traps = self.traps.lock().unwrap_or_else(|p| p.into_inner());
            let end = panic::catch_unwind(AssertUnwindSafe(|| tx.before(req, &self.state, crate::store::now_secs())))
                .unwrap_or_else(|_| Err(anyhow::anyhow!("internal error")));
            self.trap_end(end);
        }
        let who = format!(
            "client={} rcpt=<{}> sender=<{}>",
            req.get("client_address"),
            req.get("recipient"),
            req.get("sender")
        );
        match panic::catch_unwind(AssertUnwindSafe(|| self.judge(req))) {
            Ok(Ok(out)) => {
                let end = panic::catch_unwind(AssertUnwindSafe(|| {
                    tx.after(req, &out, &self.state, crate::store::now_secs())
                }))
                .unwrap_or_else(|_| Err(anyhow::anyhow!("internal error")));
                self.trap_end(end);
                if out.known_good.is_some() {
                    self.counters.known_good.fetch_add(1, Relaxed);
                }
                for f in &out.findings {
                    let i = Counters::index(f.check);
                    match f.act {
                        policy::Act::Reject | policy::Act::Defer => &self.counters.refused[i],
                        _ => &self.counters.marked[i],
                    }
                    .fetch_add(1, Relaxed);
                }
                if !out.findings.is_empty() {
                    self.log.line(false, &format!("{who}: {}", out.action));
                } else if self.verbose {
                    let why = out.known_good.map(|k| format!(" (known good: {k})")).unwrap_or_default();
                    self.log.line(false, &format!("{who}: {}{why}", out.action));
                }
                out.action
            }
            Ok(Err(e)) => {
                self.counters.errors.fetch_add(1, Relaxed);
                self.log.line(true, &format!("{who}: DUNNO after an error: {e:#}"));
                "DUNNO".into()
            }
            Err(_) => {
                self.counters.errors.fetch_add(1, Relaxed);
                self.log.line(true, &format!("{who}: DUNNO after an internal error"));
                "DUNNO".into()
            }
        }
    }

    /// Serves one connection until the client closes it or a read fails (for the standing
    /// service's `Timed` input: it idles past `IDLE`, a request takes longer than
    /// `REQUEST_TIME` to arrive, or it is closed to make room), then ends its transaction.
    /// `answered` is called with the input after each request is answered, before the answer
    /// is written. `output` is dropped when the loop ends, before the transaction ends.
    fn serve<R: BufRead>(&self, input: &mut R, output: impl Write, answered: impl FnMut(&mut R)) {
        let mut tx = policy::Transaction::default();
        self.serve_with(input, output, answered, &mut tx);
        let _traps = self.traps.lock().unwrap_or_else(|p| p.into_inner());
        self.trap_end(tx.end(&self.state));
    }

    fn serve_with<R: BufRead>(
        &self,
        input: &mut R,
        mut output: impl Write,
        mut answered: impl FnMut(&mut R),
        tx: &mut policy::Transaction,
    ) {
        loop {
            match protocol::read_request(input) {
                Ok(Some(req)) => {
                    let action = self.answer(&req, tx);
                    answered(input);
                    if protocol::write_answer(&mut output, &action).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    if e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut {
                        self.log.line(true, &format!("cannot read a request: {e}"));
                    }
                    return;
                }
            }
        }
    }
}

pub fn run(g: &GlobalArgs, a: &PolicyArgs) -> Result<ExitCode> {
    let log = Log::open(a.log.as_deref(), a.listen.is_some())?;
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let service = Arc::new(Service::new(g, log));
    let result = match &a.listen {
        None => {
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            let mut output = std::io::stdout().lock();
            service.serve(&mut input, &mut output, |_| {});
            Ok(ExitCode::SUCCESS)
        }
        Some(addr) => listen(&service, addr, a.threads as usize),
    };
    service.log.line(false, &service.counters.summary(service.mode()));
    panic::set_hook(hook);
    result
}

/// Where to listen.
enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

fn bind(addr: &str) -> Result<Listener> {
    if let Some(path) = addr.strip_prefix("unix:") {
        let path = PathBuf::from(path);
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                bail!("{} exists and is not a socket", path.display());
            }
            if UnixStream::connect(&path).is_ok() {
                bail!("another service is listening on {}", path.display());
            }
            std::fs::remove_file(&path).with_context(|| format!("cannot remove the old socket {}", path.display()))?;
        }
        let l = UnixListener::bind(&path).with_context(|| format!("cannot listen on {}", path.display()))?;
        // Like Postfix's own sockets: open to all, in a directory only Postfix can enter.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        return Ok(Listener::Unix(l));
    }
    let sa: SocketAddr = addr
        .strip_prefix("inet:")
        .unwrap_or(addr)
        .parse()
        .with_context(|| format!("`{addr}` is neither unix:PATH nor IP:PORT"))?;
    if !matches!(sa.ip(), IpAddr::V4(v) if v.is_loopback()) && !matches!(sa.ip(), IpAddr::V6(v) if v.is_loopback()) {
        bail!("{sa}: the policy protocol has no authentication; listen on a loopback address or a unix socket");
    }
    Ok(Listener::Tcp(TcpListener::bind(sa).with_context(|| format!("cannot listen on {sa}"))?))
}

/// A connection of either kind.
enum Conn {
    Unix(UnixStream),
    Tcp(std::net::TcpStream),
}

impl Conn {
    fn try_clone(&self) -> std::io::Result<Conn> {
        Ok(match self {
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
        })
    }

    fn set_read_timeout(&self, d: Duration) -> std::io::Result<()> {
        match self {
            Conn::Unix(s) => s.set_read_timeout(Some(d)),
            Conn::Tcp(s) => s.set_read_timeout(Some(d)),
        }
    }

    fn set_write_timeout(&self, d: Duration) -> std::io::Result<()> {
        match self {
            Conn::Unix(s) => s.set_write_timeout(Some(d)),
            Conn::Tcp(s) => s.set_write_timeout(Some(d)),
        }
    }

    /// Closes it for both sides: the thread serving it sees the end of input.
    fn shutdown(&self) {
        let _ = match self {
            Conn::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Conn::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl std::io::Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Unix(s) => s.flush(),
            Conn::Tcp(s) => s.flush(),
        }
    }
}

/// How long a request may take to arrive once its first byte has: Postfix writes a request
/// at once, so only a stalled or hostile client (a slowloris) takes longer; it is closed.
const REQUEST_TIME: Duration = Duration::from_secs(10);

/// The open connections of the standing service, so that one over the cap closes the oldest
/// idle one (or, when none is idle, the one that has been sending its request the longest)
/// instead of waiting: a new client is always answered. Postfix reconnects when it finds its
/// idle connection closed (it keeps one per smtpd process for
/// `smtpd_policy_service_max_idle`, 300 s).
#[derive(Default)]
struct Open {
    next: u64,
    conns: std::collections::HashMap<u64, OpenConn>,
}

struct OpenConn {
    /// A handle to close it with.
    closer: Conn,
    /// Since when it is idle after answering a request, or `None` while a request is arriving
    /// or being answered, and before its first request: a fresh connection is no idle one, or
    /// under a flood of half-sent requests each new client would be the first closed (review R7).
    idle_since: Option<Instant>,
    /// When its current request started arriving; for a fresh connection, when it was accepted.
    busy_since: Instant,
}

impl Open {
    /// The connection to close to make room: the one idle longest since its last answer, else
    /// the one busy longest (a fresh connection counted from its accept).
    fn victim(&self) -> Option<u64> {
        let idle = self.conns.iter().filter_map(|(id, c)| c.idle_since.map(|t| (t, *id))).min();
        idle.or_else(|| self.conns.iter().map(|(id, c)| (c.busy_since, *id)).min()).map(|(_, id)| id)
    }
}

/// The reading side of a connection: waits at most `IDLE` for a request to start and at most
/// `REQUEST_TIME` for the rest of it, and tells `open` whether it is idle.
struct Timed {
    conn: Conn,
    id: u64,
    open: Arc<Mutex<Open>>,
    started: Option<Instant>,
}

impl Timed {
    fn set_idle(&self, idle: bool) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = open.conns.get_mut(&self.id) {
            let now = Instant::now();
            if idle {
                c.idle_since = Some(now);
            } else {
                c.idle_since = None;
                c.busy_since = now;
            }
        }
    }

    /// The request was answered: the next one may take `IDLE` to start.
    fn done(&mut self) {
        self.started = None;
        self.set_idle(true);
    }
}

impl std::io::Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let timeout = match self.started {
            None => IDLE,
            Some(t) => match REQUEST_TIME.checked_sub(t.elapsed()).filter(|d| !d.is_zero()) {
                Some(d) => d,
                None => return Err(std::io::ErrorKind::TimedOut.into()),
            },
        };
        self.conn.set_read_timeout(timeout)?;
        let n = self.conn.read(buf)?;
        if n > 0 && self.started.is_none() {
            self.started = Some(Instant::now());
            self.set_idle(false);
        }
        Ok(n)
    }
}

/// Serves `conn` on a thread of its own, registered in `open`; at `max` connections the oldest
/// idle one is closed first (see `Open`).
fn spawn_conn(service: &Arc<Service>, open: &Arc<Mutex<Open>>, conn: Conn, max: usize) {
    if let Conn::Tcp(s) = &conn {
        let _ = s.set_nodelay(true);
    }
    let _ = conn.set_write_timeout(Duration::from_secs(30));
    let (Ok(closer), Ok(reader)) = (conn.try_clone(), conn.try_clone()) else { return };
    let id = {
        let mut o = open.lock().unwrap_or_else(|p| p.into_inner());
        if o.conns.len() >= max {
            if let Some(v) = o.victim() {
                if let Some(c) = o.conns.remove(&v) {
                    c.closer.shutdown();
                    service.counters.closed_to_make_room.fetch_add(1, Relaxed);
                }
            }
        }
        let id = o.next;
        o.next += 1;
        let now = Instant::now();
        o.conns.insert(id, OpenConn { closer, idle_since: None, busy_since: now });
        id
    };
    let service2 = service.clone();
    let open2 = open.clone();
    let spawned = std::thread::Builder::new().name("policy-conn".into()).spawn(move || {
        let timed = Timed { conn: reader, id, open: open2.clone(), started: None };
        service2.serve(&mut BufReader::new(timed), conn, |input| input.get_mut().done());
        open2.lock().unwrap_or_else(|p| p.into_inner()).conns.remove(&id);
    });
    if let Err(e) = spawned {
        service.log.line(true, &format!("cannot start a thread for a connection: {e}"));
        if let Some(c) = open.lock().unwrap_or_else(|p| p.into_inner()).conns.remove(&id) {
            c.closer.shutdown();
        }
    }
}

fn listen(service: &Arc<Service>, addr: &str, max: usize) -> Result<ExitCode> {
    let listener = bind(addr)?;
    service.log.line(false, &format!("listening on {addr}, at most {max} connections at once"));
    let open = Arc::new(Mutex::new(Open::default()));
    // Counters every ten minutes, when they moved.
    {
        let service = service.clone();
        std::thread::spawn(move || {
            let mut last = 0;
            loop {
                std::thread::sleep(Duration::from_secs(600));
                let n = service.counters.requests.load(Relaxed);
                if n != last {
                    service.log.line(false, &service.counters.summary(service.mode()));
                    last = n;
                }
            }
        });
    }
    loop {
        let conn = match &listener {
            Listener::Unix(l) => l.accept().map(|(s, _)| Conn::Unix(s)),
            Listener::Tcp(l) => l.accept().map(|(s, _)| Conn::Tcp(s)),
        };
        match conn {
            Ok(c) => spawn_conn(service, &open, c, max),
            Err(e) => {
                service.log.line(true, &format!("cannot accept a connection: {e}"));
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}
