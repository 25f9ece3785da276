//! Features: the tokens Bayes counts, extracted from the parsed message. Pure functions.
//!
//! What the best filters learned, applied (SpamBayes' tokenizer notes, bogofilter's lexer):
//!
//! * Body text is split on white space and punctuation, case folded, words of 3 to 20
//!   characters kept; longer ones become `skip:` tokens (first character and length bucket), as
//!   SpamBayes found; pure numbers, dates, times and mostly-digit ids are dropped (noise).
//! * Text without spaces between words (Chinese, Japanese, Korean, Thai) gives character
//!   bigrams, so those mails get useful tokens instead of one giant skip token.
//! * Obfuscated words (`v.i.a.g.r.a`, `v i a g r a`) are rejoined, plus an `obf:` marker.
//! * HTML: the visible text is tokenized like plain text; text styled invisible is tokenized
//!   separately with an `invis:` prefix (spammers hide words there to feed Bayes); links,
//!   images and CSS `url(...)` are cracked into `url:` host, registrable-domain and path tokens,
//!   and a few structure tokens say what the markup does (`html:script`, `html:img`, …).
//! * MIME structure is evidence: `ct:` top-level type, `part:`, `charset:`, `cte:` per part,
//!   attachment types and file extensions.
//! * Header tokens are tagged by field: `subj:` words keep their case (SpamBayes found case in
//!   subjects telling), `from:`/`rt:` names, addresses and domains, `mailer:`, `mid:`.
//!
//! Left out by default, on purpose: Received, Date, To, Cc, Delivered-To, Return-Path,
//! X-Original-To and every X-Spam-* field. Users train ham from their Sent folder (no Received
//! chain, always From themselves, To their correspondents) and spam from Junk (which carries
//! our own X-Spam-* fields), so those fields differ between the training sets for reasons
//! that have nothing to do with spam, and would mark every incoming ham as spam. An admin
//! whose ham is received mail can add fields with `[tokenizer] headers = [...]`.
//!
//! Tokens are de-duplicated per message and returned in first-seen order; at most
//! `max_part_bytes` of each part and `max_tokens` tokens per message.

pub mod html;
pub mod urls;

use std::collections::HashSet;

use serde::Deserialize;

use crate::message::{Body, Message};

/// Tokenizer settings (config file section `[tokenizer]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenizerSettings {
    /// At most this many bytes of each text part are tokenized.
    pub max_part_bytes: usize,
    /// At most this many tokens per message.
    pub max_tokens: usize,
    /// Header fields whose values are tokenized (case-insensitive names).
    pub headers: Vec<String>,
}

impl Default for TokenizerSettings {
    fn default() -> Self {
        TokenizerSettings {
            max_part_bytes: 64 * 1024,
            max_tokens: 4000,
            headers: ["subject", "from", "reply-to", "sender", "x-mailer", "user-agent", "message-id", "organization"]
                .into_iter()
                .map(String::from)
                .collect(),
        }
    }
}

/// A message's tokens in first-seen order: their text in one string (no allocation per token)
/// and their hashes (the database keys).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tokens {
    text: String,
    ends: Vec<u32>,
    hashes: Vec<u64>,
}

impl Tokens {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Token `i`.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// `token_hash` of each token, in the same order.
    pub fn hashes(&self) -> &[u64] {
        &self.hashes
    }

    pub fn into_hashes(self) -> Vec<u64> {
        self.hashes
    }
}

/// Collects unique tokens in first-seen order, up to a limit.
struct Sink {
    /// Token hashes seen so far.
    seen: HashSet<u64, crate::store::PreHashedBuild>,
    out: Tokens,
    max: usize,
}

impl Sink {
    fn push(&mut self, t: &str) {
        self.push2("", t);
    }

    /// Pushes `prefix` + `word` when that token is new.
    fn push2(&mut self, prefix: &str, word: &str) {
        self.push_parts(&[prefix, word]);
    }

