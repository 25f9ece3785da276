//! A parsed view of one message: the only module that uses mail-parser.
//!
//! Everything downstream (features, rules) reads this view rather than mail-parser's types, so
//! the parser can be swapped or patched in one place. Parsing never fails: any input, even
//! binary junk, yields a view (possibly with no parts); problems are recorded as flags that rules
//! can score.
//!
//! Only the first `scan_limit` bytes are parsed, so a 50 MB message costs the same as a 500 KB
//! one; `truncated` says when that happened. The raw bytes themselves are never modified here:
//! `rewrite` works on the original buffer by offset.

use std::borrow::Cow;

use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};

/// One header field of the top-level header block or of a MIME part.
#[derive(Debug, Clone)]
pub struct HeaderField<'a> {
    /// The field name as written (case preserved).
    pub name: Cow<'a, str>,
    /// The value as written: still folded and RFC 2047-encoded (lossy UTF-8).
    pub raw: Cow<'a, str>,
    /// The value unfolded and with RFC 2047 encoded words decoded.
    pub text: String,
}

impl HeaderField<'_> {
    /// The same field, owning its text.
    pub fn into_owned(self) -> HeaderField<'static> {
        HeaderField {
            name: Cow::Owned(self.name.into_owned()),
            raw: Cow::Owned(self.raw.into_owned()),
            text: self.text,
        }
    }
}

/// What a leaf MIME part holds, decoded (transfer encoding and charset).
#[derive(Debug, Clone)]
pub enum Body<'a> {
    /// text/plain and other text/* parts, decoded to UTF-8.
    Text(Cow<'a, str>),
    /// text/html, decoded to UTF-8 (tags still in).
    Html(Cow<'a, str>),
    /// Anything else; only the decoded length and the first bytes are kept.
    Binary { len: usize, head: Cow<'a, [u8]> },
}

/// One leaf MIME part (multipart containers are flattened away; `depth` says how deep it was).
#[derive(Debug, Clone)]
pub struct Part<'a> {
    /// Lower-case `type/subtype`, e.g. `text/html`; `text/plain` when missing.
    pub content_type: String,
    pub charset: Option<String>,
    /// Lower-case Content-Transfer-Encoding, when given.
    pub transfer_encoding: Option<String>,
    /// The attachment's file name, when given.
    pub filename: Option<String>,
    pub is_attachment: bool,
    pub body: Body<'a>,
    /// Nesting depth (0 for a single-part message's body).
    pub depth: usize,
    /// mail-parser met undecodable bytes (bad base64 or quoted-printable, unknown charset).
    pub encoding_problem: bool,
}

impl Part<'_> {
    /// The same part, owning its content.
    pub fn into_owned(self) -> Part<'static> {
        let body = match self.body {
            Body::Text(t) => Body::Text(Cow::Owned(t.into_owned())),
            Body::Html(t) => Body::Html(Cow::Owned(t.into_owned())),
            Body::Binary { len, head } => Body::Binary { len, head: Cow::Owned(head.into_owned()) },
        };
        Part { body, ..self }
    }
}

/// The parsed view of a message.
#[derive(Debug)]
pub struct Message<'a> {
    /// The bytes that were parsed: after any mbox `From ` line, at most `scan_limit` long.
    pub scanned: &'a [u8],
    /// The top-level header fields, in order.
    pub headers: Vec<HeaderField<'a>>,
    /// Leaf parts in document order.
    pub parts: Vec<Part<'a>>,
    /// The top-level content type (lower case), e.g. `multipart/alternative`.
    pub content_type: String,
    /// Offset in `scanned` where the body starts (after the blank line), if there is one.
    pub body_offset: Option<usize>,
    /// The input was longer than the scan limit and only a prefix was parsed.
    pub truncated: bool,
    /// The parser could not make anything of the input (no header block).
    pub unparsable: bool,
    /// A multipart part declared no boundary, or the structure is otherwise broken.
    pub mime_problem: bool,
    /// The first Date field, Unix seconds (UTC): `None` when there is none or it is not a date.
    /// Parsed once, here, by `date::parse` (mail-parser keeps the field raw).
    pub date: Option<i64>,
}

/// How much of a binary part's decoded content is kept for sniffing (magic numbers, archives).
const BINARY_HEAD: usize = 512;
/// Parts nested deeper than this are not descended into.
const MAX_DEPTH: usize = 20;
/// At most this many leaf parts are kept.
const MAX_PARTS: usize = 500;

