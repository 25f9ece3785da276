//! What the rules look at, computed once per message from the parsed view and the extracted
//! content: the decoded subject, the body text a reader sees (whitespace collapsed, bounded),
//! every URL with where it was found, and the raw header block and body.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::features::html::HtmlDoc;
use crate::features::{Content, PartContent};
use crate::message::Message;

/// At most this many bytes of body text are looked at by body rules.
pub const MAX_TEXT: usize = 128 * 1024;

pub use crate::features::urls::{FoundUrl, UrlSource};

/// A message as the rules see it.
pub struct Context<'a> {
    pub msg: &'a Message<'a>,
    pub content: &'a Content<'a>,
    /// The decoded Subject (empty when missing).
    pub subject: String,
    /// Text parts and the visible text of HTML parts, white space collapsed to single spaces.
    pub text: String,
    /// The invisible text of HTML parts.
    pub invisible_text: String,
    /// Every URL found, in order (`Content::urls`: found once for the tokenizer and the rules).
    pub urls: &'a [FoundUrl],
    /// The raw header block (lossy UTF-8), for `header = "ALL"` rules: made when one asks.
    header_block: std::cell::OnceCell<String>,
    /// The raw body (lossy UTF-8, bounded).
    pub raw_body: Cow<'a, str>,
    /// The time the message was received (from the newest `Received:` header), Unix seconds.
    pub received_at: Option<i64>,
    /// What is known about the sender (`None`: sender checks are off).
    pub sender: Option<&'a crate::sender::SenderFacts>,
}

impl<'a> Context<'a> {
    pub fn new(msg: &'a Message<'a>, content: &'a Content<'a>) -> Context<'a> {
        let subject = msg.header("subject").unwrap_or("").to_string();
        let mut text = String::new();
        let mut invisible_text = String::new();
        for pc in &content.parts {
            match pc {
                PartContent::Text { text: t } => push_collapsed(&mut text, t),
                PartContent::Html(doc) => {
                    push_collapsed(&mut text, &doc.visible_text);
                    push_collapsed(&mut invisible_text, &doc.invisible_text);
                }
                PartContent::Other => {}
            }
        }
        let header_block = std::cell::OnceCell::new();
        let raw = msg.raw_body();
        let raw_body = String::from_utf8_lossy(&raw[..raw.len().min(MAX_TEXT)]);
        let received_at = msg
            .headers_named("received")
            .next()
            .and_then(|h| h.text.rsplit_once(';'))
            .and_then(|(_, d)| crate::date::parse(d));
        let urls = &content.urls[..];
        Context { msg, content, subject, text, invisible_text, urls, header_block, raw_body, received_at, sender: None }
    }

    /// The raw header block (lossy UTF-8, at most 64 KiB).
    pub fn header_block(&self) -> &str {
        self.header_block.get_or_init(|| {
            let scanned = self.msg.scanned;
            let header_end = self.msg.body_offset.unwrap_or(scanned.len());
            String::from_utf8_lossy(&scanned[..header_end.min(64 * 1024)]).into_owned()
        })
    }

    /// The same context with sender facts for the `sender` rules.
    pub fn with_sender(mut self, facts: &'a crate::sender::SenderFacts) -> Context<'a> {
        self.sender = Some(facts);
        self
    }

    /// The registrable domains of the message's links, distinct, in the order the URI
    /// blocklists are asked about them (only so many are: `sender::MAX_URIBL_DOMAINS`):
    /// - first the domains of the links a reader sees, each domain once (in the order it first
    ///   appears), sampled so that padding cannot fill the cap from either end or both: the
    ///   first and the last, then alternately the next from the ends inwards and the next of a
    ///   spread from the middle outwards (the middle, the quarters, the eighths, ...), so 20
    ///   looked-up domains cover both ends and the middle of any number of padding links;
    /// - then the URLs written in the text, then hidden links, images and CSS;
    /// - within that order, the domains that are least telling go last: the From address's own
    ///   domain and a few well-known ones that URI blocklists never list (`WELL_KNOWN`).
    ///
    /// Ten harmless links before the real one kept it out when the domains were asked in
    /// document order (attack report F11); ten before and ten after, hidden by a CSS class or
    /// white on white (which a link's `hidden` does not see), kept it out of the ends-first
    /// order (review R3). SpamAssassin's URIDNSBL also prefers `<a href>` domains.
    pub fn link_domains(&self) -> Vec<String> {
        use crate::features::urls::UrlSource;
        let mut tiers: [Vec<&str>; 3] = Default::default();
        let mut seen = HashSet::new();
        for u in self.urls {
            if u.url.host_is_ip || u.url.domain.is_empty() || !u.url.scheme.starts_with("http") {
                continue;
            }
            let tier = match u.source {
                UrlSource::Link if !u.hidden => 0,
                UrlSource::Text => 1,
                _ => 2,
            };
            // Each domain once, in its first (best) tier.
            if seen.insert(u.url.domain.as_str()) {
                tiers[tier].push(u.url.domain.as_str());
            }
        }
        let mut out: Vec<&str> = Vec::with_capacity(seen.len());
        out.extend(spread(tiers[0].len()).map(|i| tiers[0][i]));
        out.extend(tiers[1].iter().chain(&tiers[2]));
        let from = self.msg.first_address("from").and_then(|a| a.rsplit_once('@')).map(|(_, d)| d.to_ascii_lowercase());
        let own = from.as_deref().map(crate::domain::registrable);
        let dull = |d: &str| own == Some(d) || WELL_KNOWN.contains(&d);
        // A stable partition: the telling ones first, each part in its order.
        let (mut telling, rest): (Vec<&str>, Vec<&str>) = out.into_iter().partition(|d| !dull(d));
        telling.extend(rest);
        telling.into_iter().map(String::from).collect()
    }

    /// The HTML parts.
    pub fn html(&self) -> impl Iterator<Item = &HtmlDoc> {
        self.content.html()
    }

    /// The number of words, counting no further than `cap` (cheaper when the answer is "many").
    pub fn word_count_up_to(&self, cap: usize) -> usize {
        self.text.split(' ').filter(|w| w.chars().any(char::is_alphabetic)).take(cap).count()
    }
}

