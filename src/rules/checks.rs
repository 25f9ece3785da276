//! Built-in checks: what a regex cannot see (HTML structure, URL anatomy, MIME construction,
//! dates, scripts of characters). Each is a pure function of the message context; rules in
//! `data/rules.toml` name them with `check = "..."`.

use std::collections::HashSet;

use super::context::{Context, UrlSource};
use super::{date, RuleSet};
use crate::features::urls;
use crate::features::PartContent;
use crate::hash::phrase_word_hash;
use crate::message::Body;
use crate::received::{self, Rdns};
use crate::sender::ListVerdict;

/// A built-in check.
pub type Check = fn(&Context, &RuleSet) -> bool;

/// A graded check: how strongly it applies, from 0 (not at all) to 1 (the rule's full score).
pub type Weighted = fn(&Context) -> f64;

/// Graded checks by name.
pub const WEIGHTED: &[(&str, Weighted)] = &[("ip_spam_source", |c| c.sender.map_or(0.0, |s| s.ip_weight))];

pub fn weighted_by_name(name: &str) -> Option<Weighted> {
    WEIGHTED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Every built-in check by name.
pub const ALL: &[(&str, Check)] = &[
    // Sender (facts gathered by `sender::gather`; the lists themselves decide before rules run)
    ("allowlisted", |c, _| c.sender.is_some_and(|s| matches!(s.list, Some(ListVerdict::Allow { .. })))),
    ("blocklisted", |c, _| c.sender.is_some_and(|s| matches!(s.list, Some(ListVerdict::Block { .. })))),
    ("honeypot", |c, _| c.sender.is_some_and(|s| s.honeypot.is_some())),
    ("known_correspondent", |c, _| c.sender.is_some_and(|s| s.known_correspondent)),
    ("rcvd_in_dnsbl", |c, _| c.sender.is_some_and(|s| !s.dnsbl.is_empty())),
    ("uri_in_dnsbl", |c, _| c.sender.is_some_and(|s| !s.uribl.is_empty())),
    ("rdns_none", |c, _| c.sender.is_some_and(|s| s.rdns == Some(Rdns::Missing))),
    ("rdns_dynamic", |c, _| {
        c.sender.is_some_and(|s| match (&s.rdns, &s.relay) {
            (Some(Rdns::Name(n)), Some(r)) => received::looks_dynamic(n, r.ip),
            _ => false,
        })
    }),
    ("helo_bare_ip", |c, _| {
        c.sender
            .and_then(|s| s.relay.as_ref())
            .and_then(|r| r.helo.as_deref())
            .is_some_and(|h| received::helo_ip(h).is_some())
    }),
    ("helo_not_fqdn", |c, _| {
        c.sender
            .and_then(|s| s.relay.as_ref())
            .and_then(|r| r.helo.as_deref())
            .is_some_and(|h| received::helo_ip(h).is_none() && !h.contains('.'))
    }),
    ("helo_mismatch", |c, _| {
        c.sender.is_some_and(|s| s.relay.as_ref().is_some_and(|r| crate::sender::helo_mismatch(r, s.rdns.as_ref())))
    }),
    // Links
    ("uri_click_php_id", |c, _| c.urls.iter().any(|u| script_with_long_id(&u.url.raw))),
    ("uri_exe_download", |c, _| c.urls.iter().any(|u| links_executable(&u.url.raw))),
    ("uri_blocklisted", |c, rs| c.urls.iter().any(|u| !u.url.domain.is_empty() && blocklisted(&u.url.host, rs))),
    ("uri_ip_literal", |c, _| c.urls.iter().any(|u| u.url.host_is_ip && u.source != UrlSource::Image)),
    ("uri_userinfo", |c, _| c.urls.iter().any(|u| u.url.has_userinfo && u.url.scheme.starts_with("http"))),
    ("uri_shortener", |c, _| c.urls.iter().any(|u| SHORTENERS.contains(&u.url.host.trim_start_matches("www.")))),
    ("uri_text_mismatch", |c, _| c.urls.iter().any(link_text_mismatch)),
    ("uri_many_domains", uri_many_domains),
    ("uri_encoded_host", |c, _| c.urls.iter().any(|u| u.url.host_was_encoded)),
    ("uri_encoded_letters", |c, _| c.urls.iter().any(|u| encoded_letters(&u.url.raw) >= 3)),
    ("uri_odd_port", |c, _| {
        c.urls.iter().any(|u| u.url.scheme.starts_with("http") && u.url.port.is_some_and(|p| p != 80 && p != 443))
    }),
    ("uri_obfuscated_ip", |c, _| c.urls.iter().any(|u| u.url.host_is_ip && !is_dotted_quad(&u.url.host))),
    ("uri_suspicious_tld", |c, _| {
        c.urls.iter().any(|u| u.url.host.rsplit('.').next().is_some_and(|t| SUSPICIOUS_TLDS.contains(&t)))
    }),
    ("uri_digit_host", |c, _| c.urls.iter().any(|u| !u.url.host_is_ip && digit_heavy_host(&u.url.host))),
    ("uri_redirector", |c, _| c.urls.iter().any(|u| redirector(&u.url))),
    ("uri_mailto_remove", |c, _| {
        c.urls.iter().any(|u| {
            u.url.scheme == "mailto" && {
                let l = u.url.raw.to_ascii_lowercase();
                l.contains("remove") || l.contains("unsubscribe") || l.contains("afmelden")
            }
        }) && c.urls.iter().all(|u| u.url.scheme == "mailto" || !u.url.raw.to_ascii_lowercase().contains("unsubscribe"))
    }),
    ("uri_free_hosting", |c, _| c.urls.iter().any(|u| FREE_HOSTING.contains(&u.url.domain.as_str()))),
    // Tracking
    ("html_remote_image", |c, _| {
        c.urls.iter().any(|u| u.source == UrlSource::Image && u.url.scheme.starts_with("http"))
    }),
    ("html_web_bug", |c, _| c.html().any(|d| d.images.iter().any(|i| i.hidden && i.src.contains("://")))),
    ("html_tracking_query", |c, _| c.urls.iter().any(|u| u.source == UrlSource::Image && tracking_query(&u.url))),
    ("html_css_remote", |c, _| c.urls.iter().any(|u| u.source == UrlSource::Css && u.url.scheme.starts_with("http"))),
    ("html_image_only", |c, _| {
        c.html().any(|d| !d.images.is_empty()) && c.text.chars().filter(|ch| ch.is_alphabetic()).take(200).count() < 200
    }),
    ("html_many_images", |c, _| c.urls.iter().filter(|u| u.source == UrlSource::Image).count() >= 8),
    ("html_image_ip", |c, _| c.urls.iter().any(|u| u.source == UrlSource::Image && u.url.host_is_ip)),
    // Active content
    ("html_script", |c, _| c.html().any(|d| d.scripts > 0)),
    ("html_iframe", |c, _| c.html().any(|d| d.iframes > 0)),
    ("html_object", |c, _| c.html().any(|d| d.objects > 0)),
    ("html_form", |c, _| c.html().any(|d| d.forms > 0)),
    ("html_meta_refresh", |c, _| c.html().any(|d| d.meta_refresh)),
    ("html_event_handler", |c, _| c.html().any(|d| d.event_handlers > 0)),
    ("uri_javascript", |c, _| c.urls.iter().any(|u| u.url.scheme == "javascript")),
    ("uri_data", |c, _| c.urls.iter().any(|u| u.url.scheme == "data" && u.source != UrlSource::Image)),
    ("attach_executable", |c, _| attachment_names(c).any(|n| ext_in(&n, EXECUTABLE_EXTS))),
    ("attach_double_ext", |c, _| attachment_names(c).any(|n| double_extension(&n))),
    ("attach_archive_executable", |c, _| archive_with_executable(c)),
    ("attach_exe_disguised", |c, _| exe_disguised(c)),
    ("attach_office_macro", |c, _| attachment_names(c).any(|n| ext_in(&n, MACRO_EXTS))),
    ("attach_html", |c, _| {
        c.msg.parts.iter().any(|p| {
            p.is_attachment && p.filename.as_deref().is_some_and(|n| ext_in(n, &["htm", "html", "shtml", "svg"]))
        })
    }),
    ("attach_disk_image", |c, _| attachment_names(c).any(|n| ext_in(&n, &["iso", "img", "vhd", "vhdx"]))),
    ("attach_rtl_override", |c, _| attachment_names(c).any(|n| n.contains('\u{202e}'))),
    // Construction
    ("missing_message_id", |c, _| c.msg.header("message-id").is_none()),
    ("malformed_message_id", |c, _| c.msg.header("message-id").is_some_and(|m| !well_formed_msgid(m))),
    ("missing_date", |c, _| c.msg.header("date").is_none()),
    ("malformed_date", |c, _| c.msg.header("date").is_some_and(|d| date::parse(d).is_none())),
    ("date_no_numeric_zone", |c, _| {
        c.msg.header("date").is_some_and(|d| date::parse(d).is_some() && !date::is_well_formed(d))
    }),
    ("date_in_future", |c, _| date_skew(c).is_some_and(|s| s > 12 * 3600)),
    ("date_in_past", |c, _| date_skew(c).is_some_and(|s| s < -4 * 86400)),
    ("missing_from", |c, _| c.msg.header("from").is_none_or(|f| !f.contains('@'))),
    ("missing_subject", |c, _| c.msg.header("subject").is_none()),
    ("missing_to", |c, _| c.msg.header("to").is_none() && c.msg.header("cc").is_none()),
    ("to_undisclosed", |c, _| c.msg.header("to").is_some_and(|t| t.to_ascii_lowercase().contains("undisclosed"))),
    ("to_empty_list", |c, _| c.msg.header("to").is_some_and(|t| t.trim().is_empty() || t.trim() == ":;")),
    ("forged_outlook_msgid", forged_outlook),
    ("outlook_express_no_mimeole", |c, _| {
        let m = mailer(c);
        m.contains("outlook express") && windows_outlook(&m) && c.msg.header("x-mimeole").is_none()
    }),
    ("mime_missing_boundary", |c, _| c.msg.mime_problem),
    ("mime_bad_encoding", |c, _| c.msg.parts.iter().any(|p| p.encoding_problem)),
    ("mime_base64_text", |c, _| {
        c.msg.parts.iter().any(|p| {
            !p.is_attachment
                && p.transfer_encoding.as_deref() == Some("base64")
                && matches!(&p.body, Body::Text(t) | Body::Html(t) if t.is_ascii())
        })
    }),
    ("mime_html_only", |c, _| {
        c.msg.parts.iter().any(|p| matches!(p.body, Body::Html(_)) && !p.is_attachment)
            && !c.msg.parts.iter().any(|p| p.content_type == "text/plain" && !p.is_attachment)
    }),
    ("mime_alternatives_differ", alternatives_differ),
    ("mime_charset_mismatch", |c, _| {
        c.msg.parts.iter().any(|p| match (&p.body, p.charset.as_deref()) {
            (Body::Text(t) | Body::Html(t), Some(cs)) => {
                (cs.eq_ignore_ascii_case("us-ascii") && !t.is_ascii()) || t.contains('\u{fffd}')
            }
            _ => false,
        })
    }),
    ("charset_asian", |c, _| {
        c.msg.parts.iter().filter_map(|p| p.charset.as_deref()).any(|cs| {
            let l = cs.to_ascii_lowercase();
            ["gb2312", "gbk", "gb18030", "big5", "euc-kr", "ks_c_5601", "iso-2022-jp", "shift_jis", "euc-jp"]
                .iter()
                .any(|a| l.contains(a))
        }) || raw_header_charset_asian(c)
    }),
    ("header_8bit", |c, _| {
        c.msg
            .headers
            .iter()
            .any(|h| ["subject", "from", "to"].iter().any(|n| h.name.eq_ignore_ascii_case(n)) && !h.raw.is_ascii())
    }),
    ("from_name_has_address", from_name_has_address),
    ("from_digits_localpart", |c, _| {
        from_address(c)
            .and_then(|a| a.split_once('@').map(|(l, _)| l.to_string()))
            .is_some_and(|l| l.bytes().filter(u8::is_ascii_digit).count() >= 5)
    }),
    ("replyto_freemail_differs", |c, _| {
        let rt = c.msg.header("reply-to").and_then(address_of).map(|a| domain_of(&a));
        let from = from_address(c).map(|a| domain_of(&a));
        matches!((rt, from), (Some(r), Some(f)) if r != f && FREEMAIL.contains(&r.as_str()))
    }),
    ("subject_all_caps", |c, _| {
        let letters: Vec<char> = c.subject.chars().filter(|ch| ch.is_alphabetic()).collect();
        letters.len() >= 10 && letters.iter().all(|ch| !ch.is_lowercase())
    }),
    ("subject_exclamations", |c, _| c.subject.contains("!!") || c.subject.matches('!').count() >= 3),
    ("subject_trailing_id", subject_trailing_id),
    ("subject_money", |c, _| c.subject.contains("$$") || c.subject.contains("€€")),
    ("x_priority_high", |c, _| {
        c.msg.header("x-priority").is_some_and(|p| p.trim_start().starts_with('1'))
            || c.msg.header("x-msmail-priority").is_some_and(|p| p.to_ascii_lowercase().contains("high"))
    }),
    // Body style
    ("body_mostly_caps", |c, _| {
        let (letters, upper) = if c.text.is_ascii() {
            ascii_letters_and_capitals(c.text.as_bytes())
        } else {
            letters_and_capitals(&c.text)
        };
        letters >= 200 && upper * 2 > letters
    }),
    ("body_many_exclamations", |c, _| {
        // Non-overlapping "!!" three times, or 15 of '!' in all; searched with memchr, stopping
        // as soon as the answer is known.
        let t = c.text.as_bytes();
        memchr::memmem::find_iter(t, b"!!").take(3).count() == 3 || memchr::memchr_iter(b'!', t).take(15).count() == 15
    }),
    ("body_money_amounts", |c, _| money_amounts(&c.text) >= 4),
    ("body_empty", |c, _| {
        c.text.trim().is_empty() && !c.msg.parts.iter().any(|p| p.is_attachment) && c.html().count() == 0
    }),
    ("body_short_with_link", |c, _| {
        c.urls.iter().any(|u| u.url.scheme.starts_with("http") && u.source != UrlSource::Image)
            && (1..40).contains(&c.word_count_up_to(40))
    }),
    // Obfuscation
    ("html_invisible_text", |c, _| c.invisible_text.chars().filter(|ch| ch.is_alphabetic()).take(20).count() >= 20),
    ("html_invisible_text_long", |c, _| c.invisible_text.split(' ').filter(|w| w.len() >= 3).take(40).count() >= 40),
    ("text_zero_width", |c, _| zero_width(&c.text) >= 3 || zero_width(&c.subject) >= 1),
    ("text_mixed_script", |c, _| mixed_script_words(&c.text) >= 2),
    ("subject_mixed_script", |c, _| mixed_script_words(&c.subject) >= 1),
    ("text_split_words", |c, _| split_words(&c.text) >= 2),
    ("subject_split_word", |c, _| split_words(&c.subject) >= 1),
    ("mailer_bulk", |c, _| bulk_mailer(c)),
    ("html_font_size_zero", |c, _| font_size_zero(&c.raw_body)),
    ("html_comment_in_word", |c, _| comment_in_word(&c.raw_body)),
    ("html_tag_in_word", |c, _| empty_tag_in_word(&c.raw_body)),
    ("html_entity_letters", |c, _| c.html().any(|d| d.encoded_ascii >= 10)),
    ("subject_encoded_ascii", |c, _| header_encoded_ascii(c, "subject")),
    ("from_encoded_ascii", |c, _| header_encoded_ascii(c, "from")),
];

/// Looks a check up by name.
pub fn by_name(name: &str) -> Option<Check> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

const SHORTENERS: &[&str] = &[
    "bit.ly",
    "bitly.com",
    "tinyurl.com",
    "goo.gl",
    "t.co",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "tiny.cc",
    "t.ly",
    "s.id",
    "rb.gy",
    "v.gd",
    "qr.ae",
    "adf.ly",
    "shorte.st",
    "bl.ink",
    "lnkd.in",
    "tr.im",
    "snipurl.com",
    "urlz.fr",
    "rebrandly.com",
    "short.io",
];

const SUSPICIOUS_TLDS: &[&str] = &[
    "xyz",
    "top",
    "click",
    "loan",
    "work",
    "gq",
    "tk",
    "ml",
    "cf",
    "ga",
    "bid",
    "win",
    "racing",
    "review",
    "country",
    "stream",
    "download",
    "accountant",
    "date",
    "faith",
    "party",
    "science",
    "trade",
    "webcam",
    "men",
    "icu",
    "cyou",
    "buzz",
    "rest",
    "fit",
    "zip",
    "mov",
];

const FREE_HOSTING: &[&str] = &[
    "geocities.com",
    "angelfire.com",
    "tripod.com",
    "000webhostapp.com",
    "weebly.com",
    "wixsite.com",
    "freehosting.com",
    "byethost.com",
    "netlify.app",
    "web.app",
    "firebaseapp.com",
    "glitch.me",
    "ipfs.io",
    "r2.dev",
    "pages.dev",
    "blogspot.com",
    "sites.google.com",
    "xoom.com",
    "fortunecity.com",
    "freeservers.com",
];

const FREEMAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "aol.com",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "gmx.com",
    "gmx.net",
    "mail.com",
    "protonmail.com",
    "proton.me",
    "zoho.com",
    "icloud.com",
    "telenet.be",
    "skynet.be",
    "hotmail.be",
    "hotmail.nl",
    "ziggo.nl",
    "kpnmail.nl",
    "excite.com",
    "lycos.com",
    "netscape.net",
    "juno.com",
    "rediffmail.com",
    "126.com",
    "163.com",
    "qq.com",
    "sina.com",
];

