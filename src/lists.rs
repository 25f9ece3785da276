//! Address lists: the allow and block lists the user keeps, and the honeypot addresses.
//!
//! An entry is an address (`jan@klant.be`), a whole domain (`@klant.be`, or SpamAssassin's
//! `*@klant.be`) or a domain with its subdomains (`*.klant.be`, `*@*.klant.be`), compared
//! without regard to case. The list files are plain text,
//! one entry per line, `#` starts a comment; a line that is not an entry is an error naming its
//! line. This module also says which of a message's addresses (`Message::addresses`, parsed once
//! with the message) it is from and to, and reads the `Authentication-Results:` fields that say
//! whether a sender's domain was authenticated.

use std::fmt;

use anyhow::{bail, Result};

use crate::message::Message;

/// One list entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entry {
    /// `jan@klant.be`
    Address(String),
    /// `@klant.be`: any address at exactly this domain.
    Domain(String),
    /// `*.klant.be`: this domain and every subdomain.
    Subdomains(String),
}

impl Entry {
    /// Parses an entry as written in a list or on the command line.
    pub fn parse(s: &str) -> Result<Entry> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.trim_start_matches('<').trim_end_matches('>');
        if let Some(d) = s.strip_prefix("*.") {
            check_domain(d, s)?;
            return Ok(Entry::Subdomains(d.to_string()));
        }
        if let Some(d) = s.strip_prefix('@') {
            check_domain(d, s)?;
            return Ok(Entry::Domain(d.to_string()));
        }
        match s.rsplit_once('@') {
            // SpamAssassin's whitelist_from globs: `*@klant.be` is the domain, `*@*.klant.be`
            // the domain with its subdomains. Other globs would match nothing: an error.
            Some(("*", d)) => match d.strip_prefix("*.") {
                Some(d) => {
                    check_domain(d, s)?;
                    Ok(Entry::Subdomains(d.to_string()))
                }
                None => {
                    check_domain(d, s)?;
                    Ok(Entry::Domain(d.to_string()))
                }
            },
            Some((local, _)) if local.contains(['*', '?']) => {
                bail!("`{s}`: a wildcard is understood only as the whole local part (`*@klant.be`, `*@*.klant.be`)")
            }
            Some((local, d)) if !local.is_empty() && !local.contains(char::is_whitespace) => {
                check_local(local, s)?;
                check_domain(d, s)?;
                Ok(Entry::Address(s.to_string()))
            }
            _ => bail!(
                "`{s}` is not an address (jan@klant.be), a domain (@klant.be) or a domain with subdomains (*.klant.be)"
            ),
        }
    }

    /// Whether an address (lower case) matches.
    pub fn matches(&self, addr: &str) -> bool {
        let domain = addr.rsplit_once('@').map_or("", |(_, d)| d);
        match self {
            Entry::Address(a) => a == addr,
            Entry::Domain(d) => d == domain,
            Entry::Subdomains(d) => {
                domain == d
                    || (domain.len() > d.len() + 1 && domain.ends_with(d.as_str()) && {
                        let cut = domain.len() - d.len() - 1;
                        domain.as_bytes()[cut] == b'.'
                    })
            }
        }
    }

    /// How specific the entry is: an address beats a domain beats a domain with subdomains.
    pub fn specificity(&self) -> u8 {
        match self {
            Entry::Address(_) => 3,
            Entry::Domain(_) => 2,
            Entry::Subdomains(_) => 1,
        }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Address(a) => write!(f, "{a}"),
            Entry::Domain(d) => write!(f, "@{d}"),
            Entry::Subdomains(d) => write!(f, "*.{d}"),
        }
    }
}

/// An address's local part as a list entry can match it: a quoted one (`"jan@home"@klant.be`),
/// or one without the characters that separate or enclose addresses. A second `@` or a comma
/// means two addresses or a typo (`jan@@klant.be`, `jan@klant.be,piet@klant.be`): such an entry
/// was accepted and never matched anything (the admin's pass, M7).
fn check_local(local: &str, whole: &str) -> Result<()> {
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    if !quoted && local.contains(['@', ',', ';', '<', '>', '(', ')', '[', ']', '\\', '"', ':']) {
        bail!("`{whole}`: `{local}` is not the local part of an address (one address per entry, one @ in it)");
    }
    Ok(())
}

