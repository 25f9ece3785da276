//! The reputation database in Redis (docs/db-format.md): every record of `reputation.db` (an
//! IP address, a link domain, a correspondent) as one field of `{P}:rep`, encoded as the file
//! encodes it, and the honeypot hits filters and the policy service record between training
//! runs in `{P}:hits` (a count incremented with HINCRBY and the time of the last hit), so that
//! a hit on one host is seen by the next message on every host without a delivery ever
//! rewriting a record. Training folds the hits into the records in its MULTI/EXEC, subtracting
//! what it folded (a hit that arrives meanwhile stays for the next run).
//!
//! Readers get records with the hits applied (`Reputation::honeypot_hits`), so the decay, the
//! own-relay test and the policy's decisions are the file store's code on the same record.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;

use super::resp::{self, Conn, Reply};
use super::{number, scan, Redis};
use crate::store::queue::{self, Added, Origin, QueueLimits, Queued};
use crate::store::reputation::{
    self, ip_from_key, ip_key, Cached, DnsAnswers, DnsKey, Key, Record, Reputation, ReputationLookup, Wanted,
};
use crate::store::Class;

/// Subtracts folded hits from `{P}:hits` (ARGV: field, count, ...), removing a field (and its
/// time) once nothing is left: a hit recorded after the fold read them stays.
pub(super) const FOLD_HITS: &str = "for i = 1, #ARGV, 2 do \
     local v = redis.call('hincrby', KEYS[1], ARGV[i], -tonumber(ARGV[i+1])) \
     if v <= 0 then redis.call('hdel', KEYS[1], ARGV[i], ARGV[i] .. 't') end \
     end return 0";

/// The reputation records one message (or one policy request) looks up, from one round trip.
#[derive(Debug, Default, Clone)]
pub struct FetchedRep {
    rep: Reputation,
    relayed: u64,
}

impl ReputationLookup for FetchedRep {
    fn get(&self, key: &Key) -> Option<Record> {
        self.rep.get(key)
    }
    fn relayed(&self) -> u64 {
        self.relayed
    }
}

/// The reputation as a training run reads it (see `Redis::read_reputation`).
pub(super) struct ReadRep {
    pub rep: Reputation,
    pub stored: BTreeMap<Key, Record>,
    pub folded: Vec<(Key, u64)>,
    pub bad: Vec<Vec<u8>>,
}

/// The time field of a key's hits: the key and `t`.
fn time_field(k: &Key) -> [u8; 17] {
    let mut f = [b't'; 17];
    f[..16].copy_from_slice(k);
    f
}

impl Redis {
    /// The key of a cached DNS answer: `{P}:dns:ptr:IP`, `{P}:dns:bl:ZONE:IP`,
    /// `{P}:dns:uri:ZONE:DOMAIN`.
    fn dns_key(&self, k: &DnsKey) -> Vec<u8> {
        self.key(&match k {
            DnsKey::Ptr(ip) => format!("dns:ptr:{ip}"),
            DnsKey::Dnsbl(ip, zone) => format!("dns:bl:{zone}:{ip}"),
            DnsKey::Uribl(domain, zone) => format!("dns:uri:{zone}:{}", domain.to_ascii_lowercase()),
        })
    }

    /// Queues what `w` needs: the records of its keys, their honeypot hits since the last
    /// training run, and its cached DNS answers.
    pub(super) fn queue_rep(&self, c: &mut Conn, w: &Wanted) {
        let (k_rep, k_hits) = (self.key("rep"), self.key("hits"));
        if !w.keys.is_empty() {
            let fields: Vec<&[u8]> = w.keys.iter().map(|k| &k[..]).collect();
            c.cmd_with(&[b"HMGET", &k_rep], &fields);
            let times: Vec<[u8; 17]> = w.keys.iter().map(time_field).collect();
            let hits: Vec<&[u8]> = w.keys.iter().zip(&times).flat_map(|(k, t)| [&k[..], &t[..]]).collect();
            c.cmd_with(&[b"HMGET", &k_hits], &hits);
        }
        if !w.dns.is_empty() {
            let keys: Vec<Vec<u8>> = w.dns.iter().map(|k| self.dns_key(k)).collect();
            let keys: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
            c.cmd_with(&[b"MGET"], &keys);
        }
    }

