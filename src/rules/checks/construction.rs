//! Helpers of the construction checks: attachments, Message-ID and Date, the mailer, MIME
//! alternatives, header charsets, addresses and encoded words.

use super::*;

pub(super) fn attachment_names<'c>(c: &'c Context) -> impl Iterator<Item = String> + 'c {
    c.msg.parts.iter().filter_map(|p| p.filename.as_ref()).map(|n| n.trim().trim_matches('"').to_lowercase())
}

pub(super) fn ext_in(name: &str, exts: &[&str]) -> bool {
    name.rsplit_once('.').is_some_and(|(_, e)| exts.contains(&e.trim()))
}

pub(super) fn double_extension(name: &str) -> bool {
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
pub(super) fn archive_with_executable(c: &Context) -> bool {
    c.msg.parts.iter().any(|p| match &p.body {
        Body::Binary { head, .. } if head.starts_with(b"PK\x03\x04") && head.len() > 30 => {
            let n = u16::from_le_bytes([head[26], head[27]]) as usize;
            let name = String::from_utf8_lossy(&head[30..(30 + n).min(head.len())]).to_lowercase();
            ext_in(&name, EXECUTABLE_EXTS) || double_extension(&name)
        }
        _ => false,
    })
}

pub(super) fn exe_disguised(c: &Context) -> bool {
    c.msg.parts.iter().any(|p| match (&p.body, &p.filename) {
        (Body::Binary { head, .. }, Some(name)) => {
            head.starts_with(b"MZ") && !ext_in(&name.to_lowercase(), EXECUTABLE_EXTS)
        }
        _ => false,
    })
}

pub(super) fn well_formed_msgid(m: &str) -> bool {
    let m = m.trim();
    let Some(inner) = m.strip_prefix('<').and_then(|r| r.strip_suffix('>')) else {
        // mail-parser gives the id without brackets; accept `local@domain` too.
        return m
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains(char::is_whitespace));
    };
    inner.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
}

pub(super) fn date_skew(c: &Context) -> Option<i64> {
    let sent = c.msg.date?;
    Some(sent - c.received_at?)
}

pub(super) fn mailer(c: &Context) -> String {
    c.msg.header("x-mailer").unwrap_or("").to_ascii_lowercase()
}

/// The Windows Outlook and Outlook Express versions known to write their own Message-IDs and
/// X-MimeOLE (not the Macintosh editions, not Outlook in Internet-Mail-Only mode).
pub(super) fn windows_outlook(m: &str) -> bool {
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
pub(super) fn forged_outlook(c: &Context, _: &RuleSet) -> bool {
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

pub(super) fn alternatives_differ(c: &Context, _: &RuleSet) -> bool {
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
pub(super) fn word_set(t: &str) -> HashSet<u64, crate::hash::PreHashedBuild> {
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

pub(super) fn raw_header_charset_asian(c: &Context) -> bool {
    c.msg.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("subject")).any(|h| {
        let l = h.raw.to_ascii_lowercase();
        ["=?gb2312?", "=?gbk?", "=?big5?", "=?euc-kr?", "=?ks_c_5601", "=?iso-2022-jp?", "=?shift_jis?"]
            .iter()
            .any(|a| l.contains(a))
    })
}

/// The From address (`Message::addresses`: the first address of the first From field).
pub(super) fn from_address<'c>(c: &Context<'c>) -> Option<&'c str> {
    c.msg.first_address("from")
}

pub(super) fn domain_of(a: &str) -> &str {
    a.rsplit_once('@').map_or("", |(_, d)| d)
}

/// The first From field's display name holds an address that is not its own.
pub(super) fn from_name_has_address(c: &Context, _: &RuleSet) -> bool {
    let Some(m) = c.msg.first_field_mailboxes("from").next() else { return false };
    !m.address.is_empty()
        && m.name
            .split(|ch: char| ch.is_whitespace() || matches!(ch, '"' | '\'' | '(' | ')' | '<' | '>'))
            .filter(|w| w.contains('@') && w.contains('.'))
            .any(|w| w.trim_matches(|ch: char| !ch.is_alphanumeric()).to_ascii_lowercase() != m.address)
}

pub(super) fn subject_trailing_id(c: &Context, _: &RuleSet) -> bool {
    // "Save 50% now                      27491" or "Your order [ID:ax83kq1]": padding then a random tag.
    let s = c.subject.trim_end();
    let Some((pos, ws)) = s.char_indices().rev().find(|(_, ch)| ch.is_whitespace()) else { return false };
    let tail = &s[pos + ws.len_utf8()..];
    let before = &s[..pos];
    let pad = before.len() - before.trim_end().len();
    pad >= 4 && tail.len() >= 3 && tail.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
}

/// An RFC 2047 encoded word in `field` that decodes to plain ASCII: no reason to encode it
/// but to hide the words from filters.
pub(super) fn header_encoded_ascii(c: &Context, field: &str) -> bool {
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
