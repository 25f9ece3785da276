//! Whole-word phrase matching for keyword rules (words as `words` splits them): a phrase matches
//! where its words occur consecutively. Scanning is one hash and one binary search per word of
//! text, so the cost stays flat however many keyword rules there are.
//!
//! The default rules' index is built by build.rs into static data (`BUILT_IN_PHRASES` in
//! rules/mod.rs), so a delivery builds nothing; only custom phrase rules from the config file
//! are indexed at load time.

use std::borrow::Cow;

use super::words::{normalize, split_phrase, words};
use crate::hash::{token_hash, token_hash_ascii_lower};

/// Every phrase as an entry sorted by the hash of its first word, its remaining words kept in
/// one shared string.
#[derive(Default)]
pub struct PhraseIndex {
    entries: Cow<'static, [Entry]>,
    /// The remaining words of every phrase, each phrase's separated by single spaces.
    rest: Cow<'static, str>,
    /// A bit per `first & (FILTER_BITS - 1)`: most words of a text start no phrase, and one
    /// bit test tells so without searching the entries.
    filter: Cow<'static, [u64]>,
}

/// Size of the first-word filter in bits.
pub const FILTER_BITS: usize = 8192;

/// The first-word filter of a set of first-word hashes.
pub fn filter_of(firsts: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut bits = vec![0u64; FILTER_BITS / 64];
    for h in firsts {
        let b = h as usize & (FILTER_BITS - 1);
        bits[b / 64] |= 1 << (b % 64);
    }
    bits
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub(crate) first: u64,
    pub(crate) rule: u32,
    pub(crate) id: u32,
    pub(crate) rest: (u32, u32),
}

impl PhraseIndex {
    /// An index built ahead of time (entries sorted by `first`).
    pub const fn fixed(entries: &'static [Entry], rest: &'static str, filter: &'static [u64]) -> PhraseIndex {
        PhraseIndex { entries: Cow::Borrowed(entries), rest: Cow::Borrowed(rest), filter: Cow::Borrowed(filter) }
    }

