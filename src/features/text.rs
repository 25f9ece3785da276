//! Running text to word tokens: the general walk, its ASCII fast path (tested against it in
//! features/mod.rs), and what one word gives (parts, split words rejoined, CJK/Thai bigrams,
//! `skip:` tokens).

use super::*;

/// Split on white space and on punctuation that never belongs inside a word.
pub(super) fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_separator)
        .map(|w| w.trim_matches(|c: char| !chars::is_alphanumeric(c) && !matches!(c, '$' | '€' | '£' | '!')))
        .filter(|w| !w.is_empty())
}

/// The ASCII separators `words` splits on (white space and punctuation), as a table.
pub(super) const ASCII_SEPARATORS: [bool; 128] = {
    let mut t = [false; 128];
    let seps = b" \t\n\r\x0b\x0c,;:()[]{}<>\"/\\|=*+_~#^`?";
    let mut i = 0;
    while i < seps.len() {
        t[seps[i] as usize] = true;
        i += 1;
    }
    t
};

pub(super) fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        ASCII_SEPARATORS[c as usize]
    } else {
        c.is_whitespace() || matches!(c, '«' | '»' | '“' | '”' | '‘' | '’' | '¿' | '¡')
    }
}

/// Numbers, dates, times, version strings and hex or digit-heavy ids.
pub(super) fn is_noise(w: &str) -> bool {
    let b = w.as_bytes();
    // Most words have no digit: noise only when they have no letter either.
    if !b.iter().any(u8::is_ascii_digit) {
        return if w.is_ascii() {
            !b.iter().any(u8::is_ascii_alphabetic)
        } else {
            !w.chars().any(chars::is_alphabetic)
        };
    }
    let (digits, letters) = if w.is_ascii() {
        w.bytes().fold((0, 0), |(d, l), b| (d + b.is_ascii_digit() as usize, l + b.is_ascii_alphabetic() as usize))
    } else {
        w.chars().fold((0, 0), |(d, l), c| (d + c.is_ascii_digit() as usize, l + chars::is_alphabetic(c) as usize))
    };
    if letters == 0 {
        // Keep money amounts like $100 and €50: spam likes them.
        return !(w.starts_with(['$', '€', '£']) && digits > 0);
    }
    digits > letters || (w.len() >= 8 && digits >= 3 && w.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
}

/// Scripts written without spaces between words.
pub(super) fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30ff        // Hiragana, Katakana
        | 0x3400..=0x4dbf      // CJK Extension A
        | 0x4e00..=0x9fff      // CJK Unified Ideographs
        | 0xf900..=0xfaff      // CJK Compatibility Ideographs
        | 0xac00..=0xd7af      // Hangul syllables
        | 0x0e00..=0x0e7f      // Thai
        | 0x0e80..=0x0eff      // Lao
        | 0x1000..=0x109f      // Myanmar
        | 0x1780..=0x17ff      // Khmer
    )
}

/// Tokenizes running text.
pub(super) fn text_tokens(text: &str, prefix: &str, sink: &mut Sink) {
    if text.is_ascii() {
        text_tokens_ascii(text, prefix, sink);
    } else {
        text_tokens_general(text, prefix, sink);
    }
}

/// What a byte is to the ASCII tokenizer (bit flags).
pub(super) const WHITE: u8 = 1; // ends a chunk and a word
pub(super) const SEPARATOR: u8 = 2; // ends a word
pub(super) const KEEP: u8 = 4; // stays when `words` trims a word's ends: letters, digits, `$`, `!`
pub(super) const LETTER: u8 = 8;
pub(super) const JOINER: u8 = 32; // `.`, `-`, `'`: a word is also tokenized in parts split on these

pub(super) const ASCII_CLASS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        let mut f = 0;
        if ASCII_SEPARATORS[c] {
            f |= SEPARATOR;
        }
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            f |= WHITE;
        }
        if b.is_ascii_digit() {
            f |= KEEP;
        }
        if b.is_ascii_alphabetic() {
            f |= LETTER | KEEP;
        }
        if b == b'$' || b == b'!' {
            f |= KEEP;
        }
        if matches!(b, b'.' | b'-' | b'\'') {
            f |= JOINER;
        }
        t[c] = f;
        c += 1;
    }
    t
};

