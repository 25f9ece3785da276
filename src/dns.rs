//! A small DNS stub client over UDP: A and PTR queries, sent together, answered within one
//! deadline. Enough for DNS blocklists and reverse lookups, without a resolver library.
//!
//! Every query of a batch goes out at once on one socket (and once more, if unanswered, halfway
//! to the deadline); the batch never takes longer than its timeout. What did not come back in
//! time, came back SERVFAIL/REFUSED, or could not be parsed is `Answer::Failed`: never evidence,
//! never cached. NXDOMAIN and empty answers are real answers (cached for the negative TTL of the
//! SOA record, RFC 2308, or an hour).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Record types we ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QType {
    A,
    Ptr,
    /// The root zone's name servers: what [`canary`] asks.
    Ns,
}

impl QType {
    fn code(self) -> u16 {
        match self {
            QType::A => 1,
            QType::Ptr => 12,
            QType::Ns => 2,
        }
    }
}

/// A query every live recursive resolver answers at once from what it always holds (the root
/// zone's name servers, RFC 8109 priming): sent with a message's lookups, its answer tells a
/// resolver that is there (with one blocklist timing out) from one that answers nothing.
pub fn canary() -> Query {
    Query { name: ".".into(), qtype: QType::Ns }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub name: String,
    pub qtype: QType,
}

/// What came back for one query. TTLs are in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    A {
        addrs: Vec<Ipv4Addr>,
        ttl: u32,
    },
    Ptr {
        names: Vec<String>,
        ttl: u32,
    },
    /// NXDOMAIN, or the name exists without records of the type: not listed / no name.
    Empty {
        ttl: u32,
    },
    /// No usable answer (timeout, SERVFAIL, REFUSED, garbage): not evidence, not cached.
    Failed(String),
}

/// How a resolver that asks nobody (`CacheOnly`) says it did not ask: not a failure of DNS.
pub const NOT_ASKED: &str = "not asked";

/// How a query that got no response at all within the deadline fails.
pub const TIMED_OUT: &str = "timed out";

/// How a resolver that was not asked because it recently gave no answer at all says so: the
/// failure reads `SKIPPED` followed by why (which resolver, since when, until when).
pub const SKIPPED: &str = "skipped: ";

/// Whether the resolver was asked and nothing came back for any query: every answer timed out
/// (a dead or unreachable resolver, a firewall dropping the packets). A single response, even
/// SERVFAIL or REFUSED, means it is there.
pub fn silent(answers: &[Answer]) -> bool {
    !answers.is_empty() && answers.iter().all(|a| matches!(a, Answer::Failed(why) if why == TIMED_OUT))
}

/// Answers are cached at most a day and at least a minute.
const MAX_TTL: u32 = 86_400;
const MIN_TTL: u32 = 60;
const DEFAULT_NEGATIVE_TTL: u32 = 3_600;

/// Where DNS answers come from. Scoring is handed one, as it is handed the reputation database,
/// and asks it only for what the cache does not hold: the filter asks the network (`Udp`);
/// `check`, `rules --stats` and `eval` ask nobody (`CacheOnly`), so they see the answers the
/// filter cached and nothing else; tests answer from a table.
pub trait Resolver: Sync {
    /// The answers to `queries`, in their order, within `timeout`.
    fn resolve(&self, queries: &[Query], timeout: Duration) -> Vec<Answer>;
}

/// The live resolver: every query goes over UDP to the server at this address.
pub struct Udp(pub SocketAddr);

impl Resolver for Udp {
    fn resolve(&self, queries: &[Query], timeout: Duration) -> Vec<Answer> {
        resolve(self.0, queries, timeout)
    }
}

/// Asks nobody: every answer is `Failed` (no evidence, nothing cached), so only cached answers
/// count.
pub struct CacheOnly;

impl Resolver for CacheOnly {
    fn resolve(&self, queries: &[Query], _: Duration) -> Vec<Answer> {
        vec![Answer::Failed(format!("{NOT_ASKED}: cached answers only")); queries.len()]
    }
}

