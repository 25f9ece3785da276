//! From mail-parser's types to the view's: which fields it parses how, header values as text,
//! and the leaf parts of the MIME tree.

use super::*;

/// mail-parser's default header parsers, except that `Received:` is kept raw: its structured
/// parse is costly and unused (src/received.rs reads the text itself); and the Date fields,
/// which `date::parse` reads once into `Message::date` (one parser for every date the rules
/// compare, the `Received:` time included).
pub(super) fn parser() -> &'static MessageParser {
    static P: std::sync::OnceLock<MessageParser> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        use mail_parser::HeaderName as H;
        let mut p = MessageParser::new();
        for h in [H::Subject, H::Comments, H::ContentDescription, H::ContentLocation, H::ContentTransferEncoding] {
            p = p.header_text(h);
        }
        // The address fields `Message::addresses` keeps are parsed as addresses (see
        // `address::FIELDS`), the envelope's too: Return-Path, Delivered-To, X-Original-To.
        p = p
            .header_address(H::ReturnPath)
            .header_address(H::DeliveredTo)
            .header_address(H::Other("X-Original-To".into()))
            .header_address(H::Other("Envelope-To".into()));
        for h in [
            H::From,
            H::To,
            H::Cc,
            H::Bcc,
            H::ReplyTo,
            H::Sender,
            H::ResentTo,
            H::ResentFrom,
            H::ResentBcc,
            H::ResentCc,
            H::ResentSender,
            H::ListArchive,
            H::ListHelp,
            H::ListId,
            H::ListOwner,
            H::ListPost,
            H::ListSubscribe,
            H::ListUnsubscribe,
        ] {
            p = p.header_address(h);
        }
        for h in [H::MessageId, H::References, H::InReplyTo, H::ContentId, H::ResentMessageId] {
            p = p.header_id(h);
        }
        for h in [H::Keywords, H::ContentLanguage] {
            p = p.header_comma_separated(h);
        }
        for h in [H::ContentType, H::ContentDisposition] {
            p = p.header_content_type(h);
        }
        p.header_raw(H::Received).header_raw(H::Date).header_raw(H::ResentDate).header_raw(H::MimeVersion)
    })
}

pub(super) fn mime_type(ctype: &str, subtype: Option<&str>) -> String {
    let mut t = ctype.to_ascii_lowercase();
    t.push('/');
    t.push_str(&subtype.unwrap_or("").to_ascii_lowercase());
    t
}

fn header_text(value: &HeaderValue<'_>, raw: &str) -> String {
    match value {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(list) => list.join(", "),
        // Addresses with RFC 2047 encoded words: the decoded names with their addresses.
        HeaderValue::Address(a) if raw.contains("=?") => {
            let one = |x: &mail_parser::Addr| match (&x.name, &x.address) {
                (Some(n), Some(ad)) => format!("{n} <{ad}>"),
                (Some(n), None) => n.to_string(),
                (None, Some(ad)) => ad.to_string(),
                (None, None) => String::new(),
            };
            match a {
                mail_parser::Address::List(l) => l.iter().map(one).collect::<Vec<_>>().join(", "),
                mail_parser::Address::Group(g) => {
                    g.iter().flat_map(|g| g.addresses.iter().map(one)).collect::<Vec<_>>().join(", ")
                }
            }
        }
        // Other structured values (dates, content types, plain addresses): the raw text
        // unfolded, so rules see what was written.
        _ => unfold(raw),
    }
}

pub(super) fn convert_headers<'a>(msg: &mail_parser::Message<'a>, part: usize) -> Vec<HeaderField<'a>> {
    // Names and raw values borrow from the message where they can (known names are static; a
    // value is borrowed when it is valid UTF-8 in bytes that outlive the parse).
    let borrowed: Option<&'a [u8]> = match &msg.raw_message {
        Cow::Borrowed(b) => Some(b),
        Cow::Owned(_) => None,
    };
    let raw = msg.raw_message();
    msg.parts[part]
        .headers
        .iter()
        .map(|h| {
            let start = (h.offset_start as usize).min(raw.len());
            let end = (h.offset_end as usize).clamp(start, raw.len());
            let raw_value: Cow<'a, str> = match borrowed {
                Some(b) => String::from_utf8_lossy(&b[start..end]),
                None => Cow::Owned(String::from_utf8_lossy(&raw[start..end]).into_owned()),
            };
            // Kept raw by the parser (see `parser`): the text is the value unfolded, as for any
            // structured value.
            let text = if matches!(
                h.name,
                mail_parser::HeaderName::Received | mail_parser::HeaderName::Date | mail_parser::HeaderName::ResentDate
            ) {
                unfold(&raw_value)
            } else {
                header_text(&h.value, &raw_value)
            };
            let name = match &h.name {
                mail_parser::HeaderName::Other(n) => n.clone(),
                known => Cow::Borrowed(known.as_static_str()),
            };
            HeaderField { name, raw: raw_value, text }
        })
        .collect()
}

