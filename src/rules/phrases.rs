//! Whole-word phrase matching for keyword rules (words as `words` splits them): a phrase matches
//! where its words occur consecutively. Scanning is one hash and one binary search per word of
//! text, so the cost stays flat however many keyword rules there are.
//!
//! The default rules' index is built by build.rs into static data (`BUILT_IN_PHRASES` in
//! rules/mod.rs), so a delivery builds nothing; only custom phrase rules from the config file
//! are indexed at load time.

use std::borrow::Cow;

use super::words::{normalize, split_phrase};
use crate::hash::phrase_word_hash;

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
                first: phrase_word_hash(first.as_bytes()),
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
    pub fn scan(&self, text: &str, found: impl FnMut(usize, usize)) {
        if self.entries.is_empty() {
            return;
        }
        // ASCII is lower-cased as it is hashed and compared; other text is normalized first.
        if text.is_ascii() {
            self.scan_words(text, found);
        } else {
            self.scan_words(&normalize(text), found);
        }
    }

    /// `scan` on text that is ASCII or already normalized: the words are found on bytes
    /// (decoding only what is not ASCII), hashed as lower case and compared ignoring ASCII case.
    fn scan_words(&self, text: &str, mut found: impl FnMut(usize, usize)) {
        let spans = word_spans(text);
        let b = text.as_bytes();
        for (k, &(s, e)) in spans.iter().enumerate() {
            let h = phrase_word_hash(&b[s..e]);
            let bit = h as usize & (FILTER_BITS - 1);
            if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
                continue;
            }
            let from = self.entries.partition_point(|e| e.first < h);
            for entry in self.entries[from..].iter().take_while(|e| e.first == h) {
                let rest = &self.rest[entry.rest.0 as usize..entry.rest.1 as usize];
                let mut next = k + 1;
                let matched = rest.is_empty()
                    || rest.split(' ').all(|r| {
                        // The phrase's words are normalized (lower case) already.
                        let ok = spans.get(next).is_some_and(|&(s, e)| b[s..e].eq_ignore_ascii_case(r.as_bytes()));
                        next += 1;
                        ok
                    });
                if matched {
                    found(entry.rule as usize, entry.id as usize);
                }
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn parts(&self) -> (&[Entry], &str, &[u64]) {
        (&self.entries, &self.rest, &self.filter)
    }
}

/// The ASCII word characters of `words::is_word_char`, as a table over all byte values (the
/// bytes of other characters are `false` here and decoded where they occur).
const ASCII_WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'\'' | b'$' | b'%' | b'+' | b'-');
        c += 1;
    }
    t
};

/// `words::is_word_char` of a character outside ASCII, from the tables of `features::chars`
/// (words.rs is built into build.rs too, so it keeps std's lookup).
fn is_wide_word_char(c: char) -> bool {
    crate::features::chars::is_alphanumeric(c) || matches!(c, '€' | '£')
}

/// Where the words of `text` are, as `words::words` splits them: runs of word characters,
/// without leading and trailing `'` and `-`. ASCII is looked up in a table in tight loops; only
/// other characters are decoded.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let n = b.len();
    // Whether the non-ASCII character at `i` is a word character, and its length.
    let wide = |i: usize| {
        let ch = text[i..].chars().next().expect("a character boundary");
        (is_wide_word_char(ch), ch.len_utf8())
    };
    let mut spans = Vec::with_capacity(n / 4);
    let mut i = 0;
    while i < n {
        loop {
            while i < n && b[i] < 0x80 && !ASCII_WORD[b[i] as usize] {
                i += 1;
            }
            if i < n && b[i] >= 0x80 {
                if let (false, len) = wide(i) {
                    i += len;
                    continue;
                }
            }
            break;
        }
        if i == n {
            break;
        }
        let mut start = i;
        loop {
            while i < n && ASCII_WORD[b[i] as usize] {
                i += 1;
            }
            if i < n && b[i] >= 0x80 {
                if let (true, len) = wide(i) {
                    i += len;
                    continue;
                }
            }
            break;
        }
        let mut end = i;
        while start < end && matches!(b[start], b'\'' | b'-') {
            start += 1;
        }
        while end > start && matches!(b[end - 1], b'\'' | b'-') {
            end -= 1;
        }
        if start < end {
            spans.push((start, end));
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_word_characters_are_those_of_words_rs() {
        for c in (0x80..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(is_wide_word_char(c), super::super::words::is_word_char(c), "{c:?}");
        }
    }

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

    /// What `scan` did before it worked on bytes, kept as the oracle: split the normalized
    /// text with `words::words`, compare words as strings.
    fn scan_reference(ix: &PhraseIndex, text: &str) -> Vec<(usize, usize)> {
        let norm = normalize(text);
        let ws: Vec<&str> = super::super::words::words(&norm).collect();
        let mut out = Vec::new();
        for (i, w) in ws.iter().enumerate() {
            let h = phrase_word_hash(w.as_bytes());
            for e in ix.entries.iter().filter(|e| e.first == h) {
                let rest = &ix.rest[e.rest.0 as usize..e.rest.1 as usize];
                let mut next = i + 1;
                let matched = rest.is_empty()
                    || rest.split(' ').all(|r| {
                        let ok = ws.get(next) == Some(&r);
                        next += 1;
                        ok
                    });
                if matched {
                    out.push((e.rule as usize, e.id as usize));
                }
            }
        }
        out
    }

    /// `scan` finds what the string-based reference does, on ASCII and non-ASCII texts built to
    /// contain the phrases in mixed case, split across punctuation and white space.
    #[test]
    fn scan_agrees_with_the_reference() {
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
            "gratis lening",
            "ÉÉN keer",
            "straße",
        ];
        let ix = PhraseIndex::build(phrases.iter().map(|p| (0, *p)));
        let alphabet: Vec<char> =
            "abcdefghiklnortwACEHKLNORW0156 \t\n.-'$%+!?,;:\"<>/é€£«»’\u{a0}ΣßÉ".chars().collect();
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d);
        let mut found = 0;
        for round in 0..4000 {
            let mut text = String::new();
            for _ in 0..(next() % 40) {
                if next().is_multiple_of(3) {
                    let p = phrases[next() as usize % phrases.len()];
                    let p = if round % 2 == 0 { p.to_uppercase() } else { p.to_string() };
                    text.push_str(&p.replace(' ', if next().is_multiple_of(2) { " " } else { " -\n" }));
                } else {
                    text.push(alphabet[next() as usize % alphabet.len()]);
                }
            }
            if round % 4 == 0 {
                text.retain(|c| c.is_ascii());
            }
            let mut got = Vec::new();
            ix.scan(&text, |r, id| got.push((r, id)));
            assert_eq!(got, scan_reference(&ix, &text), "{text:?}");
            found += got.len();
        }
        assert!(found > 1000, "the texts must contain phrases ({found} found)");
    }
}
