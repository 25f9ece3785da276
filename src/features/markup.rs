//! Tokens of an HTML part (its visible and invisible text, links, images, CSS and what the
//! markup does) and of a URL (host, registrable domain, scheme, oddities, path pieces).

use super::*;

/// `found`: the part's URLs from `Content::urls` (links, images, CSS, written URLs, in that order).
pub(super) fn html_tokens(doc: &html::HtmlDoc, found: &[urls::FoundUrl], sink: &mut Sink) {
    use urls::UrlSource;
    text_tokens(&doc.visible_text, "", sink);
    if !doc.invisible_text.trim().is_empty() {
        sink.push("html:hidden-text");
        text_tokens(&doc.invisible_text, "invis:", sink);
    }
    for u in found.iter().filter(|u| u.source == UrlSource::Link) {
        url_tokens(&u.url, sink);
    }
    for u in found.iter().filter(|u| u.source == UrlSource::Image) {
        sink.push_parts(&["img:d:", &u.url.domain]);
    }
    if doc.images.iter().any(|img| img.hidden) {
        sink.push("html:webbug");
    }
    for u in found.iter().filter(|u| u.source == UrlSource::Css) {
        sink.push_parts(&["css:d:", &u.url.domain]);
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
    for piece in u.path.split(|c: char| !c.is_alphanumeric()).chain(u.query.split(|c: char| !c.is_alphanumeric())) {
        if (3..=20).contains(&piece.len()) && !piece.bytes().all(|b| b.is_ascii_digit()) && !is_noise(piece) {
            sink.push(&format!("url:p:{}", piece.to_lowercase()));
        }
    }
}
