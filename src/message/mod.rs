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

mod address;
mod convert;
mod guard;

pub use address::{Addresses, Mailbox};
use convert::*;
pub use guard::in_parser;
use guard::*;

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
    /// The sender's encoding is broken: bad base64 or quoted-printable. A part that is only cut
    /// off (see `cut_off`) is not.
    pub encoding_problem: bool,
    /// The part runs to the end of what was scanned without its closing boundary: the message was
    /// cut at `scan_limit` inside it, or its closing boundary is missing. What it holds was
    /// decoded up to there (see `convert::leaf_body`).
    pub cut_off: bool,
    /// A mail client does not show this part's content as the message: an alternative of a
    /// `multipart/alternative` other than the one shown (the last one a client renders:
    /// `text/html`, `text/plain` or a multipart, normally the HTML), anything inside such an
    /// alternative, or an attachment (`Content-Disposition: attachment`). Its words may accuse
    /// but not excuse (see `features::Tokens::unseen`; attack report F12).
    pub unshown: bool,
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
    /// More than `MAX_PARTS` (500) leaf parts: the first 500 text parts and 500 others are kept.
    pub excessive_parts: bool,
    /// Parts nested deeper than `MAX_DEPTH` (20) levels: still read, and flagged.
    pub deep_nesting: bool,
    /// The first Date field, Unix seconds (UTC): `None` when there is none or it is not a date.
    /// Parsed once, here, by `date::parse` (mail-parser keeps the field raw).
    pub date: Option<i64>,
    /// The mailboxes of the address fields (From, To, Return-Path, …), parsed once, here, by
    /// mail-parser's address parser (see `address`): read them with `mailboxes`.
    pub addresses: Addresses,
}