thread_local! {
    static IN_PARSER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside mail-parser: a panic there is caught and handled (the panic
/// hook uses this to stay quiet about it).
pub fn in_parser() -> bool {
    IN_PARSER.with(|f| f.get())
}

/// mail-parser's default header parsers, except that `Received:` is kept raw: its structured
/// parse is costly and unused (src/received.rs reads the text itself); and the Date fields,
/// which `date::parse` reads once into `Message::date` (one parser for every date the rules
/// compare, the `Received:` time included).
fn parser() -> &'static MessageParser {
    static P: std::sync::OnceLock<MessageParser> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        use mail_parser::HeaderName as H;
        let mut p = MessageParser::new();
        for h in [H::Subject, H::Comments, H::ContentDescription, H::ContentLocation, H::ContentTransferEncoding] {
            p = p.header_text(h);
        }
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
        for h in [H::MessageId, H::References, H::InReplyTo, H::ReturnPath, H::ContentId, H::ResentMessageId] {
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

/// Drops a parsed message without recursion. mail-parser nests a `message/rfc822` part as a
/// whole message inside its parent, and dropping that tree recurses once per level: 512 KiB of
/// `Content-Type: message/rfc822` lines are 17,000 levels, which overflowed a 1 MiB stack (and
/// a smaller stack with less). Here each nested message's parts are moved out onto a list
/// before it is dropped, so the stack stays flat whatever the depth (issue 15).
fn dismantle(msg: mail_parser::Message<'_>) {
    let mut pending = vec![msg.parts];
    while let Some(parts) = pending.pop() {
        for mut part in parts {
            if let PartType::Message(inner) = &mut part.body {
                pending.push(std::mem::take(&mut inner.parts));
            }
        }
    }
}

/// mail-parser behind `catch_unwind`: `Err` when it panicked.
///
/// A `message/rfc822` part (or a digest's part) with a transfer encoding is decoded and parsed
/// as a message of its own, and mail-parser then copies that message's tree into the outer one
/// recursively (`MessagePart::into_owned`), one call per level of nesting inside it: 486 KB of
/// base64 holding 12,000 nested `message/rfc822` parts needed more than the 8 MiB main-thread
/// stack, and the delivery died of SIGSEGV (issue 15; found by examples/fuzz_slow.rs). A message
/// that can nest so (a `Content-Type` field naming `message` or `digest`) and is large enough to
/// matter is parsed on a thread whose stack grows with the input (virtual memory, touched only
/// as deep as the parse goes); everything else, nearly all mail, is parsed here. Should even
/// that thread not start (a tight memory limit), the parse runs here, and a stack overflow then
/// still passes the message through (the binary's SIGSEGV handler, src/main.rs).
fn guarded_parse(bytes: &[u8]) -> Result<Option<mail_parser::Message<'_>>, ()> {
    if bytes.len() <= NEST_INLINE || !may_nest_messages(bytes) {
        return guarded_parse_here(bytes);
    }
    let stack = (2 << 20) + bytes.len().saturating_mul(NEST_STACK_PER_BYTE);
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("parse".into())
            .stack_size(stack)
            .spawn_scoped(s, || guarded_parse_here(bytes))
        {
            Ok(t) => t.join().unwrap_or(Err(())),
            Err(_) => guarded_parse_here(bytes),
        }
    })
}

/// Up to this size nesting cannot go deep enough to matter (about 200 levels: well under any
/// thread's stack), so the parse runs on the caller's stack.
const NEST_INLINE: usize = 8 << 10;
/// Stack per input byte for a parse that may nest messages: a level takes at least 29 bytes of
/// input (`Content-type:message/rfc822` and a blank line) and, measured, under 1.5 KiB of stack
/// in a release build, more in a debug build: 128 bytes per input byte is 3.6 KiB per level.
const NEST_STACK_PER_BYTE: usize = 128;

/// Whether a `Content-Type` field (of the message or of any part, folded or not) names
/// `message` or `digest` (any case): only then can mail-parser nest one message in another.
fn may_nest_messages(bytes: &[u8]) -> bool {
    let mut in_content_type = false;
    let mut start = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        let line = &bytes[start..end];
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation {
            in_content_type = line.len() >= 12 && line[..12].eq_ignore_ascii_case(b"content-type");
        }
        if in_content_type && (contains_ignore_case(line, b"message") || contains_ignore_case(line, b"digest")) {
            return true;
        }
        start = end;
    }
    false
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

