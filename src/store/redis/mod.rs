//! The Redis store: token counts, message totals, the training ledger and the LR weights of one
//! user in one Redis (or Valkey) server shared by several hosts. Layout in docs/db-format.md.
//!
//! * A delivery makes one round trip (`fetch`): HMGET of the message totals, HMGET of the
//!   message's tokens in the token hash, and GET of the LR table, pipelined in one write; the
//!   connection's AUTH and SELECT ride along. Every wait is bounded (`timeout`, 200 ms by
//!   default); any failure is an error the scorer turns into a degraded verdict.
//! * Training (`Tx`) takes the user's lock (a key set with NX and a time to live, kept alive by
//!   a thread while the run lasts), WATCHes the generation key, reads the whole store into a
//!   `Snapshot` as the file store does, and commits what changed in one MULTI/EXEC that also
//!   bumps the generation: readers see the counts from before or after a run, never half of
//!   one, and a run whose lock expired under it (the generation moved) changes nothing.

mod config;
mod lock;
pub mod rep;
pub mod resp;
mod tx;

pub use config::{check_prefix, mask_url, RedisConfig};
pub use lock::Lock;
use tx::field_of;
pub use tx::{Parts, Tx};

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use resp::{Conn, Reply, Target};

use super::reputation::{Key, Record, Reputation};
use super::{lrfile, tokenfile, Class, Counts, Digest, Learned, Snapshot, TokenMap, TokenRecord, Totals};

/// How long training waits for one reply (its round trips move whole tables).
const TRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// The trainer lock's time to live, renewed every third of it while a run lasts: a trainer
/// that dies on another host holds it this long at most (on the same host it is taken over at
/// once, see `Lock::take`). Short is safe: a run whose lock expired under it changes nothing
/// (the commit's WATCH), it only has to be run again.
const LOCK_TTL_MS: u64 = 10_000;
/// The largest reply a delivery accepts: the LR table of this binary's shape (a version 2 file:
/// header and 5 bytes per weight; a version 1 table is shorter).
const LR_MAX: usize = lrfile::file_size(crate::lr::DEFAULT_BITS);
/// Pairs per HSET or fields per HDEL in a commit.
const CHUNK: usize = 1000;

/// One user's store in one Redis.
pub struct Redis {
    pub cfg: RedisConfig,
    pool: Mutex<Vec<Conn>>,
    /// The LR table this process fetched last (`check` scores thousands of messages).
    lr: Mutex<Option<LrBytes>>,
    /// When a round trip of this process last failed (see `recently_failed`).
    failed: Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redis({} {{{}}})", self.cfg.shown(), self.cfg.prefix)
    }
}

/// What one message needs, from one round trip.
pub struct Fetched {
    pub totals: Totals,
    pub counts: Vec<Counts>,
    /// The LR table (when asked for, there is one and it was made with this binary's features).
    pub lr: Option<LrBytes>,
    /// The reputation records asked for (`None` when none were).
    pub rep: Option<rep::FetchedRep>,
    /// What did not arrive although the rest did (the LR table): the message is scored with
    /// what did, and degraded for this.
    pub degraded: Option<String>,
}

/// An LR table (header checked) for scoring: fetched whole, or the local copy of it.
#[derive(Clone)]
pub struct LrBytes {
    bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
    header: lrfile::Header,
}

impl LrBytes {
    fn head(&self) -> &[u8] {
        &(*self.bytes).as_ref()[..lrfile::HEADER]
    }
}

impl crate::lr::Table for LrBytes {
    fn learned(&self) -> (u64, u64) {
        (self.header.ham, self.header.spam)
    }
    fn logit(&self, features: &[u32]) -> f64 {
        lrfile::logit((*self.bytes).as_ref(), &self.header, features)
    }
}

fn tok_value(r: &TokenRecord) -> [u8; 12] {
    let mut v = [0u8; 12];
    v[..4].copy_from_slice(&r.spam.to_le_bytes());
    v[4..8].copy_from_slice(&r.ham.to_le_bytes());
    v[8..].copy_from_slice(&r.last_day.to_le_bytes());
    v
}

fn tok_record(v: &[u8]) -> Option<TokenRecord> {
    if v.len() != 12 {
        return None;
    }
    let u = |i: usize| u32::from_le_bytes(v[i..i + 4].try_into().expect("4 bytes"));
    Some(TokenRecord { spam: u(0), ham: u(4), last_day: u(8) })
}

