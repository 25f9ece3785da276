//! The addresses of a message, parsed once: mail-parser's address parser reads the address
//! fields (From, Sender, Reply-To, To, Cc, Bcc, Return-Path, Delivered-To, X-Original-To,
//! Envelope-To) when the message is parsed, and its result is kept here instead of being thrown
//! away and parsed again from the text by each reader. The allow and block lists, the honeypots,
//! the known correspondents, the Bayes address tokens and the rules all read this one list, so
//! they agree on what the addresses of a message are: display names decoded (RFC 2047), quotes
//! and comments understood (`jan@klant.be (Jan Peeters)`), groups (`team: a@x.be, b@y.be;`) and
//! lists split.
//!
//! Kept compact (one string, ranges into it), since a hostile field can hold a hundred thousand
//! addresses: the cost stays linear in the field.

use mail_parser::HeaderValue;

/// The fields whose addresses are kept (lower case).
pub const FIELDS: [&str; 10] =
    ["from", "sender", "reply-to", "to", "cc", "bcc", "return-path", "delivered-to", "x-original-to", "envelope-to"];

/// One entry of an address field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mailbox<'s> {
    /// The display name or comment, decoded, case kept; empty when there is none.
    pub name: &'s str,
    /// The address in lower case (ASCII), `local@domain`; empty when the entry has none that
    /// is one (no `@`, an empty local part or domain, white space inside).
    pub address: &'s str,
}

impl<'s> Mailbox<'s> {
    /// The address's local part and domain, when the entry has an address.
    pub fn parts(&self) -> Option<(&'s str, &'s str)> {
        self.address.rsplit_once('@')
    }

    /// The address's domain, when the entry has an address.
    pub fn domain(&self) -> Option<&'s str> {
        self.parts().map(|(_, d)| d)
    }
}

#[derive(Debug, Clone, Copy)]
struct Item {
    /// The index of the field in `Message::headers`.
    field: u32,
    name: (u32, u32),
    address: (u32, u32),
}

/// The mailboxes of a message's address fields, by field, in the order written.
#[derive(Debug, Clone, Default)]
pub struct Addresses {
    text: String,
    /// Sorted by `field`.
    items: Vec<Item>,
}

