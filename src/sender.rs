//! Who sent a message, and what spamfilt knows about them: the user's allow and block lists,
//! honeypot recipients, the first untrusted relay of the `Received:` chain, its record in the
//! reputation database, known correspondents, and (when turned on) live DNS answers.
//!
//! The facts gathered here are what the `sender` family of rules looks at; the allow and block
//! lists decide before any rule runs. Nothing here knows about paths or flags: the caller hands
//! in the settings, a reputation lookup and the current time.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;

use crate::dns::{self, Answer, QType, Query, Resolver};
use crate::lists::{self, AddressList, Entry};
use crate::message::Message;
use crate::received::{self, Networks, Rdns, Relay};
use crate::store::reputation::{self, Cached, DnsAnswers, IpRecord, ReputationLookup};

/// DNS checks (off unless the config file has a `dns` table).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSettings {
    /// The resolver to ask, `IP:PORT` (a local caching resolver is best); a bare IP is port 53.
    #[serde(deserialize_with = "resolver_address")]
    pub resolver: SocketAddr,
    /// The most a message waits for all its DNS answers together.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// DNS blocklist zones for the sending IP (`zen.spamhaus.org`).
    #[serde(default)]
    pub dnsbl: Vec<String>,
    /// URI blocklist zones for link domains (`multi.uribl.com`, `dbl.spamhaus.org`).
    #[serde(default)]
    pub uribl: Vec<String>,
    /// Look up the reverse-DNS name when the Received header does not record it.
    #[serde(default = "yes")]
    pub ptr: bool,
}

/// `IP:PORT`, `[IPv6]:PORT`, or a bare IP, which is port 53 (as resolv.conf names a resolver).
/// Anything else is an error that says what is wanted (newcomer's pass: `resolver =
/// "127.0.0.1"` was "invalid socket address syntax").
fn resolver_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    let t = text.trim();
    if let Ok(addr) = t.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(serde::de::Error::custom(format!(
        "`{text}` is not a resolver address: write IP:PORT or an IP, e.g. \"127.0.0.1:53\" or \"::1\" (a host name is \
         not looked up)"
    )))
}

fn default_timeout() -> u64 {
    1500
}

fn yes() -> bool {
    true
}

/// Everything sender checks need from the configuration.
#[derive(Debug, Clone, Default)]
pub struct SenderSettings {
    pub trusted: Networks,
    pub allow: AddressList,
    pub block: AddressList,
    pub honeypots: AddressList,
    /// An allow entry counts only when the user's server authenticated the sender's domain.
    pub allow_requires_auth: bool,
    /// The authserv-id of the user's own server in `Authentication-Results:`.
    pub authserv_id: Option<String>,
    /// IP records fade to nothing this many days after the last spam.
    pub ip_expire_days: u32,
    /// `learned_senders = false`: no `LEARNED_SENDER` (nothing looked up; training still
    /// counts them, so turning it back on needs no retraining).
    pub no_learned_senders: bool,
    pub dns: Option<DnsSettings>,
    /// How much the learning queue of honeypot hits may hold.
    pub queue: crate::store::queue::QueueLimits,
}

/// At most this many link domains are asked of URI blocklists per message (SpamAssassin's
/// `uridnsbl_max_domains` default), chosen as `rules::Context::link_domains` orders them.
const MAX_URIBL_DOMAINS: usize = 20;
/// Of at most this many link domains (in the same order) the cached answers are used: a domain
/// whose answers are all cached costs no query and does not count against `MAX_URIBL_DOMAINS`,
/// so padding repeated from earlier messages does not use up the lookups (review R3).
const MAX_URIBL_CANDIDATES: usize = 64;

/// What the user's lists say about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListVerdict {
    Allow { entry: Entry, address: String },
    Block { entry: Entry, address: String },
}

/// The allow/block decision: the most specific matching entry of either list wins, the allow
/// list on a tie. With `allow_requires_auth`, an allow entry counts only when the user's server
/// says DKIM or SPF passed for the matched address's domain.
pub fn list_verdict(msg: &Message, s: &SenderSettings) -> Option<ListVerdict> {
    if s.allow.is_empty() && s.block.is_empty() {
        return None;
    }
    let senders = lists::senders(msg);
    let allow = s.allow.best_match(&senders).filter(|(_, addr)| {
        !s.allow_requires_auth || {
            let domain = addr.rsplit_once('@').map_or("", |(_, d)| d);
            s.authserv_id.as_deref().is_some_and(|id| lists::authenticated(msg, id, domain))
        }
    });
    let block = s.block.best_match(&senders);
    match (allow, block) {
        (Some((a, addr)), Some((b, _))) if a.specificity() >= b.specificity() => {
            Some(ListVerdict::Allow { entry: a.clone(), address: addr })
        }
        (Some((a, addr)), None) => Some(ListVerdict::Allow { entry: a.clone(), address: addr }),
        (_, Some((b, addr))) => Some(ListVerdict::Block { entry: b.clone(), address: addr }),
        (None, None) => None,
    }
}