fn class_byte(c: Class) -> &'static [u8] {
    match c {
        Class::Ham => b"h",
        Class::Spam => b"s",
    }
}

/// The hash that says whether each learned message had Received fields (docs/db-format.md).
const LEDGER_RECEIVED: &str = "ledger-received";

/// `{P}:ledger-received` as read: field, value.
type ReceivedFlags = HashMap<Vec<u8>, Vec<u8>>;

/// The value of a ledger entry's Received flag: its class byte, then `r` (learned with
/// Received fields) or `n` (without); `None` for an entry of unknown Received fields.
fn received_value(l: Learned) -> Option<[u8; 2]> {
    l.received.map(|r| [class_byte(l.class)[0], if r { b'r' } else { b'n' }])
}

/// The flag of a value written by [`received_value`].
fn received_flag(v: &[u8]) -> Option<bool> {
    match v {
        [b'h' | b's', b'r'] => Some(true),
        [b'h' | b's', b'n'] => Some(false),
        _ => None,
    }
}

fn number(b: Option<Vec<u8>>) -> io::Result<u64> {
    match b {
        None => Ok(0),
        Some(b) => std::str::from_utf8(&b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| resp::garbage(format!("{:?} is not a count", String::from_utf8_lossy(&b)))),
    }
}

/// Header-checked LR bytes, or `None` when they were made with other feature parameters.
fn lr_table(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Result<Option<LrBytes>> {
    let header = lrfile::parse_header((*bytes).as_ref())?;
    let current = crate::lr::Shape::default();
    if header.shape != current || header.fingerprint != current.fingerprint() {
        return Ok(None);
    }
    Ok(Some(LrBytes { bytes, header }))
}

/// The local copy of the LR table a host keeps beside its database (see `Redis::fetch`).
pub const LR_CACHE: &str = "lr.redis-cache";

/// Calls `each` with every field and value of the hash `key` (HSCAN, a thousand at a time).
fn scan(conn: &mut Conn, key: &[u8], mut each: impl FnMut(&[u8], &[u8]) -> io::Result<()>) -> io::Result<()> {
    let mut cursor = b"0".to_vec();
    loop {
        conn.cmd(&[b"HSCAN", key, &cursor, b"COUNT", b"1000"]);
        let reply = conn.run()?.pop().ok_or_else(|| resp::garbage("no reply to HSCAN"))?.array()?;
        let [c, items]: [Reply; 2] = reply.try_into().map_err(|_| resp::garbage("a bad HSCAN reply"))?;
        cursor = c.bulk()?.ok_or_else(|| resp::garbage("a bad HSCAN cursor"))?;
        let mut items = items.array()?.into_iter();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            each(&k.bulk()?.unwrap_or_default(), &v.bulk()?.unwrap_or_default())?;
        }
        if cursor == b"0" {
            return Ok(());
        }
    }
}

impl Redis {
    pub fn new(cfg: RedisConfig) -> Redis {
        Redis { cfg, pool: Mutex::new(Vec::new()), lr: Mutex::new(None), failed: Mutex::new(None) }
    }

    pub fn key(&self, name: &str) -> Vec<u8> {
        format!("{{{}}}:{name}", self.cfg.prefix).into_bytes()
    }

    fn connect(&self, timeout: Duration) -> io::Result<Conn> {
        let c = &self.cfg;
        let mut conn = Conn::connect(&c.target, c.user.as_deref(), c.password.as_deref(), c.db, c.timeout)?;
        conn.timeout = timeout;
        Ok(conn)
    }

    /// Runs one round trip on a pooled connection (a failed one is dropped, not reused).
    fn round_trip(&self, queue: impl FnOnce(&mut Conn)) -> io::Result<Vec<Reply>> {
        let pooled = self.pool.lock().map(|mut p| p.pop()).unwrap_or(None);
        let mut conn = match pooled {
            Some(c) => c,
            None => self.connect(self.cfg.timeout)?,
        };
        // A delivery's replies are small but for the LR table: nothing larger is accepted, and
        // no array longer than a command asked for (`Limits::tight`).
        conn.limits = resp::Limits::tight(LR_MAX);
        queue(&mut conn);
        let r = conn.run()?;
        if let Ok(mut p) = self.pool.lock() {
            p.push(conn);
        }
        Ok(r)
    }