impl Addresses {
    /// The mailboxes of field `i` of `Message::headers` (none when it is not an address field).
    pub fn of_field(&self, i: usize) -> impl Iterator<Item = Mailbox<'_>> {
        let start = self.items.partition_point(|it| (it.field as usize) < i);
        self.items[start..].iter().take_while(move |it| it.field as usize == i).map(|it| self.mailbox(it))
    }

    /// Every mailbox, with the index of its field.
    pub fn iter(&self) -> impl Iterator<Item = (usize, Mailbox<'_>)> {
        self.items.iter().map(|it| (it.field as usize, self.mailbox(it)))
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn mailbox(&self, it: &Item) -> Mailbox<'_> {
        let s = |(a, b): (u32, u32)| &self.text[a as usize..b as usize];
        Mailbox { name: s(it.name), address: s(it.address) }
    }

    /// Adds the mailboxes mail-parser found in field `field` (`value` is its parse, `raw` the
    /// field's raw value). When the parse gives entries but not one address (`spammer(c)@evil.example`,
    /// an unterminated quote before `<spammer@evil.example>`), or glues two addresses into one
    /// (`<a@x.example> <b@y.example>`), the field's addresses are read by the rule used before
    /// mail-parser's: every `<...>` of an entry, or else its last word, comments removed.
    pub(super) fn add(&mut self, field: usize, value: &HeaderValue<'_>, raw: &str) {
        let HeaderValue::Address(a) = value else { return };
        let mut glue = LocalParts::new(raw);
        let has_angle = raw.contains('>');
        let start = self.items.len();
        let mut glued_angles = false;
        let entries: Vec<&mail_parser::Addr<'_>> = match a {
            mail_parser::Address::List(list) => list.iter().collect(),
            mail_parser::Address::Group(groups) => groups.iter().flat_map(|g| &g.addresses).collect(),
        };
        for x in entries {
            glued_angles |= self.push(field, x, &mut glue, has_angle);
        }
        let items = &self.items[start..];
        if !glued_angles && (items.is_empty() || items.iter().any(|it| it.address.0 != it.address.1)) {
            return;
        }
        let found = fallback_addresses(raw);
        if found.is_empty() {
            return;
        }
        let name = items.first().map(|it| self.text[it.name.0 as usize..it.name.1 as usize].to_string());
        self.items.truncate(start);
        for (k, address) in found.iter().enumerate() {
            let n = if k == 0 { name.as_deref().unwrap_or("") } else { "" };
            self.push_pair(field, n, address);
        }
    }

    /// Adds one entry; true when mail-parser glued two angle addresses into one (two `@`, and
    /// the field has a `>`; a quoted local part glued here is not counted).
    fn push(&mut self, field: usize, x: &mail_parser::Addr<'_>, glue: &mut LocalParts<'_>, has_angle: bool) -> bool {
        let name = x.name.as_deref().unwrap_or("").trim();
        let address = x.address.as_deref().unwrap_or("").trim();
        let address = address.strip_prefix('<').unwrap_or(address);
        let address = address.strip_suffix('>').unwrap_or(address);
        // A local part quoted or encoded (`"jan@x"@klant.be`, `=?utf-8?b?amFu?=@klant.be`) comes
        // out as a name and an address that starts at the `@`: the two are the address. So does
        // `victim <@allowed.example>`, which is no address: they are glued only when the raw
        // field shows the domain right after a quote or an encoded word (`"@`, `?=@`).
        let joined;
        let quoted = address.starts_with('@') && glue.quoted_before(address);
        let (name, address, was_glued) = if quoted && !name.is_empty() && !name.contains(char::is_whitespace) {
            joined = format!("{name}{address}");
            ("", joined.as_str(), true)
        } else {
            (name, address, false)
        };
        self.push_pair(field, name, address);
        !was_glued && has_angle && address.matches('@').count() > 1
    }

    fn push_pair(&mut self, field: usize, name: &str, address: &str) {
        let valid = address.rsplit_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
            && !address.contains(char::is_whitespace);
        if name.is_empty() && !valid {
            return;
        }
        let mut range = |s: &str, lower: bool| {
            let start = self.text.len();
            self.text.push_str(s);
            if lower {
                self.text[start..].make_ascii_lowercase();
            }
            (start as u32, self.text.len() as u32)
        };
        let name = range(name, false);
        let address = if valid { range(address, true) } else { (name.1, name.1) };
        self.items.push(Item { field: field as u32, name, address });
    }
}

/// The `@domain` pieces of a raw address field that an entry's address can start with, in
/// the order written: after a quoted or encoded local part (`"jan@x"@klant.be`,
/// `=?utf-8?b?amFu?=@klant.be`; `true`) or after a `<` (`Jan <@klant.be>`, no local part;
/// `false`). Each piece ends at white space, a delimiter or the next `@`, so finding them all is
/// linear in `raw`.
struct LocalParts<'r> {
    pieces: Vec<(bool, &'r str)>,
    next: usize,
}

