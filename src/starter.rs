//! The starter table: token counts built into the binary from public-domain mail (the
//! SpamAssassin public corpus), so Bayes says something useful before the user has trained
//! anything.
//!
//! Blending rule. Let `u = min(user ham learned, user spam learned)` and `F = starter_fade`
//! (default 200). The starter's weight is `w = max(0, 1 − u/F)`. Its counts are scaled so
//! that at full weight it counts as `F` ham and `F` spam messages (each class scaled on its
//! own, which keeps every token's per-class frequency), times `w`. So with nothing trained the
//! starter alone decides; after 100 ham and 100 spam the user's mail and the starter weigh the
//! same; from 200 of each on, only the user's mail counts.
//!
//! Format of `data/starter.bin` (little endian): magic `SFSTART1`, u64 tokenizer fingerprint,
//! u64 ham messages, u64 spam messages, u64 record count, then records sorted by token hash:
//! u64 hash, u16 spam count, u16 ham count. Built by `cargo run --release --example
//! build_starter` (see scripts/build-starter.sh). The fingerprint ties it to the tokenizer: a
//! test fails when the tokenizer has changed since the table was built.

use crate::bayes::{Evidence, Totals};
use crate::features::{self, TokenizerSettings};
use crate::message::Message;
use crate::store::token_hash;

const MAGIC: &[u8; 8] = b"SFSTART1";
const HEADER: usize = 8 + 4 * 8;
const RECORD: usize = 12;

static EMBEDDED: &[u8] = include_bytes!("../data/starter.bin");

/// A parsed view of a starter table.
#[derive(Debug, Clone, Copy)]
pub struct Starter<'a> {
    pub fingerprint: u64,
    pub totals: Totals,
    records: &'a [u8],
}

impl<'a> Starter<'a> {
    /// Parses a table; `None` if it is malformed or empty.
    pub fn parse(bytes: &'a [u8]) -> Option<Starter<'a>> {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return None;
        }
        let word = |i: usize| u64::from_le_bytes(bytes[8 + 8 * i..16 + 8 * i].try_into().expect("8 bytes"));
        let n = word(3) as usize;
        let records = &bytes[HEADER..];
        if records.len() != n.checked_mul(RECORD)? || n == 0 {
            return None;
        }
        Some(Starter { fingerprint: word(0), totals: Totals { ham: word(1), spam: word(2) }, records })
    }

    /// The table built into this binary, if it has one.
    pub fn embedded() -> Option<Starter<'static>> {
        Starter::parse(EMBEDDED)
    }

    pub fn len(&self) -> usize {
        self.records.len() / RECORD
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn hash_at(&self, i: usize) -> u64 {
        u64::from_le_bytes(self.records[i * RECORD..i * RECORD + 8].try_into().expect("8 bytes"))
    }

    /// (spam, ham) counts of a token hash; zeros when absent.
    pub fn counts(&self, hash: u64) -> (u32, u32) {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.hash_at(mid).cmp(&hash) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let r = &self.records[mid * RECORD + 8..mid * RECORD + 12];
                    return (u16::from_le_bytes([r[0], r[1]]) as u32, u16::from_le_bytes([r[2], r[3]]) as u32);
                }
            }
        }
        (0, 0)
    }

    /// The starter's weight given what the user has learned (see the module notes).
    pub fn weight(user: Totals, fade: u64) -> f64 {
        if fade == 0 {
            return 0.0;
        }
        (1.0 - user.ham.min(user.spam) as f64 / fade as f64).max(0.0)
    }

    /// Per-class scale factors that make the table count as `fade` messages per class, times
    /// `weight`.
    pub fn scales(&self, weight: f64, fade: u64) -> Evidence {
        Evidence {
            spam: weight * fade as f64 / self.totals.spam.max(1) as f64,
            ham: weight * fade as f64 / self.totals.ham.max(1) as f64,
        }
    }

    /// Serializes a table from (hash, spam, ham) records (sorted here; counts saturate at u16).
    pub fn build(fingerprint: u64, totals: Totals, mut records: Vec<(u64, u32, u32)>) -> Vec<u8> {
        records.sort_unstable_by_key(|r| r.0);
        records.dedup_by_key(|r| r.0);
        let mut out = Vec::with_capacity(HEADER + records.len() * RECORD);
        out.extend_from_slice(MAGIC);
        for w in [fingerprint, totals.ham, totals.spam, records.len() as u64] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        for (h, s, hm) in records {
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&(s.min(u16::MAX as u32) as u16).to_le_bytes());
            out.extend_from_slice(&(hm.min(u16::MAX as u32) as u16).to_le_bytes());
        }
        out
    }
}

