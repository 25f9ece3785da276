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

    /// Adds the mailboxes mail-parser found in field `field` (`value` is its parse).
    pub(super) fn add(&mut self, field: usize, value: &HeaderValue<'_>) {
        let HeaderValue::Address(a) = value else { return };
        match a {
            mail_parser::Address::List(list) => {
                for x in list {
                    self.push(field, x);
                }
            }
            mail_parser::Address::Group(groups) => {
                for x in groups.iter().flat_map(|g| &g.addresses) {
                    self.push(field, x);
                }
            }
        }
    }

    fn push(&mut self, field: usize, x: &mail_parser::Addr<'_>) {
        let name = x.name.as_deref().unwrap_or("").trim();
        let address = x.address.as_deref().unwrap_or("").trim();
        let address = address.strip_prefix('<').unwrap_or(address);
        let address = address.strip_suffix('>').unwrap_or(address);
        // A local part quoted or encoded (`"jan@x"@klant.be`, `=?utf-8?b?amFu?=@klant.be`) comes
        // out as a name and an address that starts at the `@`: the two are the address.
        let joined;
        let (name, address) = if address.starts_with('@') && !name.is_empty() && !name.contains(char::is_whitespace) {
            joined = format!("{name}{address}");
            ("", joined.as_str())
        } else {
            (name, address)
        };
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
        // A huge list is kept whole.
        let list: Vec<String> = (0..20_000).map(|i| format!("u{i}@d{i}.example")).collect();
        let raw = format!("To: {}\n\nx\n", list.join(",\n "));
        let msg = Message::parse(raw.as_bytes(), 1 << 20);
        assert_eq!(msg.mailboxes("to").count(), 20_000);
        assert_eq!(msg.mailboxes("to").last().map(|m| m.address), Some("u19999@d19999.example"));
    }
}