    /// `round_trip`, noting a failure (see `recently_failed`).
    fn round_trip_noted(&self, queue: impl FnOnce(&mut Conn)) -> io::Result<Vec<Reply>> {
        let r = self.round_trip(queue);
        if let Ok(mut f) = self.failed.lock() {
            *f = r.is_err().then(std::time::Instant::now);
        }
        r
    }

    /// Whether the last lookup of this process failed, within the last `timeout` × 10 (at least
    /// a second): a delivery whose lookups Redis did not answer does not wait for it a second
    /// time to record what it learned.
    pub fn recently_failed(&self) -> bool {
        let window = (self.cfg.timeout * 10).max(Duration::from_secs(1));
        self.failed.lock().ok().and_then(|f| *f).is_some_and(|t| t.elapsed() < window)
    }

    fn what(&self) -> String {
        format!("the Redis store {}", self.cfg.shown())
    }

    /// Everything one message needs, in one round trip: the totals, the counts of `hashes`
    /// (each checked as the filter checks file records) and, with `lr`, the LR table's 80-byte
    /// header. The table itself (1 MiB) is used from this process's last fetch or from the
    /// host's local copy in `cache_dir` when the header matches (the header carries the
    /// weights' checksum and the time of the training run that wrote them), so it crosses the
    /// network once per training run per host, not once per message; otherwise a second round
    /// trip fetches it and refreshes the local copy.
    /// What `rep` asks for (the reputation records of the relay's address and the From
    /// address, cached DNS answers) comes in the same round trip.
    pub fn fetch(
        &self,
        hashes: &[u64],
        rep: &super::reputation::Wanted,
        lr: bool,
        cache_dir: Option<&Path>,
    ) -> std::result::Result<Fetched, String> {
        let (k_totals, k_tokens, k_lr) = (self.key("totals"), self.key("tokens"), self.key("lr"));
        let fields: Vec<[u8; 8]> = hashes.iter().map(|h| h.to_le_bytes()).collect();
        let last = format!("{}", lrfile::HEADER - 1);
        let replies = self
            .round_trip_noted(|c| {
                c.cmd(&[b"HMGET", &k_totals, b"ham", b"spam", b"relayed", b"updated"]);
                if !fields.is_empty() {
                    let rest: Vec<&[u8]> = fields.iter().map(|f| &f[..]).collect();
                    c.cmd_with(&[b"HMGET", &k_tokens], &rest);
                }
                if lr {
                    c.cmd(&[b"GETRANGE", &k_lr, b"0", last.as_bytes()]);
                }
                self.queue_rep(c, rep);
            })
            .and_then(|r| self.decode_fetch(r, hashes.len(), lr, rep))
            .map(|(mut f, head)| {
                if let Some(head) = head {
                    // The counts and records arrived: a table that does not (a slow link, a
                    // timeout) costs LR, not them.
                    match self.lr_for(&head, cache_dir) {
                        Ok(t) => f.lr = t,
                        Err(e) => {
                            if let Ok(mut failed) = self.failed.lock() {
                                *failed = Some(std::time::Instant::now());
                            }
                            f.degraded =
                                Some(format!("{}: the LR table was not fetched: {e} (scored without it)", self.what()));
                        }
                    }
                }
                f
            });
        replies.map_err(|e| format!("{}: {e} (scored without it)", self.what()))
    }