/// Whether `part` is the empty body mail-parser makes up for a message that has none.
fn is_missing_body(part: &mail_parser::MessagePart, raw_len: usize) -> bool {
    matches!(&part.body, PartType::Text(t) if t.is_empty()) && part.offset_body as usize >= raw_len
}

/// What `collect_parts` found wrong with a message's structure.
#[derive(Debug, Default)]
pub(super) struct Structure {
    /// A multipart part declared no boundary, or a part is missing.
    pub problem: bool,
    /// More than `MAX_PARTS` leaf parts.
    pub excessive_parts: bool,
    /// Parts nested deeper than `MAX_DEPTH`.
    pub deep_nesting: bool,
}

/// Collects the leaf parts of `msg` in document order. `truncated`: the input was cut at
/// `scan_limit` (a part that runs to its end was cut there).
///
/// Every part mail-parser made is visited once (an explicit stack, no recursion: any depth),
/// so the text parts are kept however many empty parts come before them and however deep they
/// are nested (attack report F13: 500 empty parts, or 21 levels of multipart, hid the body).
/// What is kept is bounded: at most `MAX_PARTS` parts that hold text, and at most `MAX_PARTS`
/// others (binary, and text that shows nothing: blank, zero-width or format characters only,
/// `shows_something`), so padding does not use up the text's share. A structure past
/// either limit is flagged (`Structure`), and rules score it.
pub(super) fn collect_parts<'a>(
    msg: &mail_parser::Message<'a>,
    truncated: bool,
    out: &mut Vec<Part<'a>>,
    found: &mut Structure,
) {
    let (mut text_kept, mut other_kept, mut leaves) = (0usize, 0usize, 0usize);
    // (message, part, depth, truncated, unshown: inside an alternative a client does not show)
    let mut stack: Vec<(&mail_parser::Message<'a>, usize, usize, bool, bool)> = vec![(msg, 0, 0, truncated, false)];
    while let Some((msg, id, depth, truncated, unshown)) = stack.pop() {
        if depth > MAX_DEPTH {
            found.deep_nesting = true;
        }
        let Some(part) = msg.parts.get(id) else {
            found.problem = true;
            continue;
        };
        match &part.body {
            PartType::Multipart(children) => {
                if let Some(ct) = part.content_type() {
                    if ct.attribute("boundary").is_none() {
                        found.problem = true;
                    }
                }
                let shown = shown_alternative(msg, part, children);
                // Reversed onto the stack: popped in document order.
                for (k, &child) in children.iter().enumerate().rev() {
                    let hidden = unshown || shown.is_some_and(|s| s != k);
                    stack.push((msg, child as usize, depth + 1, truncated, hidden));
                }
            }
            PartType::Message(inner) => {
                // A message parsed from its own decoded bytes (owned) ends where it ends, not at
                // the scan limit.
                let truncated = truncated && matches!(inner.raw_message, Cow::Borrowed(_));
                if !inner.parts.is_empty() {
                    stack.push((inner, 0, depth + 1, truncated, unshown));
                }
            }
            _ => {
                leaves += 1;
                if leaves > MAX_PARTS {
                    found.excessive_parts = true;
                }
                let text = match &part.body {
                    PartType::Text(t) => shows_something(t, false),
                    PartType::Html(t) => shows_something(t, true),
                    _ => false,
                };
                let kept = if text { &mut text_kept } else { &mut other_kept };
                if *kept >= MAX_PARTS {
                    continue;
                }
                *kept += 1;
                let content_type = match part.content_type() {
                    Some(ct) => mime_type(ct.ctype(), ct.subtype()),
                    None => "text/plain".to_string(),
                };
                let charset =
                    part.content_type().and_then(|ct| ct.attribute("charset")).map(|c| c.to_ascii_lowercase());
                let transfer_encoding = part.content_transfer_encoding().map(|e| e.to_ascii_lowercase());
                let leaf =
                    leaf_body(msg, part, &content_type, charset.as_deref(), transfer_encoding.as_deref(), truncated);
                let is_attachment = part.content_disposition().is_some_and(|d| d.is_attachment());
                out.push(Part {
                    charset,
                    transfer_encoding,
                    filename: part.attachment_name().map(str::to_string),
                    is_attachment,
                    unshown: unshown || is_attachment,
                    content_type,
                    body: leaf.body,
                    depth,
                    encoding_problem: leaf.encoding_problem,
                    cut_off: leaf.cut_off,
                });
            }
        }
    }
}

/// Which child of a `multipart/alternative` a mail client shows: the last one it can render as
/// the message (`text/html`, `text/plain`, or a multipart such as `multipart/related`), by index
/// into `children`. `None` when `part` is not an alternative or no child is of those types.
fn shown_alternative(
    msg: &mail_parser::Message<'_>,
    part: &mail_parser::MessagePart<'_>,
    children: &[u32],
) -> Option<usize> {
    let ct = part.content_type()?;
    if !(ct.ctype().eq_ignore_ascii_case("multipart")
        && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("alternative")))
    {
        return None;
    }
    children.iter().rposition(|&c| {
        msg.parts.get(c as usize).is_some_and(|p| match p.content_type() {
            None => true,
            Some(ct) => {
                let t = mime_type(ct.ctype(), ct.subtype());
                t == "text/html" || t == "text/plain" || t.starts_with("multipart/")
            }
        })
    })
}

