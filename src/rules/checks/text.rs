//! Helpers of the body style and obfuscation checks: capitals, money amounts, zero-width
//! characters, mixed scripts, split words (ASCII fast paths tested against the general code).

use crate::features::chars::{is_alphabetic, is_alphanumeric};

/// The ASCII letters and the capitals among them, counted in blocks the compiler vectorizes
/// (a fold over a pair of counters is not).
pub(super) fn ascii_letters_and_capitals(b: &[u8]) -> (usize, usize) {
    let (mut letters, mut upper) = (0, 0);
    for block in b.chunks(255) {
        let (mut l, mut u) = (0u8, 0u8);
        for &c in block {
            let folded = c | 0x20;
            l += folded.wrapping_sub(b'a').lt(&26) as u8;
            u += c.wrapping_sub(b'A').lt(&26) as u8;
        }
        letters += l as usize;
        upper += u as usize;
    }
    (letters, upper)
}

/// The letters and the capitals among them (Unicode), ASCII runs counted as bytes.
pub(super) fn letters_and_capitals(t: &str) -> (usize, usize) {
    let (mut letters, mut upper) = (0, 0);
    let mut rest = t;
    while !rest.is_empty() {
        let ascii = rest.bytes().position(|b| b >= 0x80).unwrap_or(rest.len());
        let (l, u) = ascii_letters_and_capitals(&rest.as_bytes()[..ascii]);
        letters += l;
        upper += u;
        let mut chars = rest[ascii..].chars();
        if let Some(ch) = chars.next() {
            letters += is_alphabetic(ch) as usize;
            upper += ch.is_uppercase() as usize;
        }
        rest = chars.as_str();
    }
    (letters, upper)
}

pub(super) fn money_amounts(t: &str) -> usize {
    if t.is_ascii() {
        // Only `$` can occur: count the ones followed by a digit.
        let b = t.as_bytes();
        return memchr::memchr_iter(b'$', b).filter(|&i| b.get(i + 1).is_some_and(u8::is_ascii_digit)).count();
    }
    // A currency sign right before a digit. Each sign's UTF-8 bytes occur only where it does,
    // so they are searched for as bytes.
    let b = t.as_bytes();
    ["$", "€", "£"]
        .iter()
        .map(|sign| {
            memchr::memmem::find_iter(b, sign.as_bytes())
                .filter(|&i| b.get(i + sign.len()).is_some_and(u8::is_ascii_digit))
                .count()
        })
        .sum()
}

pub(super) fn zero_width(t: &str) -> usize {
    if t.is_ascii() {
        return 0;
    }
    // Only the characters outside ASCII are decoded.
    let mut n = 0;
    let mut rest = t;
    while let Some(k) = rest.bytes().position(|b| b >= 0x80) {
        let mut chars = rest[k..].chars();
        let c = chars.next().expect("a character boundary");
        n += matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{00ad}' | '\u{034f}' | '\u{180e}')
            as usize;
        rest = chars.as_str();
    }
    n
}

#[derive(PartialEq, Clone, Copy)]
pub(super) enum Script {
    Latin,
    Cyrillic,
    Greek,
    Other,
}

pub(super) fn script(c: char) -> Script {
    match c as u32 {
        0x41..=0x5a | 0x61..=0x7a | 0xc0..=0x24f => Script::Latin,
        0x400..=0x4ff => Script::Cyrillic,
        0x370..=0x3ff => Script::Greek,
        _ => Script::Other,
    }
}