const EXECUTABLE_EXTS: &[&str] = &[
    "exe",
    "scr",
    "pif",
    "com",
    "bat",
    "cmd",
    "vbs",
    "vbe",
    "js",
    "jse",
    "wsf",
    "wsh",
    "hta",
    "msi",
    "lnk",
    "cpl",
    "jar",
    "ps1",
    "reg",
    "dll",
    "msc",
    "application",
    "gadget",
    "scf",
    "inf",
    "appx",
    "msix",
];

const MACRO_EXTS: &[&str] = &["docm", "xlsm", "pptm", "dotm", "xltm", "xlam", "ppam", "xlsb"];

fn blocklisted(host: &str, rs: &RuleSet) -> bool {
    if rs.uri_blocklist.is_empty() {
        return false;
    }
    // The host and every parent domain: a.b.evil.example hits evil.example.
    let mut h = host;
    loop {
        if rs.uri_blocklist.contains(h) {
            return true;
        }
        match h.split_once('.') {
            Some((_, rest)) if rest.contains('.') => h = rest,
            _ => return false,
        }
    }
}

fn is_dotted_quad(h: &str) -> bool {
    h.parse::<std::net::Ipv4Addr>().is_ok() || (h.starts_with('[') && h.ends_with(']'))
}

fn digit_heavy_host(h: &str) -> bool {
    h.split('.').any(|l| l.len() >= 6 && l.bytes().filter(u8::is_ascii_digit).count() * 2 >= l.len())
}

