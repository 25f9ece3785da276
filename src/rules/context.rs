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
    /// blocklists are asked about them (only the first few are: `sender::MAX_URIBL_DOMAINS`):
    /// the domains of the links a reader sees and clicks first, taken alternately from the first
    /// and the last of them (a spammer's real link is the call to action at the top or the
    /// bottom; padding goes in between), then the URLs written in the text, then hidden links,
    /// images and CSS. Ten harmless links before the real one, hidden or not, kept it from the
    /// lookups when they were asked in document order (attack report F11). SpamAssassin's
    /// URIDNSBL also prefers domains from `<a href>` over the rest when it has more than its
    /// `uridnsbl_max_domains`.
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
            tiers[tier].push(u.url.domain.as_str());
        }
        let mut out: Vec<String> = Vec::new();
        let mut add = |d: &str| {
            if seen.insert(d.to_string()) {
                out.push(d.to_string());
            }
        };
        // The visible links: first, last, second, second to last, ...
        let links = &tiers[0];
        let (mut i, mut j) = (0, links.len());
        while i < j {
            add(links[i]);
            i += 1;
            if i < j {
                j -= 1;
                add(links[j]);
            }
        }
        for d in tiers[1].iter().chain(&tiers[2]) {
            add(d);
        }
        out
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

#[cfg(test)]
mod tests {
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