    /// Builds an index from `(rule, phrase)` pairs; a phrase's id is its position in the list.
    pub fn build<'p>(phrases: impl IntoIterator<Item = (usize, &'p str)>) -> PhraseIndex {
        let mut entries = Vec::new();
        let mut rest = String::new();
        for (id, (rule, phrase)) in phrases.into_iter().enumerate() {
            let Some((first, others)) = split_phrase(phrase) else { continue };
            let start = rest.len() as u32;
            rest.push_str(&others);
            entries.push(Entry {
                first: token_hash(&first),
                rule: rule as u32,
                id: id as u32,
                rest: (start, rest.len() as u32),
            });
        }
        entries.sort_by_key(|e| e.first);
        let filter = filter_of(entries.iter().map(|e| e.first));
        PhraseIndex { entries: Cow::Owned(entries), rest: Cow::Owned(rest), filter: Cow::Owned(filter) }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Calls `found(rule, phrase id)` for every phrase occurrence in `text`.
    pub fn scan(&self, text: &str, mut found: impl FnMut(usize, usize)) {
        if self.entries.is_empty() {
            return;
        }
        if text.is_ascii() {
            return self.scan_ascii(text.as_bytes(), found);
        }
        let norm = normalize(text);
        let ws: Vec<&str> = words(&norm).collect();
        for (i, w) in ws.iter().enumerate() {
            let h = token_hash(w);
            let b = h as usize & (FILTER_BITS - 1);
            if self.filter[b / 64] & (1 << (b % 64)) == 0 {
                continue;
            }
            let from = self.entries.partition_point(|e| e.first < h);
            for e in self.entries[from..].iter().take_while(|e| e.first == h) {
                let rest = &self.rest[e.rest.0 as usize..e.rest.1 as usize];
                let mut next = i + 1;
                let matched = rest.is_empty()
                    || rest.split(' ').all(|r| {
                        let ok = ws.get(next) == Some(&r);
                        next += 1;
                        ok
                    });
                if matched {
                    found(e.rule as usize, e.id as usize);
                }
            }
        }
    }

    /// `scan` for ASCII text: the same words, found on bytes and hashed as if lower-cased,
    /// without making a lower-case copy of the text.
    fn scan_ascii(&self, text: &[u8], mut found: impl FnMut(usize, usize)) {
        let is_word = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'\'' | b'$' | b'%' | b'+' | b'-');
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(text.len() / 4);
        let mut i = 0;
        while i < text.len() {
            if !is_word(text[i]) {
                i += 1;
                continue;
            }
            let mut start = i;
            while i < text.len() && is_word(text[i]) {
                i += 1;
            }
            let mut end = i;
            while start < end && matches!(text[start], b'\'' | b'-') {
                start += 1;
            }
            while end > start && matches!(text[end - 1], b'\'' | b'-') {
                end -= 1;
            }
            if start < end {
                spans.push((start, end));
            }
        }
        for (k, &(s, e)) in spans.iter().enumerate() {
            let h = token_hash_ascii_lower(&text[s..e]);
            let b = h as usize & (FILTER_BITS - 1);
            if self.filter[b / 64] & (1 << (b % 64)) == 0 {
                continue;
            }
            let from = self.entries.partition_point(|e| e.first < h);
            for e in self.entries[from..].iter().take_while(|e| e.first == h) {
                let rest = &self.rest[e.rest.0 as usize..e.rest.1 as usize];
                let mut next = k + 1;
                let matched = rest.is_empty()
                    || rest.split(' ').all(|r| {
                        // The phrase's words are lower case already.
                        let ok = spans.get(next).is_some_and(|&(s, e)| text[s..e].eq_ignore_ascii_case(r.as_bytes()));
                        next += 1;
                        ok
                    });
                if matched {
                    found(e.rule as usize, e.id as usize);
                }
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn parts(&self) -> (&[Entry], &str, &[u64]) {
        (&self.entries, &self.rest, &self.filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(phrases: &[&str], text: &str) -> Vec<usize> {
        let ix = PhraseIndex::build(phrases.iter().map(|p| (0, *p)));
        let mut out = Vec::new();
        ix.scan(text, |_, id| out.push(id));
        out
    }

    #[test]
    fn whole_words_case_insensitive_across_punctuation() {
        assert_eq!(hits(&["click here"], "Please CLICK\n HERE."), vec![0]);
        assert_eq!(hits(&["click here"], "clicking here"), Vec::<usize>::new());
        assert_eq!(hits(&["lening"], "leningen"), Vec::<usize>::new());
        assert_eq!(hits(&["100% free"], "It is 100% FREE!"), vec![0]);
        assert_eq!(hits(&["don't delete"], "Don\u{2019}t delete this"), vec![0]);
        assert_eq!(hits(&["e-mail marketing"], "E-mail marketing"), vec![0]);
        assert_eq!(hits(&["bill s. 1618"], "under Bill S.1618 Title III"), vec![0]);
        assert_eq!(hits(&["gratis", "lening"], "gratis lening"), vec![0, 1]);
    }

    /// The ASCII scan finds what the general one does (the general one is the oracle: it is
    /// run on the same text with a non-ASCII separator appended, which adds no word).
    #[test]
    fn ascii_scan_agrees_with_the_general_scan() {
        let phrases = [
            "click here",
            "100% free",
            "don't delete",
            "e-mail marketing",
            "act now",
            "$$$",
            "no cost no obligation",
            "winner",
            "re-finance",
            "bill s. 1618",
            "€50 bonus",
        ];
        let ix = PhraseIndex::build(phrases.iter().map(|p| (0, *p)));
        let alphabet: &[u8] = b"abcdefghiklnortwACEHKLNORW0156 \t\n.-'$%+!?,;:\"<>/";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut found = 0;
        for round in 0..3000 {
            let mut text = String::new();
            for _ in 0..(next() % 40) {
                if next() % 3 == 0 {
                    let p = phrases[next() as usize % phrases.len()];
                    let p = if round % 2 == 0 { p.to_ascii_uppercase() } else { p.to_string() };
                    text.push_str(&p.replace(' ', if next() % 2 == 0 { " " } else { " -\n" }));
                } else {
                    text.push(alphabet[next() as usize % alphabet.len()] as char);
                }
            }
            let (mut ascii, mut general) = (Vec::new(), Vec::new());
            ix.scan(&text, |r, id| ascii.push((r, id)));
            ix.scan(&format!("{text} \u{ab}"), |r, id| general.push((r, id)));
            assert_eq!(ascii, general, "{text:?}");
            found += ascii.len();
        }
        assert!(found > 1000, "the texts must contain phrases ({found} found)");
    }
}
