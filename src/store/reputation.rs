//! The reputation database, `reputation.db` beside the token database: what spamfilt has
//! learned about senders.
//!
//! - IP addresses: first and last seen, when the last spam came, how many messages from it were
//!   learned as spam and as ham, honeypot hits, whether the user listed it by hand, and cached
//!   DNS answers (reverse name, DNS blocklists) with their expiry.
//! - Link domains: cached URI blocklist answers.
//! - Known correspondents: the people the user wrote to (from `train --ham` of sent mail), and
//!   the user's own addresses (the From and Sender of that mail), which are never correspondents.
//! - Learned senders: how many messages from a From address through a relay block (the first
//!   untrusted relay's /24, IPv6 /48) were learned as ham and as spam (`LEARNED_SENDER`).
//!
//! Layout (little-endian), chosen so a filter run reads only what it looks up:
//! ```text
//! 0   8  magic "SPFREP02" (format 2; "SPFREP01", format 1, is still read: see `MAGIC_V1`)
//! 8   4  record count N
//! 12  4  messages learned with a relay (sum of spam and ham over the addresses; 0 before it was kept)
//! 16  8  checksum (FNV-1a 64) of everything after the header
//! 24  N × 24  index: key (16 bytes), offset (u32), length (u32), sorted by key
//! ..  records: each a bincode 2 encoding of `Record` at its offset in the blob
//! ```
//! Keys: an IP address's reputation is its block's 16-byte IPv6 form (IPv4 mapped; an IPv6
//! address's /64, its first address: [`ip_block`]), and an IPv6 address's cached DNS answers
//! are its own 16 bytes ([`exact_key`]; the same record for IPv4); a domain or an address is the
//! first 16 bytes of SHA-256 of `domain:NAME` / `addr:ADDRESS`. The filter maps the file and
//! binary-searches the index (cost independent of the size); writers hold the database
//! directory's lock, verify everything, and replace the file atomically like the token
//! database. A training run does not load the file: it reads the records it touches and merges
//! its changes into a copy of the file (`stream`). bincode 2.0.1 (pinned, serde-free) encodes
//! the variable-length records.

use std::net::{IpAddr, Ipv6Addr};

use sha2::{Digest as _, Sha256};

mod answers;
mod file;
mod journal;
mod reader;
mod stream;

pub use answers::DnsAnswers;
pub use file::{Prepared, Reputation};
pub(crate) use journal::lock_journal;
pub use journal::{append_journal, JournalEntry, JOURNAL, MAX_REPLAY};
pub use reader::Reader;

/// Format 2 (2026-12-03): IPv6 reputation per /64 (see [`ip_block`]). A binary from before it
/// refuses the file at its magic ("not a spamfilt reputation database"), never misreads it.
const MAGIC: &[u8; 8] = b"SPFREP02";
/// Format 1: the same layout, IPv6 records per address; still read, and merged into /64s by
/// the first write.
const MAGIC_V1: &[u8; 8] = b"SPFREP01";
const HEADER: usize = 24;
const INDEX: usize = 24;
pub const FILE: &str = "reputation.db";

/// A cached DNS answer and when it expires (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Cached<T> {
    pub value: T,
    pub expires: u64,
}

/// What is known about one IP address.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct IpRecord {
    pub first_seen: u64,
    pub last_seen: u64,
    /// When a message from it was last learned as spam or hit a honeypot (0: never).
    pub last_spam: u64,
    pub spam: u32,
    pub ham: u32,
    pub honeypot: u32,
    /// Added by hand (`spamfilt ip add`): a spam source until removed.
    pub manual: bool,
    /// The reverse-DNS name (`None`: there is none), when looked up.
    pub ptr: Option<Cached<Option<String>>>,
    /// DNS blocklist answers by zone: listed or not.
    pub dnsbl: Vec<(String, Cached<bool>)>,
}

impl IpRecord {
    /// Whether it holds any reputation (counts, times of spam, a manual mark): not only cached
    /// DNS answers.
    pub fn has_counts(&self) -> bool {
        self.spam > 0 || self.ham > 0 || self.honeypot > 0 || self.manual || self.last_spam > 0
    }

    /// Adds `other`'s reputation to this one (its counts summed, the later times kept, the
    /// earlier first sighting, manual if either is); cached DNS answers are not moved.
    pub fn add_counts(&mut self, other: &IpRecord) {
        self.spam = self.spam.saturating_add(other.spam);
        self.ham = self.ham.saturating_add(other.ham);
        self.honeypot = self.honeypot.saturating_add(other.honeypot);
        self.manual |= other.manual;
        self.last_seen = self.last_seen.max(other.last_seen);
        self.last_spam = self.last_spam.max(other.last_spam);
        if other.first_seen > 0 && (self.first_seen == 0 || other.first_seen < self.first_seen) {
            self.first_seen = other.first_seen;
        }
    }

