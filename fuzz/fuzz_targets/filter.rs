//! Fuzz target: parse → features → rules + Bayes → verdict → rewrite, exactly as `spamfilt
//! filter` runs it (filter::process), on arbitrary bytes.
//!
//! Asserted on every input:
//! - nothing panics (a panic in the filter is caught and passed through, but it is a bug);
//! - pass-through: with every `X-Spam-*` field taken out of both, the output is the input byte
//!   for byte (plus the one line end added when the header block had none);
//! - the fields we add are exactly X-Spam-Status and X-Spam-Level (and X-Spam-Flag on spam),
//!   once each, and no value contains a control character (no forged line breaks).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use spamfilt::verdict::ScoringSettings;
use spamfilt::features::TokenizerSettings;
use spamfilt::lists::AddressList;
use spamfilt::rules::{RuleSet, RuleSettings};
use spamfilt::scoring::{Scorer, SenderContext};
use spamfilt::sender::SenderSettings;
use spamfilt::store::reputation::Reputation;

const NOW: u64 = 1_800_000_000;

struct Fixed {
    scoring: ScoringSettings,
    tokenizer: TokenizerSettings,
    rules: RuleSet,
    sender: SenderSettings,
    reputation: Reputation,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| Fixed {
        scoring: ScoringSettings::default(),
        tokenizer: TokenizerSettings::default(),
        rules: RuleSet::load(&RuleSettings::default()).expect("default rules load"),
        // Lists, a honeypot and a reputation database, so the sender path is fuzzed too
        // (no DNS: the fuzzer must not wait on the network).
        sender: SenderSettings {
            allow: AddressList::parse("friend@example.org\n*.school.example\n").unwrap(),
            block: AddressList::parse("@spammer.example\n").unwrap(),
            honeypots: AddressList::parse("trap@example.net\n").unwrap(),
            ip_expire_days: 30,
            ..SenderSettings::default()
        },
        reputation: {
            let mut r = Reputation::default();
            r.count_learned("192.0.2.1".parse().unwrap(), true, 1, NOW);
            r.add_correspondent("colleague@example.com", NOW);
            r
        },
    })
}

fuzz_target!(init: {
    // libfuzzer-sys aborts on any panic, even one that is caught: spamfilt catches mail-parser's
    // panics on purpose (message.rs), so restore the default hook. A panic that escapes this
    // closure still aborts the run (libfuzzer-sys checks for it).
    let _ = std::panic::take_hook();
}, |input: &[u8]| {
    let f = fixed();
    let scorer = Scorer {
        scoring: &f.scoring,
        tokenizer: &f.tokenizer,
        db: None,
        starter: spamfilt::starter::Starter::embedded(),
        rules: Some(&f.rules),
        use_bayes: true,
        lr: None,
        sender: Some(SenderContext {
            settings: &f.sender,
            reputation: Some(&f.reputation),
            resolver: &spamfilt::dns::CacheOnly,
            now: NOW,
        }),
    };
    let filtered = spamfilt::filter::process(&scorer, input);
    let Some(output) = filtered.output(input) else { return };

    // Pass-through.
    let expected = strip_spam_fields(input);
    let got = strip_spam_fields(&output);
    if got != expected {
        // The line end of the first header line, as rewrite.rs picks it: an mbox `From ` line
        // is the delivery agent's envelope, not the message's own style.
        let headers = if input.starts_with(b"From ") { &input[first_line(input).len()..] } else { input };
        let eol: &[u8] = if first_line(headers).ends_with(b"\r\n") { b"\r\n" } else { b"\n" };
        // Or one empty LF line before a CR LF line that ends a header block of LF lines (what
        // the filter writes there for procmail's sake: docs/reliability.md, attack report F8).
        let mut at_end = expected.clone();
        at_end.extend_from_slice(eol);
        let k = expected.iter().zip(&got).position(|(a, b)| a != b).unwrap_or(expected.len());
        let lf_before_crlf = got.len() == expected.len() + 1
            && k > 0
            && expected[k - 1] == b'\n'
            && got[k] == b'\n'
            && expected[k..].starts_with(b"\r\n")
            && got[k + 1..] == expected[k..];
        assert!(got == at_end || lf_before_crlf, "the output is not the input plus our fields");
    }

    // Our fields: the X-Spam-* fields of the output, as whole (unfolded) fields.
    let ours = spam_fields(&output);
    let names: Vec<String> = ours.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    let want: &[&str] = if filtered.is_spam {
        &["x-spam-flag", "x-spam-status", "x-spam-level"]
    } else {
        &["x-spam-status", "x-spam-level"]
    };
    let mut sorted = names.clone();
    sorted.sort();
    let mut want_sorted: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want_sorted.sort();
    assert_eq!(sorted, want_sorted, "unexpected X-Spam fields in the output");
    for (name, value) in &ours {
        assert!(
            !value.iter().any(|&b| b.is_ascii_control() && b != b'\t'),
            "control character in our {name} value"
        );
    }
});

fn first_line(raw: &[u8]) -> &[u8] {
    let end = raw.iter().position(|&b| b == b'\n').map_or(raw.len(), |i| i + 1);
    &raw[..end]
}

/// Splits the header block into lines, as delivery agents read it: an mbox `From ` first line
/// is not a field; the block ends at the first empty line.
fn header_lines(msg: &[u8]) -> impl Iterator<Item = (usize, &[u8], bool)> {
    let mut in_header = true;
    msg.split_inclusive(|&b| b == b'\n').enumerate().map(move |(i, line)| {
        let was = in_header;
        if in_header && (line == b"\n" || line == b"\r\n") {
            in_header = false;
        }
        (i, line, was && in_header)
    })
}

/// Independent of src/rewrite.rs on purpose: every header line whose field name starts
/// `X-Spam-` (any case), with its continuation lines, removed; everything else kept.
fn strip_spam_fields(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut skipping = false;
    for (i, line, header) in header_lines(msg) {
        if header && !(i == 0 && line.starts_with(b"From ")) {
            if line[0] == b' ' || line[0] == b'\t' {
                if skipping {
                    continue;
                }
            } else {
                skipping = is_spam_field(line);
                if skipping {
                    continue;
                }
            }
        } else if !header {
            skipping = false;
        }
        out.extend_from_slice(line);
    }
    out
}

fn is_spam_field(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else { return false };
    let name = line[..colon].trim_ascii_end();
    name.len() > 7 && name[..7].eq_ignore_ascii_case(b"x-spam-")
}

/// The X-Spam-* fields of a header block: name and the unfolded value (line ends removed).
fn spam_fields(msg: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    let mut current = false;
    for (i, line, header) in header_lines(msg) {
        if !header || (i == 0 && line.starts_with(b"From ")) {
            current = false;
            continue;
        }
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if line[0] == b' ' || line[0] == b'\t' {
            if current {
                fields.last_mut().unwrap().1.extend_from_slice(body);
            }
            continue;
        }
        current = is_spam_field(line);
        if current {
            let colon = body.iter().position(|&b| b == b':').unwrap();
            let name = String::from_utf8_lossy(body[..colon].trim_ascii_end()).into_owned();
            fields.push((name, body[colon + 1..].to_vec()));
        }
    }
    fields
}
