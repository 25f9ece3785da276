//! The text dump: a line-based, versioned format for backup and migration (see
//! docs/db-format.md). Stable across releases of the binary format.
//!
//! ```text
//! spamfilt-dump 3
//! [tokens]
//! messages HAM SPAM
//! token HASH SPAM HAM LASTDAY        (HASH: 16 hex digits; LASTDAY: days since 1970-01-01)
//! ledger DIGEST CLASS [RECEIVED]     (DIGEST: 32 hex digits; CLASS: ham or spam; RECEIVED:
//!                                     received or no-received, how it was learned; none: unknown)
//! [reputation]
//! ip ADDRESS FIRST LAST LASTSPAM SPAM HAM HONEYPOT MANUAL   (times: Unix seconds; MANUAL: manual or -)
//! ptr ADDRESS EXPIRES NAME           (NAME: - when there is none)
//! dnsbl ADDRESS ZONE LISTED EXPIRES  (LISTED: listed or clear)
//! uribl DOMAIN ZONE LISTED EXPIRES
//! correspondent ADDRESS MESSAGES LAST
//! own ADDRESS LAST                   (one of the user's own addresses: never a correspondent)
//! sender ADDRESS BLOCK HAM SPAM LAST (a learned sender: From ADDRESS through the relay block
//!                                     BLOCK, 192.0.2.0/24 or 2001:db8:1::/48)
//! [lr]                               (only when there are LR weights)
//! lr BITS WINDOW BYTES FLAGS RATE HAM SPAM   (the table's shape and counts; FLAGS: 1 lower-cased,
//!                                     2 decoded body; RATE: the f32's bits, 8 hex digits)
//! lrw INDEX WEIGHT                   (a non-zero weight; WEIGHT: the f32's bits, 8 hex digits)
//! end tokens=N reputation=N lr=N     (the last line: how many lines each section holds)
//! ```
//! Lines starting with `#` and blank lines are ignored. Tokens are written sorted by hash.
//! The dump is made of sections, each `[name]` on its own line, so that each part of the
//! database writes and reads its own; a section this version does not know is an error (a
//! dump from a newer spamfilt must not be loaded with part of it silently dropped). Version 1
//! dumps (no sections, the token lines only) still load: the reputation database is then left
//! as it is.
//!
//! Version 3 added the `end` line: without it (a dump cut short: a full disk, a copy
//! interrupted, `head`) or with counts that are not the sections' (lines lost or added), a
//! version 3 dump is refused, naming the line, before anything is changed. Every proper
//! prefix of a version 3 dump is refused: the end line must end with its newline. Version 1
//! and 2 dumps, which have no end line, still load; `Loaded::checked` says that their
//! completeness could not be checked.

use std::io::{BufRead, Write};
use std::net::IpAddr;

use anyhow::{bail, Context, Result};

use super::reputation::{
    self, Cached, Correspondent, DomainRecord, IpRecord, LearnedSender, OwnAddress, Record, Reputation,
};
use super::{Class, Learned, Snapshot, TokenRecord, Totals};

const FIRST_LINE: &str = "spamfilt-dump 4";
const FIRST_LINE_V3: &str = "spamfilt-dump 3";
const FIRST_LINE_V2: &str = "spamfilt-dump 2";
const FIRST_LINE_V1: &str = "spamfilt-dump 1";

/// The sections, in the order they are written, as the end line counts them.
const SECTIONS: [&str; 3] = ["tokens", "reputation", "lr"];

/// What a dump holds.
#[derive(Debug, Default)]
pub struct Loaded {
    pub tokens: Snapshot,
    /// The `[reputation]` section (`None` in a version 1 dump, which had none).
    pub reputation: Option<Reputation>,
    /// The dump's version (its first line).
    pub version: u32,
    /// Whether the dump was checked complete (its end line, version 3 on): `false` for the
    /// older versions, which have none.
    pub checked: bool,
}