    /// The LR table whose header is `head`: this process's, the local copy's, or fetched.
    fn lr_for(&self, head: &[u8], cache_dir: Option<&Path>) -> io::Result<Option<LrBytes>> {
        if let Some(t) = self.lr.lock().ok().and_then(|l| l.clone()).filter(|t| t.head() == head) {
            return Ok(Some(t));
        }
        let cache = cache_dir.map(|d| d.join(LR_CACHE));
        let local = cache
            .as_deref()
            .and_then(|p| super::files::map(p, "local copy of the LR table").ok().flatten())
            .filter(|m| m.len() >= lrfile::HEADER && &m[..lrfile::HEADER] == head)
            .and_then(|m| lr_table(Arc::new(m)).ok().flatten());
        let table = match local {
            Some(t) => Some(t),
            None => {
                let k_lr = self.key("lr");
                let r = self.round_trip(|c| c.cmd(&[b"GET", &k_lr]))?;
                match r.into_iter().next().ok_or_else(|| resp::garbage("no reply to GET"))?.bulk()? {
                    None => None,
                    Some(b) => {
                        let t = lr_table(Arc::new(b))
                            .map_err(|e| resp::garbage(format!("the LR table is damaged: {e:#}")))?;
                        // A cache: when it cannot be written, the next message fetches again.
                        if let (Some(t), Some(dir)) = (&t, cache_dir) {
                            let _ = super::files::ensure_dir(dir)
                                .and_then(|_| super::files::write_atomic(dir, LR_CACHE, (*t.bytes).as_ref()));
                        }
                        t
                    }
                }
            }
        };
        if let (Some(t), Ok(mut l)) = (&table, self.lr.lock()) {
            *l = Some(t.clone());
        }
        Ok(table)
    }

    /// The replies of `fetch`, and the LR header when there is a table.
    fn decode_fetch(
        &self,
        replies: Vec<Reply>,
        n: usize,
        lr: bool,
        wanted: &super::reputation::Wanted,
    ) -> io::Result<(Fetched, Option<Vec<u8>>)> {
        let mut it = replies.into_iter();
        let mut next = || it.next().ok_or_else(|| resp::garbage("too few replies"));
        let t = next()?.array()?;
        if t.len() != 4 {
            return Err(resp::garbage("a bad totals reply"));
        }
        let mut t = t.into_iter();
        let ham = number(t.next().expect("4").bulk()?)?;
        let spam = number(t.next().expect("4").bulk()?)?;
        let relayed = number(t.next().expect("4").bulk()?)?;
        let updated = number(t.next().expect("4").bulk()?)?;
        let totals = Totals { ham, spam };
        // A record's day is its writer's clock: judged against the later of this host's day and
        // the store's last update, as a token file is (`tokenfile::day_bound`).
        let today = tokenfile::day_bound_at(updated, super::today());
        let mut counts = Vec::with_capacity(n);
        if n > 0 {
            let vals = next()?.array()?;
            if vals.len() != n {
                return Err(resp::garbage("a token reply of the wrong length"));
            }
            for v in vals {
                match v.bulk()? {
                    None => counts.push(Counts::default()),
                    Some(b) => match tok_record(&b) {
                        Some(r) if tokenfile::plausible(&r, totals, today) => {
                            counts.push(Counts { spam: r.spam, ham: r.ham })
                        }
                        _ => return Err(resp::garbage("a token record is damaged")),
                    },
                }
            }
        }
        // GETRANGE of a missing key is an empty string: no table yet.
        let head = if lr { next()?.bulk()?.filter(|h| !h.is_empty()) } else { None };
        if let Some(h) = &head {
            if h.len() != lrfile::HEADER {
                return Err(resp::garbage("the LR table is damaged: its header is cut short"));
            }
        }
        let rep = if wanted.is_empty() { None } else { Some(self.decode_rep(&mut next, wanted, relayed)?) };
        Ok((Fetched { totals, counts, lr: None, rep, degraded: None }, head))
    }

    /// The whole store, read without the lock (for read-only decisions and dumps).
    /// The read takes several round trips (HSCAN): `{P}:gen` is read before and after, and a
    /// read that a training run's commit landed in the middle of is made again (`db dump`,
    /// `db migrate` copy one state, never half of a run).
    pub fn snapshot(&self) -> Result<Snapshot> {
        let fail = |e: io::Error| anyhow::Error::new(e).context(format!("cannot read {}", self.what()));
        let mut conn = self.connect(TRAIN_TIMEOUT).map_err(fail)?;
        let k_gen = self.key("gen");
        let gen = |conn: &mut Conn| -> io::Result<u64> {
            conn.cmd(&[b"GET", &k_gen]);
            number(conn.run()?.pop().ok_or_else(|| resp::garbage("no reply to GET"))?.bulk()?)
        };
        for _ in 0..10 {
            let before = gen(&mut conn).map_err(fail)?;
            let snap = self.read_all(&mut conn, false).map_err(fail)?.0;
            if gen(&mut conn).map_err(fail)? == before {
                return Ok(snap);
            }
        }
        bail!("cannot read {}: training runs changed it during each of 10 reads; try again", self.what())
    }