/// How much of a binary part's decoded content is kept for sniffing (magic numbers, archives).
const BINARY_HEAD: usize = 512;
/// Parts nested deeper than this are still read, and the message is flagged (`deep_nesting`).
const MAX_DEPTH: usize = 20;
/// At most this many leaf parts holding text are kept, and this many others (blank text,
/// binary); more leaf parts than this flags the message (`excessive_parts`).
const MAX_PARTS: usize = 500;

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
            excessive_parts: false,
            deep_nesting: false,
            date: None,
            addresses: Addresses::default(),
        };
        // A header block of more fields than any real message has (73,000 `X-A: b` lines in
        // 512 KiB) cost mail-parser's parse and our conversion of every field: 62 ms on a loaded
        // machine (issue 15). Only the first MAX_HEADER_FIELDS are parsed (from a copy of the
        // message without the others); the rest still passes through untouched (rewrite works on
        // the raw bytes) and the raw header block the rules read is still all there.
        // An encoded message/rfc822 part and a field of broken encoded words are the other
        // shapes mail-parser is costly on (see `neutralize_encoded_messages` and
        // `spoil_loose_encoded_words`): such messages are parsed from a copy too.
        let capped = capped_header_block(scanned, msg.body_offset);
        let copy = neutralize_encoded_messages(capped.as_deref().unwrap_or(scanned)).or(capped);
        // Runs of broken encoded words cost mail-parser time quadratic in a field's length.
        // A Content-Type field changed by it (its first boundary is kept) is a MIME problem.
        let spoiled = spoil_loose_encoded_words(copy.as_deref().unwrap_or(scanned));
        let ct_spoiled = spoiled.as_ref().is_some_and(|s| s.content_type_changed);
        let copy = spoiled.map(|s| s.copy).or(copy);
        // So do RFC 2231 parameters past a few dozen continuations or quotes in one field.
        let spoiled = spoil_parameter_marks(copy.as_deref().unwrap_or(scanned));
        let ct_spoiled = ct_spoiled || spoiled.as_ref().is_some_and(|s| s.content_type_changed);
        let copy = spoiled.map(|s| s.copy).or(copy);
        // And multipart parts past the first 16 whose boundary never comes.
        let spoiled = spoil_unclosed_multiparts(copy.as_deref().unwrap_or(scanned));
        let ct_spoiled = ct_spoiled || spoiled.as_ref().is_some_and(|s| s.content_type_changed);
        let copy = spoiled.map(|s| s.copy).or(copy);
        match copy {
            None => msg.fill(scanned),
            Some(copy) => {
                let mut view = Message::empty(&copy);
                view.body_offset = find_body_offset(&copy);
                view.truncated = truncated;
                view.fill(&copy);
                msg.headers = view.headers.into_iter().map(HeaderField::into_owned).collect();
                msg.parts = view.parts.into_iter().map(Part::into_owned).collect();
                msg.content_type = view.content_type;
                msg.unparsable = view.unparsable;
                msg.mime_problem = view.mime_problem || ct_spoiled;
                msg.excessive_parts = view.excessive_parts;
                msg.deep_nesting = view.deep_nesting;
                msg.addresses = view.addresses;
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
            excessive_parts: false,
            deep_nesting: false,
            date: None,
            addresses: Addresses::default(),
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
        self.addresses = addresses(&parsed.parts[0].headers, parsed.raw_message());
        if let Some(ct) = parsed.parts[0].content_type() {
            self.content_type = mime_type(ct.ctype(), ct.subtype());
            if self.content_type.starts_with("multipart/") && ct.attribute("boundary").is_none() {
                self.mime_problem = true;
            }
        }
        let mut parts = Vec::new();
        let mut found = Structure::default();
        collect_parts(&parsed, self.truncated, &mut parts, &mut found);
        self.parts = parts;
        self.mime_problem |= found.problem;
        self.excessive_parts = found.excessive_parts;
        self.deep_nesting = found.deep_nesting;
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

    /// The mailboxes of every address field called `name` (case-insensitive; one of
    /// `address::FIELDS`), in the order written.
    pub fn mailboxes<'s>(&'s self, name: &'s str) -> impl Iterator<Item = Mailbox<'s>> + 's {
        self.headers
            .iter()
            .enumerate()
            .filter(move |(_, h)| h.name.eq_ignore_ascii_case(name))
            .flat_map(|(i, _)| self.addresses.of_field(i))
    }

    /// The mailboxes of the first field called `name` only (the message's From is its first
    /// From field; the envelope sender its first Return-Path).
    pub fn first_field_mailboxes(&self, name: &str) -> impl Iterator<Item = Mailbox<'_>> {
        let i = self.headers.iter().position(|h| h.name.eq_ignore_ascii_case(name));
        i.into_iter().flat_map(|i| self.addresses.of_field(i))
    }

    /// The first address of the first field called `name`, when that field has one: the
    /// message's From address is `first_address("from")`.
    pub fn first_address(&self, name: &str) -> Option<&str> {
        self.first_field_mailboxes(name).map(|m| m.address).find(|a| !a.is_empty())
    }

    /// The raw body (after the header block) of what was scanned.
    pub fn raw_body(&self) -> &'a [u8] {
        match self.body_offset {
            Some(off) => &self.scanned[off..],
            None => &[],
        }
    }
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

#[cfg(test)]
pub(crate) mod tests {
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

