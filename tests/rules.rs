//! Every default rule fires on a message written for it, and ordinary messages fire none.
//! The messages are in tests/fixtures/rules/cases.txt (format described at its top).

use std::collections::{BTreeMap, BTreeSet};

use spamfilt::features::{Content, TokenizerSettings};
use spamfilt::lists::AddressList;
use spamfilt::message::Message;
use spamfilt::rules::{Context, Family, RuleSet, RuleSettings};
use spamfilt::sender::{self, DnsSettings, SenderSettings};
use spamfilt::store::reputation::{Cached, DnsAnswers, Reputation};

struct Case {
    rule: String,
    lang: String,
    raw: Vec<u8>,
}

const DEFAULT_HEADERS: &[(&str, &str)] = &[
    ("From", "Jan Peeters <jan@klant.be>"),
    ("To", "piet@example.nl"),
    ("Subject", "overleg"),
    ("Date", "Mon, 23 Nov 2026 10:00:00 +0100"),
    ("Message-ID", "<20261123.abc@klant.be>"),
    ("MIME-Version", "1.0"),
    ("Content-Type", "text/plain; charset=utf-8"),
];

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rules/cases.txt")).unwrap();
    let mut out = Vec::new();
    for section in text.split("\n=== ").skip(1) {
        let (head, body) = section.split_once('\n').unwrap();
        let mut words = head.split_whitespace();
        let rule = words.next().unwrap().to_string();
        let lang = words.next().expect("language").to_string();
        let verbatim = words.next() == Some("verbatim");
        // Drop trailing comment lines and blank lines between cases.
        let mut lines: Vec<&str> = body.lines().collect();
        while lines.last().is_some_and(|l| l.is_empty() || l.starts_with('#')) {
            lines.pop();
        }
        let msg = lines.join("\n") + "\n";
        let (headers, rest) = msg.split_once("\n\n").unwrap_or((msg.as_str(), ""));
        let headers = if headers.trim().is_empty() { "" } else { headers };
        let mut full = String::new();
        if !verbatim {
            for (name, value) in DEFAULT_HEADERS {
                let given = headers
                    .lines()
                    .any(|l| l.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase())));
                if !given {
                    full.push_str(&format!("{name}: {value}\n"));
                }
            }
        }
        if !headers.is_empty() {
            full.push_str(headers);
            full.push('\n');
        }
        full.push('\n');
        full.push_str(rest);
        out.push(Case { rule, lang, raw: full.into_bytes() });
    }
    out
}

fn rule_set() -> RuleSet {
    let settings = RuleSettings { uri_blocklist: ["evil.example".to_string()].into(), ..RuleSettings::default() };
    RuleSet::load(&settings).unwrap()
}

/// What the sender rules see: lists, a honeypot, and a reputation database holding a known
/// spam source, a correspondent, a learned sender and cached DNS blocklist answers (so no DNS
/// server is needed).
fn sender_settings(with_dns: bool) -> SenderSettings {
    SenderSettings {
        allow: AddressList::parse("vriend@klant.be\n").unwrap(),
        block: AddressList::parse("@spammer.example\n").unwrap(),
        honeypots: AddressList::parse("oud@mijndomein.be\n").unwrap(),
        ip_expire_days: 30,
        dns: with_dns.then(|| DnsSettings {
            resolver: "127.0.0.1:9".parse().unwrap(),
            timeout_ms: 50,
            dnsbl: vec!["zen.example".into()],
            uribl: vec!["uribl.example".into()],
            ptr: false,
        }),
        ..SenderSettings::default()
    }
}

fn reputation(now: u64) -> Reputation {
    let mut rep = Reputation::default();
    for _ in 0..5 {
        rep.count_learned("198.51.100.66".parse().unwrap(), true, 1, now);
    }
    rep.add_correspondent("collega@partner.be", now);
    // A learned sender: ham from this address through 192.0.2.0/24.
    for _ in 0..2 {
        rep.count_sender("nieuws@winkel.example", "192.0.2.40".parse().unwrap(), false, 1, now);
    }
    let listed = Cached { value: true, expires: now + 3600 };
    rep.merge_dns(
        &DnsAnswers {
            dnsbl: vec![("198.51.100.77".parse().unwrap(), "zen.example".into(), listed.clone())],
            uribl: vec![("badlinks.example".into(), "uribl.example".into(), listed)],
            ..DnsAnswers::default()
        },
        now,
    );
    rep
}

fn fired(rs: &RuleSet, raw: &[u8]) -> Vec<String> {
    let msg = Message::parse(raw, 512 * 1024);
    let content = Content::extract(&msg, &TokenizerSettings::default());
    let cx = Context::new(&msg, &content);
    let now = 2_000_000_000;
    // DNS only where the case's answers are cached: nothing is ever asked.
    let text = String::from_utf8_lossy(raw);
    let settings = sender_settings(text.contains("198.51.100.77") || text.contains("badlinks.example"));
    let rep = reputation(now);
    let mut facts = sender::gather(&msg, &cx.link_domains(), &settings, Some(&rep), &spamfilt::dns::CacheOnly, now);
    facts.list = sender::list_verdict(&msg, &settings);
    rs.evaluate(&cx.with_sender(&facts)).into_iter().map(|h| h.name.into_owned()).collect()
}

#[test]
fn every_rule_fires_on_its_message() {
    let rs = rule_set();
    let mut failures = Vec::new();
    for c in cases().iter().filter(|c| c.rule != "NONE") {
        let hits = fired(&rs, &c.raw);
        if !hits.contains(&c.rule) {
            failures.push(format!(
                "{} ({}) did not fire; fired: {hits:?}\n{}",
                c.rule,
                c.lang,
                String::from_utf8_lossy(&c.raw)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n----\n"));
}

#[test]
fn ordinary_messages_fire_nothing() {
    let rs = rule_set();
    let none: Vec<Case> = cases().into_iter().filter(|c| c.rule == "NONE").collect();
    assert!(none.iter().any(|c| c.lang == "en") && none.iter().any(|c| c.lang == "nl"));
    for c in none {
        let hits = fired(&rs, &c.raw);
        assert!(hits.is_empty(), "an ordinary {} message fired {hits:?}", c.lang);
    }
}

#[test]
fn every_rule_has_a_case_and_every_family_both_languages() {
    let rs = rule_set();
    let cases = cases();
    let covered: BTreeSet<&str> = cases.iter().map(|c| c.rule.as_str()).collect();
    let missing: Vec<&str> = rs.rules.iter().map(|r| r.name.as_ref()).filter(|n| !covered.contains(n)).collect();
    assert!(missing.is_empty(), "rules without a test message: {missing:?}");
    let mut langs: BTreeMap<Family, BTreeSet<&str>> = BTreeMap::new();
    for c in &cases {
        if let Some(r) = rs.rules.iter().find(|r| r.name == c.rule) {
            langs.entry(r.family).or_default().insert(c.lang.as_str());
        }
    }
    for (family, l) in langs {
        assert!(l.contains("en") && l.contains("nl"), "family {family:?} has messages in {l:?} only");
    }
    assert!(rs.rules.len() >= 100, "only {} rules", rs.rules.len());
}