/// A fixed sample message whose tokens identify the tokenizer's behaviour.
const FINGERPRINT_SAMPLE: &[u8] = b"From: \"Jan Peeters\" <jan@klant.be>\r\n\
Subject: =?utf-8?q?Gratis_lening_=E2=82=AC500?= FREE offer\r\n\
Reply-To: promo@deals.example\r\nX-Mailer: Microsoft Outlook Express 6.00\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Klik hier: http://www.deals.example/win?id=1234 v.i.a.g.r.a 2026-11-22 \xe5\x85\x8d\xe8\xb4\xb9\xe8\xb5\xa0\xe9\x80\x81\r\n\
--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<p style=\"display:none\">hidden words</p><a href=\"http://1.2.3.4/x\">click</a><img src=\"http://t.example/p.gif\" width=1 height=1>\r\n\
--b--\r\n";

/// A hash of the tokens the current tokenizer (with default settings) makes of a fixed sample.
pub fn tokenizer_fingerprint() -> u64 {
    let msg = Message::parse(FINGERPRINT_SAMPLE, 1 << 20);
    let mut tokens: Vec<&str> = Vec::new();
    let all = features::tokenize(&msg, &TokenizerSettings::default());
    tokens.extend(all.iter());
    tokens.sort();
    token_hash(&tokens.join("\u{1f}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_parses_and_looks_up() {
        let bytes = Starter::build(7, Totals { ham: 10, spam: 5 }, vec![(30, 1, 2), (10, 3, 0), (20, 0, 70_000)]);
        let st = Starter::parse(&bytes).unwrap();
        assert_eq!((st.fingerprint, st.totals, st.len()), (7, Totals { ham: 10, spam: 5 }, 3));
        assert_eq!(st.counts(10), (3, 0));
        assert_eq!(st.counts(20), (0, 65_535));
        assert_eq!(st.counts(30), (1, 2));
        assert_eq!(st.counts(25), (0, 0));
        assert!(Starter::parse(&bytes[..bytes.len() - 1]).is_none());
        assert!(Starter::parse(b"garbage").is_none());
    }

    #[test]
    fn weight_fades_with_the_users_own_mail() {
        assert_eq!(Starter::weight(Totals { ham: 0, spam: 0 }, 200), 1.0);
        assert_eq!(Starter::weight(Totals { ham: 500, spam: 100 }, 200), 0.5);
        assert_eq!(Starter::weight(Totals { ham: 200, spam: 900 }, 200), 0.0);
        assert_eq!(Starter::weight(Totals { ham: 0, spam: 0 }, 0), 0.0);
    }

    #[test]
    fn embedded_table_has_no_trace_tokens() {
        // The gate reads the user's own count of the marker; the Received words count only from
        // the user's training (examples/build_starter.rs leaves them out).
        let st = Starter::embedded().expect("data/starter.bin");
        assert_eq!(st.counts(token_hash(features::TRACE_MARKER)), (0, 0));
        let raw = b"Received: from mail.example.org (mail.example.org [192.0.2.1]) by mx.example.net with ESMTP id 1; Mon, 2 Sep 2002 10:00:00 +0100\nFrom: a@example.org\nSubject: hi\n\nhello\n";
        let t = features::tokenize(&Message::parse(raw, 1 << 20), &TokenizerSettings::default());
        assert!(t.len() > t.trace_start() + 5);
        for i in t.trace_start()..t.len() {
            assert_eq!(st.counts(t.hashes()[i]), (0, 0), "{}", t.get(i));
        }
    }

    #[test]
    fn embedded_table_matches_the_tokenizer() {
        // When this fails the tokenizer changed: rebuild the table with scripts/build-starter.sh.
        let st = Starter::embedded().expect("data/starter.bin is missing or empty: run scripts/build-starter.sh");
        assert_eq!(st.fingerprint, tokenizer_fingerprint(), "data/starter.bin is stale: run scripts/build-starter.sh");
    }
}