/// `text_tokens` for ASCII text: the same tokens, found in one walk over the bytes with a class
/// table instead of decoding characters and searching each word several times over.
pub(super) fn text_tokens_ascii(text: &str, prefix: &str, sink: &mut Sink) {
    let class = |b: u8| ASCII_CLASS[b as usize & 0x7f];
    let b = text.as_bytes();
    let mut letters_run: Vec<char> = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && class(b[i]) & WHITE != 0 {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let chunk_start = i;
        while i < b.len() && class(b[i]) & WHITE == 0 {
            i += 1;
        }
        let chunk = &text[chunk_start..i];
        let cb = chunk.as_bytes();
        if is_url_chunk_ascii(cb) {
            continue;
        }
        let mut j = 0;
        loop {
            while j < cb.len() && class(cb[j]) & SEPARATOR != 0 {
                j += 1;
            }
            if j == cb.len() {
                break;
            }
            let mut start = j;
            while j < cb.len() && class(cb[j]) & SEPARATOR == 0 {
                j += 1;
            }
            // `words`' trim: ends that are not letters, digits, `$` or `!`.
            let mut end = j;
            while start < end && class(cb[start]) & KEEP == 0 {
                start += 1;
            }
            while end > start && class(cb[end - 1]) & KEEP == 0 {
                end -= 1;
            }
            if start == end {
                continue;
            }
            if sink.full() {
                return;
            }
            let w = &chunk[start..end];
            let flags = w.bytes().fold(0, |f, c| f | class(c));
            if w.len() == 1 && flags & LETTER != 0 {
                letters_run.push(w.as_bytes()[0].to_ascii_lowercase() as char);
                continue;
            }
            flush_letters(&mut letters_run, prefix, sink);
            word_tokens(w, flags & JOINER != 0, prefix, sink);
        }
    }
    flush_letters(&mut letters_run, prefix, sink);
}

/// Whether a white-space-separated chunk is a URL (cracked separately into `url:` tokens, not
/// split into words).
pub(super) fn is_url_chunk(c: &str) -> bool {
    let lower = c.trim_start_matches(|ch: char| !ch.is_alphanumeric()).get(..4).unwrap_or("");
    (c.contains(':') && c.contains("://")) || lower.eq_ignore_ascii_case("www.")
}

/// `is_url_chunk` for ASCII (short chunks: simple loops beat memchr's set-up).
#[inline]
pub(super) fn is_url_chunk_ascii(c: &[u8]) -> bool {
    if (0..c.len().saturating_sub(2)).any(|k| c[k] == b':' && c[k + 1] == b'/' && c[k + 2] == b'/') {
        return true;
    }
    let from = c.iter().position(|b| b.is_ascii_alphanumeric()).unwrap_or(c.len());
    c.len() - from >= 4 && c[from..from + 4].eq_ignore_ascii_case(b"www.")
}

/// `v.i.a.g.r.a` / `v-i-a-g-r-a`: single letters joined by one punctuation mark (at least 7
/// characters).
pub(super) fn is_split_word(wl: &str) -> bool {
    // Most words fail at once: their second character is a letter.
    let second = wl.chars().nth(1);
    second.is_some_and(|c| matches!(c, '.' | '-' | '*' | '_' | '\'' | '!' | ','))
        && wl.chars().count() >= 7
        && wl.chars().step_by(2).all(|c| c.is_alphabetic())
        && wl.chars().skip(1).step_by(2).all(|c| matches!(c, '.' | '-' | '*' | '_' | '\'' | '!' | ','))
}

/// `text_tokens` for any text.
pub(super) fn text_tokens_general(text: &str, prefix: &str, sink: &mut Sink) {
    let mut letters_run: Vec<char> = Vec::new(); // "v i a g r a": single letters in a row
    let chunks = text.split_whitespace().filter(|c| !is_url_chunk(c));
    for w in chunks.flat_map(words) {
        if sink.full() {
            return;
        }
        // Single letters separated by spaces.
        let mut cs = w.chars();
        if let (Some(c), None) = (cs.next(), cs.next()) {
            if c.is_alphabetic() && !is_unspaced_script(c) {
                letters_run.extend(c.to_lowercase());
                continue;
            }
        }
        flush_letters(&mut letters_run, prefix, sink);
        word_tokens(w, w.contains(['.', '-', '\'']), prefix, sink);
    }
    flush_letters(&mut letters_run, prefix, sink);
}