    /// Pushes the concatenation of `parts` when that token is new (without building it first).
    fn push_parts(&mut self, parts: &[&str]) {
        if self.out.len() >= self.max {
            return;
        }
        let h = crate::hash::token_hash_parts(parts);
        if self.seen.insert(h) {
            for p in parts {
                self.out.text.push_str(p);
            }
            self.out.ends.push(self.out.text.len() as u32);
            self.out.hashes.push(h);
        }
    }

    fn full(&self) -> bool {
        self.out.len() >= self.max
    }
}

/// The decoded content of one leaf part, as the tokenizer and the rules see it.
#[derive(Debug)]
pub enum PartContent<'m> {
    /// A text part (bounded to `max_part_bytes`) and the URLs written in it.
    Text { text: &'m str, urls: Vec<urls::Url> },
    /// An HTML part, parsed once.
    Html(html::HtmlDoc),
    /// Not text: an attachment or a binary part.
    Other,
}

/// What is in a message's body, extracted once per message and shared by the tokenizer and the
/// rules. `parts` is aligned with `Message::parts`.
#[derive(Debug)]
pub struct Content<'m> {
    pub parts: Vec<PartContent<'m>>,
}

impl<'m> Content<'m> {
    /// Decodes and parses every part once (text bounded, HTML parsed).
    pub fn extract(msg: &'m Message, s: &TokenizerSettings) -> Content<'m> {
        let parts = msg
            .parts
            .iter()
            .map(|part| match &part.body {
                Body::Text(t) if !part.is_attachment || part.content_type.starts_with("text/") => {
                    let text = bounded(t, s.max_part_bytes);
                    PartContent::Text { text, urls: urls::find_urls(text) }
                }
                Body::Html(h) => PartContent::Html(html::parse(bounded(h, s.max_part_bytes.saturating_mul(4)))),
                _ => PartContent::Other,
            })
            .collect();
        Content { parts }
    }

    /// The HTML parts' parse results.
    pub fn html(&self) -> impl Iterator<Item = &html::HtmlDoc> {
        self.parts.iter().filter_map(|p| match p {
            PartContent::Html(d) => Some(d),
            _ => None,
        })
    }
}

/// The de-duplicated tokens of a message, in first-seen order.
pub fn tokenize(msg: &Message, s: &TokenizerSettings) -> Tokens {
    tokens(msg, &Content::extract(msg, s), s)
}

/// The tokens of a message whose content was already extracted.
pub fn tokens(msg: &Message, content: &Content, s: &TokenizerSettings) -> Tokens {
    let mut sink = Sink {
        seen: HashSet::with_capacity_and_hasher(512, Default::default()),
        out: Tokens {
            text: String::with_capacity(8192),
            ends: Vec::with_capacity(512),
            hashes: Vec::with_capacity(512),
        },
        max: s.max_tokens,
    };
    header_tokens(msg, s, &mut sink);
    sink.push_parts(&["ct:", &msg.content_type]);
    if msg.mime_problem {
        sink.push("mime:broken");
    }
    for (part, pc) in msg.parts.iter().zip(&content.parts) {
        if sink.full() {
            break;
        }
        sink.push_parts(&["part:", &part.content_type]);
        if let Some(cs) = &part.charset {
            sink.push_parts(&["charset:", cs]);
        }
        if let Some(cte) = &part.transfer_encoding {
            sink.push_parts(&["cte:", cte]);
        }
        if part.encoding_problem {
            sink.push("mime:bad-encoding");
        }
        if let Some(name) = &part.filename {
            let lower = name.to_lowercase();
            if let Some((_, ext)) = lower.rsplit_once('.') {
                if (1..=8).contains(&ext.len()) {
                    sink.push_parts(&["att:ext:", ext]);
                }
            }
            sink.push_parts(&["att:", &part.content_type]);
        }
        match pc {
            PartContent::Text { text, urls } => {
                text_tokens(text, "", &mut sink);
                for u in urls {
                    url_tokens(u, &mut sink);
                }
            }
            PartContent::Html(doc) => html_tokens(doc, &mut sink),
            PartContent::Other => {}
        }
    }
    sink.out
}

fn bounded(t: &str, max: usize) -> &str {
    if t.len() <= max {
        t
    } else {
        &t[..t.floor_char_boundary(max)]
    }
}

fn header_tokens(msg: &Message, s: &TokenizerSettings, sink: &mut Sink) {
    for field in &s.headers {
        let f = field.to_ascii_lowercase();
        if f.starts_with("x-spam-") {
            continue; // never evidence: senders forge them and our own Junk carries them
        }
        for h in msg.headers_named(&f) {
            let v = h.text.as_str();
            match f.as_str() {
                "subject" => {
                    for w in words(v) {
                        if (2..=30).contains(&w.chars().count()) && !is_noise(w) {
                            sink.push2("subj:", w);
                        }
                    }
                    if v.chars().filter(|c| c.is_alphabetic()).count() > 6
                        && v.chars().filter(|c| c.is_alphabetic()).all(|c| !c.is_lowercase())
                    {
                        sink.push("subj:ALLCAPS");
                    }
                }
                "from" | "reply-to" | "sender" => {
                    let tag = match f.as_str() {
                        "from" => "from",
                        "reply-to" => "rt",
                        _ => "sender",
                    };
                    address_tokens(v, tag, sink);
                }
                "message-id" => {
                    let id = v.trim().trim_start_matches('<').trim_end_matches('>');
                    match id.rsplit_once('@') {
                        Some((_, dom)) if !dom.is_empty() => {
                            sink.push_parts(&["mid:d:", urls::registrable_domain(&dom.to_ascii_lowercase())])
                        }
                        _ => sink.push("mid:malformed"),
                    }
                }
                "x-mailer" | "user-agent" => {
                    for w in words(v).take(4) {
                        if w.len() >= 2 && !w.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                            sink.push(&format!("mailer:{}", w.to_lowercase()));
                        }
                    }
                }
                other => {
                    for w in words(v).take(20) {
                        if (3..=20).contains(&w.len()) && !is_noise(w) {
                            sink.push(&format!("h:{other}:{}", w.to_lowercase()));
                        }
                    }
                }
            }
        }
    }
    if msg.header("message-id").is_none() && s.headers.iter().any(|h| h.eq_ignore_ascii_case("message-id")) {
        sink.push("mid:missing");
    }
}