/// What the sender rules look at.
#[derive(Debug, Clone, Default)]
pub struct SenderFacts {
    /// What the allow and block lists say.
    pub list: Option<ListVerdict>,
    /// The honeypot the message was delivered to (`HONEYPOT`: the filter records the relay's
    /// hit and queues the message to be learned as spam). See [`honeypot`].
    pub honeypot: Option<String>,
    /// A honeypot the message names or was delivered to but was not a trap hit for
    /// (`HONEYPOT_CC`: a few points, nothing recorded or queued): beside a real address of the
    /// user's, or sent by an authenticated known correspondent. See [`honeypot`].
    pub honeypot_named: Option<String>,
    /// The first untrusted relay.
    pub relay: Option<Relay>,
    /// Its reverse-DNS name: as the Received header recorded it, or from a live lookup.
    pub rdns: Option<Rdns>,
    /// How strongly the reputation database marks the relay as a spam source (0..1).
    pub ip_weight: f64,
    /// DNS blocklists that list the relay.
    pub dnsbl: Vec<String>,
    /// Link domains listed by a URI blocklist, with the zone.
    pub uribl: Vec<(String, String)>,
    /// The From address is someone the user wrote to.
    pub known_correspondent: bool,
    /// What was learned from the From address through the relay's block (`LEARNED_SENDER`),
    /// when anything was and the From is not the user's own.
    pub learned_sender: Option<reputation::LearnedSender>,
    /// The From address is one of the user's own (recorded from mail the user wrote, or an
    /// address this message was delivered to): never a known correspondent. `check --report`
    /// says so.
    pub own_from: Option<String>,
    /// Answers from live DNS this run, for the caller to cache.
    pub new_dns: DnsAnswers,
    /// Live DNS lookups that got no usable answer (a dead or refusing resolver, a blocklist
    /// that times out), said as the verdict's degradation: the message was scored without them.
    pub dns_failed: Option<String>,
}

/// What `gather` will look up for `msg` in the reputation database: the records of the first
/// untrusted relay's address and the From address, and the cached DNS answers it may use
/// (with `dns` on: the relay's reverse name when the Received line did not record one, its
/// DNS blocklist answers, the URI blocklist answers of the first link domains), so that a
/// store across a network can fetch them with the message's other lookups in one round trip.
pub fn lookups(msg: &Message, link_domains: &[String], s: &SenderSettings) -> reputation::Wanted {
    let mut w = reputation::Wanted::default();
    let relay = received::first_untrusted(msg, &s.trusted);
    if let Some(relay) = &relay {
        // Its /64's record (IPv6), and its own: its cached DNS answers, or a record from
        // before the /64s (`ReputationLookup::ip`).
        w.keys.push(reputation::ip_key(relay.ip));
        if reputation::exact_key(relay.ip) != reputation::ip_key(relay.ip) {
            w.keys.push(reputation::exact_key(relay.ip));
        }
    }
    if let Some(from) = from_address(msg) {
        w.keys.push(reputation::address_key(&from));
        if let (Some(relay), false) = (&relay, s.no_learned_senders) {
            w.keys.push(reputation::sender_key(&from, relay.ip));
        }
    }
    let Some(d) = &s.dns else { return w };
    if let Some(relay) = &relay {
        if d.ptr && relay.rdns == Rdns::NotRecorded {
            w.dns.push(reputation::DnsKey::Ptr(relay.ip));
        }
        w.dns.extend(d.dnsbl.iter().map(|z| reputation::DnsKey::Dnsbl(relay.ip, z.clone())));
    }
    for domain in link_domains.iter().take(MAX_URIBL_CANDIDATES) {
        w.dns.extend(d.uribl.iter().map(|z| reputation::DnsKey::Uribl(domain.clone(), z.clone())));
    }
    w
}

fn from_address(msg: &Message) -> Option<String> {
    msg.first_address("from").filter(|a| !a.is_empty()).map(String::from)
}

/// How much of `LEARNED_SENDER`'s points a message earns (0..1): what was learned from its From
/// through its relay's block (`LearnedSender::weight`), and nothing for a known correspondent,
/// whose `KNOWN_CORRESPONDENT` already says the sender is wanted (the two do not add up).
pub fn learned_sender_weight(f: &SenderFacts) -> f64 {
    if f.known_correspondent {
        return 0.0;
    }
    f.learned_sender.as_ref().map_or(0.0, |r| r.weight())
}