fn guarded_parse_here(bytes: &[u8]) -> Result<Option<mail_parser::Message<'_>>, ()> {
    IN_PARSER.with(|f| f.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser().parse(bytes)));
    IN_PARSER.with(|f| f.set(false));
    r.map_err(|_| ())
}

impl<'a> Message<'a> {
    /// Parses at most `scan_limit` bytes of `raw` (after an mbox `From ` line, if any).
    pub fn parse(raw: &'a [u8], scan_limit: usize) -> Message<'a> {
        let start = mbox_from_line_len(raw);
        let rest = &raw[start..];
        let truncated = rest.len() > scan_limit;
        let scanned = if truncated { cut_at_line(rest, scan_limit) } else { rest };
        let mut msg = Message {
            scanned,
            headers: Vec::new(),
            parts: Vec::new(),
            content_type: "text/plain".to_string(),
            body_offset: find_body_offset(scanned),
            truncated,
            unparsable: false,
            mime_problem: false,
            date: None,
        };
        // A header block of more fields than any real message has (73,000 `X-A: b` lines in
        // 512 KiB) cost mail-parser's parse and our conversion of every field: 62 ms on a loaded
        // machine (issue 15). Only the first MAX_HEADER_FIELDS are parsed (from a copy of the
        // message without the others); the rest still passes through untouched (rewrite works on
        // the raw bytes) and the raw header block the rules read is still all there.
        // An encoded message/rfc822 part is the other shape mail-parser is costly on (see
        // `neutralize_encoded_messages`): such parts are parsed from a copy too.
        let capped = capped_header_block(scanned, msg.body_offset);
        let copy = neutralize_encoded_messages(capped.as_deref().unwrap_or(scanned)).or(capped);
        match copy {
            None => msg.fill(scanned),
            Some(copy) => {
                let mut view = Message::empty(&copy);
                view.body_offset = find_body_offset(&copy);
                view.fill(&copy);
                msg.headers = view.headers.into_iter().map(HeaderField::into_owned).collect();
                msg.parts = view.parts.into_iter().map(Part::into_owned).collect();
                msg.content_type = view.content_type;
                msg.unparsable = view.unparsable;
                msg.mime_problem = view.mime_problem;
            }
        }
        msg.date = msg.header("date").and_then(crate::date::parse);
        msg
    }

    fn empty(scanned: &'a [u8]) -> Message<'a> {
        Message {
            scanned,
            headers: Vec::new(),
            parts: Vec::new(),
            content_type: "text/plain".to_string(),
            body_offset: None,
            truncated: false,
            unparsable: false,
            mime_problem: false,
            date: None,
        }
    }

    /// Parses `scanned` (this message's, or a copy with its header block capped) with
    /// mail-parser and fills in the headers, parts and flags.
    fn fill(&mut self, scanned: &'a [u8]) {
        // mail-parser 0.11.9 can panic on some broken multipart structures (found by fuzzing,
        // kept in tests/fixtures/fuzz/). Such a message is scored from its header block alone.
        let parsed = match guarded_parse(scanned) {
            Ok(p) => p,
            Err(()) => {
                self.mime_problem = true;
                let headers_only = &scanned[..self.body_offset.unwrap_or(scanned.len())];
                guarded_parse(headers_only).ok().flatten()
            }
        };
        let Some(parsed) = parsed else {
            self.unparsable = true;
            return;
        };
        if parsed.parts.is_empty() {
            self.unparsable = true;
            return;
        }
        self.headers = convert_headers(&parsed, 0);
        if let Some(ct) = parsed.parts[0].content_type() {
            self.content_type = mime_type(ct.ctype(), ct.subtype());
            if self.content_type.starts_with("multipart/") && ct.attribute("boundary").is_none() {
                self.mime_problem = true;
            }
        }
        let mut parts = Vec::new();
        collect_parts(&parsed, 0, 0, &mut parts, &mut self.mime_problem);
        self.parts = parts;
        dismantle(parsed);
    }

    /// The decoded text of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.text.as_str())
    }

    /// All header fields called `name` (case-insensitive), in order.
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s HeaderField<'a>> + 's {
        self.headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name))
    }

    /// The raw body (after the header block) of what was scanned.
    pub fn raw_body(&self) -> &'a [u8] {
        match self.body_offset {
            Some(off) => &self.scanned[off..],
            None => &[],
        }
    }
}