fn encoded_letters(raw: &str) -> usize {
    let b = raw.as_bytes();
    let mut n = 0;
    for i in 0..b.len().saturating_sub(2) {
        if b[i] == b'%' {
            if let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                if v.is_ascii_alphanumeric() {
                    n += 1;
                }
            }
        }
    }
    n
}

fn redirector(u: &urls::Url) -> bool {
    let q = u.query.to_ascii_lowercase();
    let p = u.path.to_ascii_lowercase();
    q.contains("=http")
        || q.contains("=https%3a")
        || q.contains("=http%3a")
        || p.contains("/http://")
        || p.contains("/https://")
}

fn tracking_query(u: &urls::Url) -> bool {
    let all = format!("{}?{}", u.path, u.query).to_ascii_lowercase();
    ["track", "pixel", "open.", "beacon", "/o.gif", "/t.gif", "spacer.gif", "clear.gif", "blank.gif", "1x1"]
        .iter()
        .any(|k| all.contains(k))
        || u.query.split('&').any(|kv| {
            let v = kv.split_once('=').map_or(kv, |(_, v)| v);
            v.len() >= 16 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn link_text_mismatch(u: &super::context::FoundUrl) -> bool {
    let Some(text) = &u.link_text else { return false };
    if !u.url.scheme.starts_with("http") || u.url.domain.is_empty() {
        return false;
    }
    // The link text itself looks like a URL or a host name: compare registrable domains.
    let t = text.trim();
    if t.contains(' ') || !t.contains('.') {
        return false;
    }
    let shown = if t.contains("://") || t.to_ascii_lowercase().starts_with("www.") {
        urls::parse_url(t)
    } else if t.split('.').count() >= 2
        && t.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/'))
        && !t.contains('@')
    {
        urls::parse_url(&format!("http://{t}"))
    } else {
        None
    };
    match shown {
        Some(s) if !s.domain.is_empty() && s.host.contains('.') => s.domain != u.url.domain,
        _ => false,
    }
}

fn uri_many_domains(c: &Context, _: &RuleSet) -> bool {
    let domains: HashSet<&str> = c
        .urls
        .iter()
        .filter(|u| u.url.scheme.starts_with("http") && !u.url.domain.is_empty())
        .map(|u| u.url.domain.as_str())
        .collect();
    domains.len() >= 8 && c.word_count_up_to(300) < 300
}

fn attachment_names<'c>(c: &'c Context) -> impl Iterator<Item = String> + 'c {
    c.msg.parts.iter().filter_map(|p| p.filename.as_ref()).map(|n| n.trim().trim_matches('"').to_lowercase())
}

fn ext_in(name: &str, exts: &[&str]) -> bool {
    name.rsplit_once('.').is_some_and(|(_, e)| exts.contains(&e.trim()))
}

fn double_extension(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() < 3 {
        return false;
    }
    let last = parts[parts.len() - 1].trim();
    let prev = parts[parts.len() - 2];
    EXECUTABLE_EXTS.contains(&last)
        && ["pdf", "doc", "docx", "xls", "xlsx", "jpg", "jpeg", "png", "gif", "txt", "zip", "htm", "html", "mp3", "avi"]
            .contains(&prev.trim_end_matches(' '))
}

/// A ZIP attachment whose first entry is an executable (the local file header at offset 0
/// carries the name at offset 30).
fn archive_with_executable(c: &Context) -> bool {
    c.msg.parts.iter().any(|p| match &p.body {
        Body::Binary { head, .. } if head.starts_with(b"PK\x03\x04") && head.len() > 30 => {
            let n = u16::from_le_bytes([head[26], head[27]]) as usize;
            let name = String::from_utf8_lossy(&head[30..(30 + n).min(head.len())]).to_lowercase();
            ext_in(&name, EXECUTABLE_EXTS) || double_extension(&name)
        }
        _ => false,
    })
}

fn exe_disguised(c: &Context) -> bool {
    c.msg.parts.iter().any(|p| match (&p.body, &p.filename) {
        (Body::Binary { head, .. }, Some(name)) => {
            head.starts_with(b"MZ") && !ext_in(&name.to_lowercase(), EXECUTABLE_EXTS)
        }
        _ => false,
    })
}

fn well_formed_msgid(m: &str) -> bool {
    let m = m.trim();
    let Some(inner) = m.strip_prefix('<').and_then(|r| r.strip_suffix('>')) else {
        // mail-parser gives the id without brackets; accept `local@domain` too.
        return m
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains(char::is_whitespace));
    };
    inner.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
}