    /// Decodes the replies of `queue_rep` (a record that does not decode is a damaged store;
    /// a DNS answer that does not is left out: it is asked again).
    pub(super) fn decode_rep(
        &self,
        next: &mut dyn FnMut() -> io::Result<Reply>,
        w: &Wanted,
        relayed: u64,
    ) -> io::Result<FetchedRep> {
        let keys = &w.keys[..];
        let (recs, hits) =
            if keys.is_empty() { (Vec::new(), Vec::new()) } else { (next()?.array()?, next()?.array()?) };
        if recs.len() != keys.len() || hits.len() != 2 * keys.len() {
            return Err(resp::garbage("a reputation reply of the wrong length"));
        }
        let mut rep = Reputation::default();
        for (k, v) in keys.iter().zip(recs) {
            if let Some(b) = v.bulk()? {
                let r = reputation::decode_record(&b).ok_or_else(|| resp::garbage("a reputation record is damaged"))?;
                rep.records.insert(*k, r);
            }
        }
        let mut hits = hits.into_iter();
        for k in keys {
            // A count (or time) that is not a number was not written by spamfilt (HINCRBY and HSET
            // write numbers): no hit (no time: now), as training and `lint` leave such a field
            // alone (`read_reputation`). Taken as a damaged store, it made every delivery from
            // that address degraded, with nothing to repair it.
            let (n, t) = (hits.next().expect("2 per key").bulk()?, hits.next().expect("2").bulk()?);
            let (n, t) = (number(n).unwrap_or(0), number(t).unwrap_or_else(|_| crate::store::now_secs()));
            if n > 0 {
                rep.honeypot_hits(ip_from_key(*k), n.min(u32::MAX as u64) as u32, t);
            }
        }
        if !w.dns.is_empty() {
            let vals = next()?.array()?;
            if vals.len() != w.dns.len() {
                return Err(resp::garbage("a DNS cache reply of the wrong length"));
            }
            let mut answers = DnsAnswers::default();
            for (k, v) in w.dns.iter().zip(vals) {
                let Some(v) = v.bulk()? else { continue };
                let Some((expires, value)) = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|v| v.split_once(' '))
                    .and_then(|(e, v)| Some((e.parse().ok()?, v)))
                else {
                    continue;
                };
                let flag = |v: &str| match v {
                    "1" => Some(true),
                    "0" => Some(false),
                    _ => None,
                };
                match k {
                    DnsKey::Ptr(ip) => {
                        let name = (value != "-").then(|| value.to_string());
                        answers.ptr.push((*ip, Cached { value: name, expires }));
                    }
                    DnsKey::Dnsbl(ip, zone) => {
                        if let Some(listed) = flag(value) {
                            answers.dnsbl.push((*ip, zone.clone(), Cached { value: listed, expires }));
                        }
                    }
                    DnsKey::Uribl(domain, zone) => {
                        if let Some(listed) = flag(value) {
                            answers.uribl.push((domain.clone(), zone.clone(), Cached { value: listed, expires }));
                        }
                    }
                }
            }
            rep.merge_dns(&answers, crate::store::now_secs());
        }
        Ok(FetchedRep { rep, relayed })
    }

    /// Queues a `SET KEY VALUE EX TTL` for each answer (its time to live is what is left of
    /// its own, at least a second).
    fn queue_dns(&self, c: &mut Conn, answers: &DnsAnswers, now: u64) {
        let mut set = |k: DnsKey, expires: u64, value: &str| {
            let v = format!("{expires} {value}");
            let ttl = expires.saturating_sub(now).max(1).to_string();
            c.cmd(&[b"SET", &self.dns_key(&k), v.as_bytes(), b"EX", ttl.as_bytes()]);
        };
        let flag = |b: bool| if b { "1" } else { "0" };
        for (ip, a) in &answers.ptr {
            set(
                DnsKey::Ptr(*ip),
                a.expires,
                a.value.as_deref().filter(|n| !n.is_empty() && !n.contains(' ')).unwrap_or("-"),
            );
        }
        for (ip, zone, a) in &answers.dnsbl {
            set(DnsKey::Dnsbl(*ip, zone.clone()), a.expires, flag(a.value));
        }
        for (domain, zone, a) in &answers.uribl {
            set(DnsKey::Uribl(domain.clone(), zone.clone()), a.expires, flag(a.value));
        }
    }

    /// What `w` asks for alone, in one round trip (the policy service's lookup).
    pub fn fetch_reputation(&self, w: &Wanted) -> std::result::Result<FetchedRep, String> {
        let k_totals = self.key("totals");
        self.round_trip_noted(|c| {
            c.cmd(&[b"HGET", &k_totals, b"relayed"]);
            self.queue_rep(c, w);
        })
        .and_then(|r| {
            let mut it = r.into_iter();
            let mut next = || it.next().ok_or_else(|| resp::garbage("too few replies"));
            let relayed = number(next()?.bulk()?)?;
            self.decode_rep(&mut next, w, relayed)
        })
        .map_err(|e| format!("{}: {e}", self.what()))
    }

    /// Records a honeypot hit from `ip` at `now` (a filter or the policy service): one round
    /// trip, bounded like a delivery's: `HINCRBY {P}:hits KEY 1`, `HSET {P}:hits KEYt NOW`.
    pub fn record_hit(&self, ip: IpAddr, now: u64) -> std::result::Result<(), String> {
        self.record(Some(ip), None, &DnsAnswers::default(), now).map(drop)
    }

    /// Reads every record and every pending hit (HSCAN), the hits applied. Returns the records,
    /// the records as stored (before the hits: what the commit compares with), the hits folded
    /// in (to subtract when the run commits) and, with `force`, the fields of records that do
    /// not decode (dropped by the commit; otherwise they are an error).
    pub(super) fn read_reputation(&self, conn: &mut Conn, force: bool) -> io::Result<ReadRep> {
        let mut rep = Reputation::default();
        let mut bad = Vec::new();
        scan(conn, &self.key("rep"), |k, v| {
            match (<Key>::try_from(k), reputation::decode_record(v)) {
                (Ok(k), Some(r)) => {
                    rep.records.insert(k, r);
                }
                _ if force => bad.push(k.to_vec()),
                _ => return Err(resp::garbage("a reputation record is damaged (--force drops what is damaged)")),
            }
            Ok(())
        })?;
        let mut counts: BTreeMap<Key, u64> = BTreeMap::new();
        let mut times: BTreeMap<Key, u64> = BTreeMap::new();
        scan(conn, &self.key("hits"), |k, v| {
            let n = number(Some(v.to_vec()));
            match (k.len(), n) {
                (16, Ok(n)) => {
                    counts.insert(k.try_into().expect("16"), n);
                }
                (17, Ok(t)) if k[16] == b't' => {
                    times.insert(k[..16].try_into().expect("16"), t);
                }
                // Not ours: left alone (the fold never touches it).
                _ => {}
            }
            Ok(())
        })?;
        let stored = rep.records.clone();
        let folded: Vec<(Key, u64)> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
        for (k, n) in &folded {
            let t = times.get(k).copied().unwrap_or_else(crate::store::now_secs);
            rep.honeypot_hits(ip_from_key(*k), (*n).min(u32::MAX as u64) as u32, t);
        }
        // Records a binary from before the /64s kept per IPv6 address go to their /64 (the
        // commit writes the /64's record and deletes the address's, `stored` being as read).
        rep.merge_v6_members();
        Ok(ReadRep { rep, stored, folded, bad })
    }

    /// The whole reputation database, read without the lock (`ip show`, `ip list`, dumps).
    pub fn reputation(&self) -> anyhow::Result<Reputation> {
        use anyhow::Context;
        let mut conn = self.connect(super::TRAIN_TIMEOUT).with_context(|| format!("cannot read {}", self.what()))?;
        Ok(self.read_reputation(&mut conn, false).with_context(|| format!("cannot read {}", self.what()))?.rep)
    }
}