/// `Name <local@domain>` → name words, the address and its registrable domain.
fn address_tokens(v: &str, tag: &str, sink: &mut Sink) {
    let lower = v.to_lowercase();
    let (name, addr) = match (lower.rfind('<'), lower.rfind('>')) {
        (Some(a), Some(b)) if b > a => (&lower[..a], lower[a + 1..b].trim()),
        _ if lower.contains('@') => ("", lower.trim()),
        _ => (lower.as_str(), ""),
    };
    for w in words(name) {
        if (2..=20).contains(&w.chars().count()) && !is_noise(w) {
            sink.push_parts(&[tag, ":n:", w]);
        }
    }
    if let Some((local, dom)) = addr.rsplit_once('@') {
        sink.push_parts(&[tag, ":a:", addr]);
        sink.push_parts(&[tag, ":d:", urls::registrable_domain(dom)]);
        if local.len() > 16 || local.bytes().filter(u8::is_ascii_digit).count() >= 4 {
            sink.push_parts(&[tag, ":local:odd"]);
        }
    } else if !addr.is_empty() || name.is_empty() {
        sink.push_parts(&[tag, ":noaddr"]);
    }
}

fn html_tokens(doc: &html::HtmlDoc, sink: &mut Sink) {
    text_tokens(&doc.visible_text, "", sink);
    if !doc.invisible_text.trim().is_empty() {
        sink.push("html:hidden-text");
        text_tokens(&doc.invisible_text, "invis:", sink);
    }
    for l in &doc.links {
        if let Some(u) = urls::parse_url(&l.href) {
            url_tokens(&u, sink);
        }
    }
    for img in &doc.images {
        if let Some(u) = urls::parse_url(&img.src) {
            sink.push_parts(&["img:d:", &u.domain]);
        }
        if img.hidden {
            sink.push("html:webbug");
        }
    }
    for c in &doc.css_urls {
        if let Some(u) = urls::parse_url(c) {
            sink.push_parts(&["css:d:", &u.domain]);
        }
    }
    let flags = [
        (doc.scripts > 0, "html:script"),
        (doc.iframes > 0, "html:iframe"),
        (doc.objects > 0, "html:object"),
        (doc.forms > 0, "html:form"),
        (doc.meta_refresh, "html:refresh"),
        (doc.event_handlers > 0, "html:js"),
        (doc.encoded_ascii > 4, "html:encoded-ascii"),
        (!doc.images.is_empty(), "html:img"),
    ];
    for (on, t) in flags {
        if on {
            sink.push(t);
        }
    }
    let img_bucket = match doc.images.len() {
        0 => None,
        1 => Some("1"),
        2..=4 => Some("2-4"),
        _ => Some("5+"),
    };
    if let Some(b) = img_bucket {
        sink.push_parts(&["html:imgs:", b]);
    }
}