/// Whether a character shows nothing: white space, the format characters (zero-width space,
/// joiners, soft hyphen, word joiner, byte-order mark, direction marks and embeddings,
/// variation selectors, tags) and the blank letters (Hangul fillers, the blank Braille cell).
fn invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c,
            '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
            | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}' | '\u{2800}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}'
            | '\u{ffa0}' | '\u{e0000}'..='\u{e007f}')
}

/// Whether a text part shows the reader anything: a character that is not `invisible`; in HTML
/// (`html`) outside the tags and comments, an entity counting as the character it stands for
/// (`&nbsp;`, `&#8203;` show nothing). One pass over the text. A part that shows nothing is
/// padding, kept with the binary parts (review R4: 500 parts of one zero-width space each used
/// up the text parts' budget).
pub(super) fn shows_something(t: &str, html: bool) -> bool {
    if !html {
        return t.chars().any(|c| !invisible(c));
    }
    let mut chars = t.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            // A tag or a comment: to the next `>` (a comment's `>` inside ends it early; what
            // follows is judged as text, which only errs towards text).
            '<' if !chars.by_ref().any(|(_, c)| c == '>') => return false,
            '<' => {}
            '&' => {
                let rest = &t[i + 1..];
                let end = rest.char_indices().take(12).find(|&(_, c)| c == ';').map(|(j, _)| j);
                let Some(end) = end else { return true };
                let name = &rest[..end];
                let stands_for = match name.strip_prefix('#') {
                    Some(n) => match n.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok(),
                        None => n.parse().ok(),
                    }
                    .and_then(char::from_u32),
                    None => match name.to_ascii_lowercase().as_str() {
                        "nbsp" | "ensp" | "emsp" | "thinsp" | "zwsp" | "zwnj" | "zwj" | "shy" | "lrm" | "rlm"
                        | "nobreak" => Some(' '),
                        _ => None,
                    },
                };
                if !stands_for.is_some_and(invisible) {
                    return true;
                }
                for _ in 0..=name.chars().count() {
                    chars.next();
                }
            }
            c if !invisible(c) => return true,
            _ => {}
        }
    }
    false
}

/// Whether a part of this (lower-case) type holds text: `text/*`, and `message/*` and
/// `multipart/*` when mail-parser could not take them apart (their text is mail). Everything
/// else (`image/*`, `application/*`, `audio/*`, `video/*`, any other declared type) is binary and
/// never read as words.
pub(super) fn is_text_type(content_type: &str) -> bool {
    ["text/", "message/", "multipart/"].iter().any(|t| content_type.starts_with(t))
}

/// A leaf part's body as the view keeps it, and what is wrong with it.
struct Leaf<'a> {
    body: Body<'a>,
    encoding_problem: bool,
    cut_off: bool,
}