/// The honeypot verdict: `(trap, named)`. A trap address receives only spam because nobody
/// legitimate writes to it; a correspondent who keeps an old address in an address book and
/// Cc's it on a real message to the user is not a spammer (attack report F15). The rule (the
/// README's "Honeypots" says it for users):
///
/// A message is a trap hit (`HONEYPOT`: the hit recorded, the message queued as spam) when
/// 1. every To and Cc address is a honeypot (at least one), whatever the envelope says (a
///    honeypot that is an alias of the user's mailbox may reach the user's mailbox with the
///    user's own address as its envelope: review R9); or
/// 2. this copy's envelope recipient, as the user's own servers wrote it
///    (`lists::envelope_recipients`: Delivered-To, X-Original-To, Envelope-To, the `for` of the
///    user's own Received fields), is a honeypot, and To/Cc names no real address of the
///    user's: none of the user's own addresses (recorded from the Sent folder) and no
///    address at a domain of the user's (the domain of a honeypot address or of this copy's
///    other envelope recipients). This copy is then the one the MTA delivered through the
///    honeypot, of a message also written to the user (review R2: Postfix's local(8) delivers
///    it separately through an alias, also before any Sent folder was learned);
///
/// and, either way, it does not come from a known correspondent whose domain the user's own
/// server authenticated (`authserv_id`, DKIM or SPF pass: a From is easily forged, review R8).
/// Any other message with a honeypot in To or Cc, or delivered to one, gets `named`
/// (`HONEYPOT_CC`, a few points, nothing recorded or queued). So spam written to a honeypot and
/// to the user at once is no trap hit (a trade-off: a correspondent's real message looks the
/// same).
fn honeypot(
    msg: &Message,
    s: &SenderSettings,
    rep: Option<&dyn ReputationLookup>,
    known_correspondent: bool,
) -> (Option<String>, Option<String>) {
    let is_trap = |a: &String| s.honeypots.best_match(std::slice::from_ref(a)).is_some();
    let envelope = lists::envelope_recipients(msg, &s.trusted);
    let addressees: Vec<String> = lists::addressees(msg).iter().map(|a| a.to_ascii_lowercase()).collect();
    let to_trap = s.honeypots.best_match(&envelope).map(|(_, a)| a);
    let named = s.honeypots.best_match(&addressees).map(|(_, a)| a).or(to_trap.clone());
    let all_traps = !addressees.is_empty() && addressees.iter().all(is_trap);
    let domain = |a: &str| crate::domain::registrable(a.rsplit_once('@').map_or("", |(_, d)| d)).to_string();
    let trap = if all_traps {
        named.clone()
    } else {
        // A set: a message may name thousands of envelope recipients and addressees, and a
        // list searched once per addressee made the check quadratic.
        let mut users_domains: std::collections::HashSet<String> = s
            .honeypots
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Address(a) => Some(domain(a)),
                _ => None,
            })
            .collect();
        users_domains.extend(envelope.iter().filter(|a| !is_trap(a)).map(|a| domain(a)));
        let the_users = |a: &String| {
            crate::work::add(1);
            !is_trap(a) && (users_domains.contains(&domain(a)) || rep.is_some_and(|r| r.own_address(a)))
        };
        to_trap.filter(|_| !addressees.iter().any(the_users))
    };
    let authenticated_correspondent = known_correspondent
        && s.authserv_id.as_deref().is_some_and(|id| {
            from_address(msg)
                .and_then(|f| f.rsplit_once('@').map(|(_, d)| d.to_string()))
                .is_some_and(|d| lists::authenticated(msg, id, &d))
        });
    match trap {
        Some(t) if !authenticated_correspondent => (Some(t), None),
        Some(t) => (None, Some(t)),
        None => (None, named),
    }
}

