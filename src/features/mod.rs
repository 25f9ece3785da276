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
//! * HTML: the text (visible or styled invisible alike, as bogofilter reads it) is tokenized like
//!   plain text; what no reader is shown (invisible text, the `<title>`, an alternative not
//!   shown, an attachment) comes after the rest and may accuse but not excuse
//!   (`Tokens::unseen`); links are cracked into `url:` host, registrable-domain, host-label and
//!   path-word tokens, images and CSS `url(...)` give their registrable domain. What the markup
//!   does is left to the rules.
//! * MIME structure is evidence: `ct:` top-level type, `part:`, `charset:`, `cte:` per part,
//!   attachment types and file extensions.
//! * Header tokens are tagged by field: `subj:` words keep their case (SpamBayes found case in
//!   subjects telling), `from:`/`rt:` names, addresses and domains, `mailer:`, `mid:`.
//!
//! Left out by default, on purpose: Date, To, Cc, Delivered-To, Return-Path, X-Original-To and
//! every X-Spam-* field. Users train ham from their Sent folder (no Received chain, always From
//! themselves, To their correspondents) and spam from Junk (which carries our own X-Spam-*
//! fields), so those fields differ between the training sets for reasons that have nothing to
//! do with spam, and would mark every incoming ham as spam. An admin whose ham is received mail
//! can add fields with `[tokenizer] headers = [...]`. The Received fields' words are tokens of
//! their own, after all the others (`trace_tokens`): learned always, used by scoring only while
//! the gate's marker says the ham and spam learned mostly had them (`bayes::TraceGate`).
//!
//! Tokens are de-duplicated per message and returned in first-seen order; at most
//! `max_part_bytes` of each part and `max_tokens` tokens per message.

pub mod chars;
mod headers;
pub mod html;
mod markup;
mod text;
pub mod urls;

use std::collections::HashSet;

use serde::Deserialize;

use crate::message::{Body, Message};
use headers::*;
use markup::*;
use text::*;

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
    /// Which Received fields give the trace words (not a `[tokenizer]` key: the configuration's
    /// `trusted_networks` set it).
    #[serde(skip)]
    pub trace_fields: TraceFields,
}

/// Which Received fields give the trace words (`rcvd:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceFields {
    /// Every Received field.
    All,
    /// The top K fields.
    Top(usize),
    /// The fields the user's own servers wrote: from the top down to and including the one that
    /// records the first relay outside these networks (`received::own_fields`); all of them
    /// when no relay is outside. The fields below are the sender's to write.
    Own(crate::received::Networks),
}

impl Default for TraceFields {
    /// The user's own fields, with the built-in trusted networks.
    fn default() -> Self {
        TraceFields::Own(crate::received::Networks::default())
    }
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
            trace_fields: TraceFields::default(),
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
    /// Where the trace tokens start (see [`TRACE_MARKER`]): every token from here on is the
    /// marker or a Received word (`None`: the message has no Received field).
    trace: Option<usize>,
    /// The tokens found only in text the reader is not shown (see [`Tokens::unseen`]).
    unseen: std::ops::Range<usize>,
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

    /// The index of the first trace token (the marker, then the Received words); `len()` when
    /// the message has no Received field. Tokens before it are the same with or without
    /// Received fields.
    pub fn trace_start(&self) -> usize {
        self.trace.unwrap_or(usize::MAX).min(self.len())
    }

    /// Whether token `i` is a trace token (the marker or a Received word).
    pub fn is_trace(&self, i: usize) -> bool {
        i >= self.trace_start()
    }

    /// The tokens that occur only in text a mail client does not show the reader: text styled
    /// invisible, the HTML `<title>`, the alternatives of a `multipart/alternative` other than
    /// the one shown, and attachments (`message::Part::unshown`). They are learned as every
    /// other token, but scoring lets them accuse and hardly excuse: of those that lean to ham
    /// only the strongest few count (`scoring::UNSEEN_HAM_CLUES`; attack report F12: 1,000
    /// common words nobody sees turned HTML spam into ham). A word that is also in the shown
    /// text is not among them.
    pub fn unseen(&self) -> std::ops::Range<usize> {
        self.unseen.clone()
    }