/// What a commit writes of the reputation: the records that changed (or all, replacing) and
/// the hits folded.
pub(super) fn queue_commit(
    c: &mut Conn,
    store: &Redis,
    orig: &BTreeMap<Key, Record>,
    rep: &Reputation,
    folded: &[(Key, u64)],
    bad: &[Vec<u8>],
) {
    let (k_rep, k_hits, k_totals) = (store.key("rep"), store.key("hits"), store.key("totals"));
    let set: Vec<(&Key, Vec<u8>)> = rep
        .records
        .iter()
        .filter(|(k, r)| orig.get(*k) != Some(*r))
        .map(|(k, r)| (k, reputation::encode_record(r)))
        .collect();
    let del: Vec<&[u8]> = orig
        .keys()
        .filter(|k| !rep.records.contains_key(*k))
        .map(|k| &k[..])
        .chain(bad.iter().map(|b| &b[..]))
        .collect();
    for chunk in set.chunks(super::CHUNK) {
        let rest: Vec<&[u8]> = chunk.iter().flat_map(|(k, v)| [&k[..], &v[..]]).collect();
        c.cmd_with(&[b"HSET", &k_rep], &rest);
    }
    for chunk in del.chunks(super::CHUNK) {
        c.cmd_with(&[b"HDEL", &k_rep], chunk);
    }
    let counts: Vec<String> = folded.iter().map(|(_, n)| n.to_string()).collect();
    let args: Vec<&[u8]> = folded.iter().zip(&counts).flat_map(|((k, _), n)| [&k[..], n.as_bytes()]).collect();
    for chunk in args.chunks(2 * super::CHUNK) {
        c.cmd_with(&[b"EVAL", FOLD_HITS.as_bytes(), b"1", &k_hits], chunk);
    }
    c.cmd(&[b"HSET", &k_totals, b"relayed", rep.relayed().to_string().as_bytes()]);
}