/// At most this many fields of the top-level header block are parsed (real mail has up to about
/// 130: the most in the SpamAssassin corpus is 126, most of them `Received`).
const MAX_HEADER_FIELDS: usize = 1000;

/// When the header block of `scanned` has more than `MAX_HEADER_FIELDS` fields: a copy of
/// `scanned` with only the first of them (continuation lines kept with their field), then the
/// blank line and the body as they are. `None` (nearly always): parse `scanned` itself.
fn capped_header_block(scanned: &[u8], body_offset: Option<usize>) -> Option<Vec<u8>> {
    let header_end = match body_offset {
        // The blank line that ends the block: `\n` or `\r\n`.
        Some(off) if off >= 2 && scanned[off - 2] == b'\r' && (off == 2 || scanned[off - 3] == b'\n') => off - 2,
        Some(off) => off - 1,
        None => scanned.len(),
    };
    let block = &scanned[..header_end];
    // Whole lines only: a line that does not start with white space starts a field.
    let (mut fields, mut at) = (0usize, 0usize);
    while at < block.len() {
        if !matches!(block[at], b' ' | b'\t') {
            if fields == MAX_HEADER_FIELDS {
                let mut copy = Vec::with_capacity(at + scanned.len() - header_end);
                copy.extend_from_slice(&scanned[..at]);
                copy.extend_from_slice(&scanned[header_end..]);
                return Some(copy);
            }
            fields += 1;
        }
        at = memchr::memchr(b'\n', &block[at..]).map_or(block.len(), |i| at + i + 1);
    }
    None
}

/// A copy of `bytes` in which mail-parser will not decode a `message/rfc822` part, when it has
/// one with a transfer encoding; `None` (nearly always) when it has none.
///
/// mail-parser decodes such a part (base64 or quoted-printable), parses it as a message of its
/// own and then copies that message into the outer one, and the copy of each nested level
/// copies the whole decoded text again (`Message::into_owned`): 200 KB of quoted-printable
/// holding 5,700 nested `message/rfc822` parts took 1.3 s and 970 MB, 600 KB took 12 s and
/// 8 GB (found by examples/fuzz_slow.rs; issue 15). RFC 2046 allows no transfer encoding but
/// 7bit, 8bit and binary on message/rfc822, so the copy spoils the encoding's name in such a
/// part's header block (`base64` → `xase64`, same length) and mail-parser reads the part as an
/// unencoded message, borrowing it: no copies, linear. A header block counts when it names
/// `message` in its Content-Type, or has no Content-Type while the message has a digest (whose
/// parts are messages by default). A header block here is a run of non-empty lines; a body
/// line that looks like one is spoiled in the copy too, which costs nothing that matters.
fn neutralize_encoded_messages(bytes: &[u8]) -> Option<Vec<u8>> {
    if !may_nest_messages(bytes) {
        return None;
    }
    let digest = has_digest(bytes);
    let mut patches = Vec::new();
    let (mut ct_message, mut has_ct, mut encoded) = (false, false, Vec::new());
    let mut field = Field::Other;
    let mut start = 0;
    while start <= bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        let line = &bytes[start..end];
        if line.is_empty() || line == b"\n" || line == b"\r\n" {
            if !encoded.is_empty() && (ct_message || (!has_ct && digest)) {
                patches.append(&mut encoded);
            }
            (ct_message, has_ct) = (false, false);
            encoded.clear();
            field = Field::Other;
            if end == bytes.len() {
                break;
            }
        } else {
            if !matches!(line[0], b' ' | b'\t') {
                field = if starts_with_ignore_case(line, b"content-type") {
                    has_ct = true;
                    Field::ContentType
                } else if starts_with_ignore_case(line, b"content-transfer-encoding") {
                    Field::Encoding
                } else {
                    Field::Other
                };
            }
            match field {
                Field::ContentType => ct_message |= contains_ignore_case(line, b"message"),
                Field::Encoding => {
                    for name in [&b"base64"[..], b"quoted-printable"] {
                        if let Some(i) = line.windows(name.len()).position(|w| w.eq_ignore_ascii_case(name)) {
                            encoded.push(start + i);
                        }
                    }
                }
                Field::Other => {}
            }
        }
        start = end;
    }
    if patches.is_empty() {
        return None;
    }
    let mut copy = bytes.to_vec();
    for at in patches {
        copy[at] = b'x';
    }
    Some(copy)
}