/// What a word that is not a lone letter gives: an address's domain, character bigrams for
/// unspaced scripts, a split word rejoined (`v.i.a.g.r.a`), or the word and, when it has `.`,
/// `-` or `'` in it (`joined`), its parts.
///
/// Words keep their case, as bogofilter's and Graham's tokens do: `FREE`, `Free` and `free`
/// are three tokens (on the SpamAssassin corpus, case-kept tokens ranked better than folded
/// ones on every held-out split; docs/benchmarks.md, "The Bayes tokens"). What obfuscation
/// spells out (split words, spaced letters) and domains are folded.
pub(super) fn word_tokens(w: &str, joined: bool, prefix: &str, sink: &mut Sink) {
    if let Some((local, dom)) = w.split_once('@') {
        if dom.contains('.') && !local.is_empty() {
            let dom = lower(dom.trim_matches('.'));
            sink.push_parts(&[prefix, "email:d:", crate::domain::registrable(&dom)]);
            return;
        }
    }
    if !w.is_ascii() && w.chars().any(is_unspaced_script) {
        unspaced_tokens(w, prefix, sink);
        return;
    }
    // v.i.a.g.r.a / v-i-a-g-r-a: single letters joined by one punctuation mark.
    if w.len() >= 7 && is_split_word(w) {
        let joined: String = w.chars().step_by(2).flat_map(char::to_lowercase).collect();
        sink.push_prefixed(prefix, &joined);
        sink.push("obf:split-word");
        return;
    }
    if joined {
        // Its dot/dash/apostrophe-separated parts, then the whole word.
        for part in w.split(['.', '-', '\'']).filter(|p| !p.is_empty()) {
            push_word(part, prefix, sink);
        }
    }
    push_word(w, prefix, sink);
}

pub(super) fn flush_letters(run: &mut Vec<char>, prefix: &str, sink: &mut Sink) {
    if run.len() >= 4 {
        let joined: String = run.iter().collect();
        sink.push_prefixed(prefix, &joined);
        sink.push("obf:spaced-letters");
    }
    run.clear();
}

pub(super) fn push_word(w: &str, prefix: &str, sink: &mut Sink) {
    let w = if w.is_ascii() {
        let keep = |b: &u8| b.is_ascii_alphanumeric() || *b == b'$';
        let b = w.as_bytes();
        let start = b.iter().position(keep).unwrap_or(b.len());
        let end = b.iter().rposition(keep).map_or(start, |e| e + 1);
        &w[start..end]
    } else {
        w.trim_matches(|c: char| !c.is_alphanumeric() && !matches!(c, '$' | '€' | '£'))
    };
    let n = if w.is_ascii() { w.len() } else { w.chars().count() };
    if n < 3 || is_noise(w) {
        return;
    }
    if n > 20 {
        let first = w.chars().next().unwrap_or('?');
        sink.push(&format!("{prefix}skip:{first} {}", n / 10 * 10));
        return;
    }
    sink.push_prefixed(prefix, w);
}

/// Lower case, borrowed when there is nothing to change.
pub(super) fn lower(w: &str) -> std::borrow::Cow<'_, str> {
    if w.is_ascii() {
        if w.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(w.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(w)
        }
    } else {
        std::borrow::Cow::Owned(w.to_lowercase())
    }
}

/// Character bigrams over runs of CJK/Thai characters; other characters of the word are
/// tokenized as a word of their own.
pub(super) fn unspaced_tokens(w: &str, prefix: &str, sink: &mut Sink) {
    let chars: Vec<char> = w.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let cjk = is_unspaced_script(chars[i]);
        let start = i;
        while i < chars.len() && is_unspaced_script(chars[i]) == cjk {
            i += 1;
        }
        let run = &chars[start..i];
        if cjk {
            if run.len() == 1 {
                sink.push(&format!("{prefix}{}", run[0]));
            }
            for pair in run.windows(2).take(2000) {
                sink.push(&format!("{prefix}{}{}", pair[0], pair[1]));
            }
        } else {
            let s: String = run.iter().collect();
            push_word(&s, prefix, sink);
        }
    }
}