/// Sends every query to `server` and waits at most `timeout` for all the answers, in order.
pub fn resolve(server: SocketAddr, queries: &[Query], timeout: Duration) -> Vec<Answer> {
    let mut answers: Vec<Option<Answer>> = vec![None; queries.len()];
    if queries.is_empty() {
        return Vec::new();
    }
    let bind: SocketAddr = if server.is_ipv4() { "0.0.0.0:0".parse().unwrap() } else { "[::]:0".parse().unwrap() };
    let socket = match UdpSocket::bind(bind) {
        Ok(s) => s,
        Err(e) => return vec![Answer::Failed(format!("cannot open a UDP socket: {e}")); queries.len()],
    };
    let base = query_id_seed();
    // Wrapping: 9 or more queries overflowed `i * 7919` (a panic where overflow is checked).
    let ids: Vec<u16> = (0..queries.len()).map(|i| base.wrapping_add((i as u16).wrapping_mul(7919))).collect();
    let packets: Vec<Vec<u8>> = queries.iter().zip(&ids).map(|(q, &id)| encode_query(id, q)).collect();
    let send_all = |answers: &[Option<Answer>]| {
        for (p, a) in packets.iter().zip(answers) {
            if a.is_none() {
                let _ = socket.send_to(p, server);
            }
        }
    };
    send_all(&answers);
    let start = Instant::now();
    let deadline = start + timeout;
    let mut resent = false;
    let mut buf = [0u8; 4096];
    while answers.iter().any(Option::is_none) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if !resent && now >= start + timeout / 2 {
            send_all(&answers);
            resent = true;
        }
        let wait = if resent { deadline - now } else { (start + timeout / 2).saturating_duration_since(now) };
        let _ = socket.set_read_timeout(Some(wait.max(Duration::from_millis(1))));
        let Ok((n, from)) = socket.recv_from(&mut buf) else { continue };
        if from != server || n < 12 {
            continue;
        }
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        let Some(i) = ids.iter().position(|&x| x == id) else { continue };
        if answers[i].is_some() {
            continue;
        }
        answers[i] = Some(parse_response(&buf[..n], &queries[i]));
    }
    answers.into_iter().map(|a| a.unwrap_or_else(|| Answer::Failed(TIMED_OUT.into()))).collect()
}

fn query_id_seed() -> u16 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let x = (t as u64) ^ ((std::process::id() as u64) << 16);
    let x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x >> 48) as u16
}

/// An IPv4 address in the reversed-octet form DNS blocklists and `in-addr.arpa` use, or the
/// reversed nibbles of an IPv6 address.
pub fn reversed(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let hex = format!("{:032x}", u128::from(v6));
            let mut s = String::with_capacity(64);
            for (i, c) in hex.chars().rev().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                s.push(c);
            }
            s
        }
    }
}

/// The reverse-lookup name of an address (`4.3.2.1.in-addr.arpa`, `...ip6.arpa`).
pub fn ptr_name(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(_) => format!("{}.in-addr.arpa", reversed(ip)),
        IpAddr::V6(_) => format!("{}.ip6.arpa", reversed(ip)),
    }
}

/// A standard query with recursion desired.
pub fn encode_query(id: u16, q: &Query) -> Vec<u8> {
    let mut p = Vec::with_capacity(32 + q.name.len());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x01, 0x00]); // RD
    p.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // 1 question
    encode_name(&mut p, &q.name);
    p.extend_from_slice(&q.qtype.code().to_be_bytes());
    p.extend_from_slice(&[0, 1]); // IN
    p
}

pub fn encode_name(p: &mut Vec<u8>, name: &str) {
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        p.push(l.len() as u8);
        p.extend_from_slice(l);
    }
    p.push(0);
}