/// Gathers the facts. `link_domains` are the registrable domains of the message's links (for
/// URI blocklists); `now` is Unix seconds. DNS answers come from the reputation database's
/// cache first; `resolver` is asked only for what is missing or expired there.
pub fn gather(
    msg: &Message,
    link_domains: &[String],
    s: &SenderSettings,
    rep: Option<&dyn ReputationLookup>,
    resolver: &dyn Resolver,
    now: u64,
) -> SenderFacts {
    let mut f = SenderFacts::default();
    if let Some(rep) = rep {
        if let Some(from) = from_address(msg) {
            // The user's own address is never a correspondent, whatever an older database
            // learned: one this message was delivered to is the user's (a From forged to the
            // user's own address is a common spam trick).
            let own = lists::delivered_to(msg).iter().any(|a| a.eq_ignore_ascii_case(&from)) || rep.own_address(&from);
            f.known_correspondent = !own && rep.correspondent(&from).is_some();
            f.own_from = own.then_some(from);
        }
    }
    if !s.honeypots.is_empty() {
        (f.honeypot, f.honeypot_named) = honeypot(msg, s, rep, f.known_correspondent);
    }
    f.relay = received::first_untrusted(msg, &s.trusted);
    if let (Some(rep), Some(relay), None, false) = (rep, &f.relay, &f.own_from, s.no_learned_senders) {
        f.learned_sender = from_address(msg).and_then(|from| rep.learned_sender(&from, relay.ip));
    }
    let record = match (&f.relay, rep) {
        (Some(r), Some(rep)) => rep.ip(r.ip),
        _ => None,
    };
    if let (Some(rec), Some(rep)) = (&record, rep) {
        // The user's own relay (it carries a large share of their mail) is never a spam source.
        f.ip_weight =
            if rec.looks_like_own_relay(rep.relayed()) { 0.0 } else { rec.spam_weight(now, s.ip_expire_days) };
    }
    f.rdns = f.relay.as_ref().map(|r| r.rdns.clone());

    let Some(dns_settings) = &s.dns else { return f };
    // Cached answers first; what is missing or expired goes into one batch of queries.
    enum Pending {
        Ptr(IpAddr),
        Dnsbl(IpAddr, String),
        Uribl(String, String),
    }
    let mut queries = Vec::new();
    let mut pending = Vec::new();
    if let Some(relay) = &f.relay {
        let ip = relay.ip;
        // The address's own cached answers (not its /64's: see `ReputationLookup::dns_cache`).
        let record = rep.and_then(|r| r.dns_cache(ip));
        if dns_settings.ptr && relay.rdns == Rdns::NotRecorded {
            match record.as_ref().and_then(|r| r.ptr.as_ref()).filter(|c| c.expires > now) {
                Some(c) => f.rdns = Some(c.value.clone().map_or(Rdns::Missing, Rdns::Name)),
                None => {
                    queries.push(Query { name: dns::ptr_name(ip), qtype: QType::Ptr });
                    pending.push(Pending::Ptr(ip));
                }
            }
        }
        for zone in &dns_settings.dnsbl {
            let cached = record
                .as_ref()
                .and_then(|r| r.dnsbl.iter().find(|(z, c)| z == zone && c.expires > now).map(|(_, c)| c.value));
            match cached {
                Some(true) => f.dnsbl.push(zone.clone()),
                Some(false) => {}
                None => {
                    queries.push(Query { name: format!("{}.{zone}", dns::reversed(ip)), qtype: QType::A });
                    pending.push(Pending::Dnsbl(ip, zone.clone()));
                }
            }
        }
    }
    let mut asked_domains = 0;
    for domain in link_domains.iter().take(MAX_URIBL_CANDIDATES) {
        let cached = rep.and_then(|r| r.domain(domain));
        let answers: Vec<Option<bool>> = dns_settings
            .uribl
            .iter()
            .map(|zone| {
                cached
                    .as_ref()
                    .and_then(|d| d.uribl.iter().find(|(z, c)| z == zone && c.expires > now).map(|(_, c)| c.value))
            })
            .collect();
        let ask = answers.contains(&None);
        if ask && asked_domains >= MAX_URIBL_DOMAINS {
            continue;
        }
        asked_domains += usize::from(ask);
        for (zone, hit) in dns_settings.uribl.iter().zip(answers) {
            match hit {
                Some(true) => f.uribl.push((domain.clone(), zone.clone())),
                Some(false) => {}
                None => {
                    queries.push(Query { name: format!("{domain}.{zone}"), qtype: QType::A });
                    pending.push(Pending::Uribl(domain.clone(), zone.clone()));
                }
            }
        }
    }
    if queries.is_empty() {
        return f;
    }
    let answers = resolver.resolve(&queries, Duration::from_millis(dns_settings.timeout_ms));
    f.dns_failed = dns_failures(&answers, dns_settings);
    for (p, a) in pending.into_iter().zip(answers) {
        match p {
            Pending::Ptr(ip) => {
                let (value, ttl) = match a {
                    Answer::Ptr { names, ttl } => (names.into_iter().next(), ttl),
                    Answer::Empty { ttl } => (None, ttl),
                    _ => continue,
                };
                f.rdns = Some(value.clone().map_or(Rdns::Missing, Rdns::Name));
                f.new_dns.ptr.push((ip, Cached { value, expires: now + ttl as u64 }));
            }
            Pending::Dnsbl(ip, zone) => {
                let Some((listed, ttl)) = listed(&a) else { continue };
                if listed {
                    f.dnsbl.push(zone.clone());
                }
                f.new_dns.dnsbl.push((ip, zone, Cached { value: listed, expires: now + ttl as u64 }));
            }
            Pending::Uribl(domain, zone) => {
                let Some((listed, ttl)) = listed(&a) else { continue };
                if listed {
                    f.uribl.push((domain.clone(), zone.clone()));
                }
                f.new_dns.uribl.push((domain, zone, Cached { value: listed, expires: now + ttl as u64 }));
            }
        }
    }
    f
}