    /// The index of the gate's marker ([`TRACE_MARKER`]), when the message has a Received field.
    pub fn marker(&self) -> Option<usize> {
        let i = self.trace_start();
        (i < self.len()).then_some(i)
    }
}

/// The gate's marker: a token learned with every message that has at least one Received field,
/// so the database's count of it in each class is how many ham and spam were learned with
/// their trace fields (no format change: it is a token like the others, kept, dumped, loaded,
/// forgotten and expired as they are). Scoring reads it to decide whether the Received words
/// may count ([`crate::bayes::TraceGate`]); it is never a clue itself. No word can be it: words
/// never hold `*`.
pub const TRACE_MARKER: &str = "rcvd:*";

/// The prefix of the Received fields' words (`rcvd:smtp`, `rcvd:example`): no other token has it.
pub const TRACE_PREFIX: &str = "rcvd:";

/// At most this many Received words per message (besides the other tokens' `max_tokens`).
pub const MAX_TRACE_TOKENS: usize = 300;

/// Collects unique tokens in first-seen order, up to a limit.
struct Sink {
    /// Token hashes seen so far.
    seen: HashSet<u64, crate::hash::PreHashedBuild>,
    out: Tokens,
    max: usize,
}

impl Sink {
    fn push(&mut self, t: &str) {
        self.push_prefixed("", t);
    }