/// Queues a honeypot message in `{P}:queue` (KEYS[1]) unless that would pass `max_messages`
/// (ARGV[3]) or `max_bytes` (ARGV[4]); a drop is counted in `{P}:queue-meta` (KEYS[2]) for the
/// next training run to report. ARGV[1]: the field (`queue::new_name`), ARGV[2]: the message.
/// Returns {queued 0/1, messages, bytes}. One script, so the limits hold however many filters
/// on however many hosts queue at once.
const QUEUE_ADD: &str = "local n = redis.call('hlen', KEYS[1]) \
     local b = 0 \
     for _, f in ipairs(redis.call('hkeys', KEYS[1])) do b = b + redis.call('hstrlen', KEYS[1], f) end \
     local len = string.len(ARGV[2]) \
     if n >= tonumber(ARGV[3]) or b + len > tonumber(ARGV[4]) then \
       redis.call('hincrby', KEYS[2], 'dropped', 1) \
       redis.call('hincrby', KEYS[2], 'dropped_bytes', len) \
       return {0, n, b} \
     end \
     redis.call('hset', KEYS[1], ARGV[1], ARGV[2]) \
     return {1, n + 1, b + len}";

/// The shared learning queue as a training run reads it.
#[derive(Default)]
pub(super) struct ReadQueue {
    pub queued: Vec<Queued>,
    /// Messages and bytes dropped since the last run (the queue was full).
    pub dropped: (u64, u64),
}

