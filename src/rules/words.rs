//! How keyword rules see words: text and phrases are split the same way (lower case; letters,
//! digits and `' $ € £ % + -` are word characters; leading and trailing `'` and `-` trimmed).
//! Plain `std`, so that build.rs compiles this same file to index the default rules' phrases at
//! build time exactly as the filter splits a message's text.

pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || matches!(c, '\'' | '$' | '%' | '+' | '-')
    } else {
        c.is_alphanumeric() || matches!(c, '€' | '£')
    }
}

/// The words of lower-cased text, with leading and trailing `'` and `-` trimmed.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_word_char(c)).map(|w| w.trim_matches(['\'', '-'])).filter(|w| !w.is_empty())
}

/// Lower case, with typographic apostrophes made plain.
pub fn normalize(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        return if text.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(text.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(text)
        };
    }
    // (A one-pass copy of this for text with other characters was 1.6% of `check`'s
    // instructions faster: not kept, see docs/benchmarks.md.)
    std::borrow::Cow::Owned(text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'"))
}

/// A phrase as the keyword index keeps it: its first word, and its other words joined by single
/// spaces. `None` for a phrase without words.
pub fn split_phrase(phrase: &str) -> Option<(String, String)> {
    let norm = normalize(phrase);
    let mut w = words(&norm);
    let first = w.next()?.to_string();
    Some((first, w.collect::<Vec<_>>().join(" ")))
}

#[cfg(test)]
mod tests {
    /// Where `normalize` changes text, it is `to_lowercase` plus plain apostrophes: on every
    /// character up to U+2FFFF (with ASCII around it) and on sigmas in and at the end of words.
    #[test]
    fn normalize_is_lower_case_with_plain_apostrophes() {
        // What `normalize` was before its one-pass copy.
        let reference = |t: &str| {
            if t.is_ascii() || t.chars().all(|c| !c.is_uppercase() && c != '\u{2019}' && c != '\u{2018}') {
                return super::normalize(t).into_owned();
            }
            t.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'")
        };
        for c in (0x80u32..0x3_0000).filter_map(char::from_u32) {
            let t = format!("Ab {c}x{c}Q’");
            assert_eq!(super::normalize(&t), reference(&t), "{c:?}");
        }
        for t in ["ΟΔΟΣ ΟΔΟΣ.", "ΣΑΣ", "Σ", "aΣ b", "ǅ", "ǅ A", "İstanbul", "‘Quoted’ ÉÉN"] {
            assert_eq!(super::normalize(t), reference(t), "{t:?}");
        }
    }
}