    /// Pushes `prefix` + `word` when that token is new.
    fn push_prefixed(&mut self, prefix: &str, word: &str) {
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

/// The decoded content of one leaf part, as the tokenizer and the rules see it (its URLs are
/// in `Content::urls`).
#[derive(Debug)]
pub enum PartContent<'m> {
    /// A text part (bounded to `max_part_bytes`, runs of white space counting two bytes: see
    /// `bounded_text`).
    Text { text: std::borrow::Cow<'m, str> },
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
    /// Every URL of the message, found and parsed once, part by part in order: a text part's
    /// written URLs; an HTML part's links, then its images, then its CSS `url(...)`s, then the
    /// URLs written in its visible text that are not linked (nor written in an earlier part).
    pub urls: Vec<urls::FoundUrl>,
    /// The range of `urls` that each part holds, aligned with `parts`.
    part_urls: Vec<std::ops::Range<usize>>,
}

impl<'m> Content<'m> {
    /// Decodes and parses every part once (text bounded, HTML parsed, URLs found).
    pub fn extract(msg: &'m Message, s: &TokenizerSettings) -> Content<'m> {
        let parts: Vec<PartContent<'m>> = msg
            .parts
            .iter()
            .map(|part| match &part.body {
                Body::Text(t) if !part.is_attachment || part.content_type.starts_with("text/") => {
                    PartContent::Text { text: bounded_text(t, s.max_part_bytes) }
                }
                Body::Html(h) => PartContent::Html(html::parse(bounded(h, s.max_part_bytes.saturating_mul(4)))),
                _ => PartContent::Other,
            })
            .collect();
        let mut found = Vec::new();
        let mut part_urls = Vec::with_capacity(parts.len());
        // Every URL's text once, so the HTML parts' written URLs are told apart from their links
        // by one look-up each, not a comparison with every URL found before (issue 15).
        let mut seen = HashSet::new();
        for pc in &parts {
            let start = found.len();
            match pc {
                PartContent::Text { text } => {
                    for u in urls::find_urls(text) {
                        seen.insert(u.raw.clone());
                        found.push(urls::FoundUrl {
                            url: u,
                            source: urls::UrlSource::Text,
                            link_text: None,
                            hidden: false,
                        });
                    }
                }
                PartContent::Html(doc) => html_urls(doc, &mut found, &mut seen),
                PartContent::Other => {}
            }
            part_urls.push(start..found.len());
        }
        Content { parts, urls: found, part_urls }
    }

    /// The URLs of part `i` (of `parts`), in the order `urls` has them.
    pub fn urls_of(&self, i: usize) -> &[urls::FoundUrl] {
        self.part_urls.get(i).map_or(&[], |r| &self.urls[r.clone()])
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
            trace: None,
            unseen: 0..0,
        },
        max: s.max_tokens,
    };
    header_tokens(msg, s, &mut sink);
    sink.push_parts(&["ct:", &msg.content_type]);
    if msg.mime_problem {
        sink.push("mime:broken");
    }
    for (i, (part, pc)) in msg.parts.iter().zip(&content.parts).enumerate() {
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
        if !part.unshown {
            part_tokens(pc, content.urls_of(i), &mut sink);
        }
    }
    // What the reader is not shown comes after everything shown, so that a word in both is a
    // shown word, and padding nobody sees cannot use up `max_tokens` before the shown text.
    let unseen_start = sink.out.len();
    for (i, (part, pc)) in msg.parts.iter().zip(&content.parts).enumerate() {
        if sink.full() {
            break;
        }
        if part.unshown {
            part_tokens(pc, content.urls_of(i), &mut sink);
        }
        if let PartContent::Html(doc) = pc {
            html_unseen_tokens(doc, &mut sink);
        }
    }
    sink.out.unseen = unseen_start..sink.out.len();
    trace_tokens(msg, s, &mut sink);
    sink.out
}

/// The words and URLs of one part's content (for an HTML part, what it shows; its hidden text
/// and title are `html_unseen_tokens`).
fn part_tokens(pc: &PartContent, urls: &[urls::FoundUrl], sink: &mut Sink) {
    match pc {
        PartContent::Text { text } => {
            text_tokens(text, "", sink);
            for u in urls {
                url_tokens(&u.url, sink);
            }
        }
        PartContent::Html(doc) => html_tokens(doc, urls, sink),
        PartContent::Other => {}
    }
}

/// The trace tokens, after all the others and outside their `max_tokens`: the marker, then the
/// words of every Received field (as `[tokenizer] headers = ["received"]` would make them, at
/// most 20 per field, lower case), tagged `rcvd:`. They are learned with every message, but a
/// user who learns ham from a Sent folder (no Received fields) would learn them from spam only,
/// so scoring uses them only while the ham and spam learned mostly had them (`bayes::TraceGate`).
/// When the configuration reads Received fields itself (`h:received:` tokens, used ungated), the
/// words are not made twice: the marker only.
fn trace_tokens(msg: &Message, s: &TokenizerSettings, sink: &mut Sink) {
    let mut received = msg.headers_named("received").peekable();
    if received.peek().is_none() {
        return;
    }
    sink.out.trace = Some(sink.out.len());
    sink.max = sink.out.len() + 1 + MAX_TRACE_TOKENS;
    sink.push(TRACE_MARKER);
    if s.headers.iter().any(|h| h.eq_ignore_ascii_case("received")) {
        return;
    }
    let fields = match &s.trace_fields {
        TraceFields::All => usize::MAX,
        TraceFields::Top(k) => *k,
        TraceFields::Own(trusted) => crate::received::own_fields(msg, trusted).unwrap_or(usize::MAX),
    };
    for h in received.take(fields) {
        for w in words(&h.text).take(20) {
            if (3..=20).contains(&w.len()) && !is_noise(w) {
                sink.push_parts(&[TRACE_PREFIX, &w.to_lowercase()]);
            }
        }
        if sink.full() {
            break;
        }
    }
}

/// An HTML part's URLs: links, images, CSS, then the URLs written in its visible text that are
/// not in `seen` (linked, or written in an earlier part).
fn html_urls(doc: &html::HtmlDoc, out: &mut Vec<urls::FoundUrl>, seen: &mut HashSet<String>) {
    use urls::{FoundUrl, UrlSource};
    let mut push =
        |u: urls::Url, source: UrlSource, link_text: Option<String>, hidden: bool, seen: &mut HashSet<String>| {
            seen.insert(u.raw.clone());
            out.push(FoundUrl { url: u, source, link_text, hidden });
        };
    for l in &doc.links {
        if let Some(u) = urls::parse_url(&l.href) {
            push(u, UrlSource::Link, Some(l.text.clone()), l.hidden, seen);
        }
    }
    for i in &doc.images {
        if let Some(u) = urls::parse_url(&i.src) {
            push(u, UrlSource::Image, None, i.hidden, seen);
        }
    }
    for c in &doc.css_urls {
        if let Some(u) = urls::parse_url(c) {
            push(u, UrlSource::Css, None, false, seen);
        }
    }
    // URLs written in the visible text (not linked) count too.
    for u in urls::find_urls(&doc.visible_text) {
        if !seen.contains(&u.raw) {
            push(u, UrlSource::Text, None, false, seen);
        }
    }
}

/// The first `max` bytes of a text part, where a run of ASCII white space counts (and is kept
/// as) its first two bytes: blank lines before the text do not use up the part's budget
/// (attack report F13: 33,000 lines of one space before the spam left the part "empty"). The
/// words are the same (runs of white space only separate them). Linear in the part; a part
/// within `max` is returned as it is.
fn bounded_text(t: &str, max: usize) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if t.len() <= max {
        return Cow::Borrowed(t);
    }
    let b = t.as_bytes();
    // Where the budget ends, and whether a run longer than two bytes comes before it.
    let (mut kept, mut run, mut end, mut collapsed) = (0usize, 0usize, b.len(), false);
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_whitespace() {
            run += 1;
            if run > 2 {
                collapsed = true;
                continue;
            }
        } else {
            run = 0;
        }
        if kept == max {
            end = i;
            break;
        }
        kept += 1;
    }
    if !collapsed {
        return Cow::Borrowed(bounded(t, max));
    }
    let end = t.floor_char_boundary(end);
    let mut out = String::with_capacity(max);
    run = 0;
    for c in t[..end].chars() {
        if c.is_ascii_whitespace() {
            run += 1;
            if run > 2 {
                continue;
            }
        } else {
            run = 0;
        }
        out.push(c);
    }
    Cow::Owned(out)
}

