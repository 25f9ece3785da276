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
    if text.chars().all(|c| !c.is_uppercase() && c != '\u{2019}' && c != '\u{2018}') {
        return std::borrow::Cow::Borrowed(text);
    }
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