    /// Takes the user's trainer lock and reads the whole store for a training run.
    /// What the user should be told goes to `notes`.
    /// `parts` says what is read (and may then be written by the commit): the token store,
    /// the reputation, or both.
    pub fn begin(self: &Arc<Self>, force: bool, parts: Parts, notes: &mut super::Notes) -> Result<Tx> {
        let fail = |e: io::Error| anyhow::Error::new(e).context(format!("{} cannot be used", self.what()));
        let (lock, waited, took_over) = Lock::take(self).map_err(fail)?;
        if let Some(holder) = took_over {
            notes.push(format!(
                "took over the trainer lock of {} from {holder}, which is no longer running",
                self.what()
            ));
        }
        if waited {
            notes.push(format!("waited for another trainer of {} to finish", self.what()));
        }
        let mut conn = self.connect(TRAIN_TIMEOUT).map_err(fail)?;
        let (mut snap, mut bad, orig_received) = if parts.tokens {
            self.read_all(&mut conn, force).map_err(fail)?
        } else {
            conn.cmd(&[b"WATCH", &self.key("gen")]);
            conn.run().map_err(fail)?;
            (Snapshot::default(), Damaged::default(), HashMap::new())
        };
        // The generation as the WATCH saw it: a commit whose outcome is unknown (the
        // connection lost after EXEC was sent) is applied exactly when it is one more.
        conn.cmd(&[b"GET", &self.key("gen")]);
        let gen = conn
            .run()
            .and_then(|mut r| number(r.pop().ok_or_else(|| resp::garbage("no reply to GET"))?.bulk()?))
            .map_err(fail)?;
        let (rep, orig_rep, folded) = if parts.reputation {
            let read = self.read_reputation(&mut conn, force).map_err(fail)?;
            bad.rep = read.bad;
            (Some(read.rep), read.stored, read.folded)
        } else {
            (None, Default::default(), Vec::new())
        };
        let queue = if parts.queue { self.read_queue(&mut conn, notes).map_err(fail)? } else { Default::default() };
        if queue.dropped.0 > 0 {
            notes.push(format!(
                "{} honeypot messages ({} bytes) were not queued for learning since the last training run: the \
                 learning queue in {} was full ([queue] max_messages and max_bytes in the config file)",
                queue.dropped.0,
                queue.dropped.1,
                self.what()
            ));
        }
        if let Some(risk) = self.eviction_risk() {
            notes.push(format!("warning: {risk}"));
        }
        let n = bad.tokens.len() + bad.ledger.len() + bad.lr as usize + bad.rep.len();
        if n > 0 {
            notes.push(format!("{}: dropping {n} damaged entries (--force)", self.what()));
            // The LR table is written again (or deleted) by the commit.
            snap.lr_dirty |= bad.lr;
        }
        let orig_tokens = snap.tokens.clone();
        let orig_ledger = snap.ledger.clone();
        Ok(Tx {
            store: self.clone(),
            conn,
            _lock: lock,
            orig_tokens,
            orig_ledger,
            orig_received,
            snap: Some(snap),
            bad,
            parts,
            rep,
            orig_rep,
            folded,
            learned: queue.queued.iter().filter_map(field_of).collect(),
            queued: Some(queue.queued),
            dropped: queue.dropped,
            gen,
        })
    }