fn date_skew(c: &Context) -> Option<i64> {
    let sent = date::parse(c.msg.header("date")?)?;
    Some(sent - c.received_at?)
}

fn mailer(c: &Context) -> String {
    c.msg.header("x-mailer").unwrap_or("").to_ascii_lowercase()
}

/// The Windows Outlook and Outlook Express versions known to write their own Message-IDs and
/// X-MimeOLE (not the Macintosh editions, not Outlook in Internet-Mail-Only mode).
fn windows_outlook(m: &str) -> bool {
    if m.contains("macintosh") || m.contains(" imo") {
        return false;
    }
    [
        "microsoft outlook express 5",
        "microsoft outlook express 6",
        "microsoft outlook, build 10",
        "microsoft office outlook, build 11",
        "microsoft office outlook 12",
        "microsoft outlook 14",
        "microsoft outlook 15",
        "microsoft outlook 16",
    ]
    .iter()
    .any(|v| m.starts_with(v))
}

/// Outlook and Outlook Express (up to Outlook 2016) write Message-IDs like
/// `<000801c2a1b2$3c4d5e60$0100a8c0@host>`; a mail claiming to be from them without one was
/// made by something else.
fn forged_outlook(c: &Context, _: &RuleSet) -> bool {
    if !windows_outlook(&mailer(c)) {
        return false;
    }
    let Some(id) = c.msg.header("message-id") else { return true };
    let id = id.trim().trim_start_matches('<').to_ascii_lowercase();
    if ["hotmail.com>", "hotmail.com", "msn.com", "msn.com>", "outlook.com", "outlook.com>"]
        .iter()
        .any(|d| id.ends_with(d))
    {
        return false; // Hotmail and MSN replace the Message-ID
    }
    let local = id.split('@').next().unwrap_or("");
    let pieces: Vec<&str> = local.split('$').collect();
    !(pieces.len() == 3
        && pieces[0].len() == 12
        && pieces.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_hexdigit())))
}

fn alternatives_differ(c: &Context, _: &RuleSet) -> bool {
    if c.msg.content_type != "multipart/alternative" {
        return false;
    }
    let mut plain = None;
    let mut html = None;
    for pc in &c.content.parts {
        match pc {
            PartContent::Text { text, .. } if plain.is_none() => plain = Some(word_set(text)),
            PartContent::Html(d) if html.is_none() => html = Some(word_set(&d.visible_text)),
            _ => {}
        }
    }
    let (Some(p), Some(h)) = (plain, html) else { return false };
    if p.len() < 20 || h.len() < 20 {
        return false;
    }
    let common = p.intersection(&h).count();
    (common as f64) / (p.len().min(h.len()) as f64) < 0.3
}