/// What the verdict says when live lookups failed: how many of how many, at which resolver, and
/// why (each reason once). `None` when every lookup was answered, or nobody was asked (`check`
/// and `eval` answer from the cache only: not a failure).
fn dns_failures(answers: &[Answer], d: &DnsSettings) -> Option<String> {
    let mut reasons: Vec<&str> = Vec::new();
    let mut failed = 0;
    for a in answers {
        if let Answer::Failed(why) = a {
            if why.starts_with(dns::NOT_ASKED) {
                continue;
            }
            if let Some(why) = why.strip_prefix(dns::SKIPPED) {
                // Not asked at all: the resolver gave no answer a moment ago (see the caller's
                // resolver). Every query of the message was skipped the same way.
                return Some(format!("DNS: {why} ({} lookups skipped); scored without them", answers.len()));
            }
            failed += 1;
            if !reasons.contains(&why.as_str()) {
                reasons.push(why);
            }
        }
    }
    (failed > 0).then(|| {
        format!(
            "DNS: {failed} of {} lookups got no answer from {} within {} ms ({}); scored without them",
            answers.len(),
            d.resolver,
            d.timeout_ms,
            reasons.join(", ")
        )
    })
}

/// An address that carried at least this share of the messages learned with a relay...
pub const OWN_RELAY_SHARE: f64 = 0.10;
/// ...once at least this many were learned, looks like the user's own relay (or their
/// provider's), not a spam source: a spammer's address does not carry a tenth of anyone's mail.
pub const OWN_RELAY_MIN_MESSAGES: u64 = 50;

/// The IP_SPAM_SOURCE rule's weight, a scoring rule kept beside the rules' other facts (the
/// reputation database only stores the counts).
impl IpRecord {
    /// How strongly the record marks a spam source, from 0 (not at all) to 1: grows with the
    /// evidence (spam, and honeypot hits counting triple) and fades linearly to zero
    /// `expire_days` after the last spam. An address that has carried learned ham is not a
    /// spam source unless more honeypot hits than ham came from it (then each ham takes back
    /// one hit: `spam + 3 × (hits − ham)`) (a shared relay or the user's own: on the SpamAssassin corpus the one relay
    /// that made IP_SPAM_SOURCE fire on 14.6% of the 2003 ham had carried 12 learned ham and 25
    /// spam). Manual entries count fully.
    pub fn spam_weight(&self, now: u64, expire_days: u32) -> f64 {
        if self.manual {
            return 1.0;
        }
        if self.ham > 0 && !self.honeypots_outweigh_ham() {
            return 0.0;
        }
        // Each learned ham takes back one honeypot hit's worth (attack report F14).
        let evidence = self.spam as f64 + 3.0 * (self.honeypot as f64 - self.ham as f64);
        if evidence <= 0.0 || self.last_spam == 0 {
            return 0.0;
        }
        let age_days = now.saturating_sub(self.last_spam) as f64 / 86_400.0;
        let fade = 1.0 - age_days / expire_days.max(1) as f64;
        if fade <= 0.0 {
            return 0.0;
        }
        (evidence / 3.0).min(1.0) * fade
    }

    /// Whether more honeypot hits than learned ham came from the address: a honeypot hit is
    /// strong evidence (nobody real writes to a trap), so one harmless message learned as ham
    /// (the kept-ham line learns it unattended) does not make the address immune for good.
    pub fn honeypots_outweigh_ham(&self) -> bool {
        self.honeypot > self.ham
    }

    /// The share of the messages learned with a relay (`relayed`, see `ReputationLookup::relayed`)
    /// that came through this address.
    pub fn share(&self, relayed: u64) -> f64 {
        if relayed == 0 {
            0.0
        } else {
            (self.spam as u64 + self.ham as u64) as f64 / relayed as f64
        }
    }

    /// Whether the address carries so much of the user's mail that it must be one of their own
    /// relays (the hop that fetched or forwarded it) rather than a spam source: at least
    /// `OWN_RELAY_SHARE` of `relayed` messages, once there are `OWN_RELAY_MIN_MESSAGES`.
    /// Manual entries never are.
    pub fn looks_like_own_relay(&self, relayed: u64) -> bool {
        !self.manual && relayed >= OWN_RELAY_MIN_MESSAGES && self.share(relayed) >= OWN_RELAY_SHARE
    }
}

/// A blocklist answer: listed (an address in 127.0.0.0/8) or not (no such name), with its TTL.
/// `None` when it is no answer: a failure, or only the lists' error codes (127.0.0.1 and
/// 127.255.255.x, which Spamhaus and URIBL return for refused or over-quota queries).
pub fn listed(a: &Answer) -> Option<(bool, u32)> {
    match a {
        Answer::Empty { ttl } => Some((false, *ttl)),
        Answer::A { addrs, ttl } => {
            let real = addrs.iter().any(|ip| {
                let o = ip.octets();
                o[0] == 127 && !(o[1] == 255 && o[2] == 255) && ip.octets() != [127, 0, 0, 1]
            });
            real.then_some((true, *ttl))
        }
        _ => None,
    }
}