/// Reads a (possibly compressed) name at `pos`; returns it and the position after it.
pub fn read_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(pos)? as usize;
        if len & 0xc0 == 0xc0 {
            let ptr = ((len & 0x3f) << 8) | *msg.get(pos + 1)? as usize;
            end.get_or_insert(pos + 2);
            jumps += 1;
            if jumps > 32 {
                return None;
            }
            pos = ptr;
            continue;
        }
        if len == 0 {
            return Some((name, end.unwrap_or(pos + 1)));
        }
        let label = msg.get(pos + 1..pos + 1 + len)?;
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
        if name.len() > 255 {
            return None;
        }
        pos += 1 + len;
    }
}

fn u16_at(m: &[u8], p: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*m.get(p)?, *m.get(p + 1)?]))
}

fn u32_at(m: &[u8], p: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*m.get(p)?, *m.get(p + 1)?, *m.get(p + 2)?, *m.get(p + 3)?]))
}

fn clamp_ttl(ttl: u32) -> u32 {
    ttl.clamp(MIN_TTL, MAX_TTL)
}

/// Interprets a response to `q`.
pub fn parse_response(m: &[u8], q: &Query) -> Answer {
    parse_inner(m, q).unwrap_or_else(|| Answer::Failed("unparsable response".into()))
}