fn url_tokens(u: &urls::Url, sink: &mut Sink) {
    if u.host.is_empty() {
        sink.push_parts(&["url:scheme:", &u.scheme]);
        return;
    }
    sink.push_parts(&["url:", &u.host]);
    sink.push_parts(&["url:d:", &u.domain]);
    if u.scheme != "http" && u.scheme != "https" {
        sink.push_parts(&["url:scheme:", &u.scheme]);
    }
    if u.host_is_ip {
        sink.push("url:ip");
    }
    if u.has_userinfo {
        sink.push("url:userinfo");
    }
    if u.host_was_encoded {
        sink.push("url:encoded-host");
    }
    if u.port.is_some() {
        sink.push("url:port");
    }
    for piece in u.path.split(|c: char| !c.is_alphanumeric()).chain(u.query.split(|c: char| !c.is_alphanumeric())) {
        if (3..=20).contains(&piece.len()) && !piece.bytes().all(|b| b.is_ascii_digit()) && !is_noise(piece) {
            sink.push(&format!("url:p:{}", piece.to_lowercase()));
        }
    }
}

/// Split on white space and on punctuation that never belongs inside a word.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_separator)
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && !matches!(c, '$' | '€' | '£' | '!')))
        .filter(|w| !w.is_empty())
}

/// The ASCII separators `words` splits on (white space and punctuation), as a table.
const ASCII_SEPARATORS: [bool; 128] = {
    let mut t = [false; 128];
    let seps = b" \t\n\r\x0b\x0c,;:()[]{}<>\"/\\|=*+_~#^`?";
    let mut i = 0;
    while i < seps.len() {
        t[seps[i] as usize] = true;
        i += 1;
    }
    t
};

fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        ASCII_SEPARATORS[c as usize]
    } else {
        c.is_whitespace() || matches!(c, '«' | '»' | '“' | '”' | '‘' | '’' | '¿' | '¡')
    }
}

