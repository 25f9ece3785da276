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

pub(super) fn collect_parts<'a>(
    msg: &mail_parser::Message<'a>,
    id: usize,
    depth: usize,
    out: &mut Vec<Part<'a>>,
    problem: &mut bool,
) {
    if out.len() >= MAX_PARTS || depth > MAX_DEPTH {
        *problem = true;
        return;
    }
    let Some(part) = msg.parts.get(id) else {
        *problem = true;
        return;
    };
    match &part.body {
        PartType::Multipart(children) => {
            if let Some(ct) = part.content_type() {
                if ct.attribute("boundary").is_none() {
                    *problem = true;
                }
            }
            for &child in children {
                collect_parts(msg, child as usize, depth + 1, out, problem);
            }
        }
        PartType::Message(inner) => {
            if !inner.parts.is_empty() {
                collect_parts(inner, 0, depth + 1, out, problem);
            }
        }
        body => {
            let content_type = match part.content_type() {
                Some(ct) => mime_type(ct.ctype(), ct.subtype()),
                None => "text/plain".to_string(),
            };
            let body = match body {
                PartType::Text(t) => Body::Text(t.clone()),
                PartType::Html(t) => Body::Html(t.clone()),
                PartType::Binary(b) | PartType::InlineBinary(b) => {
                    Body::Binary { len: b.len(), head: Cow::Owned(b[..b.len().min(BINARY_HEAD)].to_vec()) }
                }
                PartType::Multipart(_) | PartType::Message(_) => unreachable!("handled above"),
            };
            out.push(Part {
                charset: part.content_type().and_then(|ct| ct.attribute("charset")).map(|c| c.to_ascii_lowercase()),
                transfer_encoding: part.content_transfer_encoding().map(|e| e.to_ascii_lowercase()),
                filename: part.attachment_name().map(str::to_string),
                is_attachment: part.content_disposition().is_some_and(|d| d.is_attachment()),
                content_type,
                body,
                depth,
                // mail-parser marks a message without a body (headers only, no blank line: valid
                // RFC 5322) as an encoding problem; an empty part that was never there is none.
                encoding_problem: part.is_encoding_problem && !is_missing_body(part, msg.raw_message().len()),
            });
        }
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