    /// RFC 2231 continuations and encoded values as real mail writes them are parsed as they
    /// are; past `MAX_PARAMETER_MARKS` `*` or `'` in one Content-Type or Content-Disposition
    /// field, the others are spoiled (mail-parser's cost was quadratic in them), the boundary
    /// kept, and a changed Content-Type is a MIME problem.
    #[test]
    fn rfc2231_parameters_are_spoiled_past_a_few_dozen() {
        let name: String = (0..10).map(|i| format!(" filename*{i}*=utf-8''r%C3%A9sum%C3%A9{i};\n")).collect();
        let ok = format!(
            "From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"{}\"\n\n--{0}\n\
             Content-Type: text/plain\nContent-Disposition: attachment;\n{name}\nhi there\n--{0}--\n",
            "*".repeat(70)
        );
        assert!(spoil_parameter_marks(ok.as_bytes()).is_none());
        let m = Message::parse(ok.as_bytes(), 1 << 20);
        assert_eq!(m.parts[0].filename.as_deref(), Some(&*(0..10).map(|i| format!("résumé{i}")).collect::<String>()));
        assert!(!m.mime_problem);
        // Hostile: thousands of continuations, and thousands of quotes after thousands of
        // parameters. What mail-parser sees holds at most the limit of each in a field.
        let marks = |b: &[u8]| (b.iter().filter(|&&c| c == b'*').count(), b.iter().filter(|&&c| c == b'\'').count());
        for (field, spoiled_ct) in [
            (format!("Content-Disposition: attachment; {}", "f*1=a; ".repeat(5000)), false),
            (format!("Content-Type: text/plain; {}name*=utf-8'en'{}", "a=x; ".repeat(3000), "x'".repeat(3000)), true),
        ] {
            let bad = format!("From: a@b.example\nMIME-Version: 1.0\n{field}\n\nhi there\n");
            let copy = spoil_parameter_marks(bad.as_bytes()).unwrap();
            assert_eq!(copy.copy.len(), bad.len());
            let (stars, quotes) = marks(&copy.copy);
            assert!(stars <= MAX_PARAMETER_MARKS && quotes <= MAX_PARAMETER_MARKS, "{stars} {quotes}");
            assert_eq!(copy.content_type_changed, spoiled_ct);
            let m = Message::parse(bad.as_bytes(), 1 << 20);
            assert_eq!((m.mime_problem, m.parts.len()), (spoiled_ct, 1));
            assert!(matches!(&m.parts[0].body, Body::Text(t) if t.contains("hi there")));
        }
        // The boundary is never spoiled, whatever precedes it: the parts are still found.
        let b = "*".repeat(70);
        let bad = format!(
            "From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; {}boundary=\"{b}\"\n\n--{b}\n\
             Content-Type: text/plain\n\nhi there\n--{b}--\n",
            "x*=a; ".repeat(100)
        );
        let copy = spoil_parameter_marks(bad.as_bytes()).unwrap();
        assert!(String::from_utf8(copy.copy).unwrap().contains(&format!("boundary=\"{b}\"")));
        let m = Message::parse(bad.as_bytes(), 1 << 20);
        assert!(m.mime_problem);
        assert!(matches!(&m.parts[0].body, Body::Text(t) if t.contains("hi there")));
    }