pub fn write(snap: &Snapshot, rep: &Reputation, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "{FIRST_LINE}")?;
    writeln!(out, "# spamfilt {} database dump; load with 'spamfilt db load FILE'", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "[tokens]")?;
    writeln!(out, "messages {} {}", snap.totals.ham, snap.totals.spam)?;
    let token_lines = 1 + snap.tokens.len() + snap.ledger.len();
    let mut tokens: Vec<(&u64, &TokenRecord)> = snap.tokens.iter().collect();
    tokens.sort_unstable_by_key(|t| *t.0);
    for (h, r) in tokens {
        writeln!(out, "token {h:016x} {} {} {}", r.spam, r.ham, r.last_day)?;
    }
    let mut ledger: Vec<_> = snap.ledger.iter().collect();
    ledger.sort_unstable();
    for (d, l) in ledger {
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        let received = match l.received {
            None => "",
            Some(true) => " received",
            Some(false) => " no-received",
        };
        writeln!(out, "ledger {hex} {}{received}", l.class.name())?;
    }
    let reputation = write_reputation(rep, out)?;
    let lr = write_lr(snap, out)?;
    writeln!(out, "end tokens={token_lines} reputation={reputation} lr={lr}")?;
    Ok(())
}

/// The `[lr]` section: the LR table's shape and counts and its non-zero weights, exactly.
/// Returns the number of lines written after the section's name.
fn write_lr(snap: &Snapshot, out: &mut dyn Write) -> Result<usize> {
    let Some(m) = &snap.lr else { return Ok(0) };
    let s = &m.shape;
    let flags = s.lowercase as u8 | (s.decoded_body as u8) << 1;
    writeln!(out, "[lr]")?;
    writeln!(out, "lr {} {} {} {flags} {:08x} {} {}", s.bits, s.window, s.max_bytes, m.rate.to_bits(), m.ham, m.spam)?;
    let mut lines = 1;
    for (i, w) in m.weights.iter().enumerate().filter(|(_, w)| **w != 0.0) {
        writeln!(out, "lrw {i} {:08x}", w.to_bits())?;
        lines += 1;
    }
    Ok(lines)
}

/// One line of the `[lr]` section.
fn lr_line(f: &[&str], snap: &mut Snapshot) -> Result<()> {
    let hex = |s: &str| -> Result<f32> {
        anyhow::ensure!(s.len() == 8, "bad f32");
        Ok(f32::from_bits(u32::from_str_radix(s, 16)?))
    };
    match f {
        ["lr", bits, window, bytes, flags, rate, ham, spam] if snap.lr.is_none() => {
            let bits: u8 = bits.parse()?;
            let flags: u8 = flags.parse()?;
            anyhow::ensure!((4..=30).contains(&bits), "table size out of range");
            let shape = crate::lr::Shape {
                bits,
                window: window.parse()?,
                max_bytes: bytes.parse()?,
                lowercase: flags & 1 != 0,
                decoded_body: flags & 2 != 0,
            };
            let mut m = crate::lr::Model::new(shape);
            m.rate = hex(rate)?;
            m.ham = ham.parse()?;
            m.spam = spam.parse()?;
            snap.lr = Some(m);
        }
        ["lrw", i, w] => {
            let m = snap.lr.as_mut().context("an 'lrw' line before the 'lr' line")?;
            let w = hex(w)?;
            match m.weights.get_mut(i.parse::<usize>()?) {
                Some(slot) if w.is_finite() => *slot = w.clamp(-crate::lr::MAX_WEIGHT, crate::lr::MAX_WEIGHT),
                _ => bail!("weight index or value out of range"),
            }
        }
        _ => bail!("unknown line"),
    }
    Ok(())
}

fn listed(b: bool) -> &'static str {
    if b {
        "listed"
    } else {
        "clear"
    }
}