/// Words that mix Latin letters with Cyrillic or Greek look-alikes (`pаypal` with a Cyrillic а).
pub(super) fn mixed_script_words(t: &str) -> usize {
    if t.is_ascii() {
        return 0; // no Cyrillic or Greek
    }
    // Only a word with a character outside ASCII can mix scripts: each such word is found from
    // its first such character, and the rest of the text is not decoded.
    let b = t.as_bytes();
    let mut n = 0;
    let mut from = 0;
    while let Some(k) = b[from..].iter().position(|&c| c >= 0x80) {
        let i = from + k;
        let c = t[i..].chars().next().expect("a character boundary");
        if !is_alphabetic(c) {
            from = i + c.len_utf8();
            continue;
        }
        let start = t[..i].char_indices().rev().take_while(|&(_, c)| is_alphabetic(c)).last().map_or(i, |(j, _)| j);
        let end = t[i..].char_indices().find(|&(_, c)| !is_alphabetic(c)).map_or(t.len(), |(j, _)| i + j);
        n += is_mixed_script(&t[start..end]) as usize;
        from = end;
    }
    n
}

/// Whether a word (letters only) of three or more mixes Latin with Cyrillic or Greek.
pub(super) fn is_mixed_script(w: &str) -> bool {
    if w.chars().count() < 3 {
        return false;
    }
    let (mut latin, mut other) = (0, 0);
    for c in w.chars() {
        match script(c) {
            Script::Latin => latin += 1,
            Script::Cyrillic | Script::Greek => other += 1,
            Script::Other => {}
        }
    }
    latin > 0 && other > 0 && latin + other >= 3
}

/// Words written with a separator between every letter: `v.i.a.g.r.a`, `f r e e`, `c-a-s-h`.
/// (A byte walk over ASCII text was 1.7% of `check`'s instructions faster: not kept, see
/// docs/benchmarks.md.)
pub(super) fn split_words(t: &str) -> usize {
    let chars: Vec<char> = t.chars().collect();
    split_words_in(&chars)
}

/// The separators of a split word.
pub(super) const fn is_split_separator(b: u8) -> bool {
    matches!(b, b'.' | b'-' | b'_' | b'*' | b' ' | b'|' | b'/')
}

/// `split_words` on the text's characters.
pub(super) fn split_words_in(chars: &[char]) -> usize {
    let (alpha, alnum) = (|&c: &char| is_alphabetic(c), |&c: &char| is_alphanumeric(c));
    let mut n = 0;
    let mut i = 0;
    while i < chars.len() {
        crate::work::add(1);
        if alpha(&chars[i])
            && (i == 0 || !alnum(&chars[i - 1]))
            && chars.get(i + 1).is_some_and(|s| s.is_ascii() && is_split_separator(*s as u8))
        {
            match split_run_at(chars, i, alpha, alnum) {
                Ok(j) => {
                    n += 1;
                    i = j + 1;
                    continue;
                }
                // Every letter of the run after its first starts the same run (same separator,
                // same end), shorter: none is a split word either. The last one may start a
                // run with another separator.
                Err(j) if j > i => {
                    i = j;
                    continue;
                }
                Err(_) => {}
            }
        }
        i += 1;
    }
    n
}

/// Where a split word that starts at `i` (a letter that begins a word, followed by a separator)
/// ends, if there is one: letter, separator, letter, separator, … with the same separator, at
/// least four letters. "U.S.A." has three: not counted. Initials like "J. R. R." have spaces
/// after dots. `Err` with the last letter of the run when it is no split word (too short, or
/// more letters or digits right after it), so that the caller does not walk the run again from
/// each of its letters (quadratic: `a.a.a.…a1`).
pub(super) fn split_run_at<C: Copy + PartialEq>(
    chars: &[C],
    i: usize,
    alpha: impl Fn(&C) -> bool,
    alnum: impl Fn(&C) -> bool,
) -> Result<usize, usize> {
    let sep = chars[i + 1];
    let mut j = i;
    let mut letters = 0;
    while j < chars.len() && alpha(&chars[j]) {
        letters += 1;
        if chars.get(j + 1) == Some(&sep)
            && chars.get(j + 2).is_some_and(&alpha)
            && !chars.get(j + 3).is_some_and(&alpha)
        {
            j += 2;
        } else {
            break;
        }
    }
    crate::work::add(letters);
    let at_end = !chars.get(j + 1).is_some_and(&alnum);
    if letters >= 4 && at_end {
        Ok(j)
    } else {
        Err(j)
    }
}