    #[test]
    fn multiparts_whose_boundary_never_comes_are_read_as_one_part_past_a_few() {
        // Ordinary mail, and broken mail with a boundary declared and never used: untouched.
        let ok = "From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"z z\"\n\n--z z\n\
                  Content-Type: multipart/alternative; boundary=y\n\n--y\nContent-Type: text/plain\n\nhi there\n--y--\n--z z--\n";
        assert!(spoil_unclosed_multiparts(ok.as_bytes()).is_none());
        let broken = "From: a@b.example\nContent-Type: multipart/alternative; boundary=never\n\nhi there\n";
        assert!(spoil_unclosed_multiparts(broken.as_bytes()).is_none());
        // Hostile: 1,000 sibling parts that each declare a boundary nobody uses (each cost
        // mail-parser a read of the rest of the message). Past the first few they are no longer
        // multipart in what mail-parser sees; the outer parts, whose boundary comes, still are.
        let part = "--z\nContent-Type: multipart/mixed; boundary=never\n\n";
        let bad = format!(
            "From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=z\n\n{}--z\n\
             Content-Type: text/plain\n\nhi there\n--z--\n",
            part.repeat(1000)
        );
        let copy = spoil_unclosed_multiparts(bad.as_bytes()).unwrap();
        assert!(copy.content_type_changed);
        assert_eq!(copy.copy.len(), bad.len());
        let text = String::from_utf8(copy.copy).unwrap();
        assert_eq!(text.matches("Content-Type: multipart/mixed; boundary=never").count(), MAX_UNCLOSED_MULTIPARTS);
        assert_eq!(
            text.matches("Content-Type: xultipart/mixed; boundary=never").count(),
            1000 - MAX_UNCLOSED_MULTIPARTS
        );
        assert!(text.starts_with("From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=z\n"));
        let m = Message::parse(bad.as_bytes(), 1 << 20);
        assert!(m.mime_problem);
        assert!(m.parts.iter().any(|p| matches!(&p.body, Body::Text(t) if t.contains("hi there"))));
        // A boundary longer than RFC 2046's 70 bytes is looked for all the same (it was let
        // through at first: 500 KB of such parts cost 1.4 s).
        let long = bad.replace("boundary=never", &format!("boundary={}", "n".repeat(80)));
        let copy = String::from_utf8(spoil_unclosed_multiparts(long.as_bytes()).unwrap().copy).unwrap();
        assert_eq!(copy.matches("Content-Type: xultipart/mixed").count(), 1000 - MAX_UNCLOSED_MULTIPARTS);
        // The type on a folded line (LF or CR LF, space or tab), or after a comment or a `"`, is
        // the type all the same for mail-parser, and cost as much (500 KB: 4.3 s): spoiled too. A comment
        // or a fold it cannot read past leaves the field alone (not multipart for mail-parser).
        for (field, spoiled) in [
            ("Content-Type:\n multipart/mixed;\n boundary=never\n", "Content-Type:\n xultipart/mixed;"),
            ("Content-Type:\r\n multipart/mixed;\r\n boundary=never\r\n", "Content-Type:\r\n xultipart/mixed;"),
            ("Content-Type: \n\tmultipart/mixed; boundary=never\n", "Content-Type: \n\txultipart/mixed;"),
            // mail-parser: nested comments, and a `\` in a comment escapes nothing.
            ("Content-Type: (a (nested\\) one) \"multipart/mixed; boundary=never\n", "one) \"xultipart/mixed;"),
            ("Content-Type: (a\\) multipart/mixed; boundary=never\n", "(a\\) xultipart/mixed;"),
            ("Content-Type: \"multipart/mixed; boundary=never\n", "Content-Type: \"xultipart/mixed;"),
        ] {
            let folded = bad.replace("Content-Type: multipart/mixed; boundary=never\n", field);
            let copy = spoil_unclosed_multiparts(folded.as_bytes()).unwrap_or_else(|| panic!("{field:?}"));
            let text = String::from_utf8(copy.copy).unwrap();
            assert_eq!(text.matches(spoiled).count(), 1000 - MAX_UNCLOSED_MULTIPARTS, "{field:?}");
            assert_eq!(text.len(), folded.len());
        }
        for field in [
            "Content-Type:\n\n multipart/mixed; boundary=never\n",
            "Content-Type: (a\n comment) multipart/mixed; boundary=never\n",
            "Content-Type: x multipart/mixed; boundary=never\n",
            "Content-Type: (a (nested\\)) one) \"multipart/mixed; boundary=never\n",
            "Content-Type: (unclosed\n\n multipart/mixed; boundary=never\n",
        ] {
            let other = bad.replace("Content-Type: multipart/mixed; boundary=never\n", field);
            assert!(spoil_unclosed_multiparts(other.as_bytes()).is_none(), "{field:?}");
        }
    }