/// The `[reputation]` section: IP addresses (with their cached DNS answers), link domains'
/// cached answers and known correspondents, in key order. Returns the number of lines written
/// after the section's name.
fn write_reputation(rep: &Reputation, out: &mut dyn Write) -> Result<usize> {
    writeln!(out, "[reputation]")?;
    let mut lines = 0;
    for (key, record) in &rep.records {
        match record {
            Record::Ip(r) => {
                let ip = crate::store::reputation::ip_from_key(*key);
                // An IPv6 /64's reputation as `ip 2001:db8:1:2::/64 …`; an address of a /64 has
                // only its cached DNS answers (`ptr`, `dnsbl` lines) of its own.
                let member = reputation::is_v6_member(key);
                let named = if member { ip.to_string() } else { reputation::ip_label(ip) };
                if !member || r.has_counts() {
                    writeln!(
                        out,
                        "ip {named} {} {} {} {} {} {} {}",
                        r.first_seen,
                        r.last_seen,
                        r.last_spam,
                        r.spam,
                        r.ham,
                        r.honeypot,
                        if r.manual { "manual" } else { "-" }
                    )?;
                    lines += 1;
                }
                if let Some(p) = &r.ptr {
                    writeln!(out, "ptr {ip} {} {}", p.expires, p.value.as_deref().unwrap_or("-"))?;
                    lines += 1;
                }
                for (zone, c) in &r.dnsbl {
                    writeln!(out, "dnsbl {ip} {zone} {} {}", listed(c.value), c.expires)?;
                    lines += 1;
                }
            }
            Record::Domain(d) => {
                for (zone, c) in &d.uribl {
                    writeln!(out, "uribl {} {zone} {} {}", d.domain, listed(c.value), c.expires)?;
                    lines += 1;
                }
            }
            Record::Correspondent(c) => {
                writeln!(out, "correspondent {} {} {}", c.address, c.messages, c.last)?;
                lines += 1;
            }
            Record::Own(o) => {
                writeln!(out, "own {} {}", o.address, o.last)?;
                lines += 1;
            }
            Record::Sender(l) => {
                writeln!(out, "sender {} {} {} {} {}", l.address, l.block, l.ham, l.spam, l.last)?;
                lines += 1;
            }
        }
    }
    Ok(lines)
}

pub fn read(mut input: Box<dyn BufRead + '_>) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    let mut version = 0;
    let mut section = String::new();
    let mut seen_messages = false;
    // Lines per section (`SECTIONS`' order), and the end line's number once read (version 3).
    let mut counted = [0usize; SECTIONS.len()];
    let mut end_at = None;
    let mut n = 0;
    let mut raw = String::new();
    loop {
        raw.clear();
        let read = input.read_line(&mut raw).with_context(|| format!("cannot read the dump at line {}", n + 1))?;
        if read == 0 {
            break;
        }
        n += 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(at) = end_at {
            bail!("line {n}: more after the end line (line {at}): two dumps run together, or an edited one?");
        }
        if version == 0 {
            version = match line {
                FIRST_LINE => 4,
                FIRST_LINE_V3 => 3,
                FIRST_LINE_V2 => 2,
                FIRST_LINE_V1 => {
                    section = "tokens".into();
                    1
                }
                _ if line.starts_with("spamfilt-dump ") => bail!(
                    "line {n}: a spamfilt dump of a version this spamfilt does not read ('{line}'; it reads 1 to 4): \
                     written by a newer spamfilt? nothing was changed"
                ),
                _ => bail!(
                    "line {n}: not a spamfilt dump (expected '{FIRST_LINE}', '{FIRST_LINE_V3}', '{FIRST_LINE_V2}' or \
                     '{FIRST_LINE_V1}')"
                ),
            };
            continue;
        }
        // Every line of a version 3 dump ends with its line end, the end line too: a dump cut
        // inside a line ("end tokens=12" of 123, "token 00ab") is refused as cut, even when what
        // is left of the line parses.
        if version >= 3 && !raw.ends_with('\n') {
            bail!("line {n}: the dump ends inside this line (no line end): it is incomplete (cut short?)");
        }
        if version >= 3 && line.split_ascii_whitespace().next() == Some("end") {
            end_line(line, &counted).with_context(|| format!("line {n}"))?;
            end_at = Some(n);
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if version == 1 {
                bail!("line {n}: a version 1 dump has no sections");
            }
            section = match name {
                "tokens" | "reputation" | "lr" => name.to_string(),
                _ => bail!("line {n}: unknown section [{name}] (written by a newer spamfilt?); nothing was changed"),
            };
            if section == "reputation" {
                loaded.reputation.get_or_insert_with(Reputation::default);
            }
            continue;
        }
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let bad = || anyhow::anyhow!("line {n}: malformed: {line:?}");
        if let Some(k) = SECTIONS.iter().position(|s| *s == section) {
            counted[k] += 1;
        }
        match section.as_str() {
            "tokens" => {
                if token_line(&f, &mut loaded.tokens).map_err(|e| e.context(bad()))? {
                    seen_messages = true;
                }
            }
            "reputation" => {
                let rep = loaded.reputation.get_or_insert_with(Reputation::default);
                reputation_line(&f, rep).map_err(|_| bad())?;
            }
            "lr" => lr_line(&f, &mut loaded.tokens).map_err(|e| e.context(bad()))?,
            _ => bail!("line {n}: {line:?} before the first section"),
        }
    }
    if version == 0 {
        bail!("empty input: not a spamfilt dump");
    }
    if version >= 3 && end_at.is_none() {
        bail!(
            "line {n}: the dump ends here without its end line ('end tokens=… reputation=… lr=…'): it is incomplete \
             (cut short by a full disk, an interrupted copy, head?); load a whole one"
        );
    }
    if !seen_messages {
        bail!("the dump has no 'messages' line");
    }
    // Dumps before version 4 hold IPv6 reputation per address: it goes to the /64s (summed).
    if let Some(rep) = &mut loaded.reputation {
        rep.merge_v6_members();
    }
    loaded.version = version;
    loaded.checked = end_at.is_some();
    Ok(loaded)
}

