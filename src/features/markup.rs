//! Tokens of an HTML part (its text, links, image and CSS hosts) and of a URL (host, registrable
//! domain, the labels in front of it, scheme, oddities, path words).

use super::*;

/// The words of the text, links, image and CSS hosts of an HTML part. `found`: the part's URLs
/// from `Content::urls` (links, images, CSS, written URLs, in that order).
///
/// Text styled invisible (and the `<title>`) is tokenized as plain words, as bogofilter's words
/// are, but apart, after every shown word (`html_unseen_tokens`, `Tokens::unseen`): the styling
/// test cannot see every background (a cell's `bgcolor`, a stylesheet), so a newsletter's
/// white-on-colour text set apart as `invis:` words (words that ham trained from a Sent folder
/// never has) ranked worse; as plain words that may accuse but not excuse, it cannot carry a spam
/// to ham (attack report F12). What the markup does (scripts, forms, hidden text, web bugs, image counts) gives no
/// tokens: the rules score those facts (HTML_SCRIPT, HTML_FORM, HTML_INVISIBLE_TEXT,
/// HTML_WEB_BUG, …), and Bayes counting them again pushed newsletters over the threshold twice.
/// On the SpamAssassin corpus both changes together lowered Bayes' 1-ROCA on every split of
/// `examples/fusion_dump.rs` but one (equal) and flagged fewer hard ham (docs/benchmarks.md,
/// "Hidden text and the markup tokens").
pub(super) fn html_tokens(doc: &html::HtmlDoc, found: &[urls::FoundUrl], sink: &mut Sink) {
    use urls::UrlSource;
    // The visible text without its `<title>` (in `html_unseen_tokens`).
    let mut at = 0;
    for r in &doc.title {
        text_tokens(&doc.visible_text[at..r.start], "", sink);
        at = r.end;
    }
    text_tokens(&doc.visible_text[at..], "", sink);
    // Only the links give `url:` tokens. The URLs written in the HTML text (not in an href) are
    // in `found` too, and the rules read them from the same list; as Bayes tokens they were
    // measured and left out: with them (all `url_tokens`, or only `url:HOST` and `url:d:`, or
    // only `url:d:`) Bayes alone ranked worse on six of the seven held-out splits of
    // examples/fusion_dump.rs (docs/benchmarks.md, "Written URLs in HTML text").
    for u in found.iter().filter(|u| u.source == UrlSource::Link) {
        url_tokens(&u.url, sink);
    }
    for u in found.iter().filter(|u| u.source == UrlSource::Image) {
        sink.push_parts(&["img:d:", &u.url.domain]);
    }
    for u in found.iter().filter(|u| u.source == UrlSource::Css) {
        sink.push_parts(&["css:d:", &u.url.domain]);
    }
}

/// The words of an HTML part that no reader sees: its `<title>` and its text styled invisible.
/// Tokenized after every shown word of the message (`Tokens::unseen`), as plain words (the
/// styling test cannot see every background, so a newsletter's white-on-colour text is here too:
/// its spam words still count, its ham words do not).
pub(super) fn html_unseen_tokens(doc: &html::HtmlDoc, sink: &mut Sink) {
    for r in &doc.title {
        text_tokens(&doc.visible_text[r.clone()], "", sink);
    }
    text_tokens(&doc.invisible_text, "", sink);
}

/// At most this many labels of a URL's host (left of its registrable domain) are `url:h:` tokens.
const URL_HOST_LABELS: usize = 10;

/// A URL's tokens: its host and registrable domain whole, the labels in front of the registrable
/// domain (`url:h:www`, `url:h:lists`, `url:h:click`), its oddities, and the words of its path and
/// query (`url:p:`, as written and, when that differs, in lower case). The work is linear in the
/// URL's length, and the tokens are bounded by it.
pub(super) fn url_tokens(u: &urls::Url, sink: &mut Sink) {
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
    if !u.host_is_ip {
        let sub = u.host.strip_suffix(u.domain.as_str()).unwrap_or("");
        for label in sub.split('.').filter(|l| !l.is_empty()).take(URL_HOST_LABELS) {
            sink.push_parts(&["url:h:", label]);
        }
    }
    for piece in url_words(&u.path).chain(url_words(&u.query)) {
        url_word(piece, sink);
    }
}

fn url_words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
}

/// A path or query word of 3 to 20 bytes that is not noise, as written and in lower case.
fn url_word(piece: &str, sink: &mut Sink) {
    if (3..=20).contains(&piece.len()) && !piece.bytes().all(|b| b.is_ascii_digit()) && !is_noise(piece) {
        sink.push_parts(&["url:p:", piece]);
        if !piece.is_ascii() || piece.bytes().any(|b| b.is_ascii_uppercase()) {
            let lower = piece.to_lowercase();
            if lower != piece {
                sink.push_parts(&["url:p:", &lower]);
            }
        }
    }
}