    /// The record without its reputation: what is left at an address's own key once its counts
    /// went to its /64 (its cached DNS answers).
    fn dns_only(&self) -> IpRecord {
        IpRecord { ptr: self.ptr.clone(), dnsbl: self.dnsbl.clone(), ..IpRecord::default() }
    }

    /// Whether anything in the record is still worth keeping at `now`.
    fn alive(&self, now: u64, expire_days: u32) -> bool {
        let horizon = expire_days as u64 * 86_400;
        self.manual
            || (self.last_spam > 0 && now.saturating_sub(self.last_spam) < horizon)
            || (self.ham > 0 && now.saturating_sub(self.last_seen) < horizon)
            || self.ptr.as_ref().is_some_and(|c| c.expires > now)
            || self.dnsbl.iter().any(|(_, c)| c.expires > now)
    }
}

/// Cached URI blocklist answers for one link domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct DomainRecord {
    pub domain: String,
    pub uribl: Vec<(String, Cached<bool>)>,
}

/// Someone the user wrote to.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Correspondent {
    pub address: String,
    pub messages: u32,
    pub last: u64,
}

/// One of the user's own addresses: the From or Sender of mail the user wrote (learned as ham).
/// Never a known correspondent, whoever the user writes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct OwnAddress {
    pub address: String,
    /// When mail written from it was last learned (Unix seconds).
    pub last: u64,
}

/// A From address and the relay block its mail came through (see [`sender_block`]): how many
/// messages from it that way were learned as ham and as spam. Ham evidence only while no spam
/// was learned that way (see [`LearnedSender::weight`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct LearnedSender {
    /// Lower case.
    pub address: String,
    /// The relay's block: `192.0.2.0/24`, `2001:db8:1::/48`.
    pub block: String,
    pub ham: u32,
    pub spam: u32,
    /// When a message was last learned from it (Unix seconds).
    pub last: u64,
}

impl LearnedSender {
    /// How much of `LEARNED_SENDER`'s points the record earns: nothing once any spam was learned
    /// from this address and block, else ham / (ham + 1) (a half at one ham, 0.8 at four): one
    /// learned message is some evidence, a history of them more (docs/benchmarks.md, "Learned
    /// senders").
    pub fn weight(&self) -> f64 {
        if self.spam > 0 || self.ham == 0 {
            return 0.0;
        }
        self.ham as f64 / (self.ham as f64 + 1.0)
    }
}

/// A record. New kinds are added at the end (bincode numbers them in order).
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Record {
    Ip(IpRecord),
    Domain(DomainRecord),
    Correspondent(Correspondent),
    Own(OwnAddress),
    Sender(LearnedSender),
}

pub type Key = [u8; 16];

fn hashed(prefix: &str, name: &str) -> Key {
    let mut h = Sha256::new();
    h.update(prefix.as_bytes());
    h.update(name.to_ascii_lowercase().as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize()[..16]);
    k
}

/// The block an address's reputation is kept for: an IPv4 address itself, an IPv6 address's
/// /64 (its first address). Every IPv6 host is given a /64 (2^64 addresses), so a sender that
/// moves to the next address of its /64 is the same sender; DNS blocklists (Spamhaus lists
/// IPv6 by /64 and wider) and reputation systems aggregate IPv6 the same way (attack report
/// F16). Learned senders use wider blocks (`sender_block`).
pub fn ip_block(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
    }
}

/// How the block of `ip` is written: `192.0.2.7`, `2001:db8:1:2::/64`.
pub fn ip_label(ip: IpAddr) -> String {
    match ip_block(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("{v6}/64"),
    }
}

/// `ip`, and for IPv6 the /64 its reputation is kept for: `192.0.2.7`,
/// `2001:db8:1:2::5 (2001:db8:1:2::/64)` (what refusals and `ip` commands say).
pub fn ip_shown(ip: IpAddr) -> String {
    let ip = ip.to_canonical();
    match ip {
        IpAddr::V4(_) => ip.to_string(),
        IpAddr::V6(_) => format!("{ip} ({})", ip_label(ip)),
    }
}

/// The key of the reputation record of `ip`: the 16-byte IPv6 form of its block (IPv4 mapped;
/// IPv6 the /64, see [`ip_block`]).
pub fn ip_key(ip: IpAddr) -> [u8; 16] {
    exact_key(ip_block(ip))
}

/// The key of one address (IPv4 mapped), where its cached DNS answers are kept (a reverse name
/// and a DNS blocklist's answer are an address's, not its /64's). For IPv4 and for the first
/// address of a /64 it is [`ip_key`]: one record holds both.
pub fn exact_key(ip: IpAddr) -> [u8; 16] {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The address of a key made by [`ip_key`] or [`exact_key`].
pub fn ip_from_key(k: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(k)).to_canonical()
}