/// A leaf part's body: mail-parser's own, except where it gave up on the part.
///
/// When mail-parser 0.11.9 cannot decode a part of a multipart (bad base64 or quoted-printable,
/// or no closing boundary before the end of the input) it keeps the part's raw bytes, still
/// encoded, as *text*, whatever the part's type, and flags an encoding problem. A part with no
/// closing boundary is what a message cut at `scan_limit` inside a part always has (a phone
/// photo mail over 512 KiB), and what a sender who forgot the closing boundary sends: its base64
/// was tokenized as words (BAYES_999 from `skip:` tokens) and fired MIME_BAD_ENCODING,
/// MIME_BASE64_TEXT and BODY_MOSTLY_CAPS, 12–18 points (admin report H1). So:
///
/// - a part that runs to the end of the input (`offset_end`) is decoded again, to the end, with
///   no boundary to look for (mail-parser's own decoders): if that succeeds, the part was only
///   cut off, which is not the sender's bad encoding (`cut_off`, no `encoding_problem`), and
///   its content is the decoded bytes (a trailing partial character is dropped);
/// - a part whose declared type is not text (`is_text_type`) is binary, whatever mail-parser
///   made of it: never read as words, only its length and first bytes kept (decoded when they
///   could be, so the attachment checks still see a cut-off ZIP's or EXE's magic);
/// - a `text/html` part mail-parser gave up on is still HTML (it made it plain text).
///
/// Decoding the part again reads it once more: linear in the part, and only for the one part a
/// scan limit or a missing boundary cut off.
fn leaf_body<'a>(
    msg: &mail_parser::Message<'a>,
    part: &mail_parser::MessagePart<'a>,
    content_type: &str,
    charset: Option<&str>,
    transfer_encoding: Option<&str>,
    truncated: bool,
) -> Leaf<'a> {
    let raw = msg.raw_message();
    let ends_at_end = part.offset_end as usize >= raw.len();
    // mail-parser marks a message without a body (headers only, no blank line: valid RFC 5322)
    // as an encoding problem; an empty part that was never there is none.
    let problem = part.is_encoding_problem && !is_missing_body(part, raw.len());
    // mail-parser gave up on the part and kept its raw bytes as text.
    let given_up = problem && matches!(part.body, PartType::Text(_) | PartType::Html(_));
    let decoded = if given_up && ends_at_end {
        let bytes = raw.get(part.offset_body as usize..).unwrap_or_default();
        decode_to_end(bytes, transfer_encoding).map(|d| d.unwrap_or_else(|| bytes.to_vec()))
    } else {
        None
    };
    let only_cut = decoded.is_some();
    let cut_off = ends_at_end && (truncated || only_cut);
    let encoding_problem = problem && !only_cut;
    let text_like = is_text_type(content_type);
    let binary = |b: &[u8], len: usize| Body::Binary { len, head: Cow::Owned(b[..b.len().min(BINARY_HEAD)].to_vec()) };
    let body = match &part.body {
        PartType::Binary(b) | PartType::InlineBinary(b) => binary(b, b.len()),
        PartType::Text(t) | PartType::Html(t) if !text_like => match &decoded {
            Some(d) => binary(d, d.len()),
            None => binary(t.as_bytes(), t.len()),
        },
        PartType::Text(t) | PartType::Html(t) => {
            let mut text = match (&decoded, transfer_encoding) {
                (Some(d), Some("base64" | "quoted-printable")) => Cow::Owned(decode_charset(d, charset)),
                _ => t.clone(),
            };
            if cut_off && text.ends_with('\u{fffd}') {
                // The cut fell inside a character.
                let keep = text.len() - '\u{fffd}'.len_utf8();
                match &mut text {
                    Cow::Borrowed(s) => *s = &s[..keep],
                    Cow::Owned(s) => s.truncate(keep),
                }
            }
            if matches!(part.body, PartType::Html(_)) || content_type == "text/html" {
                Body::Html(text)
            } else {
                Body::Text(text)
            }
        }
        PartType::Multipart(_) | PartType::Message(_) => unreachable!("handled by collect_parts"),
    };
    Leaf { body, encoding_problem, cut_off }
}

/// `bytes` (a part's body to the end of the input) decoded from `transfer_encoding` with no
/// boundary to stop at: `None` when the encoding is broken; `Some(None)` when there is nothing
/// to decode (7bit, 8bit, binary or none: the bytes are the content).
fn decode_to_end(bytes: &[u8], transfer_encoding: Option<&str>) -> Option<Option<Vec<u8>>> {
    use mail_parser::parsers::MessageStream;
    let (end, out) = match transfer_encoding {
        Some("base64") => MessageStream::new(bytes).decode_base64_mime(b""),
        Some("quoted-printable") => MessageStream::new(bytes).decode_quoted_printable_mime(b""),
        _ => return Some(None),
    };
    (end != usize::MAX).then(|| Some(out.into_owned()))
}

/// Decoded bytes of a text part as UTF-8, from their charset as mail-parser reads it.
fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    match charset.and_then(|c| mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes())) {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The mailboxes of the address fields of a parsed header block (`headers`, in the order
/// `convert_headers` keeps them).
pub(super) fn addresses(headers: &[mail_parser::Header<'_>], raw_message: &[u8]) -> Addresses {
    let mut out = Addresses::default();
    for (i, h) in headers.iter().enumerate() {
        let name = match &h.name {
            mail_parser::HeaderName::Other(n) => n.as_ref(),
            known => known.as_static_str(),
        };
        if address::FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            let raw = raw_message.get(h.offset_start as usize..h.offset_end as usize).unwrap_or_default();
            out.add(i, &h.value, &String::from_utf8_lossy(raw));
        }
    }
    out
}