    /// WATCHes the generation, then reads everything: the hashes with HSCAN, a thousand
    /// fields at a time (one HGETALL of a large hash would stall every delivery while Redis
    /// answers it; the lock and the WATCH keep the pieces one state). Returns the snapshot and
    /// the number of damaged entries dropped (with `force`; otherwise they are an error).
    fn read_all(&self, conn: &mut Conn, force: bool) -> io::Result<(Snapshot, Damaged, ReceivedFlags)> {
        let keys: Vec<Vec<u8>> = ["gen", "tokens", "ledger", "totals", "lr"].iter().map(|k| self.key(k)).collect();
        conn.cmd(&[b"WATCH", &keys[0]]);
        conn.cmd(&[b"HMGET", &keys[3], b"ham", b"spam"]);
        conn.cmd(&[b"GET", &keys[4]]);
        let mut r = conn.run()?.into_iter().skip(1);
        let mut next = || r.next().ok_or_else(|| resp::garbage("too few replies"));
        let mut bad = Damaged::default();
        let damaged = |what: &str| resp::garbage(format!("{what} is damaged (--force drops what is damaged)"));
        let t = next()?.array()?;
        let mut t = t.into_iter();
        let ham = number(t.next().map(Reply::bulk).transpose()?.flatten())?;
        let spam = number(t.next().map(Reply::bulk).transpose()?.flatten())?;
        let lr = match next()?.bulk()? {
            None => None,
            Some(b) => match lrfile::decode(&b) {
                Ok(m) => Some(m).filter(|m| m.shape == crate::lr::Shape::default()),
                Err(_) if force => {
                    bad.lr = true;
                    None
                }
                Err(e) => return Err(damaged(&format!("the LR table ({e})"))),
            },
        };
        let mut tokens = TokenMap::default();
        scan(conn, &keys[1], |k, v| {
            match (<[u8; 8]>::try_from(k), tok_record(v)) {
                (Ok(h), Some(r)) => {
                    tokens.insert(u64::from_le_bytes(h), r);
                }
                _ if force => bad.tokens.push(k.to_vec()),
                _ => return Err(damaged("a token record")),
            }
            Ok(())
        })?;
        let mut ledger: HashMap<Digest, Learned> = HashMap::new();
        scan(conn, &keys[2], |k, v| {
            let class = match v {
                b"h" => Some(Class::Ham),
                b"s" => Some(Class::Spam),
                _ => None,
            };
            match (<[u8; 16]>::try_from(k), class) {
                (Ok(d), Some(c)) => {
                    ledger.insert(d, c.into());
                }
                _ if force => bad.ledger.push(k.to_vec()),
                _ => return Err(damaged("a ledger entry")),
            }
            Ok(())
        })?;
        // Whether each message was learned with Received fields: a hash of its own, so that a
        // binary from before it (another host of a shared store) reads and writes the ledger as
        // it did. An entry counts only while its class is the ledger's (such a binary may have
        // moved or forgotten the message since); the commit removes the others.
        let mut received = HashMap::new();
        scan(conn, &self.key(LEDGER_RECEIVED), |k, v| {
            if let (Ok(d), Some(flag)) = (<[u8; 16]>::try_from(k), received_flag(v)) {
                if let Some(l) = ledger.get_mut(&d).filter(|l| class_byte(l.class)[0] == v[0]) {
                    l.received = Some(flag);
                }
            }
            received.insert(k.to_vec(), v.to_vec());
            Ok(())
        })?;
        Ok((Snapshot { totals: Totals { ham, spam }, tokens, ledger, lr, ..Snapshot::default() }, bad, received))
    }

    /// What the server says of its eviction policy, when it evicts keys spamfilt keeps: with
    /// `maxmemory` set and an `allkeys-*` policy Redis removes any key when it is full, and
    /// one Redis serves many users: another user's training evicted every key of this one's
    /// (20 keys: `db stats` 0 messages, `lint` content, deliveries scored with nothing learned
    /// and nothing said; an evicted ledger alone would make the next training count every
    /// message again). `volatile-*` policies evict only keys with a time to live (the lock, the
    /// cached DNS answers), which is harmless. `None` also when INFO is not allowed (a managed
    /// Redis may rename it): nothing can be told then.
    pub fn eviction_risk(&self) -> Option<String> {
        let mut conn = self.connect(self.cfg.timeout.max(Duration::from_secs(5))).ok()?;
        conn.cmd(&[b"INFO", b"memory"]);
        let info = conn.run().ok()?.pop()?.bulk().ok()??;
        let info = String::from_utf8_lossy(&info);
        let field = |name: &str| {
            info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(|v| v.trim().to_string())
        };
        let max: u64 = field("maxmemory")?.parse().ok()?;
        let policy = field("maxmemory_policy")?;
        (max > 0 && policy.starts_with("allkeys-")).then(|| {
            format!(
                "{} evicts keys of any kind when it is full (maxmemory {max}, maxmemory-policy {policy}): the \
                 learned counts, ledger and reputation would go piecemeal, with no error; set maxmemory-policy \
                 noeviction (or a volatile-* policy: spamfilt's only keys with a time to live are the lock and \
                 cached DNS answers)",
                self.what()
            )
        })
    }