    #[test]
    fn runs_of_broken_encoded_words_are_spoiled_past_a_few() {
        // Well-formed words, and a few loose ones in a field: parsed as they are.
        let loose = "=?iso-8859-1?q?a b?= ".repeat(MAX_LOOSE_ENCODED_WORDS);
        let ok = format!("Subject: {}{loose}\nTo: {loose}\n\nhi\n", "=?utf-8?q?caf=C3=A9?= ".repeat(100));
        assert!(spoil_loose_encoded_words(ok.as_bytes()).is_none());
        assert!(Message::parse(ok.as_bytes(), 1 << 20).header("subject").unwrap().contains("café"));
        // Past them, in one field (continuation lines included), the rest lose their `=`; the
        // next field counts anew.
        let bad = format!("From:{} <a@b.example>\nSubject:{}\n\nhi\n", "\n =?ab?q?x".repeat(40), " =?ab?q?x".repeat(3));
        let copy = String::from_utf8(spoil_loose_encoded_words(bad.as_bytes()).unwrap().copy).unwrap();
        assert_eq!(copy.len(), bad.len());
        assert_eq!(copy.matches("=?").count(), MAX_LOOSE_ENCODED_WORDS + 3);
        assert_eq!(copy.matches("??ab?q?x").count(), 40 - MAX_LOOSE_ENCODED_WORDS);
        let m = Message::parse(bad.as_bytes(), 1 << 20);
        assert_eq!(m.first_address("from"), Some("a@b.example"));
        assert!(m.header("subject").is_some());
        // The raw header block the rules read is the message's own.
        assert_eq!(m.scanned, bad.as_bytes());
    }

    #[test]
    fn a_boundary_is_never_spoiled_and_a_spoiled_content_type_is_a_mime_problem() {
        let junk = "=?a ".repeat(MAX_LOOSE_ENCODED_WORDS);
        let body = "--=?b\nContent-Type: text/html\n\n<p>Buy <b>now</b></p>\n--=?b--\n";
        for (eol, q) in [("\n", "\""), ("\r\n", "\""), ("\n", "")] {
            // 16 junk `=?` in a made-up parameter, then the boundary's own: all kept as they are
            // or, past the 16th, spoiled everywhere but in the boundary; the parts are found.
            for extra in ["", "=?c =?c "] {
                let raw = format!(
                    "From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/alternative; x=\"{junk}{extra}\";\n boundary={q}=?b{q}\n\n{body}"
                )
                .replace('\n', eol);
                let m = Message::parse(raw.as_bytes(), 1 << 20);
                assert_eq!(m.content_type, "multipart/alternative", "{raw:?}");
                assert_eq!(m.parts.len(), 1, "{raw:?}");
                assert_eq!(m.parts[0].content_type, "text/html", "{raw:?}");
                // The junk past the 16th was spoiled in a Content-Type field: a MIME problem.
                assert_eq!(m.mime_problem, !extra.is_empty(), "{raw:?}");
            }
        }
        // A boundary longer than RFC 2046's 70 bytes is spoiled like the rest (the guard's
        // linear time), and the Content-Type field changed is a MIME problem.
        let long = "=?b".repeat(30);
        let raw =
            format!("Content-Type: multipart/mixed; x=\"{junk}\"; boundary=\"{long}\"\n\n--{long}\n\nhi\n--{long}--\n");
        let spoiled = spoil_loose_encoded_words(raw.as_bytes()).unwrap();
        assert!(spoiled.content_type_changed);
        assert!(Message::parse(raw.as_bytes(), 1 << 20).mime_problem);
        // Spoiling another field is no MIME problem.
        let raw = format!("Subject: {junk}=?c\nContent-Type: text/plain; x=\"{junk}\"\n\nhi\n");
        assert!(!spoil_loose_encoded_words(raw.as_bytes()).unwrap().content_type_changed);
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
        // The parts are collected with no recursion either: the text at the bottom is read.
        let parse = move || {
            let msg = Message::parse(&m, 512 << 10);
            let text = matches!(&msg.parts[..], [p] if matches!(&p.body, Body::Text(t) if t.trim() == "hi"));
            (text, msg.mime_problem, msg.deep_nesting)
        };
        let t = std::thread::Builder::new().stack_size(256 << 10).spawn(parse).unwrap();
        assert_eq!(t.join().unwrap(), (true, false, true));
    }

