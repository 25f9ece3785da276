//! Whole-word phrase matching for keyword rules: text and phrases are split into words the
//! same way (lower case; letters, digits and `' $ € £ % + -` are word characters), and a phrase
//! matches where its words occur consecutively. Building the index is one hash insert per
//! phrase and scanning is one hash lookup per word of text, so the cost stays flat however
//! many keyword rules there are.

use std::collections::HashMap;

/// Phrases by their first word: (rule index, phrase id, the remaining words).
#[derive(Default)]
pub struct PhraseIndex {
    by_first: HashMap<String, Vec<(usize, usize, Vec<String>)>>,
    count: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '\'' | '$' | '€' | '£' | '%' | '+' | '-')
}

/// The words of lower-cased text, with leading and trailing `'` and `-` trimmed.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_word_char(c)).map(|w| w.trim_matches(['\'', '-'])).filter(|w| !w.is_empty())
}

fn normalize(text: &str) -> String {
    text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'")
}

impl PhraseIndex {
    /// Adds a phrase of rule `rule`.
    pub fn add(&mut self, phrase: &str, rule: usize) {
        let norm = normalize(phrase);
        let mut w = words(&norm);
        let Some(first) = w.next() else { return };
        let rest = w.map(str::to_string).collect();
        self.by_first.entry(first.to_string()).or_default().push((rule, self.count, rest));
        self.count += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Calls `found(rule, phrase id)` for every phrase occurrence in `text`.
    pub fn scan(&self, text: &str, mut found: impl FnMut(usize, usize)) {
        let norm = normalize(text);
        let ws: Vec<&str> = words(&norm).collect();
        for (i, w) in ws.iter().enumerate() {
            if let Some(cands) = self.by_first.get(*w) {
                for (rule, id, rest) in cands {
                    if ws.len() > i + rest.len() && rest.iter().zip(&ws[i + 1..]).all(|(a, b)| a == b) {
                        found(*rule, *id);
                    }
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