/// Appends the words of `s` (split on white space), each after a single space unless `out` is
/// empty, stopping once `out` holds `MAX_TEXT` bytes. (A byte walk for ASCII text was 1.1% of
/// `check`'s instructions faster: not kept, see docs/benchmarks.md.)
fn push_collapsed(out: &mut String, s: &str) {
    for w in s.split_whitespace() {
        if out.len() >= MAX_TEXT {
            return;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
}

/// Domains URI blocklists do not list (the big sites every newsletter links to): looked up last.
const WELL_KNOWN: &[&str] = &[
    "amazon.com",
    "apple.com",
    "bit.ly",
    "facebook.com",
    "google.com",
    "instagram.com",
    "linkedin.com",
    "microsoft.com",
    "pinterest.com",
    "twitter.com",
    "w3.org",
    "wikipedia.org",
    "x.com",
    "youtube.com",
];

/// The indices `0..n` in the order `link_domains` samples them: the first and the last, then
/// alternately the next from the ends inwards (1, n-2, 2, ...) and the next of a spread from the
/// middle outwards (the middle of the widest part not yet sampled: n/2, n/4, 3n/4, ...). Each
/// index once; linear in `n`.
fn spread(n: usize) -> impl Iterator<Item = usize> {
    fn take(i: usize, taken: &mut [bool], order: &mut Vec<usize>) {
        if !taken[i] {
            taken[i] = true;
            order.push(i);
        }
    }
    let mut taken = vec![false; n];
    let mut order = Vec::with_capacity(n);
    // The spread: breadth first over halves, so wider gaps are split first.
    let mut halves = std::collections::VecDeque::from([(0usize, n)]);
    let (mut lo, mut hi) = (0usize, n);
    while order.len() < n {
        // From the ends: the next from the start, then the next from the end.
        for _ in 0..2 {
            if lo < hi {
                let i = if (lo + (n - hi)).is_multiple_of(2) {
                    lo += 1;
                    lo - 1
                } else {
                    hi -= 1;
                    hi
                };
                take(i, &mut taken, &mut order);
            }
        }
        // From the middle: the middle of the next part (parts of one already taken are split
        // further without being counted).
        while let Some((a, b)) = halves.pop_front() {
            if a >= b {
                continue;
            }
            let m = a + (b - a) / 2;
            halves.push_back((a, m));
            halves.push_back((m + 1, b));
            if !taken[m] {
                take(m, &mut taken, &mut order);
                break;
            }
        }
    }
    order.into_iter()
}

#[cfg(test)]
mod tests {
    /// Review R3: the order reaches both ends and the middle early, whatever the length.
    #[test]
    fn the_sample_reaches_both_ends_and_the_middle() {
        let order: Vec<usize> = super::spread(21).collect();
        assert_eq!(&order[..6], &[0, 20, 10, 1, 19, 5]);
        let mut all = order.clone();
        all.sort();
        assert_eq!(all, (0..21).collect::<Vec<_>>());
        for n in [0, 1, 2, 3, 40, 61, 1000] {
            let order: Vec<usize> = super::spread(n).collect();
            assert_eq!(order.len(), n);
            if n > 2 {
                assert_eq!(&order[..3], &[0, n - 1, n / 2], "{n}");
            }
        }
    }

    #[test]
    fn white_space_is_collapsed_up_to_the_bound() {
        let mut out = "before".to_string();
        super::push_collapsed(&mut out, " a  b\t\tc\r\n d\x0b\x0ce\u{a0}f ");
        assert_eq!(out, "before a b c d e f");
        let mut out = String::new();
        super::push_collapsed(&mut out, &"word \t".repeat(super::MAX_TEXT));
        assert!((super::MAX_TEXT..super::MAX_TEXT + 5).contains(&out.len()), "{}", out.len());
    }
}
