//! Whole-word phrase matching for keyword rules: text and phrases are split into words the
//! same way (lower case; letters, digits and `' $ € £ % + -` are word characters), and a phrase
//! matches where its words occur consecutively. Building the index is one hash insert per
//! phrase and scanning is one hash lookup per word of text, so the cost stays flat however
//! many keyword rules there are.

use crate::store::token_hash;

/// Every phrase as an entry sorted by the hash of its first word, its remaining words kept in
/// one shared string. Building it (once per process, on every delivery) allocates almost
/// nothing per phrase; looking a word up is one hash and a binary search.
#[derive(Default)]
pub struct PhraseIndex {
    entries: Vec<Entry>,
    /// The remaining words of every phrase, each phrase's separated by single spaces.
    rest: String,
    sorted: bool,
}

struct Entry {
    first: u64,
    rule: u32,
    id: u32,
    rest: (u32, u32),
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '\'' | '$' | '€' | '£' | '%' | '+' | '-')
}

/// The words of lower-cased text, with leading and trailing `'` and `-` trimmed.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_word_char(c)).map(|w| w.trim_matches(['\'', '-'])).filter(|w| !w.is_empty())
}

fn normalize(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(|c| !c.is_uppercase() && c != '\u{2019}' && c != '\u{2018}') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'"))
}

impl PhraseIndex {
    /// Adds a phrase of rule `rule`. Call `finish` after the last one.
    pub fn add(&mut self, phrase: &str, rule: usize) {
        let norm = normalize(phrase);
        let mut w = words(&norm);
        let Some(first) = w.next() else { return };
        let start = self.rest.len() as u32;
        for (i, word) in w.enumerate() {
            if i > 0 {
                self.rest.push(' ');
            }
            self.rest.push_str(word);
        }
        let id = self.entries.len() as u32;
        self.entries.push(Entry {
            first: token_hash(first),
            rule: rule as u32,
            id,
            rest: (start, self.rest.len() as u32),
        });
        self.sorted = false;
    }

    /// Sorts the entries for lookup.
    pub fn finish(&mut self) {
        self.entries.sort_by_key(|e| e.first);
        self.sorted = true;
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Calls `found(rule, phrase id)` for every phrase occurrence in `text`.
    pub fn scan(&self, text: &str, mut found: impl FnMut(usize, usize)) {
        debug_assert!(self.sorted || self.entries.is_empty(), "PhraseIndex::finish was not called");
        let norm = normalize(text);
        let ws: Vec<&str> = words(&norm).collect();
        for (i, w) in ws.iter().enumerate() {
            let h = token_hash(w);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(phrases: &[&str], text: &str) -> Vec<usize> {
        let mut ix = PhraseIndex::default();
        for p in phrases {
            ix.add(p, 0);
        }
        ix.finish();
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
}