/// The distinct lower-case words (3 bytes or more) of a text, as 64-bit hashes: no string is
/// built for an ASCII word, and a collision is a 2^-64 chance of counting two words as one.
fn word_set(t: &str) -> HashSet<u64, crate::store::PreHashedBuild> {
    t.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3)
        .map(
            |w| {
                if w.is_ascii() {
                    phrase_word_hash(w.as_bytes())
                } else {
                    phrase_word_hash(w.to_lowercase().as_bytes())
                }
            },
        )
        .collect()
}

fn raw_header_charset_asian(c: &Context) -> bool {
    c.msg.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("subject")).any(|h| {
        let l = h.raw.to_ascii_lowercase();
        ["=?gb2312?", "=?gbk?", "=?big5?", "=?euc-kr?", "=?ks_c_5601", "=?iso-2022-jp?", "=?shift_jis?"]
            .iter()
            .any(|a| l.contains(a))
    })
}

/// The bare address in an address header value.
fn address_of(v: &str) -> Option<String> {
    let v = v.trim();
    let a = match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if b > a => &v[a + 1..b],
        _ => v,
    };
    let a = a.trim().to_ascii_lowercase();
    a.contains('@').then_some(a)
}

fn from_address(c: &Context) -> Option<String> {
    c.msg.header("from").and_then(address_of)
}

fn domain_of(a: &str) -> String {
    a.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default()
}

fn from_name_has_address(c: &Context, _: &RuleSet) -> bool {
    let Some(f) = c.msg.header("from") else { return false };
    let Some(lt) = f.rfind('<') else { return false };
    let name = &f[..lt];
    let Some(real) = address_of(f) else { return false };
    name.split(|ch: char| ch.is_whitespace() || matches!(ch, '"' | '\'' | '(' | ')' | '<' | '>'))
        .filter(|w| w.contains('@') && w.contains('.'))
        .any(|w| w.trim_matches(|ch: char| !ch.is_alphanumeric()).to_ascii_lowercase() != real)
}

fn subject_trailing_id(c: &Context, _: &RuleSet) -> bool {
    // "Save 50% now                      27491" or "Your order [ID:ax83kq1]": padding then a random tag.
    let s = c.subject.trim_end();
    let Some((pos, ws)) = s.char_indices().rev().find(|(_, ch)| ch.is_whitespace()) else { return false };
    let tail = &s[pos + ws.len_utf8()..];
    let before = &s[..pos];
    let pad = before.len() - before.trim_end().len();
    pad >= 4 && tail.len() >= 3 && tail.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
}