fn check_domain(d: &str, whole: &str) -> Result<()> {
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b >= 0x80)
        });
    if !ok {
        bail!("`{whole}`: `{d}` is not a domain name");
    }
    Ok(())
}

/// A list of entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressList {
    pub entries: Vec<Entry>,
}

impl AddressList {
    /// Parses the text of a list file; a bad line is an error with its line number.
    pub fn parse(text: &str) -> Result<AddressList> {
        let (list, bad) = AddressList::parse_lenient(text);
        if let Some((line, err)) = bad.into_iter().next() {
            bail!("line {line}: {err}");
        }
        Ok(list)
    }

    /// Parses the text of a list file: the good entries, and each bad line's number and
    /// problem (the filter uses the rest of the list and says what it left out).
    pub fn parse_lenient(text: &str) -> (AddressList, Vec<(usize, String)>) {
        let mut entries = Vec::new();
        let mut bad = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let e = line.split('#').next().unwrap_or("").trim();
            if e.is_empty() {
                continue;
            }
            match Entry::parse(e) {
                Ok(entry) => entries.push(entry),
                Err(err) => bad.push((i + 1, err.to_string())),
            }
        }
        (AddressList { entries }, bad)
    }

    /// The most specific entry matching any of the addresses, and the address it matched.
    pub fn best_match(&self, addrs: &[String]) -> Option<(&Entry, String)> {
        let mut best: Option<(&Entry, &String)> = None;
        for a in addrs {
            for e in &self.entries {
                if e.matches(a) && best.is_none_or(|(b, _)| e.specificity() > b.specificity()) {
                    best = Some((e, a));
                }
            }
        }
        best.map(|(e, a)| (e, a.clone()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Adds entries to the text of a list file, keeping its comments and layout. Returns the new
/// text and the entries that were already there.
pub fn add_to_text(text: &str, add: &[Entry]) -> Result<(String, Vec<Entry>)> {
    let existing = AddressList::parse(text)?;
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let mut already = Vec::new();
    let mut added: Vec<&Entry> = Vec::new();
    for e in add {
        if existing.entries.contains(e) || added.contains(&e) {
            already.push(e.clone());
        } else {
            out.push_str(&format!("{e}\n"));
            added.push(e);
        }
    }
    Ok((out, already))
}

/// Removes entries from the text of a list file (every line holding one), keeping the rest.
/// Returns the new text and the entries that were not there.
pub fn remove_from_text(text: &str, remove: &[Entry]) -> Result<(String, Vec<Entry>)> {
    AddressList::parse(text)?;
    let mut found = vec![false; remove.len()];
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let e = line.split('#').next().unwrap_or("").trim();
        if !e.is_empty() {
            if let Ok(entry) = Entry::parse(e) {
                if let Some(i) = remove.iter().position(|r| *r == entry) {
                    found[i] = true;
                    continue;
                }
            }
        }
        out.push_str(line);
    }
    let missing = remove.iter().zip(found).filter(|(_, f)| !f).map(|(e, _)| e.clone()).collect();
    Ok((out, missing))
}

/// The addresses of the fields called `names`, in order (`Message::addresses`: parsed once,
/// when the message was).
fn addresses_of<'m>(msg: &'m Message, names: &[&'static str]) -> Vec<&'m str> {
    names.iter().flat_map(|n| msg.mailboxes(n)).map(|m| m.address).filter(|a| !a.is_empty()).collect()
}

/// Who a message is from: the From and Sender addresses and the envelope sender (the first
/// Return-Path, written by the delivering server).
pub fn senders(msg: &Message) -> Vec<String> {
    let mut out: Vec<String> = addresses_of(msg, &["from", "sender"]).into_iter().map(String::from).collect();
    out.extend(msg.first_field_mailboxes("return-path").map(|m| m.address).filter(|a| !a.is_empty()).map(String::from));
    out.dedup();
    out
}

/// Who a message is addressed to: To, Cc, Delivered-To, X-Original-To, Envelope-To.
pub fn recipients(msg: &Message) -> Vec<String> {
    addresses_of(msg, &["to", "cc", "delivered-to", "x-original-to", "envelope-to"])
        .into_iter()
        .map(String::from)
        .collect()
}

/// The people a message written by the user went to: To, Cc and Bcc, less the writer's own
/// addresses (`writer`: a note to yourself or a copy to yourself makes no correspondent).
pub fn correspondents(msg: &Message) -> Vec<String> {
    let own = writer(msg);
    let mut out: Vec<String> = addresses_of(msg, &["to", "cc", "bcc"])
        .into_iter()
        .map(str::to_ascii_lowercase)
        .filter(|a| !own.contains(a))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Who wrote a message: its From and Sender addresses, lower-cased. Of a message the user wrote
/// (`written_by_user`), these are the user's own addresses.
pub fn writer(msg: &Message) -> Vec<String> {
    let mut out: Vec<String> =
        addresses_of(msg, &["from", "sender"]).into_iter().map(str::to_ascii_lowercase).collect();
    out.sort();
    out.dedup();
    out
}

/// The fields a delivery agent writes when it delivers a message into a mailbox (Postfix and
/// qmail: Delivered-To; Postfix: X-Original-To; Exim: Envelope-To, Delivery-Date): a message
/// with one was delivered *to* someone, it is not a copy of mail the user sent.
const DELIVERY_FIELDS: [&str; 4] = ["delivered-to", "x-original-to", "envelope-to", "delivery-date"];

/// Whether a message with no untrusted hop (`first_untrusted` is `None`) is mail the user wrote,
/// whose To, Cc and Bcc become known correspondents and whose From and Sender are the user's
/// own addresses. Not when it was delivered to a mailbox (`DELIVERY_FIELDS`: cron and feed
/// mail, mail from the user's own machines, copies of list mail that come back) or when it is
/// machine-written (a `List-*` field or the list fields of `via_mailing_list`'s kind,
/// `Precedence: bulk`/`list`/`junk`, `Auto-Submitted` other than `no`): what is left is the
/// Sent folder, which a mail client writes and no server delivers.
pub fn written_by_user(msg: &Message) -> bool {
    if DELIVERY_FIELDS.iter().any(|f| msg.header(f).is_some()) {
        return false;
    }
    let is = |name: &str, n: &str| name.eq_ignore_ascii_case(n);
    let machine = msg.headers.iter().any(|h| {
        let (name, value): (&str, &str) = (&h.name, h.text.trim());
        name.get(..5).is_some_and(|p| is(p, "list-"))
            || ["x-mailman-version", "x-beenthere", "mailing-list"].iter().any(|n| is(name, n))
            || (is(name, "precedence") && ["bulk", "list", "junk"].iter().any(|v| is(value, v)))
            || (is(name, "auto-submitted") && !value.is_empty() && !is(value, "no"))
    });
    !machine
}

/// The user's own addresses as this message's delivery recorded them (Delivered-To,
/// X-Original-To, Envelope-To), lower-cased: a From equal to one of them is the user's own.
pub fn delivered_to(msg: &Message) -> Vec<String> {
    addresses_of(msg, &["delivered-to", "x-original-to", "envelope-to"])
        .into_iter()
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The envelope recipients of this delivery as the user's own servers wrote them, lower-cased:
/// the Delivered-To, X-Original-To and Envelope-To fields above the `Received:` field that
/// records the first untrusted relay (`received::own_fields`; fields below it came with the
/// message from outside, where the sender writes what it likes) and the `for <...>` of the
/// user's own `Received:` fields. Empty when they wrote none. Honeypots judge by these.
pub fn envelope_recipients(msg: &Message, trusted: &crate::received::Networks) -> Vec<String> {
    let own = crate::received::own_fields(msg, trusted);
    let mut seen = 0;
    let mut out = Vec::new();
    for (i, h) in msg.headers.iter().enumerate() {
        if own.is_some_and(|n| seen >= n) {
            break;
        }
        if h.name.eq_ignore_ascii_case("received") {
            seen += 1;
            out.extend(crate::received::recipient(&h.text).map(|a| a.to_ascii_lowercase()));
        } else if DELIVERY_FIELDS[..3].iter().any(|n| h.name.eq_ignore_ascii_case(n)) {
            out.extend(msg.addresses.of_field(i).map(|m| m.address.to_ascii_lowercase()).filter(|a| !a.is_empty()));
        }
    }
    out
}

/// Who a message is written to: its To and Cc addresses.
pub fn addressees(msg: &Message) -> Vec<String> {
    addresses_of(msg, &["to", "cc"]).into_iter().map(String::from).collect()
}

/// Whether an `Authentication-Results:` field written by `authserv_id` (the user's own server)
/// says DKIM or SPF passed for `domain` (DKIM: `header.d` is the domain or a parent of it, or
/// `header.i` is at it; SPF: the `smtp.mailfrom` address is at it).
pub fn authenticated(msg: &Message, authserv_id: &str, domain: &str) -> bool {
    let domain = domain.to_ascii_lowercase();
    let aligned = |d: &str| {
        let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        !d.is_empty() && (domain == d || domain.ends_with(&format!(".{d}")))
    };
    for h in msg.headers_named("authentication-results") {
        let mut parts = h.text.split(';');
        let id = parts.next().unwrap_or("").split_whitespace().next().unwrap_or("");
        if !id.eq_ignore_ascii_case(authserv_id) {
            continue;
        }
        for res in parts {
            let words: Vec<&str> = res.split_whitespace().collect();
            let Some(first) = words.first() else { continue };
            let Some((method, result)) = first.split_once('=') else { continue };
            if !result.eq_ignore_ascii_case("pass") {
                continue;
            }
            let prop = |key: &str| {
                words.iter().find_map(|w| {
                    let (k, v) = w.split_once('=')?;
                    k.eq_ignore_ascii_case(key).then(|| v.trim_matches(|c| c == '"' || c == ';'))
                })
            };
            let ok = match method.to_ascii_lowercase().as_str() {
                "dkim" => {
                    prop("header.d").is_some_and(aligned)
                        || prop("header.i").and_then(|i| i.rsplit_once('@')).is_some_and(|(_, d)| aligned(d))
                }
                "spf" => prop("smtp.mailfrom")
                    .map(|m| m.rsplit_once('@').map_or(m, |(_, d)| d))
                    .is_some_and(|d| d.eq_ignore_ascii_case(&domain)),
                _ => false,
            };
            if ok {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries() {
        assert_eq!(Entry::parse("Jan@Klant.be").unwrap(), Entry::Address("jan@klant.be".into()));
        assert_eq!(Entry::parse("@klant.be").unwrap(), Entry::Domain("klant.be".into()));
        assert_eq!(Entry::parse("*.klant.be").unwrap(), Entry::Subdomains("klant.be".into()));
        assert!(Entry::parse("klant.be").is_err());
        assert!(Entry::parse("@klant..be").is_err());
        assert!(Entry::parse("jan@").is_err());
        let d = Entry::parse("@klant.be").unwrap();
        assert!(d.matches("jan@klant.be"));
        assert!(!d.matches("jan@mail.klant.be"));
        let s = Entry::parse("*.klant.be").unwrap();
        assert!(s.matches("jan@klant.be"));
        assert!(s.matches("jan@mail.klant.be"));
        assert!(!s.matches("jan@nietklant.be"));
        // SpamAssassin's whitelist_from forms (issue 16: `*@klant.be` was an address matching nothing).
        assert_eq!(Entry::parse("*@Klant.be").unwrap(), d);
        assert_eq!(Entry::parse("<*@*.klant.be>").unwrap(), s);
        for bad in ["jan*@klant.be", "?@klant.be", "*@*klant.be", "*@"] {
            assert!(Entry::parse(bad).is_err(), "{bad}");
        }
        // Two addresses or a typo: accepted before and never matched (admin report M7).
        for bad in ["jan@@klant", "x@y@z", "jan@klant.be,piet@klant.be", "jan;piet@klant.be", "a<b@klant.be"] {
            let e = Entry::parse(bad).unwrap_err().to_string();
            assert!(e.contains("is not the local part of an address"), "{bad}: {e}");
        }
        assert_eq!(Entry::parse("\"jan@home\"@klant.be").unwrap(), Entry::Address("\"jan@home\"@klant.be".into()));
        assert_eq!(Entry::parse("jan.smit+news@klant.be").unwrap(), Entry::Address("jan.smit+news@klant.be".into()));
    }

    #[test]
    fn list_files() {
        let l = AddressList::parse("# friends\njan@klant.be\n\n@bank.be  # the bank\n*.school.be\n").unwrap();
        assert_eq!(l.entries.len(), 3);
        let err = AddressList::parse("jan@klant.be\nnot an entry\n").unwrap_err().to_string();
        assert!(err.starts_with("line 2:"), "{err}");
        let (t, already) = add_to_text(
            "# mine\njan@klant.be",
            &[Entry::parse("@x.be").unwrap(), Entry::parse("jan@klant.be").unwrap()],
        )
        .unwrap();
        assert_eq!(t, "# mine\njan@klant.be\n@x.be\n");
        assert_eq!(already, vec![Entry::parse("jan@klant.be").unwrap()]);
        // The same new entry twice on one command line is added once.
        let (t2, again) = add_to_text("", &[Entry::parse("@z.be").unwrap(), Entry::parse("@Z.be").unwrap()]).unwrap();
        assert_eq!(t2, "@z.be\n");
        assert_eq!(again, vec![Entry::parse("@z.be").unwrap()]);
        let (t, missing) =
            remove_from_text(&t, &[Entry::parse("JAN@klant.be").unwrap(), Entry::parse("@y.be").unwrap()]).unwrap();
        assert_eq!(t, "# mine\n@x.be\n");
        assert_eq!(missing, vec![Entry::parse("@y.be").unwrap()]);
        let best = l.best_match(&["x@bank.be".into(), "jan@klant.be".into()]).unwrap();
        assert_eq!(best.0, &Entry::parse("jan@klant.be").unwrap());
    }

    #[test]
    fn senders_recipients_and_correspondents() {
        let raw = b"From: \"Peeters, Jan\" <Jan@Klant.be>, piet@x.be\nSender: <jan@klant.be>\n\
Return-Path: <bounce@list.example>\nReturn-Path: <second@list.example>\nTo: undisclosed-recipients:;\n\
Cc: ann@y.be (Ann)\nBcc: <>, zed@y.be, ann@y.be\nDelivered-To: me@here.example\n\nhi\n";
        let msg = Message::parse(raw, 1 << 20);
        assert_eq!(senders(&msg), ["jan@klant.be", "piet@x.be", "jan@klant.be", "bounce@list.example"]);
        assert_eq!(recipients(&msg), ["ann@y.be", "me@here.example"]);
        assert_eq!(correspondents(&msg), ["ann@y.be", "zed@y.be"]);
    }

    #[test]
    fn what_the_user_wrote() {
        let written =
            |h: &str| written_by_user(&Message::parse(format!("{h}From: ik@mijn.be\n\nhi\n").as_bytes(), 1 << 20));
        assert!(written("To: jan@klant.be\n"));
        assert!(written("Precedence: first-class\nAuto-Submitted: no\n"));
        for machine in [
            "Delivered-To: ik@mijn.be\n",
            "X-Original-To: ik@mijn.be\n",
            "Envelope-To: ik@mijn.be\n",
            "Delivery-Date: Mon, 23 Nov 2026 10:00:00 +0100\n",
            "List-Unsubscribe: <mailto:u@l.example>\n",
            "X-BeenThere: l@l.example\n",
            "Precedence: Bulk\n",
            "Auto-Submitted: auto-generated\n",
        ] {
            assert!(!written(machine), "{machine}");
        }
        let msg =
            Message::parse(b"From: Ik <Ik@Mijn.be>\nSender: ik@mijn.be\nTo: jan@klant.be, IK@mijn.be\n\nhi\n", 1 << 20);
        assert_eq!(writer(&msg), ["ik@mijn.be"]);
        assert_eq!(correspondents(&msg), ["jan@klant.be"]);
    }

    #[test]
    fn authentication_results() {
        let raw = b"Authentication-Results: mx.mijndomein.be; dkim=pass (2048-bit key) header.d=klant.be header.s=s1; spf=fail smtp.mailfrom=jan@klant.be\n\
Authentication-Results: forged.example; spf=pass smtp.mailfrom=evil@bank.be\n\
From: jan@klant.be\n\nhi\n";
        let msg = Message::parse(raw, 1 << 20);
        assert!(authenticated(&msg, "mx.mijndomein.be", "klant.be"));
        assert!(authenticated(&msg, "MX.mijndomein.be", "mail.klant.be"));
        assert!(!authenticated(&msg, "mx.mijndomein.be", "bank.be"));
        assert!(!authenticated(&msg, "mx.mijndomein.be", "nietklant.be"));
    }
}