/// Checks the end line (`end tokens=N reputation=N lr=N`) against the lines each section held.
fn end_line(line: &str, counted: &[usize; SECTIONS.len()]) -> Result<()> {
    let mut said: [Option<usize>; SECTIONS.len()] = [None; SECTIONS.len()];
    for field in line.split_ascii_whitespace().skip(1) {
        let (name, count) = field.split_once('=').with_context(|| format!("malformed end line: {line:?}"))?;
        let k = SECTIONS.iter().position(|s| *s == name).with_context(|| {
            format!("the end line counts a section [{name}] this spamfilt does not know (written by a newer one?)")
        })?;
        let count: usize = count.parse().map_err(|_| anyhow::anyhow!("malformed end line: {line:?}"))?;
        anyhow::ensure!(said[k].replace(count).is_none(), "malformed end line: [{name}] counted twice");
    }
    for (k, name) in SECTIONS.iter().enumerate() {
        let said = said[k].with_context(|| format!("malformed end line: {line:?} (no count for [{name}])"))?;
        if said != counted[k] {
            bail!(
                "the end line says [{name}] holds {said} lines, but {} were read: lines are missing or were added \
                 (an incomplete or edited dump)",
                counted[k]
            );
        }
    }
    Ok(())
}

/// One line of the `[tokens]` section; `true` for the `messages` line.
fn token_line(f: &[&str], snap: &mut Snapshot) -> Result<bool> {
    let num = |s: &str| s.parse::<u64>().map_err(|_| anyhow::anyhow!("bad number"));
    let num32 = |s: &str| s.parse::<u32>().map_err(|_| anyhow::anyhow!("bad number"));
    match f {
        ["messages", ham, spam] => {
            snap.totals = Totals { ham: num(ham)?, spam: num(spam)? };
            return Ok(true);
        }
        ["token", h, s, hm, day] if h.len() == 16 => {
            let hash = u64::from_str_radix(h, 16)?;
            let r = TokenRecord { spam: num32(s)?, ham: num32(hm)?, last_day: num32(day)? };
            if snap.tokens.insert(hash, r).is_some() {
                bail!("token {h} appears twice");
            }
        }
        ["ledger", d, c, received @ ..] if d.len() == 32 && received.len() <= 1 => {
            let mut digest = [0u8; 16];
            for (k, b) in digest.iter_mut().enumerate() {
                *b = u8::from_str_radix(d.get(2 * k..2 * k + 2).context("bad digest")?, 16)?;
            }
            let class = match *c {
                "ham" => Class::Ham,
                "spam" => Class::Spam,
                _ => bail!("bad class"),
            };
            let received = match received {
                [] => None,
                ["received"] => Some(true),
                ["no-received"] => Some(false),
                _ => bail!("bad Received flag"),
            };
            snap.ledger.insert(digest, Learned { class, received });
        }
        _ => bail!("unknown line"),
    }
    Ok(false)
}

fn flag(s: &str) -> Result<bool> {
    match s {
        "listed" => Ok(true),
        "clear" => Ok(false),
        _ => bail!("bad flag"),
    }
}