    /// Attack report F13: 500 empty parts before the text, or the text 21 multipart levels
    /// down, left the scorer no text at all. The text is kept and the structure flagged.
    #[test]
    fn padding_parts_and_deep_nesting_do_not_hide_the_text() {
        let text = |m: &Message| {
            m.parts.iter().any(|p| matches!(&p.body, Body::Text(t) | Body::Html(t) if t.contains("Buy cheap pills")))
        };
        let head = "Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"ZZ\"\n\n";
        for empties in [499, 500, 5000] {
            let m = format!(
                "{head}{}--ZZ\nContent-Type: text/plain\n\nBuy cheap pills\n--ZZ--\n",
                "--ZZ\nContent-Type: text/plain\n\n\n".repeat(empties)
            );
            let m = Message::parse(m.as_bytes(), 512 << 10);
            assert!(text(&m), "{empties}");
            assert_eq!(m.excessive_parts, empties >= MAX_PARTS, "{empties}");
            assert!(!m.mime_problem && !m.deep_nesting);
            assert!(m.parts.len() <= 2 * MAX_PARTS);
        }
        // Attachments do not use up the text's share either; text parts past it are not kept.
        let m = format!(
            "{head}{}{}--ZZ--\n",
            "--ZZ\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n".repeat(600),
            "--ZZ\nContent-Type: text/plain\n\nBuy cheap pills\n".repeat(600)
        );
        let m = Message::parse(m.as_bytes(), 512 << 10);
        let texts = m.parts.iter().filter(|p| matches!(&p.body, Body::Text(_))).count();
        assert_eq!((texts, m.parts.len(), m.excessive_parts), (MAX_PARTS, 2 * MAX_PARTS, true));
        for levels in [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 400] {
            let mut inner = "Content-Type: text/plain\n\nBuy cheap pills\n".to_string();
            for d in (1..=levels).rev() {
                inner = format!("Content-Type: multipart/mixed; boundary=\"L{d}\"\n\n--L{d}\n{inner}\n--L{d}--\n");
            }
            let raw = format!("Subject: x\nMIME-Version: 1.0\n{inner}");
            let m = Message::parse(raw.as_bytes(), 512 << 10);
            assert!(text(&m), "{levels}");
            // The top-level part is depth 0: the leaf is at depth `levels`.
            assert_eq!(m.deep_nesting, levels > MAX_DEPTH, "{levels}");
            assert!(!m.mime_problem && !m.excessive_parts, "{levels}");
        }
    }