impl<'r> LocalParts<'r> {
    fn new(raw: &'r str) -> LocalParts<'r> {
        let b = raw.as_bytes();
        let mut pieces = Vec::new();
        for p in memchr::memchr_iter(b'@', b) {
            let before = b[..p].trim_ascii_end();
            let local = b[..p].ends_with(b"\"") || b[..p].ends_with(b"?=");
            if !local && !before.ends_with(b"<") {
                continue;
            }
            let len = b[p + 1..]
                .iter()
                .take_while(|c| {
                    !c.is_ascii_whitespace() && !matches!(c, b',' | b';' | b'<' | b'>' | b'(' | b')' | b'"' | b'@')
                })
                .count();
            pieces.push((local, &raw[p..p + 1 + len]));
        }
        LocalParts { pieces, next: 0 }
    }

    /// Whether the next piece written as `domain` (an entry's address that starts at its `@`)
    /// follows a quoted or encoded local part. Moves on past it: entries come in the order
    /// written, so the whole field is looked through once.
    fn quoted_before(&mut self, domain: &str) -> bool {
        while let Some(&(local, d)) = self.pieces.get(self.next) {
            self.next += 1;
            if d == domain {
                return local;
            }
        }
        false
    }
}

/// The addresses of a raw address field by the rule used before mail-parser's parse: comments
/// removed, entries split at `,` and `;` outside quotes and angle brackets, and of each entry
/// every `<...>`, or else its last word; only those with a local part and a domain, lower case.
/// Linear in the field.
fn fallback_addresses(raw: &str) -> Vec<String> {
    // Comments removed (outside quotes; nested; an unterminated one runs to the end).
    let mut text = String::with_capacity(raw.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in raw.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' && (quoted || depth > 0) {
            escaped = true;
        } else if c == '"' && depth == 0 {
            quoted = !quoted;
        } else if c == '(' && !quoted {
            depth += 1;
            continue;
        } else if c == ')' && !quoted && depth > 0 {
            depth -= 1;
            continue;
        }
        if depth == 0 {
            text.push(c);
        }
    }
    let mut pieces = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'<' if !quoted => depth += 1,
            b'>' if !quoted => depth = (depth - 1).max(0),
            b',' | b';' if !quoted && depth == 0 => {
                pieces.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&text[start..]);
    let mut out = Vec::new();
    for piece in pieces {
        let mut found: Vec<&str> = Vec::new();
        let mut rest = piece;
        while let Some(a) = rest.find('<') {
            let Some(b) = rest[a + 1..].find('>') else { break };
            found.push(&rest[a + 1..a + 1 + b]);
            rest = &rest[a + 2 + b..];
        }
        if found.is_empty() {
            found.push(piece.trim().rsplit(char::is_whitespace).next().unwrap_or(""));
        }
        for addr in found {
            let addr = addr.trim().trim_matches(|c| c == '<' || c == '>').to_ascii_lowercase();
            if addr.rsplit_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
                && !addr.contains(char::is_whitespace)
            {
                out.push(addr);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::message::Message;

    fn boxes(raw: &str, field: &str) -> Vec<(String, String)> {
        let msg = Message::parse(raw.as_bytes(), 1 << 20);
        msg.mailboxes(field).map(|m| (m.name.to_string(), m.address.to_string())).collect()
    }

    fn pair(n: &str, a: &str) -> (String, String) {
        (n.to_string(), a.to_string())
    }

    #[test]
    fn address_fields_are_parsed_once_into_mailboxes() {
        let raw = "From: \"Peeters, Jan\" <Jan@Klant.be>\nTo: piet@x.be (Piet), Ann <ann@y.be>\n\
Cc: team: a@z.be, b@z.be;, undisclosed-recipients:;\nReturn-Path: <Bounce@List.example>\n\
Delivered-To: me@here.example\nX-Original-To: Me@Here.example\nEnvelope-To: me2@here.example\n\
Reply-To: =?utf-8?q?J=C3=A1n?= <jan@klant.be>\nSubject: x\n\nhi\n";
        assert_eq!(boxes(raw, "from"), [pair("Peeters, Jan", "jan@klant.be")]);
        assert_eq!(boxes(raw, "to"), [pair("Piet", "piet@x.be"), pair("Ann", "ann@y.be")]);
        assert_eq!(boxes(raw, "cc"), [pair("", "a@z.be"), pair("", "b@z.be")]);
        assert_eq!(boxes(raw, "return-path"), [pair("", "bounce@list.example")]);
        assert_eq!(boxes(raw, "delivered-to"), [pair("", "me@here.example")]);
        assert_eq!(boxes(raw, "X-Original-To"), [pair("", "me@here.example")]);
        assert_eq!(boxes(raw, "envelope-to"), [pair("", "me2@here.example")]);
        assert_eq!(boxes(raw, "reply-to"), [pair("Ján", "jan@klant.be")]);
        assert_eq!(boxes(raw, "subject"), []);
        // The header text is what it was: the addresses are a view beside it.
        let msg = Message::parse(raw.as_bytes(), 1 << 20);
        assert_eq!(msg.header("to"), Some("piet@x.be (Piet), Ann <ann@y.be>"));
        assert_eq!(msg.header("reply-to"), Some("Ján <jan@klant.be>"));
    }

    #[test]
    fn entries_without_an_address_keep_their_name() {
        assert_eq!(boxes("From: Jan Peeters\n\nx\n", "from"), [pair("Jan Peeters", "")]);
        assert_eq!(boxes("From: <>\n\nx\n", "from"), []);
        assert_eq!(boxes("From: Jan <jan@>\n\nx\n", "from"), [pair("Jan", "")]);
        assert_eq!(boxes("To: undisclosed-recipients:;\n\nx\n", "to"), []);
        // A quoted or encoded local part is part of the address.
        assert_eq!(boxes("From: \"jan@x\"@klant.be\n\nx\n", "from"), [pair("", "jan@x@klant.be")]);
        assert_eq!(boxes("From: =?utf-8?b?amFu?=@Klant.be\n\nx\n", "from"), [pair("", "jan@klant.be")]);
        // ... but a display name before `<@domain>` is not a local part.
        assert_eq!(boxes("From: Jan <@klant.be>\n\nx\n", "from"), [pair("Jan", "")]);
        assert_eq!(boxes("From: \"jan\" <@klant.be>\n\nx\n", "from"), [pair("jan", "")]);
        assert_eq!(boxes("From: =?utf-8?q?jan?= <@klant.be>\n\nx\n", "from"), [pair("jan", "")]);
        assert_eq!(
            boxes("From: \"jan@x\"@klant.be, Piet <@klant.be>\n\nx\n", "from"),
            [pair("", "jan@x@klant.be"), pair("Piet", "")]
        );
        // Every From field, in order; the first one's first address is the message's.
        let two = "From: Nobody\nFrom: b@y.be, c@z.be\n\nx\n";
        assert_eq!(boxes(two, "from"), [pair("Nobody", ""), pair("", "b@y.be"), pair("", "c@z.be")]);
        assert_eq!(Message::parse(two.as_bytes(), 1 << 20).first_address("from"), None);
        assert_eq!(Message::parse(b"From: a@x.be, b@y.be\n\nx\n", 1 << 20).first_address("from"), Some("a@x.be"));
    }

    #[test]
    fn hostile_fields_give_what_they_hold() {
        // An unterminated quote or comment ends with the field; the next field is still read.
        let raw = "From: \"Jan <jan@klant.be>\nTo: (Piet <piet@x.be>\nCc: c@z.be\n\nx\n";
        let msg = Message::parse(raw.as_bytes(), 1 << 20);
        assert_eq!(msg.header("cc"), Some("c@z.be"));
        assert_eq!(boxes(raw, "cc"), [pair("", "c@z.be")]);
        // When the parse gives names but no address, or glues two angle addresses into one,
        // the field is read by the rule used before mail-parser's.
        assert_eq!(
            boxes("From: spammer(c)@Evil.example\n\nx\n", "from"),
            [pair("spammer (c)", "spammer@evil.example")]
        );
        assert_eq!(boxes(raw, "from"), [pair("Jan <jan@klant.be>", "jan@klant.be")]);
        assert_eq!(
            boxes("From: <a@x.example> <b@y.example>\n\nx\n", "from"),
            [pair("", "a@x.example"), pair("", "b@y.example")]
        );
        assert_eq!(
            Message::parse(b"From: <a@x.example> <b@y.example>\n\nx\n", 1 << 20).first_address("from"),
            Some("a@x.example")
        );
        // A huge list is kept whole.
        let list: Vec<String> = (0..20_000).map(|i| format!("u{i}@d{i}.example")).collect();
        let raw = format!("To: {}\n\nx\n", list.join(",\n "));
        let msg = Message::parse(raw.as_bytes(), 1 << 20);
        assert_eq!(msg.mailboxes("to").count(), 20_000);
        assert_eq!(msg.mailboxes("to").last().map(|m| m.address), Some("u19999@d19999.example"));
    }
}