/// Whether an IP record's key is one address of a /64 other than its first: a record written
/// before reputation was kept per /64 (its counts belong to the /64), or one that holds only
/// that address's cached DNS answers.
pub fn is_v6_member(k: &Key) -> bool {
    ip_key(ip_from_key(*k)) != *k
}

pub fn domain_key(domain: &str) -> Key {
    hashed("domain:", domain)
}

pub fn address_key(addr: &str) -> Key {
    hashed("addr:", addr)
}

/// The block of a relay that a learned sender is tied to: its /24 (IPv4), its /48 (IPv6).
/// SpamAssassin's AWL ties an address to the originating /16; a /24 ranked the same on the
/// corpus and lets fewer machines stand in for the sender's (docs/benchmarks.md, "Learned
/// senders").
pub fn sender_block(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{}/48", Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
        }
    }
}

/// The key of a learned sender: its From address (any case) and its relay's block.
pub fn sender_key(addr: &str, ip: IpAddr) -> Key {
    hashed("sender:", &format!("{} {}", addr, sender_block(ip)))
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 1 << 20 }>()
}

/// One record as `reputation.db` stores it (and the Redis store: docs/db-format.md).
pub fn encode_record(r: &Record) -> Vec<u8> {
    bincode::encode_to_vec(r, config()).expect("records encode")
}

/// A record encoded by [`encode_record`]; `None` when the bytes are not one (whole).
pub fn decode_record(bytes: &[u8]) -> Option<Record> {
    match bincode::decode_from_slice::<Record, _>(bytes, config()) {
        Ok((r, used)) if used == bytes.len() => Some(r),
        _ => None,
    }
}

fn checksum(bytes: &[u8]) -> u64 {
    checksum_parts(&[bytes])
}

/// [`checksum`] of the parts one after the other.
fn checksum_parts(parts: &[&[u8]]) -> u64 {
    let mut h = Fnv::new();
    for p in parts {
        h.update(p);
    }
    h.finish()
}

/// The checksum (FNV-1a 64) of bytes handed over in pieces.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A record from the shared store (Redis) with this host's cached DNS answers on it: with the
/// Redis store the records are shared and the host's own `reputation.db` and journal hold only
/// DNS answers its filters cached before (reverse names and DNS blocklist answers on IP
/// records, URI blocklist answers on domain records). What `local` holds besides is not used.
fn with_local_dns(shared: Option<Record>, local: Option<Record>) -> Option<Record> {
    match (shared, local) {
        (Some(Record::Ip(mut s)), Some(Record::Ip(l))) => {
            s.ptr = l.ptr.or(s.ptr);
            if !l.dnsbl.is_empty() {
                s.dnsbl = l.dnsbl;
            }
            Some(Record::Ip(s))
        }
        (None, Some(Record::Ip(l))) => Some(Record::Ip(IpRecord {
            first_seen: l.first_seen,
            last_seen: l.first_seen,
            ptr: l.ptr,
            dnsbl: l.dnsbl,
            ..IpRecord::default()
        })),
        (None, Some(Record::Domain(d))) => Some(Record::Domain(d)),
        (shared, _) => shared,
    }
}

/// `rep` (the shared records) with the DNS answers of `local` (this host's) on it: what a
/// host cached before its DNS answers were kept in Redis too.
pub fn overlay_local_dns(rep: &mut Reputation, local: &Reputation) {
    for (k, l) in &local.records {
        if matches!(l, Record::Ip(_) | Record::Domain(_)) {
            if let Some(r) = with_local_dns(rep.records.get(k).cloned(), Some(l.clone())) {
                rep.records.insert(*k, r);
            }
        }
    }
}

/// A cached DNS answer one lookup may need (see [`Wanted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsKey {
    /// The reverse name of an address.
    Ptr(IpAddr),
    /// An address in a DNS blocklist zone.
    Dnsbl(IpAddr, String),
    /// A link domain in a URI blocklist zone.
    Uribl(String, String),
}

/// What one message (or policy request) looks up in the reputation database: records by key,
/// and cached DNS answers (a store across a network fetches them all in one round trip).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    pub keys: Vec<Key>,
    pub dns: Vec<DnsKey>,
}

impl Wanted {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.dns.is_empty()
    }
}

/// Read access by key, as scoring needs it.
pub trait ReputationLookup: Sync {
    fn get(&self, key: &Key) -> Option<Record>;

    /// How many learned messages came with a relay (the sum of spam and ham over all addresses):
    /// what an address's share of the user's mail is measured against. 0 when unknown.
    fn relayed(&self) -> u64 {
        0
    }