fn parse_inner(m: &[u8], q: &Query) -> Option<Answer> {
    let flags = u16_at(m, 2)?;
    if flags & 0x8000 == 0 {
        return Some(Answer::Failed("not a response".into()));
    }
    let rcode = flags & 0x000f;
    let (qd, an, ns) = (u16_at(m, 4)?, u16_at(m, 6)?, u16_at(m, 8)?);
    let mut pos = 12;
    for _ in 0..qd {
        let (name, after) = read_name(m, pos)?;
        if !name.eq_ignore_ascii_case(q.name.trim_end_matches('.')) {
            return Some(Answer::Failed("answer for another name".into()));
        }
        pos = after + 4;
    }
    match rcode {
        0 | 3 => {}
        2 => return Some(Answer::Failed("SERVFAIL".into())),
        5 => return Some(Answer::Failed("REFUSED".into())),
        other => return Some(Answer::Failed(format!("rcode {other}"))),
    }
    let mut addrs = Vec::new();
    let mut names = Vec::new();
    let mut ttl = u32::MAX;
    for _ in 0..an {
        let (_, after) = read_name(m, pos)?;
        let rtype = u16_at(m, after)?;
        let rttl = u32_at(m, after + 4)?;
        let rdlen = u16_at(m, after + 8)? as usize;
        let rdata = after + 10;
        m.get(rdata..rdata + rdlen)?;
        match (rtype, q.qtype) {
            (1, QType::A) if rdlen == 4 => {
                addrs.push(Ipv4Addr::new(m[rdata], m[rdata + 1], m[rdata + 2], m[rdata + 3]));
                ttl = ttl.min(rttl);
            }
            (12, QType::Ptr) => {
                let (n, _) = read_name(m, rdata)?;
                names.push(n);
                ttl = ttl.min(rttl);
            }
            _ => {} // CNAMEs and the like: follow nothing, the final records are in the answer too
        }
        pos = rdata + rdlen;
    }
    if rcode == 0 && !addrs.is_empty() {
        return Some(Answer::A { addrs, ttl: clamp_ttl(ttl) });
    }
    if rcode == 0 && !names.is_empty() {
        return Some(Answer::Ptr { names, ttl: clamp_ttl(ttl) });
    }
    // Negative answer: the TTL is min(SOA TTL, SOA minimum) from the authority section.
    let mut neg = DEFAULT_NEGATIVE_TTL;
    for _ in 0..ns {
        let Some((_, after)) = read_name(m, pos) else { break };
        let (Some(rtype), Some(rttl), Some(rdlen)) = (u16_at(m, after), u32_at(m, after + 4), u16_at(m, after + 8))
        else {
            break;
        };
        let rdata = after + 10;
        if rtype == 6 {
            if let Some((_, p1)) = read_name(m, rdata) {
                if let Some((_, p2)) = read_name(m, p1) {
                    if let Some(minimum) = u32_at(m, p2 + 16) {
                        neg = rttl.min(minimum);
                    }
                }
            }
        }
        pos = rdata + rdlen as usize;
    }
    Some(Answer::Empty { ttl: clamp_ttl(neg) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
        assert_eq!(ptr_name(v4(192, 0, 2, 1)), "1.2.0.192.in-addr.arpa");
        assert_eq!(reversed("::ffff:192.0.2.1".parse().unwrap()), "1.2.0.192");
        assert!(ptr_name("2001:db8::1".parse().unwrap()).ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"));
    }

    fn response(q: &Query, id: u16, rcode: u8, answers: &[(u16, u32, Vec<u8>)]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&[0x81, 0x80 | rcode]);
        p.extend_from_slice(&[0, 1]);
        p.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0]);
        encode_name(&mut p, &q.name);
        p.extend_from_slice(&q.qtype.code().to_be_bytes());
        p.extend_from_slice(&[0, 1]);
        for (t, ttl, data) in answers {
            p.extend_from_slice(&[0xc0, 12]);
            p.extend_from_slice(&t.to_be_bytes());
            p.extend_from_slice(&[0, 1]);
            p.extend_from_slice(&ttl.to_be_bytes());
            p.extend_from_slice(&(data.len() as u16).to_be_bytes());
            p.extend_from_slice(data);
        }
        p
    }

    #[test]
    fn parses_answers() {
        let q = Query { name: "2.0.0.127.zen.example".into(), qtype: QType::A };
        let r = response(&q, 7, 0, &[(1, 300, vec![127, 0, 0, 2])]);
        assert_eq!(parse_response(&r, &q), Answer::A { addrs: vec![Ipv4Addr::new(127, 0, 0, 2)], ttl: 300 });
        let r = response(&q, 7, 3, &[]);
        assert_eq!(parse_response(&r, &q), Answer::Empty { ttl: DEFAULT_NEGATIVE_TTL });
        let r = response(&q, 7, 2, &[]);
        assert!(matches!(parse_response(&r, &q), Answer::Failed(_)));
        let p = Query { name: "1.2.0.192.in-addr.arpa".into(), qtype: QType::Ptr };
        let mut name = Vec::new();
        encode_name(&mut name, "mail.Klant.be");
        let r = response(&p, 9, 0, &[(12, 10, name)]);
        assert_eq!(parse_response(&r, &p), Answer::Ptr { names: vec!["mail.klant.be".into()], ttl: MIN_TTL });
        assert!(matches!(parse_response(&r[..20], &p), Answer::Failed(_)));
        // The canary's answer (the root's name servers) is an answer: the resolver is there.
        let c = canary();
        let mut ns = Vec::new();
        encode_name(&mut ns, "a.root-servers.net");
        let packet = encode_query(5, &c);
        assert_eq!(&packet[12..], &[0, 0, 2, 0, 1], "the root, type NS, class IN");
        let r = response(&c, 5, 0, &[(2, 518_400, ns)]);
        assert!(matches!(parse_response(&r, &c), Answer::Empty { .. }), "{:?}", parse_response(&r, &c));
        assert!(matches!(parse_response(&r, &q), Answer::Failed(_)));
    }

    #[test]
    fn compression_loops_end() {
        let mut m = vec![0u8; 12];
        m.extend_from_slice(&[0xc0, 12]);
        assert_eq!(read_name(&m, 12), None);
    }

    #[test]
    fn silent_server_times_out_in_time() {
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let q = vec![Query { name: "x.example".into(), qtype: QType::A }; 3];
        let t = Instant::now();
        let a = resolve(silent.local_addr().unwrap(), &q, Duration::from_millis(200));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(a.iter().all(|x| matches!(x, Answer::Failed(_))));
        assert!(super::silent(&a));
        // One response, even a refusal, is a resolver that is there.
        let mut partial = a.clone();
        partial[1] = Answer::Failed("REFUSED".into());
        assert!(!super::silent(&partial) && !super::silent(&[]));
        assert!(!super::silent(&CacheOnly.resolve(&q, Duration::ZERO)));
    }
}