/// Numbers, dates, times, version strings and hex or digit-heavy ids.
fn is_noise(w: &str) -> bool {
    let b = w.as_bytes();
    // Most words have no digit: noise only when they have no letter either.
    if !b.iter().any(u8::is_ascii_digit) {
        return if w.is_ascii() { !b.iter().any(u8::is_ascii_alphabetic) } else { !w.chars().any(char::is_alphabetic) };
    }
    let (digits, letters) = if w.is_ascii() {
        w.bytes().fold((0, 0), |(d, l), b| (d + b.is_ascii_digit() as usize, l + b.is_ascii_alphabetic() as usize))
    } else {
        w.chars().fold((0, 0), |(d, l), c| (d + c.is_ascii_digit() as usize, l + c.is_alphabetic() as usize))
    };
    if letters == 0 {
        // Keep money amounts like $100 and €50: spam likes them.
        return !(w.starts_with(['$', '€', '£']) && digits > 0);
    }
    digits > letters || (w.len() >= 8 && digits >= 3 && w.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
}

/// Scripts written without spaces between words.
fn is_unspaced_script(c: char) -> bool {
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
fn text_tokens(text: &str, prefix: &str, sink: &mut Sink) {
    if text.is_ascii() {
        text_tokens_ascii(text, prefix, sink);
    } else {
        text_tokens_general(text, prefix, sink);
    }
}

/// What a byte is to the ASCII tokenizer (bit flags).
const WHITE: u8 = 1; // ends a chunk and a word
const SEPARATOR: u8 = 2; // ends a word
const KEEP: u8 = 4; // stays when `words` trims a word's ends: letters, digits, `$`, `!`
const LETTER: u8 = 8;
const UPPER: u8 = 16;
const JOINER: u8 = 32; // `.`, `-`, `'`: a word is also tokenized in parts split on these

const ASCII_CLASS: [u8; 128] = {
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
        if b.is_ascii_uppercase() {
            f |= UPPER;
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
fn text_tokens_ascii(text: &str, prefix: &str, sink: &mut Sink) {
    let class = |b: u8| ASCII_CLASS[b as usize & 0x7f];
    let b = text.as_bytes();
    let mut letters_run: Vec<char> = Vec::new();
    let mut folded = String::new();
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
            let wl = if flags & UPPER != 0 {
                folded.clear();
                folded.push_str(w);
                folded.make_ascii_lowercase();
                folded.as_str()
            } else {
                w
            };
            if wl.len() == 1 && flags & LETTER != 0 {
                letters_run.push(wl.as_bytes()[0] as char);
                continue;
            }
            flush_letters(&mut letters_run, prefix, sink);
            word_tokens(wl, flags & JOINER != 0, prefix, sink);
        }
    }
    flush_letters(&mut letters_run, prefix, sink);
}

/// Whether a white-space-separated chunk is a URL (cracked separately into `url:` tokens, not
/// split into words).
fn is_url_chunk(c: &str) -> bool {
    let lower = c.trim_start_matches(|ch: char| !ch.is_alphanumeric()).get(..4).unwrap_or("");
    (c.contains(':') && c.contains("://")) || lower.eq_ignore_ascii_case("www.")
}

/// `is_url_chunk` for ASCII (short chunks: simple loops beat memchr's set-up).
#[inline]
fn is_url_chunk_ascii(c: &[u8]) -> bool {
    if (0..c.len().saturating_sub(2)).any(|k| c[k] == b':' && c[k + 1] == b'/' && c[k + 2] == b'/') {
        return true;
    }
    let from = c.iter().position(|b| b.is_ascii_alphanumeric()).unwrap_or(c.len());
    c.len() - from >= 4 && c[from..from + 4].eq_ignore_ascii_case(b"www.")
}

/// `v.i.a.g.r.a` / `v-i-a-g-r-a`: single letters joined by one punctuation mark (lower case,
/// at least 7 characters).
fn is_split_word(wl: &str) -> bool {
    // Most words fail at once: their second character is a letter.
    let second = wl.chars().nth(1);
    second.is_some_and(|c| matches!(c, '.' | '-' | '*' | '_' | '\'' | '!' | ','))
        && wl.chars().count() >= 7
        && wl.chars().step_by(2).all(|c| c.is_alphabetic())
        && wl.chars().skip(1).step_by(2).all(|c| matches!(c, '.' | '-' | '*' | '_' | '\'' | '!' | ','))
}

/// `text_tokens` for any text.
fn text_tokens_general(text: &str, prefix: &str, sink: &mut Sink) {
    let mut letters_run: Vec<char> = Vec::new(); // "v i a g r a": single letters in a row
    let chunks = text.split_whitespace().filter(|c| !is_url_chunk(c));
    for w in chunks.flat_map(words) {
        if sink.full() {
            return;
        }
        let wl = lower(w);
        let wl = wl.as_ref();
        // Single letters separated by spaces.
        let mut cs = wl.chars();
        if let (Some(c), None) = (cs.next(), cs.next()) {
            if c.is_alphabetic() && !is_unspaced_script(c) {
                letters_run.push(c);
                continue;
            }
        }
        flush_letters(&mut letters_run, prefix, sink);
        word_tokens(wl, wl.contains(['.', '-', '\'']), prefix, sink);
    }
    flush_letters(&mut letters_run, prefix, sink);
}

/// What a lower-case word that is not a lone letter gives: an address's domain, character
/// bigrams for unspaced scripts, a split word rejoined (`v.i.a.g.r.a`), or the word and, when
/// it has `.`, `-` or `'` in it (`joined`), its parts.
fn word_tokens(wl: &str, joined: bool, prefix: &str, sink: &mut Sink) {
    if let Some((local, dom)) = wl.split_once('@') {
        if dom.contains('.') && !local.is_empty() {
            sink.push_parts(&[prefix, "email:d:", urls::registrable_domain(dom.trim_matches('.'))]);
            return;
        }
    }
    if !wl.is_ascii() && wl.chars().any(is_unspaced_script) {
        unspaced_tokens(wl, prefix, sink);
        return;
    }
    // v.i.a.g.r.a / v-i-a-g-r-a: single letters joined by one punctuation mark.
    if wl.len() >= 7 && is_split_word(wl) {
        let joined: String = wl.chars().step_by(2).collect();
        sink.push2(prefix, &joined);
        sink.push("obf:split-word");
        return;
    }
    if joined {
        // Its dot/dash/apostrophe-separated parts, then the whole word.
        for part in wl.split(['.', '-', '\'']).filter(|p| !p.is_empty()) {
            push_word(part, prefix, sink);
        }
    }
    push_word(wl, prefix, sink);
}

fn flush_letters(run: &mut Vec<char>, prefix: &str, sink: &mut Sink) {
    if run.len() >= 4 {
        let joined: String = run.iter().collect();
        sink.push2(prefix, &joined);
        sink.push("obf:spaced-letters");
    }
    run.clear();
}

fn push_word(w: &str, prefix: &str, sink: &mut Sink) {
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
    sink.push2(prefix, w);
}

/// Lower case, borrowed when there is nothing to change.
fn lower(w: &str) -> std::borrow::Cow<'_, str> {
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
fn unspaced_tokens(w: &str, prefix: &str, sink: &mut Sink) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_separator_table_is_white_space_and_the_listed_punctuation() {
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let expected = c.is_whitespace()
                || matches!(
                    c,
                    ',' | ';'
                        | ':'
                        | '('
                        | ')'
                        | '['
                        | ']'
                        | '{'
                        | '}'
                        | '<'
                        | '>'
                        | '"'
                        | '/'
                        | '\\'
                        | '|'
                        | '='
                        | '*'
                        | '+'
                        | '_'
                        | '~'
                        | '#'
                        | '^'
                        | '`'
                        | '«'
                        | '»'
                        | '“'
                        | '”'
                        | '‘'
                        | '’'
                        | '?'
                        | '¿'
                        | '¡'
                );
            assert_eq!(is_separator(c), expected, "{c:?}");
        }
    }

    fn sink() -> Sink {
        Sink { seen: HashSet::default(), out: Tokens::default(), max: 4000 }
    }

    /// The ASCII tokenizer gives exactly the tokens of the general one, on texts made to hit its
    /// branches: URLs, addresses, split and spaced letters, long words, numbers, capitals.
    #[test]
    fn ascii_tokenizer_agrees_with_the_general_one() {
        let pieces = [
            "http://x.example/a?b=c",
            "www.Shop.example",
            "(www.x.example)",
            "mailto:a@b.example",
            "jan@klant.be",
            "a@b",
            "@x.y",
            "v.i.a.g.r.a",
            "c-a-s-h-!-x",
            "f r e e m o n e y",
            "I",
            "a",
            "B",
            "x",
            "supercalifragilisticexpialidocious",
            "$100",
            "$",
            "100%",
            "12:30",
            "22/11/2026",
            "0xdeadbeef12",
            "e-mail",
            "don't",
            "'quoted'",
            "--dash--",
            "end.",
            "wow!!",
            "!!!",
            "...",
            "U.S.A.",
            "Hello,",
            "WORLD;",
            "b.",
            "x-",
            "v.i.a.g.r.a.",
            "q'",
            "tab\there",
            "CR\r\nLF",
            "a\x0bb",
            "f\x0cg",
            "x://",
            "ab:cd",
            "<b>",
            "[x]",
            "{y}",
            "#tag",
            "^",
            "~",
        ];
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut total = 0;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..(next() % 30) {
                text.push_str(pieces[next() as usize % pieces.len()]);
                text.push_str([" ", "  ", "\n", "", ".", "-", "'", ","][next() as usize % 8]);
            }
            for prefix in ["", "invis:"] {
                let (mut a, mut g) = (sink(), sink());
                text_tokens_ascii(&text, prefix, &mut a);
                text_tokens_general(&text, prefix, &mut g);
                assert_eq!(a.out, g.out, "{text:?}");
                total += a.out.len();
            }
        }
        assert!(total > 20_000, "the texts must give tokens ({total})");
    }

    #[test]
    fn noise_is_what_it_was_for_words_without_digits_too() {
        // The first version: count both, then decide.
        let reference = |w: &str| {
            let (digits, letters) =
                w.chars().fold((0, 0), |(d, l), c| (d + c.is_ascii_digit() as usize, l + c.is_alphabetic() as usize));
            if letters == 0 {
                return !(w.starts_with(['$', '€', '£']) && digits > 0);
            }
            digits > letters || (w.len() >= 8 && digits >= 3 && w.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        };
        for w in [
            "",
            "word",
            "$",
            "$100",
            "€50",
            "£",
            "---",
            "ab12",
            "a123",
            "deadbeef12",
            "x-1-2-3-y",
            "é",
            "中文",
            "٣٣",
            "$x",
        ] {
            assert_eq!(is_noise(w), reference(w), "{w:?}");
        }
    }

    fn toks(raw: &str) -> Vec<String> {
        tokenize(&Message::parse(raw.as_bytes(), 1 << 20), &TokenizerSettings::default())
            .iter()
            .map(String::from)
            .collect()
    }

    fn has(t: &[String], w: &str) -> bool {
        t.iter().any(|x| x == w)
    }

    #[test]
    fn body_words_are_folded_and_noise_dropped() {
        let t = toks("Subject: Gratis Lening\n\nKlik HIER voor uw lening! Bel 0470123456 op 22/11/2026 om 12:30, $500 cash. aa\n");
        for w in ["subj:Gratis", "subj:Lening", "klik", "hier", "voor", "lening", "$500", "cash", "ct:text/plain"] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        for w in ["0470123456", "22/11/2026", "12:30", "aa"] {
            assert!(!t.iter().any(|x| x.contains(w)), "{w} should be dropped: {t:?}");
        }
        // De-duplicated.
        assert_eq!(t.iter().filter(|x| *x == "lening").count(), 1);
    }

    #[test]
    fn long_words_become_skip_tokens() {
        let t = toks("Subject: x\n\nsupercalifragilisticexpialidocious\n");
        assert!(has(&t, "skip:s 30"), "{t:?}");
    }

    #[test]
    fn headers_are_tagged_and_trace_fields_ignored() {
        let t = toks(
            "Received: from mx by mail\nX-Spam-Flag: YES\nTo: me@mijndomein.be\nFrom: \"Jan Peeters\" <jan@mail.klant.be>\n\
             Reply-To: x@deals.example\nX-Mailer: Microsoft Outlook Express 6.00\nMessage-ID: <1@srv.klant.be>\nSubject: hi\n\nbody\n",
        );
        for w in [
            "from:n:jan",
            "from:n:peeters",
            "from:a:jan@mail.klant.be",
            "from:d:klant.be",
            "rt:d:deals.example",
            "mailer:microsoft",
            "mid:d:klant.be",
        ] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        assert!(!t.iter().any(|x| x.contains("mijndomein") || x.contains("mx") || x.contains("spam")), "{t:?}");
    }

    #[test]
    fn html_visible_invisible_and_urls() {
        let t = toks(
            "Content-Type: text/html\n\n<p>Cheap <b>meds</b></p><div style=\"display:none\">report meeting</div>\
             <a href=\"http://user@1.2.3.4:8080/buy/now?ref=mail\">click</a><img src=\"http://t.evil.example/p.gif\" width=1 height=1>\n",
        );
        for w in [
            "cheap",
            "meds",
            "invis:report",
            "invis:meeting",
            "html:hidden-text",
            "url:1.2.3.4",
            "url:ip",
            "url:userinfo",
            "url:port",
            "url:p:buy",
            "url:p:ref",
            "img:d:evil.example",
            "html:webbug",
            "click",
        ] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        assert!(!has(&t, "report"), "invisible text leaked into visible tokens");
    }

    #[test]
    fn urls_in_plain_text_are_cracked() {
        let t = toks("Subject: x\n\nSee https://a.b.evil.example/win/prize now\n");
        for w in ["url:a.b.evil.example", "url:d:evil.example", "url:p:win", "url:p:prize"] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        assert!(!t.iter().any(|x| x == "https" || x == "evil" || x == "example"), "{t:?}");
    }

    #[test]
    fn cjk_text_gives_bigrams() {
        let t = toks("Content-Type: text/plain; charset=utf-8\n\n免费赠送礼品\n");
        for w in ["免费", "费赠", "赠送", "送礼", "礼品"] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        let t = toks("Subject: x\n\nโปรโมชั่นพิเศษ\n");
        assert!(t.len() > 5, "{t:?}");
    }

    #[test]
    fn obfuscated_words_are_rejoined() {
        let t = toks("Subject: x\n\nbuy v.i.a.g.r.a and c i a l i s today\n");
        for w in ["viagra", "cialis", "obf:split-word", "obf:spaced-letters", "buy", "today"] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
    }

    #[test]
    fn mime_structure_and_attachments() {
        let raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nfactuur bijgevoegd\n--b\nContent-Type: application/octet-stream; name=\"factuur.pdf.exe\"\nContent-Disposition: attachment; filename=\"factuur.pdf.exe\"\nContent-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--b--\n";
        let t = toks(raw);
        for w in [
            "ct:multipart/mixed",
            "charset:iso-8859-1",
            "cte:quoted-printable",
            "att:ext:exe",
            "att:application/octet-stream",
            "factuur",
            "bijgevoegd",
        ] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
    }

    #[test]
    fn bounded_and_never_panics() {
        let big = format!("Subject: x\n\n{}", (0..200_000).map(|i| format!("w{i}x ")).collect::<String>());
        let t = toks(&big);
        assert!(t.len() <= TokenizerSettings::default().max_tokens);
        for junk in ["", "\n\n", "Subject: \u{0}\u{1}\n\n\u{fffd}", "Content-Type: text/html\n\n<<<<a href=>>>"] {
            let _ = toks(junk);
        }
    }
}