/// The ASCII letters and the capitals among them, counted in blocks the compiler vectorizes
/// (a fold over a pair of counters is not).
fn ascii_letters_and_capitals(b: &[u8]) -> (usize, usize) {
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
fn letters_and_capitals(t: &str) -> (usize, usize) {
    let (mut letters, mut upper) = (0, 0);
    let mut rest = t;
    while !rest.is_empty() {
        let ascii = rest.bytes().position(|b| b >= 0x80).unwrap_or(rest.len());
        let (l, u) = ascii_letters_and_capitals(&rest.as_bytes()[..ascii]);
        letters += l;
        upper += u;
        let mut chars = rest[ascii..].chars();
        if let Some(ch) = chars.next() {
            letters += ch.is_alphabetic() as usize;
            upper += ch.is_uppercase() as usize;
        }
        rest = chars.as_str();
    }
    (letters, upper)
}

fn money_amounts(t: &str) -> usize {
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

fn zero_width(t: &str) -> usize {
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
enum Script {
    Latin,
    Cyrillic,
    Greek,
    Other,
}

fn script(c: char) -> Script {
    match c as u32 {
        0x41..=0x5a | 0x61..=0x7a | 0xc0..=0x24f => Script::Latin,
        0x400..=0x4ff => Script::Cyrillic,
        0x370..=0x3ff => Script::Greek,
        _ => Script::Other,
    }
}

/// Words that mix Latin letters with Cyrillic or Greek look-alikes (`pаypal` with a Cyrillic а).
fn mixed_script_words(t: &str) -> usize {
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
        if !c.is_alphabetic() {
            from = i + c.len_utf8();
            continue;
        }
        let start = t[..i].char_indices().rev().take_while(|&(_, c)| c.is_alphabetic()).last().map_or(i, |(j, _)| j);
        let end = t[i..].char_indices().find(|&(_, c)| !c.is_alphabetic()).map_or(t.len(), |(j, _)| i + j);
        n += is_mixed_script(&t[start..end]) as usize;
        from = end;
    }
    n
}

/// Whether a word (letters only) of three or more mixes Latin with Cyrillic or Greek.
fn is_mixed_script(w: &str) -> bool {
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
fn split_words(t: &str) -> usize {
    if t.is_ascii() {
        // The same walk over bytes (no copy of the text as chars), started only where a run can
        // start: a letter that begins a word and is followed by a separator, told by a table.
        let b = t.as_bytes();
        let (mut n, mut prev, mut from) = (0, 0, 0);
        for i in 0..b.len().saturating_sub(1) {
            let (c, next) = (SPLIT_CLASS[b[i] as usize], SPLIT_CLASS[b[i + 1] as usize]);
            let starts = c & ALPHA != 0 && prev & ALNUM == 0 && next & SPLIT_SEPARATOR != 0;
            prev = c;
            if starts && i >= from {
                if let Some(j) = split_run_at(b, i, u8::is_ascii_alphabetic, u8::is_ascii_alphanumeric) {
                    n += 1;
                    from = j + 1;
                }
            }
        }
        n
    } else {
        let chars: Vec<char> = t.chars().collect();
        split_words_in(&chars)
    }
}

/// The separators of a split word.
const fn is_split_separator(b: u8) -> bool {
    matches!(b, b'.' | b'-' | b'_' | b'*' | b' ' | b'|' | b'/')
}

const ALPHA: u8 = 1;
const ALNUM: u8 = 2;
const SPLIT_SEPARATOR: u8 = 4;

/// What each ASCII byte is to `split_words`.
const SPLIT_CLASS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        t[c] = (b.is_ascii_alphabetic() as u8 * ALPHA)
            | (b.is_ascii_alphanumeric() as u8 * ALNUM)
            | (is_split_separator(b) as u8 * SPLIT_SEPARATOR);
        c += 1;
    }
    t
};

/// `split_words` on text that is not all ASCII.
fn split_words_in(chars: &[char]) -> usize {
    let (alpha, alnum) = (|c: &char| c.is_alphabetic(), |c: &char| c.is_alphanumeric());
    let mut n = 0;
    let mut i = 0;
    while i < chars.len() {
        if alpha(&chars[i])
            && (i == 0 || !alnum(&chars[i - 1]))
            && chars.get(i + 1).is_some_and(|s| s.is_ascii() && is_split_separator(*s as u8))
        {
            if let Some(j) = split_run_at(chars, i, alpha, alnum) {
                n += 1;
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    n
}

/// Where a split word that starts at `i` (a letter that begins a word, followed by a separator)
/// ends, if there is one: letter, separator, letter, separator, … with the same separator, at
/// least four letters. "U.S.A." has three: not counted. Initials like "J. R. R." have spaces
/// after dots.
fn split_run_at<C: Copy + PartialEq>(
    chars: &[C],
    i: usize,
    alpha: impl Fn(&C) -> bool,
    alnum: impl Fn(&C) -> bool,
) -> Option<usize> {
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
    let at_end = !chars.get(j + 1).is_some_and(&alnum);
    (letters >= 4 && at_end).then_some(j)
}

/// An RFC 2047 encoded word in `field` that decodes to plain ASCII: no reason to encode it
/// but to hide the words from filters.
fn header_encoded_ascii(c: &Context, field: &str) -> bool {
    c.msg.headers_named(field).any(|h| {
        let raw = h.raw.to_ascii_lowercase();
        raw.contains("=?")
            && raw.contains("?=")
            && h.text.is_ascii()
            && h.text.chars().filter(|c| c.is_alphabetic()).count() >= 4
            && {
                // Only when the encoded part itself is letters (not just a quoted special character).
                let name_part = if field == "from" { h.text.split('<').next().unwrap_or("") } else { h.text.as_str() };
                name_part.chars().filter(|c| c.is_alphabetic()).count() >= 4
            }
    })
}

// The checks below were regex rules; as code they cost nothing to set up on each delivery
// (compiling the six regexes took 0.2-0.9 ms, more than scoring). A unit test runs each against
// its old regex as the oracle.

/// Positions where `needle` (ASCII, lower case) occurs in `hay`, ignoring ASCII case.
fn find_ci<'h>(hay: &'h str, needle: &'static str) -> impl Iterator<Item = usize> + 'h {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let first = n[0];
    memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), h)
        .filter(move |&i| h.len() - i >= n.len() && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn ascii_letter_at(s: &str, i: usize) -> bool {
    s.as_bytes().get(i).is_some_and(|b| b.is_ascii_alphabetic())
}

/// `\.(php|asp|cgi|pl)\?[^ ]*=[a-z0-9]{20,}`: a script link carrying a long per-recipient id.
fn script_with_long_id(url: &str) -> bool {
    [".php?", ".asp?", ".cgi?", ".pl?"].iter().any(|ext| {
        find_ci(url, ext).any(|i| {
            let query = url[i + ext.len()..].split(' ').next().unwrap_or("");
            query
                .match_indices('=')
                .any(|(j, _)| query[j + 1..].bytes().take_while(|b| b.is_ascii_alphanumeric()).take(20).count() == 20)
        })
    })
}

/// `\.(exe|scr|bat|cmd|vbs|js|jar|msi|apk|hta)(\?|$)`: a link straight to a program.
fn links_executable(url: &str) -> bool {
    const EXTS: [&str; 10] = ["exe", "scr", "bat", "cmd", "vbs", "js", "jar", "msi", "apk", "hta"];
    url.match_indices('.').any(|(i, _)| {
        let rest = &url[i + 1..];
        EXTS.iter().any(|e| starts_with_ci(rest, e) && matches!(rest.as_bytes().get(e.len()), None | Some(b'?')))
    })
}

/// `(mass ?mail|bulk ?mail|group ?mail|send-?safe|atlas ?mailer|massmailer|emailer platinum|
/// stealth ?mail|dynamic mail|advanced mass sender|aureate|floodgate|extractor)` in X-Mailer.
const BULK_MAILERS: &[&str] = &[
    "mass mail",
    "massmail",
    "bulk mail",
    "bulkmail",
    "group mail",
    "groupmail",
    "send-safe",
    "sendsafe",
    "atlas mailer",
    "atlasmailer",
    "emailer platinum",
    "stealth mail",
    "stealthmail",
    "dynamic mail",
    "advanced mass sender",
    "aureate",
    "floodgate",
    "extractor",
];

/// An X-Mailer of a bulk-mailing program.
fn bulk_mailer(c: &Context) -> bool {
    c.msg.headers_named("X-Mailer").any(|h| bulk_mailer_name(&h.text))
}

fn bulk_mailer_name(mailer: &str) -> bool {
    BULK_MAILERS.iter().any(|n| find_ci(mailer, n).next().is_some())
}

/// `font-size:\s*(0(px|pt|em)?|1px|0?\.\d+(px|em|pt)?)\s*[;"]`: text too small to see.
fn font_size_zero(html: &str) -> bool {
    fn ends(s: &str) -> bool {
        matches!(s.trim_start().as_bytes().first(), Some(b';' | b'"'))
    }
    fn unit_then_end(s: &str, units: &[&str]) -> bool {
        ends(s) || units.iter().any(|u| starts_with_ci(s, u) && ends(&s[u.len()..]))
    }
    find_ci(html, "font-size:").any(|i| {
        let v = html[i + "font-size:".len()..].trim_start();
        let zero = v.strip_prefix('0').is_some_and(|r| unit_then_end(r, &["px", "pt", "em"]));
        let one_px = starts_with_ci(v, "1px") && ends(&v[3..]);
        let fraction = {
            let f = if v.starts_with("0.") { &v[1..] } else { v };
            f.strip_prefix('.').is_some_and(|r| {
                let digits = r.bytes().take_while(u8::is_ascii_digit).count();
                digits > 0 && unit_then_end(&r[digits..], &["px", "em", "pt"])
            })
        };
        zero || one_px || fraction
    })
}

/// `[a-z]<!--[^>]{0,40}-->[a-z]`: an HTML comment splitting a word.
fn comment_in_word(html: &str) -> bool {
    find_ci(html, "<!--").any(|i| {
        let inner = i + 4;
        i > 0
            && ascii_letter_at(html, i - 1)
            && html[inner..].find('>').is_some_and(|g| {
                let close = inner + g;
                close >= inner + 2
                    && html[..close].ends_with("--")
                    && html[inner..close - 2].chars().count() <= 40
                    && ascii_letter_at(html, close + 1)
            })
    })
}

/// `[a-z]{2}<(b|i|u|s|em|font|span|strong|small)( [^>]{0,20})?></(same list)>[a-z]{2}`: an
/// empty formatting element splitting a word.
fn empty_tag_in_word(html: &str) -> bool {
    const TAGS: [&str; 9] = ["b", "i", "u", "s", "em", "font", "span", "strong", "small"];
    let tag_then = |s: &str, after: u8| -> Option<usize> {
        TAGS.iter().find(|t| starts_with_ci(s, t) && s.as_bytes().get(t.len()) == Some(&after)).map(|t| t.len() + 1)
    };
    html.match_indices('<').any(|(i, _)| {
        if i < 2 || !ascii_letter_at(html, i - 2) || !ascii_letter_at(html, i - 1) {
            return false;
        }
        let open = &html[i + 1..];
        // "s" is a prefix of "span", "strong" and "small": try every name that fits.
        TAGS.iter().filter(|t| starts_with_ci(open, t)).any(|t| {
            let after_name = &open[t.len()..];
            // `>` at once, or a space and at most 20 characters that are not `>`.
            let gt = match after_name.as_bytes().first() {
                Some(b'>') => 0,
                Some(b' ') => match after_name[1..].find('>') {
                    Some(g) if after_name[1..1 + g].chars().count() <= 20 => 1 + g,
                    _ => return false,
                },
                _ => return false,
            };
            let close = &after_name[gt + 1..];
            close.strip_prefix("</").and_then(|c| tag_then(c, b'>')).is_some_and(|n| {
                let end = &close[2 + n..];
                ascii_letter_at(end, 0) && ascii_letter_at(end, 1)
            })
        })
    })
}

#[cfg(test)]
mod regex_equivalence {
    //! The hand-written checks above against the regexes they replaced (run by regex-lite, which
    //! like the checks folds case and reads `\s`, `\d` as ASCII).
    fn re(p: &str) -> regex_lite::Regex {
        regex_lite::RegexBuilder::new(p).case_insensitive(true).build().unwrap()
    }

    fn agree(name: &str, pattern: &str, check: fn(&str) -> bool, inputs: &[&str]) {
        let r = re(pattern);
        let (mut yes, mut no) = (0, 0);
        for s in inputs {
            assert_eq!(check(s), r.is_match(s), "{name} disagrees with its regex on {s:?}");
            if r.is_match(s) {
                yes += 1
            } else {
                no += 1
            }
        }
        assert!(yes >= 3 && no >= 3, "{name}: the inputs must exercise both outcomes ({yes} match, {no} not)");
    }

    #[test]
    fn url_checks_agree_with_their_regexes() {
        agree(
            "uri_click_php_id",
            r"\.(php|asp|cgi|pl)\?[^ ]*=[a-z0-9]{20,}",
            super::script_with_long_id,
            &[
                "http://x.example/click.php?id=a8f7d6s5a4f3g2h1j0k9l8m7",
                "http://x.example/c.PHP?a=1&id=A8F7D6S5A4F3G2H1J0K9L8",
                "http://x.example/c.php?id=a8f7d6s5a4f3g2h1j0k9",
                "http://x.example/c.pl?x=y&z=0123456789abcdefghij",
                "http://x.example/c.cgi?id=short",
                "http://x.example/c.asp?id= a8f7d6s5a4f3g2h1j0k9l8m7",
                "http://x.example/c.php?id=a8f7d6s5a4f3g2h1j0k9l8m7 x",
                "http://x.example/c.phpx?id=a8f7d6s5a4f3g2h1j0k9l8m7",
                "http://x.example/c.php?id=a8f7-d6s5a4f3g2h1j0k9l8m7",
                "http://x.example/c.php?a=b=a8f7d6s5a4f3g2h1j0k9l8m7é",
                "http://x.example/page.html?id=a8f7d6s5a4f3g2h1j0k9l8m7",
                "",
            ],
        );
        agree(
            "uri_exe_download",
            r"\.(exe|scr|bat|cmd|vbs|js|jar|msi|apk|hta)(\?|$)",
            super::links_executable,
            &[
                "http://files.example/factuur.exe",
                "http://files.example/factuur.EXE?dl=1",
                "http://files.example/app.apk",
                "http://files.example/x.js",
                "http://files.example/x.json",
                "http://files.example/x.exe/",
                "http://files.example/x.exe#a",
                "http://files.example.exe.example/",
                "http://files.example/x.html",
                "http://files.example/x.hta?",
                "",
            ],
        );
    }

    #[test]
    fn bulk_mailer_agrees_with_its_regex() {
        agree(
            "mailer_bulk",
            "(mass ?mail|bulk ?mail|group ?mail|send-?safe|atlas ?mailer|massmailer|emailer platinum|stealth ?mail|dynamic mail|advanced mass sender|aureate|floodgate|extractor)",
            super::bulk_mailer_name,
            &[
                "Advanced Mass Sender 4.2",
                "MassMail Pro",
                "Send-Safe Bulk",
                "sendsafe",
                "Atlas Mailer 2",
                "Email Extractor",
                "Microsoft Outlook Express 6.00",
                "Mozilla Thunderbird",
                "Mass  mail",
                "send safe",
                "",
            ],
        );
    }

    #[test]
    fn html_checks_agree_with_their_regexes() {
        agree(
            "html_font_size_zero",
            r#"font-size:\s*(0(px|pt|em)?|1px|0?\.\d+(px|em|pt)?)\s*[;"]"#,
            super::font_size_zero,
            &[
                r#"<span style="font-size:0px;">x</span>"#,
                r#"<span style="font-size: 0">x</span>"#,
                r#"<span style="FONT-SIZE:1PX ;">x</span>"#,
                r#"<span style="font-size:.5em">x</span>"#,
                r#"<span style="font-size:0.25pt;">x</span>"#,
                r#"<span style="font-size:0.pt;">x</span>"#,
                r#"<span style="font-size:10px;">x</span>"#,
                r#"<span style="font-size:0px">x</span>"#,
                r#"<span style="font-size:01px;">x</span>"#,
                r#"<span style="font-size:1px">x</span>"#,
                r#"<span style="font-size:2px;">x</span>"#,
                r#"<span style="font-size:0.5 ;">x</span>"#,
                r#"<span style="font-size:0vh;">x</span>"#,
                "font-size:",
                "",
            ],
        );
        agree(
            "html_comment_in_word",
            r"[a-z]<!--[^>]{0,40}-->[a-z]",
            super::comment_in_word,
            &[
                "<p>Buy vi<!-- x -->agra now</p>",
                "vi<!---->agra",
                "vi<!--ééééééééééééééééééééééééééééééééééééééé-->agra",
                "vi<!--éééééééééééééééééééééééééééééééééééééééé-->agra",
                "vi<!-- x -> y -->agra",
                "vi <!-- x -->agra",
                "vi<!-- x --> agra",
                "vi<!--->agra",
                "vi<!-->agra-->x",
                "x<!-- a --><!-- b -->y",
                "<!-- x -->a",
                "",
            ],
        );
        agree(
            "html_tag_in_word",
            r"[a-z]{2}<(b|i|u|s|em|font|span|strong|small)( [^>]{0,20})?></(b|i|u|s|em|font|span|strong|small)>[a-z]{2}",
            super::empty_tag_in_word,
            &[
                "<p>Nu gr<b></b>atis</p>",
                "gr<SPAN class=x></span>atis",
                "gr<span></b>atis",
                "gr<strong style='a'></strong>atis",
                "gr<font color=\"#ffffff\" size=1></font>atis",
                "gr<font color=\"#ffffff\" size=12></font>atis",
                "g<b></b>atis",
                "gr<b></b>a",
                "gr<br></br>atis",
                "gr<b>x</b>atis",
                "gr<b ></b>atis",
                "gr<sup></sup>atis",
                "",
            ],
        );
    }
}

#[cfg(test)]
mod fast_paths {
    /// Random ASCII texts built to contain split words and near misses.
    fn texts() -> Vec<String> {
        let pieces = [
            "v.i.a.g.r.a",
            "f r e e",
            "c-a-s-h",
            "U.S.A.",
            "J. R. R.",
            "a",
            "I",
            "x_y_z_w",
            "ab",
            "1",
            " ",
            "|",
            "/",
            "*",
        ];
        let mut next = crate::test_rng::xorshift(0x1234_5678_9abc_def1);
        (0..3000)
            .map(|_| (0..next() % 24).map(|_| pieces[next() as usize % pieces.len()]).collect::<Vec<_>>().join(""))
            .collect()
    }

    #[test]
    fn ascii_split_words_agrees_with_the_char_walk() {
        let mut found = 0;
        for t in texts() {
            let chars: Vec<char> = t.chars().collect();
            assert_eq!(super::split_words(&t), super::split_words_in(&chars), "{t:?}");
            found += super::split_words(&t);
        }
        assert!(found > 500, "the texts must contain split words ({found})");
    }

    /// Texts mixing ASCII with Latin-1, Cyrillic, Greek, CJK and non-letters.
    fn unicode_texts() -> Vec<String> {
        let pieces = [
            "pay",
            "раураl",
            "Ρaypal",
            "ОПЛАТА",
            "é",
            "ÉCOLE",
            "naïve",
            "中文",
            "ß",
            " ",
            ".",
            "-",
            "1",
            "’",
            "Σ",
            "x",
        ];
        let mut next = crate::test_rng::xorshift(0x0bad_cafe_1234_5678);
        (0..3000).map(|_| (0..next() % 20).map(|_| pieces[next() as usize % pieces.len()]).collect()).collect()
    }

    #[test]
    fn mixed_script_count_agrees_with_splitting_every_word() {
        let reference = |t: &str| t.split(|c: char| !c.is_alphabetic()).filter(|w| super::is_mixed_script(w)).count();
        let mut found = 0;
        for t in unicode_texts() {
            assert_eq!(super::mixed_script_words(&t), reference(&t), "{t:?}");
            found += reference(&t);
        }
        assert!(found > 300, "the texts must contain mixed words ({found})");
    }

    #[test]
    fn exclamations_counted_as_str_matches_does() {
        let check = super::ALL.iter().find(|(n, _)| *n == "body_many_exclamations").unwrap().1;
        let rules = crate::rules::RuleSet::load(&Default::default()).unwrap();
        for body in
            ["!!!!!", "!!!!!!", "!! !! !!", "!!! !!", "a!b!c!", &"!x".repeat(14), &"!x".repeat(15), "", "é!!é!!é!!"]
        {
            let raw = format!("Subject: x\n\n{body}\n");
            let msg = crate::message::Message::parse(raw.as_bytes(), 1 << 20);
            let content = crate::features::Content::extract(&msg, &Default::default());
            let cx = crate::rules::Context::new(&msg, &content);
            let want = cx.text.matches("!!").count() >= 3 || cx.text.matches('!').count() >= 15;
            assert_eq!(check(&cx, &rules), want, "{body:?}");
        }
    }

    #[test]
    fn money_and_zero_width_counts_agree_with_a_char_walk() {
        let money = |t: &str| {
            let mut n = 0;
            let mut prev_currency = false;
            for c in t.chars() {
                n += (prev_currency && c.is_ascii_digit()) as usize;
                prev_currency = matches!(c, '$' | '€' | '£');
            }
            n
        };
        let zero = |t: &str| {
            t.chars()
                .filter(|c| {
                    matches!(
                        c,
                        '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{00ad}' | '\u{034f}' | '\u{180e}'
                    )
                })
                .count()
        };
        let extra = ["$100 €50 £3 $x €€5 $$9", "a\u{200b}b\u{200c}c\u{feff}\u{ad}\u{34f}\u{180e}\u{2060}", "€", "$"];
        let mut found = 0;
        for t in unicode_texts().iter().map(String::as_str).chain(extra).map(|t| t.replace('x', "$1€2£")) {
            assert_eq!(super::money_amounts(&t), money(&t), "{t:?}");
            assert_eq!(super::zero_width(&t), zero(&t), "{t:?}");
            found += money(&t) + zero(&t);
        }
        assert!(found > 1000, "{found}");
    }

    #[test]
    fn letter_counts_agree_with_a_char_count() {
        for t in unicode_texts() {
            let want =
                t.chars().fold((0, 0), |(l, u), c| (l + c.is_alphabetic() as usize, u + c.is_uppercase() as usize));
            assert_eq!(super::letters_and_capitals(&t), want, "{t:?}");
        }
    }

    #[test]
    fn ascii_letter_counts_agree_with_a_plain_count() {
        let all: Vec<u8> = (0..128u8).cycle().take(1000).collect();
        for t in texts().iter().map(|t| t.as_bytes()).chain([&all[..]]) {
            let letters = t.iter().filter(|b| b.is_ascii_alphabetic()).count();
            let upper = t.iter().filter(|b| b.is_ascii_uppercase()).count();
            assert_eq!(super::ascii_letters_and_capitals(t), (letters, upper));
        }
    }
}