/// One line of the `[reputation]` section.
fn reputation_line(f: &[&str], rep: &mut Reputation) -> Result<()> {
    // An address (`ptr`, `dnsbl` lines and the `ip` lines of dumps before version 4: each
    // address's own record, merged into its /64 once read), or an IPv6 /64 (`2001:db8:1:2::/64`,
    // `ip` lines of version 4: the record of its first address, which is the /64's).
    let key = |ip: &str| -> Result<reputation::Key> {
        let (addr, block) = match ip.split_once('/') {
            Some((a, "64")) => (a, true),
            Some(_) => bail!("an IPv6 /64 or an address"),
            None => (ip, false),
        };
        let ip: IpAddr = addr.parse()?;
        if block {
            anyhow::ensure!(ip.is_ipv6() && reputation::ip_block(ip) == ip, "not the first address of a /64");
        }
        Ok(reputation::exact_key(ip))
    };
    let ip_record = |rep: &mut Reputation, ip: &str| -> Result<IpRecord> {
        Ok(match rep.records.get(&key(ip)?) {
            Some(Record::Ip(r)) => r.clone(),
            _ => IpRecord::default(),
        })
    };
    let put_ip = |rep: &mut Reputation, ip: &str, r: IpRecord| -> Result<()> {
        rep.records.insert(key(ip)?, Record::Ip(r));
        Ok(())
    };
    match f {
        ["ip", ip, first, last, last_spam, spam, ham, honeypot, manual] => {
            let mut r = ip_record(rep, ip)?;
            r.first_seen = first.parse()?;
            r.last_seen = last.parse()?;
            r.last_spam = last_spam.parse()?;
            r.spam = spam.parse()?;
            r.ham = ham.parse()?;
            r.honeypot = honeypot.parse()?;
            r.manual = match *manual {
                "manual" => true,
                "-" => false,
                _ => bail!("bad flag"),
            };
            put_ip(rep, ip, r)?;
        }
        ["ptr", ip, expires, name] => {
            let mut r = ip_record(rep, ip)?;
            let value = (*name != "-").then(|| name.to_string());
            r.ptr = Some(Cached { value, expires: expires.parse()? });
            put_ip(rep, ip, r)?;
        }
        ["dnsbl", ip, zone, listed, expires] => {
            let mut r = ip_record(rep, ip)?;
            r.dnsbl.push((zone.to_string(), Cached { value: flag(listed)?, expires: expires.parse()? }));
            put_ip(rep, ip, r)?;
        }
        ["uribl", domain, zone, listed, expires] => {
            let key = reputation::domain_key(domain);
            let mut d = match rep.records.get(&key) {
                Some(Record::Domain(d)) => d.clone(),
                _ => DomainRecord { domain: domain.to_string(), uribl: Vec::new() },
            };
            d.uribl.push((zone.to_string(), Cached { value: flag(listed)?, expires: expires.parse()? }));
            rep.records.insert(key, Record::Domain(d));
        }
        ["correspondent", address, messages, last] => {
            let c = Correspondent { address: address.to_string(), messages: messages.parse()?, last: last.parse()? };
            rep.records.insert(reputation::address_key(address), Record::Correspondent(c));
        }
        ["own", address, last] => {
            let o = OwnAddress { address: address.to_string(), last: last.parse()? };
            rep.records.insert(reputation::address_key(address), Record::Own(o));
        }
        ["sender", address, block, ham, spam, last] => {
            // The key is the address and any address of the block.
            let net: IpAddr = block.split_once('/').map_or("", |(ip, _)| ip).parse()?;
            let l = LearnedSender {
                address: address.to_string(),
                block: reputation::sender_block(net),
                ham: ham.parse()?,
                spam: spam.parse()?,
                last: last.parse()?,
            };
            anyhow::ensure!(l.block == *block, "bad block (expected {})", l.block);
            rep.records.insert(reputation::sender_key(address, net), Record::Sender(l));
        }
        _ => bail!("unknown line"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_reputation() -> Reputation {
        let mut rep = Reputation::default();
        let ip: IpAddr = "198.51.100.23".parse().unwrap();
        let r = IpRecord {
            first_seen: 1,
            last_seen: 2,
            last_spam: 2,
            spam: 3,
            ham: 1,
            honeypot: 1,
            manual: false,
            ptr: Some(Cached { value: Some("mail.example.net".into()), expires: 99 }),
            dnsbl: vec![("zen.example".into(), Cached { value: true, expires: 98 })],
        };
        rep.records.insert(crate::store::reputation::ip_key(ip), Record::Ip(r));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let m = IpRecord { manual: true, ptr: Some(Cached { value: None, expires: 5 }), ..IpRecord::default() };
        rep.records.insert(crate::store::reputation::ip_key(v6), Record::Ip(m));
        let d = DomainRecord {
            domain: "evil.example".into(),
            uribl: vec![("dbl.example".into(), Cached { value: false, expires: 7 })],
        };
        rep.records.insert(reputation::domain_key("evil.example"), Record::Domain(d));
        let c = Correspondent { address: "jan@klant.be".into(), messages: 4, last: 1000 };
        rep.records.insert(reputation::address_key("jan@klant.be"), Record::Correspondent(c));
        rep.add_own("Me@Mijn.be", 2000);
        rep.count_sender("Nieuws@Winkel.example", "198.51.100.7".parse().unwrap(), false, 1, 3000);
        rep.count_sender("a@b.example", "2001:db8:1:2::5".parse().unwrap(), true, 1, 3001);
        rep
    }

    #[test]
    fn round_trip() {
        let mut snap = Snapshot::default();
        snap.learn(&[1, 2, u64::MAX], Class::Spam, 20_000);
        snap.learn(&[2, 3], Class::Ham, 20_001);
        snap.set_ledger([0xab; 16], Some(Class::Spam.into()));
        snap.set_ledger([0xac; 16], Some(Learned { class: Class::Ham, received: Some(true) }));
        snap.set_ledger([0xad; 16], Some(Learned { class: Class::Spam, received: Some(false) }));
        let rep = sample_reputation();
        let mut out = Vec::new();
        write(&snap, &rep, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("spamfilt-dump 4\n"));
        assert!(text.ends_with("\nend tokens=8 reputation=10 lr=0\n"), "{text}");
        assert!(text.contains("token ffffffffffffffff 1 0 20000\n"), "{text}");
        assert!(text.contains("ip 198.51.100.23 1 2 2 3 1 1 -\n"), "{text}");
        assert!(text.contains("correspondent jan@klant.be 4 1000\n"), "{text}");
        assert!(text.contains("own me@mijn.be 2000\n"), "{text}");
        assert!(text.contains("sender nieuws@winkel.example 198.51.100.0/24 1 0 3000\n"), "{text}");
        assert!(text.contains("sender a@b.example 2001:db8:1::/48 0 1 3001\n"), "{text}");
        // An entry of unknown Received fields (from an older database) is written as older
        // versions wrote it.
        let hex = |b: &str| b.repeat(16);
        for l in [format!("ledger {} spam\n", hex("ab")), format!("ledger {} ham received\n", hex("ac"))] {
            assert!(text.contains(&l), "{text}");
        }
        assert!(text.contains(&format!("ledger {} spam no-received\n", hex("ad"))), "{text}");
        let back = read(Box::new(out.as_slice())).unwrap();
        assert_eq!(back.tokens.totals, snap.totals);
        assert_eq!(back.tokens.tokens, snap.tokens);
        assert_eq!(back.tokens.ledger, snap.ledger);
        assert_eq!(back.reputation.unwrap().records, rep.records);
    }

    #[test]
    fn lr_weights_round_trip_in_their_section() {
        let mut snap = Snapshot::default();
        snap.learn(&[1], Class::Spam, 20_000);
        snap.queue_lr(&[1; 16], &[3, 9, 100], None, Some(Class::Spam));
        snap.apply_lr();
        let mut out = Vec::new();
        write(&snap, &Reputation::default(), &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("\n[lr]\nlr 18 "), "{text}");
        assert!(text.contains("\nlrw 9 "), "{text}");
        let back = read(Box::new(out.as_slice())).unwrap();
        assert_eq!(back.tokens.lr, snap.lr);
        // Without weights there is no section; a weight before its table is an error naming the line.
        let mut out = Vec::new();
        write(&Snapshot::default(), &Reputation::default(), &mut out).unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("[lr]"));
        let bad = b"spamfilt-dump 2\n[tokens]\nmessages 0 1\n[lr]\nlrw 1 3ca3d70a\n";
        let err = read(Box::new(&bad[..])).unwrap_err();
        assert!(
            format!("{err:#}").contains("line 5") && format!("{err:#}").contains("before the 'lr' line"),
            "{err:#}"
        );
    }

    /// A dump with every section: tokens, ledger, reputation and LR weights.
    fn full_dump() -> Vec<u8> {
        let mut snap = Snapshot::default();
        snap.learn(&[1, 2, u64::MAX], Class::Spam, 20_000);
        snap.learn(&[2, 3], Class::Ham, 20_001);
        snap.set_ledger([0xab; 16], Some(Class::Spam.into()));
        snap.queue_lr(&[1; 16], &[3, 9, 100], None, Some(Class::Spam));
        snap.apply_lr();
        let mut out = Vec::new();
        write(&snap, &sample_reputation(), &mut out).unwrap();
        out
    }

    #[test]
    fn every_cut_of_a_dump_is_refused() {
        let whole = full_dump();
        let back = read(Box::new(whole.as_slice())).unwrap();
        assert!(back.checked && back.version == 4);
        assert!(back.tokens.lr.is_some() && back.reputation.is_some());
        // Every proper prefix, at every byte: in a line, between lines, in the end line, and
        // the end line without its line end.
        for cut in 0..whole.len() {
            let err = match read(Box::new(&whole[..cut])) {
                Ok(_) => panic!("a dump cut at byte {cut} of {} was loaded", whole.len()),
                Err(e) => format!("{e:#}"),
            };
            if cut > "spamfilt-dump 3\n".len() {
                assert!(err.starts_with("line "), "cut at {cut}: {err}");
            }
        }
        let err = format!("{:#}", read(Box::new(&whole[..whole.len() - 1])).unwrap_err());
        assert!(err.contains("ends inside this line"), "{err}");
        let text = String::from_utf8(whole.clone()).unwrap();
        let before_end = &text[..text.rfind("end ").unwrap()];
        let err = format!("{:#}", read(Box::new(before_end.as_bytes())).unwrap_err());
        let lines = before_end.lines().count();
        assert!(err.starts_with(&format!("line {lines}: the dump ends here without its end line")), "{err}");
        // A line lost, or added, in any section: the counts say so.
        for (drop, section) in
            [("\ntoken 0000000000000002 ", "tokens"), ("\ncorrespondent ", "reputation"), ("\nlrw 9 ", "lr")]
        {
            let at = text.find(drop).unwrap() + 1;
            let end = at + text[at..].find('\n').unwrap() + 1;
            let cut = format!("{}{}", &text[..at], &text[end..]);
            let err = format!("{:#}", read(Box::new(cut.as_bytes())).unwrap_err());
            assert!(err.contains(&format!("the end line says [{section}] holds")), "{err}");
        }
        let added = text.replace("[reputation]\n", "[reputation]\nown extra@mijn.be 1\n");
        assert!(format!("{:#}", read(Box::new(added.as_bytes())).unwrap_err())
            .contains("[reputation] holds 10 lines, but 11"));
        // Two dumps run together, a section it does not know, a malformed end line.
        let twice = format!("{text}{text}");
        assert!(format!("{:#}", read(Box::new(twice.as_bytes())).unwrap_err()).contains("more after the end line"));
        let newer = text.replace(" lr=", " bayes2=0 lr=");
        assert!(format!("{:#}", read(Box::new(newer.as_bytes())).unwrap_err()).contains("section [bayes2]"));
        let bad = text.replace(" lr=", " lr");
        assert!(format!("{:#}", read(Box::new(bad.as_bytes())).unwrap_err()).contains("malformed end line"));
        // Comments and blank lines after the end line are no harm.
        let commented = format!("{text}\n# kept 2026-12-02\n");
        assert!(read(Box::new(commented.as_bytes())).unwrap().checked);
    }

    #[test]
    fn version_2_dumps_still_load_unchecked() {
        let v2 = b"spamfilt-dump 2\n[tokens]\nmessages 0 1\ntoken 0000000000000001 1 0 20000\n[reputation]\n";
        let back = read(Box::new(&v2[..])).unwrap();
        assert!(!back.checked && back.version == 2);
        assert_eq!(back.tokens.tokens.len(), 1);
        assert!(back.reputation.is_some());
        // An end line belongs to version 3: in version 2 it is a malformed line.
        let with_end = b"spamfilt-dump 2\n[tokens]\nmessages 0 1\nend tokens=1 reputation=0 lr=0\n";
        assert!(format!("{:#}", read(Box::new(&with_end[..])).unwrap_err()).contains("line 4: malformed"));
    }

    /// Attack report F16: a version 3 dump holds IPv6 reputation per address; it loads merged
    /// into the /64s (counts summed, the latest times), each address keeping its own cached
    /// DNS answers, and version 4 writes the /64 as `2001:db8:1:2::/64`.
    #[test]
    fn ipv6_addresses_of_older_dumps_are_merged_into_their_64() {
        let v3 = "spamfilt-dump 3\n[tokens]\nmessages 0 1\n[reputation]\n\
                  ip 2001:db8:1:2::5 10 300 300 2 0 1 -\nptr 2001:db8:1:2::5 999 h5.example\n\
                  ip 2001:db8:1:2::6 5 200 200 1 1 2 manual\nip 192.0.2.1 1 2 2 1 0 0 -\n\
                  end tokens=1 reputation=4 lr=0\n";
        let back = read(Box::new(v3.as_bytes())).unwrap();
        let rep = back.reputation.unwrap();
        use crate::store::reputation::ReputationLookup as _;
        let r = rep.ip("2001:db8:1:2::77".parse().unwrap()).unwrap();
        assert_eq!((r.spam, r.ham, r.honeypot, r.manual, r.first_seen, r.last_seen), (3, 1, 3, true, 5, 300));
        let mut out = Vec::new();
        write(&Snapshot::default(), &rep, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("spamfilt-dump 4\n"), "{text}");
        assert!(text.contains("\nip 2001:db8:1:2::/64 5 300 300 3 1 3 manual\n"), "{text}");
        assert!(text.contains("\nptr 2001:db8:1:2::5 999 h5.example\n"), "{text}");
        assert!(!text.contains("ip 2001:db8:1:2::5 "), "{text}");
        assert!(text.contains("\nip 192.0.2.1 1 2 2 1 0 0 -\n"), "{text}");
        let again = read(Box::new(text.as_bytes())).unwrap().reputation.unwrap();
        assert_eq!(again.records, rep.records);
        // A /64 must be one, and only IPv6.
        for bad in
            ["ip 192.0.2.0/64 1 2 2 1 0 0 -", "ip 2001:db8:1:2::5/64 1 2 2 1 0 0 -", "ip 2001:db8::/48 1 2 2 1 0 0 -"]
        {
            let d = format!(
                "spamfilt-dump 4\n[tokens]\nmessages 0 1\n[reputation]\n{bad}\nend tokens=1 reputation=1 lr=0\n"
            );
            let e = format!("{:#}", read(Box::new(d.as_bytes())).unwrap_err());
            assert!(e.contains("line 5: malformed"), "{bad}: {e}");
        }
        let e = format!("{:#}", read(Box::new(&b"spamfilt-dump 5\n"[..])).unwrap_err());
        assert!(e.contains("newer spamfilt"), "{e}");
    }

    #[test]
    fn version_1_dumps_still_load() {
        let v1 = b"spamfilt-dump 1\nmessages 1 2\ntoken 0000000000000001 1 0 20000\nledger abababababababababababababababab spam\n";
        let back = read(Box::new(&v1[..])).unwrap();
        assert_eq!(back.tokens.totals, Totals { ham: 1, spam: 2 });
        assert_eq!(back.tokens.tokens.len(), 1);
        assert!(back.reputation.is_none());
        assert!(!back.checked && back.version == 1);
    }

    #[test]
    fn errors_name_the_line() {
        let err = read(Box::new(&b"spamfilt-dump 1\nmessages 1 2\ntoken zz 1 2 3\n"[..])).unwrap_err();
        assert!(format!("{err:#}").starts_with("line 3: malformed"), "{err:#}");
        assert!(read(Box::new(&b"hello\n"[..])).is_err());
        assert!(read(Box::new(&b""[..])).is_err());
        assert!(read(Box::new(&b"spamfilt-dump 1\n"[..])).unwrap_err().to_string().contains("messages"));
        let err = read(Box::new(&b"spamfilt-dump 2\n[tokens]\nmessages 1 1\n[weights]\nw 1\n"[..])).unwrap_err();
        assert!(err.to_string().contains("line 4: unknown section [weights]"), "{err}");
        let err =
            read(Box::new(&b"spamfilt-dump 2\n[reputation]\nip 1.2.3.4 x\n[tokens]\nmessages 0 0\n"[..])).unwrap_err();
        assert!(err.to_string().starts_with("line 3: malformed"), "{err}");
    }
}