fn bounded(t: &str, max: usize) -> &str {
    if t.len() <= max {
        t
    } else {
        &t[..t.floor_char_boundary(max)]
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
    fn body_words_keep_their_case_and_noise_is_dropped() {
        let t = toks("Subject: Gratis Lening\n\nKlik HIER voor uw lening! Bel 0470123456 op 22/11/2026 om 12:30, $500 cash. aa\n");
        for w in ["subj:Gratis", "subj:Lening", "Klik", "HIER", "voor", "lening", "$500", "cash", "ct:text/plain"] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        for w in ["0470123456", "22/11/2026", "12:30", "aa"] {
            assert!(!t.iter().any(|x| x.contains(w)), "{w} should be dropped: {t:?}");
        }
        assert!(!has(&t, "klik") && !has(&t, "hier"), "case is kept, not folded: {t:?}");
        // What obfuscation spells out is folded, whatever its case.
        let o = toks("Subject: x\n\nBuy V.I.A.G.R.A and C I A L I S now\n");
        for w in ["viagra", "cialis", "obf:split-word", "obf:spaced-letters", "Buy"] {
            assert!(has(&o, w), "{w} missing from {o:?}");
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
    fn mime_field_words_are_tokens_case_kept_and_bounded() {
        let t = toks(
            "MIME-Version: 1.0\nContent-Type: multipart/alternative;\n\tboundary=\"----=_NextPart_000_0004_01C2A9F2.3B1C5E60\"\n\
             Content-Transfer-Encoding: 7bit\nSubject: x\n\n------=_NextPart_000_0004_01C2A9F2.3B1C5E60\n\nhi\n",
        );
        for w in [
            "h:content-type:multipart",
            "h:content-type:alternative",
            "h:content-type:boundary",
            "h:content-type:NextPart_000_0004_01C2A9F2",
            "h:content-type:3B1C5E60",
            "h:content-transfer-encoding:7bit",
        ] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        // Pure numbers (the MIME version) are not words; a field gives at most 20.
        assert!(!t.iter().any(|x| x.starts_with("h:mime-version")), "{t:?}");
        let many = (0..100).map(|i| format!("p{i}=v{i}x")).collect::<Vec<_>>().join("; ");
        let t = toks(&format!("Content-Type: text/plain; {many}\n\nhi\n"));
        assert_eq!(t.iter().filter(|x| x.starts_with("h:content-type:")).count(), 20, "{t:?}");
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
            "from:h:mail",
            "from:h:klant",
            "from:h:be",
            "from:l:jan",
            "rt:d:deals.example",
            "rt:h:deals",
            "mailer:microsoft",
            "mid:d:klant.be",
        ] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        assert!(!t.iter().any(|x| x.contains("mijndomein") || x.contains("mx") || x.contains("spam")), "{t:?}");
        // Received gives only the gated trace tokens (the marker and its words), after the others.
        let trace: Vec<&String> = t.iter().skip_while(|x| *x != TRACE_MARKER).collect();
        assert_eq!(trace, ["rcvd:*", "rcvd:from", "rcvd:mail"]);
        assert_eq!(t.iter().filter(|x| x.starts_with(TRACE_PREFIX)).count(), 3);
    }

    /// The address tokens come from the message's one parse of its addresses: the comment form
    /// has a name and an address (before, `from:a:jm@jmason.org (justin mason)`), a field with
    /// no address says so.
    #[test]
    fn address_tokens_read_the_parsed_mailboxes() {
        let t = toks("From: JM@jmason.org (Justin Mason)\nReply-To: undisclosed:;\nSubject: hi\n\nbody\n");
        for w in ["from:a:jm@jmason.org", "from:d:jmason.org", "from:h:jmason", "from:n:justin", "rt:noaddr"] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        assert!(!t.iter().any(|x| x.contains('(') || x == "from:noaddr"), "{t:?}");
    }

    #[test]
    fn html_text_visible_or_not_and_urls() {
        let t = toks(
            "Content-Type: text/html\n\n<p>Cheap <b>meds</b></p><div style=\"display:none\">report meeting</div>\
             <a href=\"http://user@1.2.3.4:8080/buy/now?ref=mail\">click</a><img src=\"http://t.evil.example/p.gif\" width=1 height=1>\n",
        );
        for w in [
            "Cheap",
            "meds",
            "report",
            "meeting",
            "url:1.2.3.4",
            "url:ip",
            "url:userinfo",
            "url:port",
            "url:p:buy",
            "url:p:ref",
            "img:d:evil.example",
            "click",
        ] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        // Hidden words are words; what the markup does is the rules' evidence, not tokens.
        assert!(!t.iter().any(|x| x.starts_with("invis:") || x.starts_with("html:")), "{t:?}");
    }

    #[test]
    fn urls_in_plain_text_are_cracked() {
        let t = toks("Subject: x\n\nSee https://a.b.evil.example/win/prize now\n");
        for w in ["url:a.b.evil.example", "url:d:evil.example", "url:p:win", "url:p:prize"] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        assert!(!t.iter().any(|x| x == "https" || x == "evil" || x == "example"), "{t:?}");
    }

    /// A link's words: the labels in front of its registrable domain and the words of its path and
    /// query, as written and in lower case; no labels for an IP address.
    #[test]
    fn url_words_are_labels_and_path_and_query_words_in_both_cases() {
        let t = toks(
            "Subject: x\n\nSee http://Click.Mail.shop.example/Deals/Spring-Sale/item/Widget.HTML?Ref=news&id=1a2b3c4d5e \
             and http://10.1.2.3/admin/login.php\n",
        );
        for w in [
            "url:click.mail.shop.example",
            "url:d:shop.example",
            "url:h:click",
            "url:h:mail",
            "url:p:Deals",
            "url:p:deals",
            "url:p:Spring",
            "url:p:spring",
            "url:p:sale",
            "url:p:item",
            "url:p:Widget",
            "url:p:widget",
            "url:p:HTML",
            "url:p:html",
            "url:p:Ref",
            "url:p:ref",
            "url:p:news",
            "url:p:admin",
            "url:p:login",
            "url:p:php",
        ] {
            assert!(has(&t, w), "{w} missing from {t:?}");
        }
        for w in ["url:h:shop", "url:h:example", "url:h:10", "url:p:1a2b3c4d5e"] {
            assert!(!has(&t, w), "{w} in {t:?}");
        }
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

    /// Attack report F13: 66 KB of blank lines before the text used up `max_part_bytes`.
    #[test]
    fn blank_lines_do_not_use_up_a_parts_budget() {
        let max = TokenizerSettings::default().max_part_bytes;
        let raw = format!("Subject: x\n\n{}Buy cheap pills now\n", " \n".repeat(33_000));
        let t = toks(&raw);
        assert!(has(&t, "pills"), "{t:?}");
        // The words are the text's first words, and the budget still holds.
        for text in ["é  \n\n\n x".repeat(40_000), "ab ".repeat(40_000), "word\t\t\t".repeat(30_000)] {
            let b = bounded_text(&text, max);
            let words: Vec<&str> = b.split_whitespace().collect();
            assert!(b.len() <= max && words.len() > 10_000, "{} {}", b.len(), words.len());
            assert!(text.split_whitespace().zip(&words[..words.len() - 1]).all(|(a, b)| a == *b));
        }
        assert!(matches!(bounded_text("short  \n\n\n text", max), std::borrow::Cow::Borrowed(_)));
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

    const RECEIVED: &str = "Received: from mail.klant.be (mail.klant.be [192.0.2.10])\n\tby mx.mijn.be with ESMTP id 4F2; Tue, 1 Dec 2026 10:00:00 +0100\n\
Received: from laptop (unknown [10.0.0.5]) by mail.klant.be; Tue, 1 Dec 2026 09:59:58 +0100\n";
    const BODY: &str = "From: Jan <jan@klant.be>\nSubject: Planning dinsdag\nMessage-ID: <a1@klant.be>\n\nDe vergadering van dinsdag.\n";

    #[test]
    fn received_fields_give_the_marker_and_their_words_after_every_other_token() {
        // Every field's words (the fields the user's own servers wrote: the test below).
        let all = TokenizerSettings { trace_fields: TraceFields::All, ..TokenizerSettings::default() };
        let sent = tokenize(&Message::parse(BODY.as_bytes(), 1 << 20), &all);
        assert_eq!((sent.marker(), sent.trace_start()), (None, sent.len()));
        let got = tokenize(&Message::parse(format!("{RECEIVED}{BODY}").as_bytes(), 1 << 20), &all);
        // The tokens before the trace tokens are the Sent copy's, in the same order.
        let m = got.marker().expect("a marker");
        assert_eq!(m, sent.len());
        assert_eq!(&got.hashes()[..m], sent.hashes());
        assert_eq!(got.get(m), TRACE_MARKER);
        let trace: Vec<&str> = got.iter().skip(m + 1).collect();
        for w in ["rcvd:from", "rcvd:mail.klant.be", "rcvd:mx.mijn.be", "rcvd:esmtp", "rcvd:laptop", "rcvd:unknown"] {
            assert!(trace.contains(&w), "{w} in {trace:?}");
        }
        assert!(trace.iter().all(|t| t.starts_with(TRACE_PREFIX) && t.len() > TRACE_PREFIX.len()), "{trace:?}");
        assert!((0..got.len()).all(|i| got.is_trace(i) == (i >= m)));
        // No other token has the prefix, and no word can be the marker.
        assert!(sent.iter().all(|t| !t.starts_with(TRACE_PREFIX)));
        assert!(toks("Subject: rcvd:* x\n\nrcvd:* rcvd: *\n").iter().all(|t| !t.starts_with(TRACE_PREFIX)));
    }

    #[test]
    fn received_words_come_only_from_the_fields_the_users_own_servers_wrote() {
        // The user's MX (mx.mijn.be) wrote the field that records the first untrusted relay
        // (192.0.2.10); the fields below it are the sender's to write, forged ones included.
        let own = "Received: from mx.mijn.be (mx.mijn.be [10.1.1.1]) by imap.mijn.be with LMTP; Tue, 1 Dec 2026 10:00:01 +0100\n\
Received: from mail.klant.be (mail.klant.be [192.0.2.10])\n\tby mx.mijn.be with ESMTP id 4F2; Tue, 1 Dec 2026 10:00:00 +0100\n";
        let forged = "Received: from lists.sf.net (lists.sf.net [216.136.171.252]) by dogma.slashnull.org with ESMTP; Tue, 1 Dec 2026 09:59:59 +0100\n\
Received: from localhost (jm@localhost [127.0.0.1]) by dogma.slashnull.org with IMAP (fetchmail-5.9.0); Tue, 1 Dec 2026 09:59:58 +0100\n";
        let trace = |raw: String, s: &TokenizerSettings| -> Vec<String> {
            let t = tokenize(&Message::parse(raw.as_bytes(), 1 << 20), s);
            let m = t.marker().expect("a marker");
            t.iter().skip(m).map(String::from).collect()
        };
        let d = TokenizerSettings::default();
        let clean = trace(format!("{own}{BODY}"), &d);
        for w in ["rcvd:*", "rcvd:mx.mijn.be", "rcvd:imap.mijn.be", "rcvd:lmtp", "rcvd:mail.klant.be", "rcvd:esmtp"] {
            assert!(clean.contains(&w.to_string()), "{w} in {clean:?}");
        }
        // Forged fields below the first untrusted hop give no words: the same trace tokens.
        assert_eq!(trace(format!("{own}{forged}{BODY}"), &d), clean);
        // Read as before (every field), they would.
        let all = TokenizerSettings { trace_fields: TraceFields::All, ..TokenizerSettings::default() };
        let words = trace(format!("{own}{forged}{BODY}"), &all);
        assert!(
            words.contains(&"rcvd:dogma.slashnull.org".to_string())
                && words.contains(&"rcvd:fetchmail-5.9.0".to_string())
        );
        // With 192.0.2.0/24 trusted too (`trusted_networks`), the next field down is the user's
        // own: its relay (lists.sf.net) is the first untrusted one.
        let mut nets = crate::received::Networks::default();
        nets.add("192.0.2.0/24").unwrap();
        let wider = TokenizerSettings { trace_fields: TraceFields::Own(nets), ..TokenizerSettings::default() };
        let got = trace(format!("{own}{forged}{BODY}"), &wider);
        assert!(got.contains(&"rcvd:lists.sf.net".to_string()), "{got:?}");
        assert!(
            !got.contains(&"rcvd:imap".to_string()) && !got.contains(&"rcvd:fetchmail-5.9.0".to_string()),
            "{got:?}"
        );
        // No untrusted hop at all (mail from the user's own network): every field.
        let inside = "Received: from laptop (unknown [10.0.0.5]) by mx.mijn.be; Tue, 1 Dec 2026 09:59:58 +0100\n\
Received: from desktop (unknown [10.0.0.6]) by laptop; Tue, 1 Dec 2026 09:59:57 +0100\n";
        let got = trace(format!("{inside}{BODY}"), &d);
        assert!(got.contains(&"rcvd:laptop".to_string()) && got.contains(&"rcvd:desktop".to_string()), "{got:?}");
        // Top K fields.
        let top = TokenizerSettings { trace_fields: TraceFields::Top(1), ..TokenizerSettings::default() };
        let got = trace(format!("{own}{forged}{BODY}"), &top);
        assert!(got.contains(&"rcvd:lmtp".to_string()) && !got.contains(&"rcvd:mail.klant.be".to_string()), "{got:?}");
    }

    #[test]
    fn trace_tokens_are_bounded_and_not_made_twice() {
        // However many Received fields, at most MAX_TRACE_TOKENS words (and the marker), even
        // when the other tokens fill `max_tokens`.
        let mut raw = String::new();
        for i in 0..400 {
            raw.push_str(&format!("Received: from host{i}a.example by relay{i}b.example with id{i}c; x\n"));
        }
        raw.push_str(BODY);
        let s = TokenizerSettings { max_tokens: 5, ..TokenizerSettings::default() };
        let t = tokenize(&Message::parse(raw.as_bytes(), 1 << 20), &s);
        assert_eq!(t.marker(), Some(5));
        assert_eq!(t.len(), 5 + 1 + MAX_TRACE_TOKENS);
        // A configuration that reads Received fields itself (ungated `h:received:` tokens) gets
        // the marker only.
        let mut s = TokenizerSettings::default();
        s.headers.push("received".into());
        let t = tokenize(&Message::parse(format!("{RECEIVED}{BODY}").as_bytes(), 1 << 20), &s);
        let m = t.marker().expect("a marker");
        assert_eq!(t.len(), m + 1);
        assert!(t.iter().any(|w| w == "h:received:esmtp"));
    }

    /// Admin report H1: a photo or PDF cut off by the scan limit, or sent without its closing
    /// boundary, gave hundreds of `skip:` tokens from its base64 lines (BAYES_999). Now it gives
    /// exactly the tokens the whole message gives: its base64 is never read as words.
    #[test]
    fn a_cut_off_binary_part_gives_no_tokens_of_its_base64() {
        use crate::message::tests::{noise, photo_mail};
        let s = TokenizerSettings::default();
        let words = |raw: &[u8], limit: usize| -> Vec<String> {
            tokenize(&Message::parse(raw, limit), &s).iter().map(String::from).collect()
        };
        let data = noise(100_000, 3);
        for head in [
            "Content-Type: image/jpeg; name=IMG_1234.jpeg\nContent-Disposition: inline; filename=IMG_1234.jpeg\n",
            "Content-Type: image/jpeg; name=IMG_1234.jpeg\n",
            "Content-Type: application/pdf; name=report.pdf\n",
        ] {
            let whole = words(&photo_mail(&data, head, true), 1 << 20);
            assert!(whole.iter().any(|w| w == "pictures") && !whole.iter().any(|w| w.starts_with("skip:")));
            assert!(!whole.iter().any(|w| w == "mime:bad-encoding"), "{whole:?}");
            assert_eq!(words(&photo_mail(&data, head, true), 60_000), whole, "cut by the scan limit: {head}");
            assert_eq!(words(&photo_mail(&data, head, false), 1 << 20), whole, "no closing boundary: {head}");
        }
    }

    /// The words of what the reader is not shown: tokenized after all shown words, and only the
    /// ones the shown text does not have (attack report F12).
    #[test]
    fn words_the_reader_is_not_shown_are_set_apart() {
        let unseen = |raw: &str| -> (Vec<String>, Vec<String>) {
            let t = tokenize(&Message::parse(raw.as_bytes(), 1 << 20), &TokenizerSettings::default());
            let r = t.unseen();
            let all: Vec<String> = t.iter().map(String::from).collect();
            (all[r.clone()].to_vec(), all)
        };
        // The text/plain alternative of an HTML message, and anything inside an alternative that
        // is not the last one shown.
        let alt =
            "Subject: x\nContent-Type: multipart/alternative; boundary=\"A\"\n\n--A\nContent-Type: text/plain\n\n\
                   offer plainonly\n--A\nContent-Type: text/html\n\n<p>offer htmlonly</p>\n--A--\n";
        let (u, all) = unseen(alt);
        assert_eq!(u, ["plainonly"], "{all:?}");
        assert!(has(&all, "offer") && has(&all, "htmlonly"));
        // The last alternative a client renders is the one shown: here the first (HTML), and the
        // later one of a type no client shows as the message is not.
        let (u, _) = unseen(&alt.replace("text/html", "text/x-other").replace("text/plain", "text/html"));
        assert_eq!(u, ["htmlonly"]);
        let (u, _) = unseen(&alt.replace("Content-Type: text/html", "Content-Type: text/plain"));
        assert_eq!(u, ["plainonly"]);
        // Hidden text and the title of an HTML part.
        let (u, all) = unseen(
            "Subject: x\nContent-Type: text/html\n\n<html><head><title>titleword shown</title></head><body>\
             <p>shown</p><div style=\"display:none\">hiddenword shown</div><p>after</p></body></html>\n",
        );
        assert_eq!(u, ["titleword", "hiddenword"], "{all:?}");
        assert!(has(&all, "after"));
        // An attachment.
        let (u, _) = unseen(
            "Subject: x\nContent-Type: multipart/mixed; boundary=\"A\"\n\n--A\nContent-Type: text/plain\n\nbody words\n\
             --A\nContent-Type: text/plain; name=\"t.txt\"\nContent-Disposition: attachment; filename=\"t.txt\"\n\n\
             body attached\n--A--\n",
        );
        assert_eq!(u, ["attached"]);
        // A message with none has an empty range.
        let (u, _) = unseen("Subject: x\n\nplain words\n");
        assert!(u.is_empty());
    }
}