    /// The reputation of `ip`'s block (its /64 for IPv6, see [`ip_block`]). A record that a
    /// binary from before the /64s kept for the address itself (`reputation.db` format 1 until
    /// its first write, a Redis store until its next training run) is added in; the other
    /// addresses' of the /64 are from that first write on.
    fn ip(&self, ip: IpAddr) -> Option<IpRecord> {
        let (block, exact) = (ip_key(ip), exact_key(ip));
        let mut found = match self.get(&block) {
            Some(Record::Ip(r)) => Some(r),
            _ => None,
        };
        if exact != block {
            if let Some(Record::Ip(old)) = self.get(&exact).filter(|r| matches!(r, Record::Ip(o) if o.has_counts())) {
                found.get_or_insert_with(IpRecord::default).add_counts(&old);
            }
        }
        found
    }
    /// The cached DNS answers of the address `ip` itself (its reverse name, DNS blocklists'
    /// answers), in a record of its own for an IPv6 address other than its /64's first.
    fn dns_cache(&self, ip: IpAddr) -> Option<IpRecord> {
        match self.get(&exact_key(ip)) {
            Some(Record::Ip(r)) => Some(r),
            _ => None,
        }
    }
    fn domain(&self, domain: &str) -> Option<DomainRecord> {
        match self.get(&domain_key(domain)) {
            Some(Record::Domain(r)) => Some(r),
            _ => None,
        }
    }
    /// A known correspondent (never one of the user's own addresses: those are `Record::Own`).
    fn correspondent(&self, addr: &str) -> Option<Correspondent> {
        match self.get(&address_key(addr)) {
            Some(Record::Correspondent(r)) => Some(r),
            _ => None,
        }
    }
    /// Whether `addr` is one of the user's own addresses (see `OwnAddress`).
    fn own_address(&self, addr: &str) -> bool {
        matches!(self.get(&address_key(addr)), Some(Record::Own(_)))
    }
    /// What was learned from `addr` through the block of `ip` (see `LearnedSender`).
    fn learned_sender(&self, addr: &str, ip: IpAddr) -> Option<LearnedSender> {
        match self.get(&sender_key(addr, ip)) {
            Some(Record::Sender(r)) => Some(r),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::journal::{read_journal, FRAME_HEADER, FRAME_MAGIC};
    use super::*;
    use crate::received::v4;
    use crate::store::{Database, Notes};

    #[test]
    fn learned_senders_count_follow_and_key_by_block() {
        assert_eq!(sender_block(v4(198, 51, 100, 7)), "198.51.100.0/24");
        assert_eq!(sender_block("2001:db8:1:2::5".parse().unwrap()), "2001:db8:1::/48");
        assert_eq!(sender_key("A@B.example", v4(198, 51, 100, 7)), sender_key("a@b.example", v4(198, 51, 100, 200)));
        assert_ne!(sender_key("a@b.example", v4(198, 51, 100, 7)), sender_key("a@b.example", v4(198, 51, 101, 7)));
        let w = |ham, spam| LearnedSender { ham, spam, ..Default::default() }.weight();
        assert_eq!((w(0, 0), w(1, 0), w(4, 0), w(9, 1)), (0.0, 0.5, 0.8, 0.0));
        let dir = tempfile::tempdir().unwrap();
        let mut rep = Reputation::default();
        let ip = v4(198, 51, 100, 7);
        rep.count_sender("A@B.example", ip, false, 1, 100);
        rep.count_sender("a@b.example", ip, false, 1, 200);
        rep.count_sender("a@b.example", ip, true, 1, 300);
        rep.save(dir.path(), &mut Notes::new()).unwrap();
        let r = Reader::open(dir.path()).unwrap().unwrap();
        let l = r.learned_sender("a@b.example", v4(198, 51, 100, 1)).unwrap();
        assert_eq!(
            (l.address.as_str(), l.block.as_str(), l.ham, l.spam, l.last),
            ("a@b.example", "198.51.100.0/24", 2, 1, 300)
        );
        // Unlearned message by message, the record goes with the last.
        rep.count_sender("a@b.example", ip, true, -1, 400);
        rep.count_sender("a@b.example", ip, false, -1, 400);
        assert_eq!(rep.learned_sender("a@b.example", ip).map(|l| (l.ham, l.spam)), Some((1, 0)));
        rep.count_sender("a@b.example", ip, false, -1, 400);
        assert!(rep.records.is_empty());
    }

    /// `ip expire` drops a learned sender with no ham once nothing was learned from it for
    /// `expire_days`, and keeps every one with ham.
    #[test]
    fn spam_only_learned_senders_expire() {
        let day = 86_400;
        let mut rep = Reputation::default();
        let ip = v4(198, 51, 100, 7);
        rep.count_sender("spam@x.example", ip, true, 1, 100 * day);
        rep.count_sender("fresh@x.example", ip, true, 1, 125 * day);
        rep.count_sender("ham@x.example", ip, false, 1, 10 * day);
        rep.count_sender("both@x.example", ip, false, 1, 10 * day);
        rep.count_sender("both@x.example", ip, true, 1, 10 * day);
        assert_eq!(rep.expire(131 * day, 30), 1);
        assert!(rep.learned_sender("spam@x.example", ip).is_none());
        for kept in ["fresh@x.example", "ham@x.example", "both@x.example"] {
            assert!(rep.learned_sender(kept, ip).is_some(), "{kept}");
        }
        // A spam unlearned after its record expired takes nothing back and leaves nothing.
        rep.count_sender("spam@x.example", ip, true, -1, 132 * day);
        assert!(rep.learned_sender("spam@x.example", ip).is_none());
    }

    /// Attack report F16: IPv6 reputation is kept per /64; a database of format 1 (records per
    /// IPv6 address) is read as it is, its address's own record counting for the address until
    /// the first write merges every address into its /64 (counts summed, latest times kept,
    /// each address's cached DNS answers kept as its own) and writes format 2; a newer format
    /// is refused by name.
    #[test]
    fn ipv6_reputation_is_per_64_and_old_files_are_merged() {
        let a: IpAddr = "2001:db8:1:2::5".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:dead:beef:1:1".parse().unwrap();
        assert_eq!(ip_label(a), "2001:db8:1:2::/64");
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(exact_key(a), exact_key(b));
        assert_eq!(ip_key(v4(192, 0, 2, 1)), exact_key(v4(192, 0, 2, 1)));
        assert_ne!(ip_key(v4(192, 0, 2, 1)), ip_key(v4(192, 0, 2, 2)), "IPv4 stays per address");
        assert_ne!(ip_key("::1".parse().unwrap()), ip_key(v4(0, 0, 0, 1)), "no /64 holds IPv4");
        let mut rep = Reputation::default();
        rep.honeypot_hit(a, 100);
        assert_eq!(rep.ip(b).unwrap().honeypot, 1);
        assert!(rep.ip("2001:db8:1:3::5".parse().unwrap()).is_none());
        // DNS answers stay the address's own.
        let ptr = Cached { value: Some("h.example".to_string()), expires: 10_000 };
        rep.merge_dns(&DnsAnswers { ptr: vec![(a, ptr.clone())], ..Default::default() }, 100);
        assert_eq!(rep.dns_cache(a).unwrap().ptr, Some(ptr.clone()));
        assert!(rep.dns_cache(b).is_none_or(|r| r.ptr.is_none()));
        assert_eq!(rep.ips().count(), 1, "the DNS-only record is not an IP of its own");

        // A format 1 file: the records per address, as an older binary wrote them.
        let dir = tempfile::tempdir().unwrap();
        let mut old = Reputation::default();
        let rec = |spam, ham, honeypot, first, last| IpRecord {
            first_seen: first,
            last_seen: last,
            last_spam: last,
            spam,
            ham,
            honeypot,
            ..IpRecord::default()
        };
        old.records.insert(exact_key(a), Record::Ip(IpRecord { ptr: Some(ptr.clone()), ..rec(2, 0, 1, 50, 300) }));
        old.records.insert(exact_key(b), Record::Ip(rec(1, 1, 2, 20, 200)));
        old.records.insert(exact_key(v4(192, 0, 2, 1)), Record::Ip(rec(1, 0, 0, 10, 10)));
        let mut bytes = old.encode();
        bytes[..8].copy_from_slice(MAGIC_V1);
        std::fs::write(dir.path().join(FILE), &bytes).unwrap();
        let r = Reader::open(dir.path()).unwrap().unwrap();
        assert_eq!(r.ip(a).unwrap().spam, 2, "the address's own old record counts for it");
        assert_eq!(r.ip(b).unwrap().honeypot, 2);
        // The first write merges.
        let mut w = Reputation::load(dir.path(), &mut Notes::new()).unwrap();
        let m = w.ip(a).unwrap();
        assert_eq!((m.spam, m.ham, m.honeypot, m.first_seen, m.last_seen, m.last_spam), (3, 1, 3, 20, 300, 300));
        assert_eq!(w.ip(b), Some(m.clone()));
        assert_eq!(w.dns_cache(a).unwrap().ptr, Some(ptr.clone()), "a's reverse name stays a's");
        assert!(!w.records.contains_key(&exact_key(b)), "nothing left of b but its share");
        assert_eq!(w.relayed(), 5);
        w.save(dir.path(), &mut Notes::new()).unwrap();
        assert_eq!(&std::fs::read(dir.path().join(FILE)).unwrap()[..8], MAGIC);
        let r = Reader::open(dir.path()).unwrap().unwrap();
        let other: IpAddr = "2001:db8:1:2::6".parse().unwrap();
        assert_eq!(r.ip(other), Some(m), "every address of the /64 sees it");
        assert_eq!(r.ip(v4(192, 0, 2, 1)).unwrap().spam, 1);
        assert!(r.ip(v4(192, 0, 2, 2)).is_none());
        assert_eq!(Reputation::load(dir.path(), &mut Notes::new()).unwrap().records, w.records, "idempotent");
        // A honeypot hit an older binary's filter journaled for an address counts for its /64.
        let hit = JournalEntry { now: 400, honeypot: Some(exact_key(other)), ..Default::default() };
        assert!(append_journal(dir.path(), &hit, std::time::Duration::from_millis(100)).unwrap());
        assert_eq!(Reader::open(dir.path()).unwrap().unwrap().ip(b).unwrap().honeypot, 4);
        // A newer format is refused by name, not misread.
        let mut newer = std::fs::read(dir.path().join(FILE)).unwrap();
        newer[6..8].copy_from_slice(b"03");
        std::fs::write(dir.path().join(FILE), &newer).unwrap();
        let e = format!("{:#}", Reader::open(dir.path()).err().unwrap());
        assert!(e.contains("format 03") && e.contains("newer spamfilt"), "{e}");
        let e = format!("{:#}", Reputation::load(dir.path(), &mut Notes::new()).unwrap_err());
        assert!(e.contains("format 03"), "{e}");
    }

    #[test]
    fn round_trip_and_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let mut rep = Reputation::default();
        for i in 0..1000u32 {
            rep.count_learned(v4(10, (i >> 8) as u8, i as u8, 1), true, 1, 1_000_000);
        }
        rep.honeypot_hit("2001:db8::1".parse().unwrap(), 1_000_000);
        rep.add_correspondent("Jan@Klant.be", 1_000_000);
        rep.merge_dns(
            &DnsAnswers {
                uribl: vec![(
                    "evil.example".into(),
                    "multi.uribl.example".into(),
                    Cached { value: true, expires: 2_000_000 },
                )],
                ..Default::default()
            },
            1_000_000,
        );
        rep.save(dir.path(), &mut Notes::new()).unwrap();
        let back = Reputation::load(dir.path(), &mut Notes::new()).unwrap();
        assert_eq!(back, rep);
        let r = Reader::open(dir.path()).unwrap().unwrap();
        assert_eq!(r.len(), 1003);
        assert_eq!(r.ip(v4(10, 3, 5, 1)).unwrap().spam, 1);
        assert!(r.ip(v4(10, 9, 9, 9)).is_none());
        assert_eq!(r.ip("2001:db8::1".parse().unwrap()).unwrap().honeypot, 1);
        assert_eq!(r.correspondent("jan@klant.be").unwrap().messages, 1);
        assert!(r.domain("evil.example").unwrap().uribl[0].1.value);
    }

    #[test]
    fn the_journal_is_replayed_by_readers_and_folded_in_by_writers() {
        let dir = tempfile::tempdir().unwrap();
        let mut rep = Reputation::default();
        rep.count_learned(v4(192, 0, 2, 1), true, 1, 100);
        rep.save(dir.path(), &mut Notes::new()).unwrap();
        let listed = Cached { value: true, expires: 10_000 };
        let answers = DnsAnswers { dnsbl: vec![(v4(192, 0, 2, 1), "zen.test".into(), listed)], ..Default::default() };
        let wait = std::time::Duration::from_millis(100);
        assert!(append_journal(dir.path(), &JournalEntry::new(&answers, None, 200), wait).unwrap());
        assert!(append_journal(
            dir.path(),
            &JournalEntry::new(&DnsAnswers::default(), Some(v4(192, 0, 2, 9)), 300),
            wait
        )
        .unwrap());
        // A frame cut short by a crash ends the journal without harm.
        let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join(JOURNAL)).unwrap();
        std::io::Write::write_all(&mut f, &[200, 0, 0, 0, 1, 2]).unwrap();
        let r = Reader::open(dir.path()).unwrap().unwrap();
        let one = r.ip(v4(192, 0, 2, 1)).unwrap();
        assert_eq!((one.spam, one.dnsbl.len()), (1, 1));
        assert_eq!(r.ip(v4(192, 0, 2, 9)).unwrap().honeypot, 1);
        // A writer loads it, another filter appends meanwhile, the save takes both and removes it.
        let mut w = Reputation::load(dir.path(), &mut Notes::new()).unwrap();
        let late = JournalEntry::new(&DnsAnswers::default(), Some(v4(192, 0, 2, 10)), 400);
        // (the torn frame is still at the end; a real appender would come after it: drop it first)
        std::fs::write(dir.path().join(JOURNAL), {
            let b = std::fs::read(dir.path().join(JOURNAL)).unwrap();
            b[..w.journal_seen as usize].to_vec()
        })
        .unwrap();
        assert!(append_journal(dir.path(), &late, wait).unwrap());
        w.save(dir.path(), &mut Notes::new()).unwrap();
        assert!(!dir.path().join(JOURNAL).exists());
        let back = Reputation::load(dir.path(), &mut Notes::new()).unwrap();
        assert_eq!(back.ip(v4(192, 0, 2, 9)).unwrap().honeypot, 1);
        assert_eq!(back.ip(v4(192, 0, 2, 10)).unwrap().honeypot, 1, "the late entry was lost");
        assert_eq!(back.ip(v4(192, 0, 2, 1)).unwrap().dnsbl.len(), 1);
        // Only a journal, no database yet: readers see it.
        let d2 = tempfile::tempdir().unwrap();
        append_journal(d2.path(), &late, wait).unwrap();
        assert_eq!(Reader::open(d2.path()).unwrap().unwrap().ip(v4(192, 0, 2, 10)).unwrap().honeypot, 1);
    }