    /// What `db stats` shows, from one round trip.
    /// (Not bound by the delivery's `timeout`: a command waits as training does.)
    pub fn stats(&self) -> Result<super::Stats> {
        let keys: Vec<Vec<u8>> = ["totals", "tokens", "ledger", "lr"].iter().map(|k| self.key(k)).collect();
        let r = self
            .connect(TRAIN_TIMEOUT)
            .and_then(|mut c| {
                c.cmd(&[b"HMGET", &keys[0], b"ham", b"spam", b"updated"]);
                c.cmd(&[b"HLEN", &keys[1]]);
                c.cmd(&[b"HLEN", &keys[2]]);
                c.cmd(&[b"GET", &keys[3]]);
                c.run()
            })
            .and_then(|r| {
                let mut it = r.into_iter();
                let mut next = || it.next().ok_or_else(|| resp::garbage("too few replies"));
                let t = next()?.array()?;
                let mut t = t.into_iter();
                let mut n = || -> io::Result<u64> { number(t.next().map(Reply::bulk).transpose()?.flatten()) };
                let (ham, spam, updated) = (n()?, n()?, n()?);
                let tokens = next()?.int()? as u64;
                let ledger = next()?.int()? as u64;
                let lr = next()?.bulk()?;
                Ok((Totals { ham, spam }, updated, tokens, ledger, lr))
            })
            .with_context(|| format!("cannot read {}", self.what()))?;
        let (totals, last_update, tokens, ledger_entries, lr) = r;
        let lr = match lr {
            Some(b) => Some(lrfile::stats(&b).with_context(|| format!("the LR table in {} is damaged", self.what()))?),
            None => None,
        };
        Ok(super::Stats { totals, lr, tokens, ledger_entries, file_size: 0, last_update })
    }
}

/// Entries `--force` drops: removed by the commit.
#[derive(Default)]
struct Damaged {
    tokens: Vec<Vec<u8>>,
    ledger: Vec<Vec<u8>>,
    lr: bool,
    rep: Vec<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let c = RedisConfig::parse("redis://127.0.0.1:6380/2", "jan").unwrap();
        assert_eq!(
            (c.target.clone(), c.db, c.password.clone()),
            (Target::Tcp { host: "127.0.0.1".into(), port: 6380 }, 2, None)
        );
        let c = RedisConfig::parse("redis://:s%40cret@redis.example", "jan").unwrap();
        assert_eq!((c.password.as_deref(), c.db), (Some("s@cret"), 0));
        assert_eq!(c.shown(), "redis://:***@redis.example:6379/0");
        let c = RedisConfig::parse("redis://spamfilt:pw@[::1]:7000/1", "jan").unwrap();
        assert_eq!(c.target, Target::Tcp { host: "::1".into(), port: 7000 });
        assert_eq!(c.user.as_deref(), Some("spamfilt"));
        let c = RedisConfig::parse("unix:///run/redis/redis.sock?db=3", "jan").unwrap();
        assert_eq!((c.target.clone(), c.db), (Target::Unix("/run/redis/redis.sock".into()), 3));
        for bad in ["http://x", "redis://", "redis://h:port", "redis://h/x", "unix://relative.sock", "unix:///s?x=1"] {
            assert!(RedisConfig::parse(bad, "jan").is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_never_show_the_password() {
        for (url, shown) in [
            ("redis://:hunter2@h:port/0", "redis://:***@h:port/0"),
            ("redis://jan:hunter2@h:1/x", "redis://jan:***@h:1/x"),
            ("redis://hunter2@h:1/x", "redis://***@h:1/x"),
            ("redis:/:hunter2@h:1/x", "redis:***@h:1/x"),
            ("unix://rel.sock?password=hunter2&db=1", "unix://rel.sock?password=***&db=1"),
            ("unix:///s?db=x&password=hunter2", "unix:///s?db=x&password=***"),
        ] {
            assert_eq!(mask_url(url), shown);
            let e = RedisConfig::parse(url, "jan").unwrap_err();
            assert!(!e.contains("hunter2") && e.contains("***"), "{e}");
        }
    }

    #[test]
    fn token_values_round_trip() {
        let r = TokenRecord { spam: 3, ham: 70000, last_day: 20000 };
        assert_eq!(tok_record(&tok_value(&r)), Some(r));
        assert_eq!(tok_record(b"short"), None);
    }
}