#[derive(Clone, Copy)]
enum Field {
    ContentType,
    Encoding,
    Other,
}

fn starts_with_ignore_case(line: &[u8], name: &[u8]) -> bool {
    line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name)
}

/// Whether a Content-Type field names `digest` (any case).
fn has_digest(bytes: &[u8]) -> bool {
    let mut in_ct = false;
    bytes.split_inclusive(|&b| b == b'\n').any(|line| {
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            in_ct = starts_with_ignore_case(line, b"content-type");
        }
        in_ct && contains_ignore_case(line, b"digest")
    })
}

/// Length of an mbox `From ` separator line at the start of `raw` (0 if there is none).
pub fn mbox_from_line_len(raw: &[u8]) -> usize {
    if raw.starts_with(b"From ") {
        match raw.iter().position(|&b| b == b'\n') {
            Some(nl) => nl + 1,
            None => raw.len(),
        }
    } else {
        0
    }
}

/// The offset just after the blank line that ends the header block (LF or CRLF), if any.
pub fn find_body_offset(raw: &[u8]) -> Option<usize> {
    let mut i = 0;
    // A message that starts with a blank line has an empty header block.
    if raw.starts_with(b"\n") {
        return Some(1);
    }
    if raw.starts_with(b"\r\n") {
        return Some(2);
    }
    while let Some(nl) = raw[i..].iter().position(|&b| b == b'\n') {
        let next = i + nl + 1;
        if raw[next..].starts_with(b"\n") {
            return Some(next + 1);
        }
        if raw[next..].starts_with(b"\r\n") {
            return Some(next + 2);
        }
        i = next;
    }
    None
}

/// `raw[..limit]`, shortened to end at a line end when one is near.
fn cut_at_line(raw: &[u8], limit: usize) -> &[u8] {
    let head = &raw[..limit];
    match head.iter().rposition(|&b| b == b'\n') {
        Some(nl) if nl + 1 >= limit / 2 => &head[..nl + 1],
        _ => head,
    }
}

fn mime_type(ctype: &str, subtype: Option<&str>) -> String {
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

/// Unfolds a raw header value and trims it.
pub fn unfold(raw: &str) -> String {
    let raw = raw.trim_start();
    let mut out = String::with_capacity(raw.len());
    for (i, line) in raw.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if i > 0 {
            out.push(' ');
            out.push_str(line.trim_start());
        } else {
            out.push_str(line);
        }
    }
    out.truncate(out.trim_end().len());
    out
}

fn convert_headers<'a>(msg: &mail_parser::Message<'a>, part: usize) -> Vec<HeaderField<'a>> {
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