    #[test]
    fn corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mut rep = Reputation::default();
        rep.count_learned(v4(192, 0, 2, 1), true, 1, 5);
        rep.save(dir.path(), &mut Notes::new()).unwrap();
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert!(Reputation::load(dir.path(), &mut Notes::new()).unwrap_err().to_string().contains("corrupt"));
        std::fs::write(&path, b"garbage").unwrap();
        assert!(Reader::open(dir.path()).is_err());
    }

    #[test]
    fn the_header_records_the_messages_learned_with_a_relay() {
        let dir = tempfile::tempdir().unwrap();
        let mut rep = Reputation::default();
        rep.count_learned(v4(192, 0, 2, 1), true, 1, 86_400);
        rep.count_learned(v4(192, 0, 2, 2), false, 1, 86_400);
        rep.save(dir.path(), &mut Notes::new()).unwrap();
        assert_eq!(Reader::open(dir.path()).unwrap().unwrap().relayed(), 2);
    }

    #[test]
    fn expiry() {
        let day = 86_400;
        let mut rep = Reputation::default();
        rep.count_learned(v4(192, 0, 2, 1), true, 1, day);
        rep.count_learned(v4(192, 0, 2, 2), true, 1, 40 * day);
        rep.ip_mut(v4(192, 0, 2, 3), day).manual = true;
        rep.add_correspondent("jan@klant.be", day);
        assert_eq!(rep.expire(45 * day, 30), 1);
        assert!(rep.ip(v4(192, 0, 2, 1)).is_none());
        assert!(rep.ip(v4(192, 0, 2, 2)).is_some());
        assert!(rep.ip(v4(192, 0, 2, 3)).is_some());
    }

    fn honeypot_entry(last: u8, now: u64) -> JournalEntry {
        JournalEntry::new(&DnsAnswers::default(), Some(v4(192, 0, 2, last)), now)
    }

    #[test]
    fn a_damaged_frame_hides_nothing_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let wait = std::time::Duration::from_millis(100);
        let mut offsets = vec![0u64];
        for i in 1..=4 {
            assert!(append_journal(dir.path(), &honeypot_entry(i, 100 + i as u64), wait).unwrap());
            offsets.push(std::fs::metadata(dir.path().join(JOURNAL)).unwrap().len());
        }
        // Damage the second frame's body, and the third frame's length field.
        let path = dir.path().join(JOURNAL);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[offsets[1] as usize + FRAME_HEADER + 2] ^= 0x55;
        bytes[offsets[2] as usize + 6] ^= 0x7f;
        std::fs::write(&path, &bytes).unwrap();
        let r = Reader::open(dir.path()).unwrap().unwrap();
        assert_eq!(r.ip(v4(192, 0, 2, 1)).unwrap().honeypot, 1);
        assert!(r.ip(v4(192, 0, 2, 2)).is_none() && r.ip(v4(192, 0, 2, 3)).is_none());
        assert_eq!(r.ip(v4(192, 0, 2, 4)).unwrap().honeypot, 1, "an entry after the damage was hidden");
        // The fold keeps it too, and says what it skipped.
        let mut notes = Notes::new();
        let mut w = Reputation::load(dir.path(), &mut notes).unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("skipped ") && notes[0].contains("damaged bytes in"), "{notes:?}");
        w.save(dir.path(), &mut notes).unwrap();
        assert_eq!(notes.len(), 1, "nothing damaged was appended since the load: {notes:?}");
        let back = Reputation::load(dir.path(), &mut Notes::new()).unwrap();
        assert_eq!(back.ip(v4(192, 0, 2, 4)).unwrap().honeypot, 1);
        assert_eq!(back.ip(v4(192, 0, 2, 1)).unwrap().honeypot, 1);
    }

    #[test]
    fn journals_of_the_old_format_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = Vec::new();
        for i in 1..=3u8 {
            let body = bincode::encode_to_vec(honeypot_entry(i, 100), config()).unwrap();
            old.extend_from_slice(&(body.len() as u32).to_le_bytes());
            old.extend_from_slice(&body);
        }
        std::fs::write(dir.path().join(JOURNAL), &old).unwrap();
        // A new filter appends after the old frames.
        append_journal(dir.path(), &honeypot_entry(9, 200), std::time::Duration::from_millis(100)).unwrap();
        let r = Reader::open(dir.path()).unwrap().unwrap();
        for i in [1, 2, 3, 9] {
            assert_eq!(r.ip(v4(192, 0, 2, i)).unwrap().honeypot, 1, "192.0.2.{i}");
        }
        let (entries, end, skipped) = read_journal(dir.path(), 0).unwrap();
        assert_eq!((entries.len(), skipped), (4, 0));
        assert_eq!(end, std::fs::metadata(dir.path().join(JOURNAL)).unwrap().len());
    }

    #[test]
    fn readers_see_the_tail_of_a_long_journal_of_the_old_format() {
        // An old-format journal (no magic) past the readers' tail: a honeypot hit first, DNS
        // answers after it. Readers saw none of it until a fold; the first converts it now.
        let dir = tempfile::tempdir().unwrap();
        let old_frame = |e: &JournalEntry| {
            let body = bincode::encode_to_vec(e, config()).unwrap();
            let mut f = (body.len() as u32).to_le_bytes().to_vec();
            f.extend_from_slice(&body);
            f
        };
        let mut old = old_frame(&honeypot_entry(1, 100));
        let filler = big_dns_entry();
        while (old.len() as u64) < MAX_REPLAY + 10_000 {
            old.extend_from_slice(&old_frame(&JournalEntry::new(&filler, None, 100)));
        }
        old.extend_from_slice(&old_frame(&honeypot_entry(2, 100)));
        std::fs::write(dir.path().join(JOURNAL), &old).unwrap();
        let r = Reader::open(dir.path()).unwrap().unwrap();
        assert_eq!(r.ip(v4(192, 0, 2, 2)).unwrap().honeypot, 1, "the last old entry is seen");
        assert!(r.domain(&format!("domain-3-{}.example", "x".repeat(60))).is_some());
        let journal = std::fs::read(dir.path().join(JOURNAL)).unwrap();
        assert!(journal.starts_with(FRAME_MAGIC), "converted to frames");
        // Converted entry for entry: a writer folds each once.
        let w = Reputation::load(dir.path(), &mut Notes::new()).unwrap();
        assert_eq!(w.ip(v4(192, 0, 2, 1)).unwrap().honeypot, 1);
        assert_eq!(w.ip(v4(192, 0, 2, 2)).unwrap().honeypot, 1);
        // A writer at work (the directory's lock held) is never disturbed: nothing converted.
        std::fs::write(dir.path().join(JOURNAL), &old).unwrap();
        let lock = Database::at(dir.path()).lock().unwrap();
        // (Nothing in the tail to read, and no database file yet: no reader at all.)
        assert!(Reader::open(dir.path()).unwrap().is_none_or(|r| r.ip(v4(192, 0, 2, 2)).is_none()));
        assert_eq!(std::fs::read(dir.path().join(JOURNAL)).unwrap(), old);
        drop(lock);
        assert_eq!(Reader::open(dir.path()).unwrap().unwrap().ip(v4(192, 0, 2, 2)).unwrap().honeypot, 1);
    }

    /// DNS answers that make a journal entry of a few KB: `domain-{i}-xxx….example`, i < 40.
    fn big_dns_entry() -> DnsAnswers {
        let mut filler = DnsAnswers::default();
        for i in 0..40u8 {
            filler.uribl.push((
                format!("domain-{i}-{}.example", "x".repeat(60)),
                "zone.example".into(),
                Cached { value: true, expires: 9 },
            ));
        }
        filler
    }

    #[test]
    fn readers_replay_a_bounded_tail_and_writers_everything() {
        let dir = tempfile::tempdir().unwrap();
        let wait = std::time::Duration::from_millis(100);
        // The first entry, then enough big ones to push it out of the readers' tail.
        append_journal(dir.path(), &honeypot_entry(1, 100), wait).unwrap();
        let filler = big_dns_entry();
        let mut frames = 0;
        while std::fs::metadata(dir.path().join(JOURNAL)).unwrap().len() < MAX_REPLAY + 10_000 {
            append_journal(dir.path(), &JournalEntry::new(&filler, None, 100), wait).unwrap();
            frames += 1;
        }
        append_journal(dir.path(), &honeypot_entry(2, 100), wait).unwrap();
        assert!(frames > 10);
        let r = Reader::open(dir.path()).unwrap().unwrap();
        assert!(r.ip(v4(192, 0, 2, 1)).is_none(), "the reader read past its bound");
        assert_eq!(r.ip(v4(192, 0, 2, 2)).unwrap().honeypot, 1);
        assert!(r.domain(&format!("domain-3-{}.example", "x".repeat(60))).is_some());
        let w = Reputation::load(dir.path(), &mut Notes::new()).unwrap();
        assert_eq!(w.ip(v4(192, 0, 2, 1)).unwrap().honeypot, 1);
        assert_eq!(w.ip(v4(192, 0, 2, 2)).unwrap().honeypot, 1);
    }
}