impl Redis {
    /// What a delivery or a policy request learned, in one round trip (none when there is
    /// nothing): a honeypot hit from `ip` (see `record_hit`); with `queue`, the message queued
    /// for the next training run on any host (unless the queue is at its limits); and new DNS
    /// answers, each a key with its time to live (`SET … EX`). Returns what became of the
    /// message.
    pub fn record(
        &self,
        ip: Option<IpAddr>,
        queue: Option<(Class, &[u8], &QueueLimits)>,
        dns: &DnsAnswers,
        now: u64,
    ) -> std::result::Result<Option<Added>, String> {
        if ip.is_none() && queue.is_none() && dns.is_empty() {
            return Ok(None);
        }
        if self.recently_failed() {
            // This process's lookups got no answer a moment ago: not a second wait.
            return Err(format!("{}: it did not answer a moment ago", self.what()));
        }
        let (k_hits, k_queue, k_meta) = (self.key("hits"), self.key("queue"), self.key("queue-meta"));
        let hit = ip.map(ip_key);
        let t = hit.as_ref().map(time_field);
        let now = now.to_string();
        let name = queue.map(|(class, _, _)| queue::new_name(class));
        let limits = queue.map(|(_, _, l)| (l.max_messages.to_string(), l.max_bytes.to_string()));
        self.round_trip(|c| {
            if let (Some(k), Some(t)) = (&hit, &t) {
                c.cmd(&[b"HINCRBY", &k_hits, k, b"1"]);
                c.cmd(&[b"HSET", &k_hits, t, now.as_bytes()]);
            }
            if let (Some((_, body, _)), Some(name), Some((max_n, max_b))) = (queue, &name, &limits) {
                let args: [&[u8]; 9] = [
                    b"EVAL",
                    QUEUE_ADD.as_bytes(),
                    b"2",
                    &k_queue,
                    &k_meta,
                    name.as_bytes(),
                    body,
                    max_n.as_bytes(),
                    max_b.as_bytes(),
                ];
                c.cmd(&args);
            }
            self.queue_dns(c, dns, now.parse().unwrap_or(0));
        })
        .and_then(|r| {
            if let Some(Reply::Error(e)) = r.iter().find(|r| matches!(r, Reply::Error(_))) {
                return Err(resp::garbage(format!("refused: {e}")));
            }
            let Some(name) = name else { return Ok(None) };
            let v = r.into_iter().last().ok_or_else(|| resp::garbage("no reply to the queue script"))?.array()?;
            let v: Vec<i64> = v.into_iter().map(Reply::int).collect::<io::Result<_>>()?;
            match v[..] {
                [1, _, _] => Ok(Some(Added::Queued(format!("{} in {}", name, self.cfg.shown()).into()))),
                [0, n, b] => Ok(Some(Added::Dropped { messages: n.max(0) as usize, bytes: b.max(0) as u64 })),
                _ => Err(resp::garbage("a bad reply to the queue script")),
            }
        })
        .map_err(|e| format!("{}: {e}", self.what()))
    }

    /// Reads the shared learning queue (HSCAN) and what was dropped since the last run. A field
    /// that is not a name spamfilt gives is left alone, and noted.
    pub(super) fn read_queue(&self, conn: &mut Conn, notes: &mut crate::store::Notes) -> io::Result<ReadQueue> {
        let mut found: Vec<(u128, Queued)> = Vec::new();
        let key = self.key("queue");
        scan(conn, &key, |k, v| {
            match std::str::from_utf8(k).ok().and_then(queue::parse_name) {
                Some((class, nanos)) => found
                    .push((nanos, Queued { class, origin: Origin::Shared { field: k.to_vec(), body: v.to_vec() } })),
                None => notes.push(format!(
                    "skipping the field {:?} of {}: not a name spamfilt gives",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(&key)
                )),
            }
            Ok(())
        })?;
        found.sort_by_key(|f| f.0);
        conn.cmd(&[b"HMGET", &self.key("queue-meta"), b"dropped", b"dropped_bytes"]);
        let r = conn.run()?.pop().ok_or_else(|| resp::garbage("no reply to HMGET"))?.array()?;
        let mut r = r.into_iter();
        let mut n = || -> io::Result<u64> { number(r.next().map(Reply::bulk).transpose()?.flatten()) };
        let dropped = (n()?, n()?);
        Ok(ReadQueue { queued: found.into_iter().map(|f| f.1).collect(), dropped })
    }
}

/// What a commit writes of the queue: the learned messages removed, the drops reported taken.
pub(super) fn learned_commit(c: &mut Conn, store: &Redis, learned: &[Vec<u8>], dropped: (u64, u64)) {
    let (k_queue, k_meta) = (store.key("queue"), store.key("queue-meta"));
    for chunk in learned.chunks(super::CHUNK) {
        let rest: Vec<&[u8]> = chunk.iter().map(|f| &f[..]).collect();
        c.cmd_with(&[b"HDEL", &k_queue], &rest);
    }
    if dropped != (0, 0) {
        let (n, b) = (format!("-{}", dropped.0), format!("-{}", dropped.1));
        c.cmd(&[b"HINCRBY", &k_meta, b"dropped", n.as_bytes()]);
        c.cmd(&[b"HINCRBY", &k_meta, b"dropped_bytes", b.as_bytes()]);
    }
}