/// Whether a HELO name does not fit the relay: an address literal other than the relay's own,
/// or a host name whose domain differs from the reverse-DNS name's.
pub fn helo_mismatch(relay: &Relay, rdns: Option<&Rdns>) -> bool {
    let Some(helo) = relay.helo.as_deref() else { return false };
    if let Some(ip) = received::helo_ip(helo) {
        return ip != relay.ip;
    }
    match rdns {
        Some(Rdns::Name(name)) if helo.contains('.') => {
            let (helo, name) = (helo.to_ascii_lowercase(), name.to_ascii_lowercase());
            crate::domain::registrable(&helo) != crate::domain::registrable(&name)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SenderSettings {
        SenderSettings {
            allow: AddressList::parse("jan@klant.be\n*.school.be\n").unwrap(),
            block: AddressList::parse("@klant.be\nspam@school.be\n").unwrap(),
            ip_expire_days: 30,
            ..Default::default()
        }
    }

    fn msg(from: &str) -> Vec<u8> {
        format!("From: {from}\nSubject: x\n\nhi\n").into_bytes()
    }

    /// A message delivered to a honeypot and to thousands of other envelope recipients, written
    /// to thousands of addressees: each addressee is looked up among the envelope's domains
    /// once, not compared with every one of them (quadratic before: 256 KB of it cost 157 ms).
    #[test]
    fn many_envelope_recipients_and_addressees_cost_linear_work() {
        let s = SenderSettings { honeypots: AddressList::parse("trap@mijn.example\n").unwrap(), ..settings() };
        let make = |n: usize| {
            let list = |p: &str| (0..n).map(|i| format!("{p}{i}@{p}{i}.example")).collect::<Vec<_>>().join(", ");
            let m = format!("Delivered-To: trap@mijn.example, {}\nTo: {}\nSubject: x\n\nhi\n", list("u"), list("v"));
            m.into_bytes()
        };
        crate::work::assert_linear("honeypot", 500, make, |m| {
            let msg = Message::parse(m, 1 << 24);
            // Delivered to the trap, and no addressee is the user's: a trap hit.
            assert_eq!(honeypot(&msg, &s, None, false).0.as_deref(), Some("trap@mijn.example"));
        });
    }

    #[test]
    fn most_specific_entry_wins() {
        let s = settings();
        let v = |from: &str| list_verdict(&Message::parse(&msg(from), 1 << 20), &s);
        assert!(matches!(v("Jan <jan@klant.be>"), Some(ListVerdict::Allow { .. })));
        assert!(matches!(v("piet@klant.be"), Some(ListVerdict::Block { .. })));
        assert!(matches!(v("juf@lager.school.be"), Some(ListVerdict::Allow { .. })));
        assert!(matches!(v("spam@school.be"), Some(ListVerdict::Block { .. })));
        assert_eq!(v("x@elders.be"), None);
    }

    #[test]
    fn allow_can_require_authentication() {
        let mut s = settings();
        s.allow_requires_auth = true;
        s.authserv_id = Some("mx.mijn.be".into());
        let forged = msg("jan@klant.be");
        assert!(matches!(list_verdict(&Message::parse(&forged, 1 << 20), &s), Some(ListVerdict::Block { .. })));
        let real = b"Authentication-Results: mx.mijn.be; dkim=pass header.d=klant.be\nFrom: jan@klant.be\n\nhi\n";
        assert!(matches!(list_verdict(&Message::parse(real, 1 << 20), &s), Some(ListVerdict::Allow { .. })));
    }

    #[test]
    fn blocklist_answers() {
        assert_eq!(listed(&Answer::Empty { ttl: 60 }), Some((false, 60)));
        let a = |o: [u8; 4]| Answer::A { addrs: vec![o.into()], ttl: 300 };
        assert_eq!(listed(&a([127, 0, 0, 2])), Some((true, 300)));
        assert_eq!(listed(&a([127, 255, 255, 254])), None);
        assert_eq!(listed(&a([127, 0, 0, 1])), None);
        assert_eq!(listed(&Answer::Failed("timed out".into())), None);
    }

    /// A resolver answering from a table, counting the questions.
    struct Table(std::collections::HashMap<&'static str, Answer>, std::sync::Mutex<u32>);

    impl Resolver for Table {
        fn resolve(&self, queries: &[Query], _: Duration) -> Vec<Answer> {
            *self.1.lock().unwrap() += queries.len() as u32;
            queries.iter().map(|q| self.0.get(q.name.as_str()).cloned().unwrap_or(Answer::Empty { ttl: 600 })).collect()
        }
    }

    /// What the filter learned from live DNS and cached is what `check` (which asks nobody) sees.
    #[test]
    fn cached_answers_count_as_the_live_ones_did() {
        let now = 2_000_000_000;
        let s = SenderSettings {
            ip_expire_days: 30,
            dns: Some(DnsSettings {
                resolver: "127.0.0.1:53".parse().unwrap(),
                timeout_ms: 100,
                dnsbl: vec!["zen.test".into()],
                uribl: vec!["uribl.test".into()],
                ptr: true,
            }),
            ..Default::default()
        };
        let raw = b"Received: from sender (192.0.2.2) by mx.example (Microsoft SMTP Server) id 15.2; \
                    Mon, 23 Nov 2026 10:00:00 +0100\nFrom: a@b.test\nSubject: x\n\nhi http://bad.test/x\n";
        let msg = Message::parse(raw, 1 << 20);
        let links = vec!["bad.test".to_string()];
        let listed = Answer::A { addrs: vec![[127, 0, 0, 2].into()], ttl: 600 };
        let fake = Table(
            [
                ("2.2.0.192.zen.test", listed.clone()),
                ("bad.test.uribl.test", listed),
                ("2.2.0.192.in-addr.arpa", Answer::Ptr { names: vec!["host.dyn.test".into()], ttl: 600 }),
            ]
            .into_iter()
            .collect(),
            Default::default(),
        );
        let mut rep = crate::store::reputation::Reputation::default();
        let live = gather(&msg, &links, &s, Some(&rep), &fake, now);
        assert_eq!(live.dnsbl, ["zen.test"]);
        assert_eq!(live.uribl, [("bad.test".to_string(), "uribl.test".to_string())]);
        assert_eq!(live.rdns, Some(Rdns::Name("host.dyn.test".into())));
        assert_eq!(*fake.1.lock().unwrap(), 3);
        // Nothing cached yet: asking nobody finds nothing.
        let nothing = gather(&msg, &links, &s, Some(&rep), &crate::dns::CacheOnly, now);
        assert!(nothing.dnsbl.is_empty() && nothing.uribl.is_empty() && nothing.new_dns.is_empty());
        assert_eq!(nothing.rdns, Some(Rdns::NotRecorded));
        // Cached (as the filter does): the same facts without asking, live or not.
        rep.merge_dns(&live.new_dns, now);
        for resolver in [&crate::dns::CacheOnly as &dyn Resolver, &fake] {
            let cached = gather(&msg, &links, &s, Some(&rep), resolver, now + 60);
            assert_eq!((&cached.dnsbl, &cached.uribl, &cached.rdns), (&live.dnsbl, &live.uribl, &live.rdns));
            assert!(cached.new_dns.is_empty());
        }
        assert_eq!(*fake.1.lock().unwrap(), 3, "a cached answer was asked again");
    }

    /// Review R3: domains whose answers are cached cost no query and do not use up the
    /// `MAX_URIBL_DOMAINS` lookups; what is asked stays bounded.
    #[test]
    fn cached_link_domains_do_not_use_up_the_lookups() {
        let now = 2_000_000_000;
        let s = SenderSettings {
            dns: Some(DnsSettings {
                resolver: "127.0.0.1:53".parse().unwrap(),
                timeout_ms: 100,
                dnsbl: vec![],
                uribl: vec!["uribl.test".into()],
                ptr: false,
            }),
            ..Default::default()
        };
        let msg = Message::parse(b"From: a@b.test\nSubject: x\n\nhi\n", 1 << 20);
        let mut links: Vec<String> = (0..30).map(|i| format!("pad{i}.test")).collect();
        links.insert(25, "bad.test".into());
        let listed = Answer::A { addrs: vec![[127, 0, 0, 2].into()], ttl: 600 };
        let fake = Table([("bad.test.uribl.test", listed)].into_iter().collect(), Default::default());
        let mut rep = crate::store::reputation::Reputation::default();
        let cached = crate::store::reputation::DnsAnswers {
            uribl: (0..25)
                .map(|i| (format!("pad{i}.test"), "uribl.test".into(), Cached { value: false, expires: now + 600 }))
                .collect(),
            ..Default::default()
        };
        rep.merge_dns(&cached, now);
        let f = gather(&msg, &links, &s, Some(&rep), &fake, now);
        assert_eq!(f.uribl, [("bad.test".to_string(), "uribl.test".to_string())]);
        assert_eq!(*fake.1.lock().unwrap(), 6, "the five uncached domains and bad.test");
        // Nothing cached: at most MAX_URIBL_DOMAINS are asked.
        let many: Vec<String> = (0..200).map(|i| format!("d{i}.test")).collect();
        let fresh = crate::store::reputation::Reputation::default();
        gather(&msg, &many, &s, Some(&fresh), &fake, now);
        assert_eq!(*fake.1.lock().unwrap(), 6 + MAX_URIBL_DOMAINS as u32);
    }

    #[test]
    fn weight_grows_and_fades() {
        let day = 86_400;
        let mut r = IpRecord { spam: 1, last_spam: 100 * day, ..Default::default() };
        let w1 = r.spam_weight(100 * day, 30);
        r.spam = 3;
        let w3 = r.spam_weight(100 * day, 30);
        assert!(w1 > 0.0 && w3 > w1 && w3 <= 1.0);
        assert!(r.spam_weight(115 * day, 30) < w3);
        assert_eq!(r.spam_weight(131 * day, 30), 0.0);
        // One learned ham: a relay that carries the user's good mail is not a spam source...
        r.ham = 1;
        assert_eq!(r.spam_weight(100 * day, 30), 0.0);
        r.honeypot = 1;
        assert_eq!(r.spam_weight(100 * day, 30), 0.0);
        // ...unless more honeypot hits than ham came from it (attack report F14: 2 spam, 2 hits,
        // 1 ham was 0.00 and never refused).
        r.honeypot = 2;
        assert_eq!(r.spam_weight(100 * day, 30), 1.0);
        r.spam = 0;
        assert!((r.spam_weight(100 * day, 30) - 1.0).abs() < 1e-9);
        r.ham = 12;
        r.spam = 25;
        r.honeypot = 0;
        assert_eq!(r.spam_weight(100 * day, 30), 0.0);
        r.manual = true;
        assert_eq!(r.spam_weight(100 * day, 30), 1.0);
    }

    #[test]
    fn own_relays_are_recognised_by_their_share() {
        let r = IpRecord { spam: 6, ..Default::default() };
        assert!(!r.looks_like_own_relay(49), "too few messages to tell");
        assert!(r.looks_like_own_relay(60));
        assert!(!r.looks_like_own_relay(61));
        assert!(!IpRecord { manual: true, ..r.clone() }.looks_like_own_relay(60));
    }

    #[test]
    fn helo_checks() {
        let r = |helo: &str| Relay {
            ip: received::v4(203, 0, 113, 5),
            helo: Some(helo.into()),
            rdns: Rdns::Name("mail.klant.be".into()),
            authenticated: false,
            fetched: false,
        };
        let rd = Rdns::Name("mail.klant.be".into());
        assert!(!helo_mismatch(&r("smtp.klant.be"), Some(&rd)));
        assert!(helo_mismatch(&r("mail.bank.example"), Some(&rd)));
        assert!(!helo_mismatch(&r("[203.0.113.5]"), Some(&rd)));
        assert!(helo_mismatch(&r("[192.0.2.1]"), Some(&rd)));
    }

    /// A learned sender counts for its From through the same /24 only, never for the user's own
    /// address, not once spam was learned that way, and not on top of a known correspondent.
    #[test]
    fn a_learned_sender_is_tied_to_its_relay_block() {
        use crate::store::reputation::Reputation;
        let mut rep = Reputation::default();
        let relay = crate::received::v4(198, 51, 100, 7);
        for _ in 0..3 {
            rep.count_sender("nieuws@winkel.example", relay, false, 1, 1000);
        }
        rep.count_sender("ik@mijn.be", relay, false, 1, 1000);
        let s = SenderSettings::default();
        let gather_with = |rep: &Reputation, head: &str| {
            let raw = format!("{head}Subject: x\n\nhi\n");
            gather(&Message::parse(raw.as_bytes(), 1 << 20), &[], &s, Some(rep), &crate::dns::CacheOnly, 2000)
        };
        let facts = |head: &str| gather_with(&rep, head);
        let via = |ip: &str| format!("Received: from m.example (m.example [{ip}]) by mx.mijn.be with ESMTP; x\n");
        let same = facts(&format!("{}From: Nieuws@Winkel.example\n", via("198.51.100.250")));
        assert_eq!(same.learned_sender.as_ref().map(|l| l.ham), Some(3));
        assert!((learned_sender_weight(&same) - 0.75).abs() < 1e-9);
        assert_eq!(facts(&format!("{}From: nieuws@winkel.example\n", via("198.51.101.7"))).learned_sender, None);
        // No relay (the user's own network): nothing to tie it to.
        assert_eq!(facts(&format!("{}From: nieuws@winkel.example\n", via("10.0.0.1"))).learned_sender, None);
        let own = facts(&format!("{}Delivered-To: ik@mijn.be\nFrom: ik@mijn.be\n", via("198.51.100.7")));
        assert_eq!((learned_sender_weight(&own), own.learned_sender), (0.0, None));
        let mut known = same.clone();
        known.known_correspondent = true;
        assert_eq!(learned_sender_weight(&known), 0.0);
        rep.count_sender("nieuws@winkel.example", crate::received::v4(198, 51, 100, 9), true, 1, 1000);
        let spammed = gather_with(&rep, &format!("{}From: nieuws@winkel.example\n", via("198.51.100.7")));
        assert_eq!(spammed.learned_sender.as_ref().map(|l| (l.ham, l.spam)), Some((3, 1)));
        assert_eq!(learned_sender_weight(&spammed), 0.0);
        let off = SenderSettings { no_learned_senders: true, ..SenderSettings::default() };
        let raw = format!("{}From: nieuws@winkel.example\nSubject: x\n\nhi\n", via("198.51.100.7"));
        let m = Message::parse(raw.as_bytes(), 1 << 20);
        assert_eq!(gather(&m, &[], &off, Some(&rep), &crate::dns::CacheOnly, 2000).learned_sender, None);
        assert_eq!(lookups(&m, &[], &off).keys.len() + 1, lookups(&m, &[], &s).keys.len());
    }
}