    /// Review R4: parts that show nothing (a zero-width space, a soft hyphen, `&nbsp;` or
    /// `&#8203;` in HTML) are padding like blank ones: 500 of them before the text used up the
    /// text parts' budget and the body was never scored. They still count for
    /// MIME_EXCESSIVE_PARTS.
    #[test]
    fn parts_that_show_nothing_do_not_use_up_the_text_budget() {
        let head = "Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"ZZ\"\n\n";
        for pad in [
            "--ZZ\nContent-Type: text/plain; charset=utf-8\n\n\u{200b}\n",
            "--ZZ\nContent-Type: text/plain; charset=utf-8\n\n \u{ad}\u{feff}\u{2060} \u{200c}\n",
            "--ZZ\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n4oCL\n",
            "--ZZ\nContent-Type: text/html\n\n<p>&nbsp;</p><div style=\"x\">&#8203;&zwnj;</div>\n",
        ] {
            let m = format!("{head}{}--ZZ\nContent-Type: text/plain\n\nBuy cheap pills\n--ZZ--\n", pad.repeat(600));
            let m = Message::parse(m.as_bytes(), 4 << 20);
            let shown = m.parts.iter().any(|p| matches!(&p.body, Body::Text(t) if t.contains("Buy cheap pills")));
            assert!(shown, "{pad:?}");
            assert!(m.excessive_parts, "{pad:?}");
            assert!(m.parts.len() <= 2 * MAX_PARTS);
        }
        // A part with one visible character among the invisible ones holds text.
        for visible in ["\u{200b}x\u{200b}", "<b>&amp;</b>", "<i>&#65;</i>", "&euro;"] {
            assert!(convert::shows_something(visible, true), "{visible:?}");
        }
        for empty in ["", " \n\t", "\u{200b}\u{200d}\u{2800}\u{3164}", "<p>&nbsp;</p><!-- x -->", "<br>&#x200B;&#160;"]
        {
            assert!(!convert::shows_something(empty, true), "{empty:?}");
        }
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

    /// Deterministic bytes that are not text (xorshift).
    pub(crate) fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// A photo mail as a phone sends it: a short text part, then `data` in base64 (76 a line)
    /// under `part_head`; `close`: with its closing boundary.
    pub(crate) fn photo_mail(data: &[u8], part_head: &str, close: bool) -> Vec<u8> {
        let mut m = format!(
            "From: Friend <friend@example.org>\nTo: me@example.net\nSubject: Photos\nDate: Sat, 28 Nov 2026 18:03:11 +0100\nMessage-Id: <p{}@example.org>\nMime-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nHere are the pictures.\n\n--B\n{part_head}Content-Transfer-Encoding: base64\n\n",
            data.len()
        );
        for chunk in data.chunks(57) {
            m.push_str(&base64(chunk));
            m.push('\n');
        }
        if close {
            m.push_str("--B--\n");
        }
        m.into_bytes()
    }

    const INLINE_PHOTO: &str =
        "Content-Type: image/jpeg; name=IMG_1234.jpeg\nContent-Disposition: inline; filename=IMG_1234.jpeg\n";

    /// Admin report H1: mail-parser keeps a part it finds no closing boundary for as raw text,
    /// still encoded, whatever its type, and flags an encoding problem. A part cut off by the
    /// scan limit always looks like that, and so does one whose sender left out the closing
    /// boundary: a phone photo's base64 was read as words.
    #[test]
    fn a_cut_off_binary_part_is_binary_decoded_and_no_encoding_problem() {
        let data = noise(100_000, 1);
        for part_head in [
            INLINE_PHOTO,
            "Content-Type: image/jpeg; name=IMG_1234.jpeg\n",
            "Content-Type: application/pdf; name=report.pdf\n",
            "Content-Type: application/pdf; name=report.pdf\nContent-Disposition: attachment; filename=report.pdf\n",
            "Content-Type: video/mp4\n",
        ] {
            let whole = photo_mail(&data, part_head, true);
            // Cut by the scan limit (in the middle of the part), or whole but for the closing
            // boundary, or whole.
            for (limit, raw, cut) in [
                (50_000, whole.clone(), true),
                (1 << 20, photo_mail(&data, part_head, false), true),
                (1 << 20, whole.clone(), false),
            ] {
                let m = Message::parse(&raw, limit);
                assert_eq!(m.truncated, limit < raw.len());
                assert_eq!(m.parts.len(), 2, "{part_head}");
                let p = &m.parts[1];
                assert!(!p.content_type.starts_with("text/"));
                let Body::Binary { len, head } = &p.body else { panic!("{part_head} {limit}: {:?}", p.body) };
                // Decoded: the data's own first bytes (so the attachment checks can sniff them).
                assert_eq!(&head[..], &data[..BINARY_HEAD], "{part_head} {limit}");
                assert!(*len > 30_000 && *len <= data.len(), "{len}");
                assert!(!p.encoding_problem, "{part_head} {limit}");
                assert_eq!(p.cut_off, cut, "{part_head} {limit}");
                assert!(matches!(&m.parts[0].body, Body::Text(t) if t.trim() == "Here are the pictures."));
                assert!(!m.parts[0].cut_off && !m.parts[0].encoding_problem && !m.mime_problem);
            }
        }
    }

    #[test]
    fn a_cut_off_part_with_broken_encoding_still_has_an_encoding_problem() {
        // Not base64 before the cut: the sender's broken encoding, cut off or not; and a binary
        // part is still not text.
        for close in [true, false] {
            let mut raw = photo_mail(&noise(3_000, 2), INLINE_PHOTO, close);
            let at = raw.len() / 2;
            raw[at..at + 4].copy_from_slice(b"@@@@");
            let m = Message::parse(&raw, 1 << 20);
            let p = &m.parts[1];
            assert!(p.encoding_problem, "close {close}");
            assert!(!p.cut_off);
            assert!(matches!(p.body, Body::Binary { .. }), "close {close}: {:?}", p.body);
        }
    }

    #[test]
    fn a_cut_off_text_part_is_decoded_text() {
        // Base64 and quoted-printable text, cut inside a character (é is two bytes in UTF-8):
        // decoded, the partial character dropped, no encoding problem.
        let text = "Beste klant, uw bestelling is verzonden. Café morgen? ".repeat(2_000);
        let b64: String = text.as_bytes().chunks(57).map(|c| base64(c) + "\n").collect();
        let qp: String = text
            .as_bytes()
            .chunks(24)
            .map(|c| {
                c.iter()
                    .map(|&b| if b.is_ascii() { (b as char).to_string() } else { format!("={b:02X}") })
                    .collect::<String>()
                    + "=\n"
            })
            .collect();
        // (A hard line end before the closing boundary: mail-parser drops the one it finds there.)
        let qp = qp + "\n";
        for (cte, body) in [("base64", &b64), ("quoted-printable", &qp)] {
            for html in [false, true] {
                let ct = if html { "text/html" } else { "text/plain" };
                let raw = format!(
                    "Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: {ct}; charset=utf-8\nContent-Transfer-Encoding: {cte}\n\n{body}--B--\n"
                );
                // Cut at every few bytes around a place in the middle.
                for limit in (40_000..40_080).step_by(7) {
                    let m = Message::parse(raw.as_bytes(), limit);
                    assert!(m.truncated);
                    let p = &m.parts[0];
                    let t = match (&p.body, html) {
                        (Body::Text(t), false) | (Body::Html(t), true) => t,
                        (b, _) => panic!("{cte} {ct} {limit}: {b:?}"),
                    };
                    assert!(text.starts_with(t.as_ref()), "{cte} {ct} {limit}: {:?}", &t[t.len().saturating_sub(40)..]);
                    assert!(t.len() > 25_000, "{cte} {limit}");
                    assert!(p.cut_off && !p.encoding_problem, "{cte} {ct} {limit}");
                }
                // Whole, it is read as before.
                let m = Message::parse(raw.as_bytes(), 1 << 20);
                assert!(!m.parts[0].cut_off && !m.parts[0].encoding_problem);
                assert!(matches!(&m.parts[0].body, Body::Text(t) | Body::Html(t) if t.as_ref() == text), "{cte} {ct}");
            }
        }
        // 7bit HTML cut off stays HTML (mail-parser made it plain text), and a single-part
        // message cut by the scan limit is cut off too.
        let html = format!("<html><body>{}</body></html>\n", "<p>Koop <b>nu</b></p>\n".repeat(1_000));
        let raw = format!("Subject: x\nContent-Type: multipart/alternative; boundary=B\n\n--B\nContent-Type: text/html\n\n{html}--B--\n");
        let m = Message::parse(raw.as_bytes(), 4_000);
        assert!(matches!(&m.parts[0].body, Body::Html(t) if html.starts_with(t.as_ref())), "{:?}", m.parts[0].body);
        assert!(m.parts[0].cut_off && !m.parts[0].encoding_problem);
        let raw = format!("Subject: x\nContent-Type: text/html\n\n{html}");
        let m = Message::parse(raw.as_bytes(), 4_000);
        assert!(m.parts[0].cut_off && !m.parts[0].encoding_problem && matches!(m.parts[0].body, Body::Html(_)));
        assert!(!Message::parse(raw.as_bytes(), 1 << 20).parts[0].cut_off);
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