fn collect_parts<'a>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_nested_messages_need_no_deep_stack() {
        // A base64 message/rfc822 part holding 9,000 nested message/rfc822 parts: mail-parser
        // copies the decoded tree recursively. On the caller's 1 MiB stack that overflowed.
        let mut inner = b"Subject: y\nMIME-Version: 1.0\n".to_vec();
        inner.extend_from_slice(&b"Content-Type: message/rfc822\n\n".repeat(9_000));
        inner.extend_from_slice(b"Subject: in\n\nhi\n");
        let mut m =
            b"Subject: x\nMIME-Version: 1.0\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
                .to_vec();
        for chunk in inner.chunks(57) {
            m.extend_from_slice(base64(chunk).as_bytes());
            m.push(b'\n');
        }
        assert!(may_nest_messages(&m) && !may_nest_messages(b"Content-Type: text/plain\n\nmessage digest\n"));
        // mail-parser is not even asked to decode it (`neutralize_encoded_messages`).
        let copy = neutralize_encoded_messages(&m).unwrap();
        assert!(copy.windows(6).any(|w| w == b"xase64") && copy.len() == m.len());
        let parse = move || Message::parse(&m, 512 << 10).parts.len();
        let t = std::thread::Builder::new().stack_size(1 << 20).spawn(parse).unwrap();
        assert!(t.join().is_ok());
    }

    fn base64(b: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in b.chunks(3) {
            let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
            for i in 0..4 {
                s.push(if i <= c.len() { A[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
            }
        }
        s
    }

    #[test]
    fn encoded_message_parts_are_read_unencoded() {
        let m = |head: &str| format!("Subject: x\n{head}\nhi\n").into_bytes();
        // A message/rfc822 part with an encoding: spoiled in the copy (same length).
        let qp = m("Content-Type: message/rfc822\nContent-Transfer-Encoding: Quoted-Printable\n");
        let copy = neutralize_encoded_messages(&qp).unwrap();
        assert_eq!(String::from_utf8(copy).unwrap(), String::from_utf8(qp).unwrap().replace("Quoted", "xuoted"));
        // Folded fields, and a digest's parts without a Content-Type.
        let folded = m("Content-Type:\n message/rfc822\nContent-Transfer-Encoding:\n\tbase64\n");
        assert!(neutralize_encoded_messages(&folded).is_some());
        let digest = b"Content-Type: multipart/digest; boundary=d\n\n--d\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKaGkK\n--d--\n";
        assert!(neutralize_encoded_messages(digest).is_some());
        // Everything else is parsed as it is: text with an encoding, a message without one.
        for head in [
            "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n",
            "Content-Type: message/rfc822\n",
            "Content-Type: message/rfc822\nContent-Transfer-Encoding: 7bit\n",
            "Content-Transfer-Encoding: base64\n",
        ] {
            assert!(neutralize_encoded_messages(&m(head)).is_none(), "{head}");
        }
    }

    #[test]
    fn only_the_first_header_fields_are_parsed() {
        for eol in ["\n", "\r\n"] {
            let mut m = format!("Subject: first{eol}Content-Type: text/plain;{eol} charset=utf-8{eol}");
            for _ in 0..5000 {
                m.push_str(&format!("X-A: b{eol}"));
            }
            m.push_str(&format!("Subject: late{eol}{eol}the body is still read{eol}"));
            let msg = Message::parse(m.as_bytes(), 512 << 10);
            assert_eq!(msg.headers.len(), MAX_HEADER_FIELDS);
            assert_eq!(msg.header("Subject"), Some("first"));
            assert_eq!(msg.headers_named("Subject").count(), 1, "fields past the cap are not parsed");
            assert_eq!(msg.parts.len(), 1);
            assert!(matches!(&msg.parts[0].body, Body::Text(t) if t.trim_end() == "the body is still read"));
            assert_eq!(msg.raw_body(), format!("the body is still read{eol}").as_bytes(), "raw views are whole");
            assert!(!msg.unparsable && !msg.mime_problem);
            // With no body at all, and at the cap exactly (nothing is copied).
            let no_body = m[..m.find("Subject: late").unwrap()].to_string();
            assert_eq!(Message::parse(no_body.as_bytes(), 512 << 10).headers.len(), MAX_HEADER_FIELDS);
            let lines: Vec<&str> = m.split_inclusive('\n').collect();
            let at_cap = lines[..MAX_HEADER_FIELDS + 1].concat() + eol + "x" + eol;
            assert!(capped_header_block(at_cap.as_bytes(), find_body_offset(at_cap.as_bytes())).is_none());
            assert_eq!(Message::parse(at_cap.as_bytes(), 512 << 10).headers.len(), MAX_HEADER_FIELDS);
        }
    }

    #[test]
    fn deep_message_nesting_needs_no_deep_stack() {
        // 17,000 nested message/rfc822 parts: dropping mail-parser's tree recursed once per
        // level and overflowed this 256 KiB stack (a SIGSEGV that killed the delivery).
        let mut m = b"Subject: x\nMIME-Version: 1.0\n".to_vec();
        m.extend_from_slice(&b"Content-Type: message/rfc822\n\n".repeat(17_000));
        m.extend_from_slice(b"Subject: in\n\nhi\n");
        let parse = move || {
            let msg = Message::parse(&m, 512 << 10);
            (msg.parts.len(), msg.mime_problem)
        };
        let t = std::thread::Builder::new().stack_size(256 << 10).spawn(parse).unwrap();
        assert_eq!(t.join().unwrap(), (0, true), "parts deeper than MAX_DEPTH are not descended into");
    }

    #[test]
    fn parses_simple_message() {
        let raw = b"From: a@b.example\r\nSubject: =?utf-8?q?Hallo_wereld?=\r\n\r\nbody text\r\n";
        let m = Message::parse(raw, 1 << 20);
        assert_eq!(m.header("subject"), Some("Hallo wereld"));
        assert_eq!(m.parts.len(), 1);
        assert!(matches!(&m.parts[0].body, Body::Text(t) if t.contains("body text")));
        assert_eq!(m.raw_body(), b"body text\r\n");
    }

    /// mail-parser's date parser reads two bytes past a zone name's first letter, so a Date
    /// ending in a one- or two-letter word (`UT`, `AM`) swallowed the next field: on the
    /// SpamAssassin corpus nine messages lost their From that way (MISSING_FROM fired). The
    /// field is kept raw and parsed by `date::parse` instead.
    #[test]
    fn a_date_field_does_not_swallow_the_next_field() {
        for (date, unix) in
            [("Sat, 14 Sep 2002 06:00:48 UT", Some(1031983248)), ("27 Jun 01 3:36:25 AM", Some(993612985))]
        {
            let raw = format!("Date: {date}\nFrom: a@b.example\nSubject: x\n\nhi\n");
            let m = Message::parse(raw.as_bytes(), 1 << 20);
            assert_eq!(m.header("date"), Some(date));
            assert_eq!(m.header("from"), Some("a@b.example"), "{date}");
            assert_eq!(m.date, unix, "{date}");
        }
        let m = Message::parse(b"Date: yesterday\nSubject: x\n\nhi\n", 1 << 20);
        assert_eq!((m.header("date"), m.date), (Some("yesterday"), None));
    }

    #[test]
    fn unfold_joins_lines_and_trims() {
        // The first version, which trimmed a copy at the end.
        let reference = |raw: &str| {
            let mut out = String::new();
            for (i, line) in raw.split('\n').enumerate() {
                let line = line.strip_suffix('\r').unwrap_or(line);
                if i > 0 {
                    out.push(' ');
                    out.push_str(line.trim_start());
                } else {
                    out.push_str(line);
                }
            }
            out.trim().to_string()
        };
        for raw in
            ["", " ", " x ", "a\r\n b", "  \r\n  foo\r\n", "\r\nfoo", "\u{a0}x\n\ty\u{3000}", "a\n\n\nb \r", "\n \n"]
        {
            assert_eq!(unfold(raw), reference(raw), "{raw:?}");
        }
    }

    #[test]
    fn a_message_without_a_body_has_no_encoding_problem() {
        for raw in [&b"Subject: x\n"[..], b"From: a@b.example\r\nSubject: x\r\n", b"Subject: x\n\n"] {
            let m = Message::parse(raw, 1 << 20);
            assert!(!m.parts.iter().any(|p| p.encoding_problem), "{:?}", String::from_utf8_lossy(raw));
        }
        // A real one still counts: a base64 body that is not base64.
        let m = Message::parse(b"Content-Transfer-Encoding: base64\n\n!!!!\n", 1 << 20);
        assert!(m.parts.iter().any(|p| p.encoding_problem));
    }

    #[test]
    fn skips_mbox_from_line() {
        let raw = b"From a@b Sat Jan  1 00:00:00 2000\nSubject: x\n\nhi\n";
        let m = Message::parse(raw, 1 << 20);
        assert_eq!(m.header("Subject"), Some("x"));
    }

    #[test]
    fn binary_junk_does_not_panic() {
        let raw: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 256) as u8).collect();
        let _ = Message::parse(&raw, 1 << 20);
        let _ = Message::parse(b"", 1 << 20);
        let _ = Message::parse(b"\n\n\n", 1 << 20);
    }

    #[test]
    fn multipart_parts_are_flattened() {
        let raw = b"Content-Type: multipart/alternative; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nplain\n--b\nContent-Type: text/html\n\n<p>html</p>\n--b--\n";
        let m = Message::parse(raw, 1 << 20);
        assert_eq!(m.content_type, "multipart/alternative");
        let types: Vec<_> = m.parts.iter().map(|p| p.content_type.as_str()).collect();
        assert_eq!(types, ["text/plain", "text/html"]);
        assert!(!m.mime_problem);
    }

    #[test]
    fn truncates_at_scan_limit() {
        let mut raw = b"Subject: big\n\n".to_vec();
        raw.extend(std::iter::repeat_n(b"word word word\n".as_slice(), 10_000).flatten());
        let m = Message::parse(&raw, 4096);
        assert!(m.truncated);
        assert!(m.scanned.len() <= 4096);
    }
}
