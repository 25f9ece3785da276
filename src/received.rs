//! The `Received:` chain: which host handed the message to the user's own servers.
//!
//! spamfilt runs behind the MTA, so the connecting client is not known directly. Each MTA on
//! the way prepends a `Received:` field naming the host that connected to it: its HELO name,
//! its IP address and (usually) the reverse-DNS name the MTA looked up. Reading the chain from
//! the top (newest), every hop whose client address is in the user's trusted networks (or
//! that authenticated, like the user's own mail client) is the user's own; the first other one
//! is the relay whose reputation counts.
//!
//! Formats understood (unit tests below hold one of each):
//! - Postfix and Sendmail: `from HELO (RDNS [IP])`, `from HELO (unknown [IP])`, `[IPv6:...]`;
//! - Exim: `from RDNS ([IP]:PORT helo=HELO)`, `from [IP] (helo=HELO)`;
//! - qmail: `from RDNS (HELO helo) (IP)`, `from unknown (HELO helo) (IP)`;
//! - qmail-ldap: `from RDNS (HELO helo) ([IP])`; CommuniGate: `from [IP] (HELO helo)`;
//! - Dovecot LMTP: `from HELO ([IP]) by HOST with LMTP id ID (envelope-from <...>) for <...>`;
//! - Microsoft Exchange: `from NAME (IP) by ...`;
//! - Gmail: `from NAME (RDNS. [IP])`, with `by` lines without a client that are skipped;
//! - fetchmail and other retrievers: `from HOST [IP] by localhost with IMAP (fetchmail-6.4)`,
//!   `with POP3`: the user's own program fetching from the user's mailbox server (see `fetched`).

use std::net::IpAddr;

use crate::message::Message;

/// What the receiving MTA wrote about the reverse-DNS name of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdns {
    /// The name it found.
    Name(String),
    /// It looked and found none (Postfix writes `unknown`).
    Missing,
    /// The format does not say (Exchange, bare qmail).
    NotRecorded,
}

/// One hop: the client that connected to a server of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    pub ip: IpAddr,
    /// The name the client gave in HELO/EHLO (an IP literal keeps its brackets: `[192.0.2.1]`).
    pub helo: Option<String>,
    pub rdns: Rdns,
    /// The client authenticated (ESMTPA/ESMTPSA, "Authenticated sender"): the user's own client.
    pub authenticated: bool,
    /// The hop is a retrieval (`with IMAP`, `with POP3`): the user's own fetchmail or getmail
    /// took the message from the user's mailbox server, named as the client. Like an
    /// authenticated hop it is the user's own; the hop below it (into the mailbox server) is
    /// the one from outside. A forged retrieval line further down the chain is never reached:
    /// the reading stops at the first untrusted hop above it.
    pub fetched: bool,
}

/// A set of networks (CIDR blocks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Networks(Vec<(IpAddr, u8)>);

impl Default for Networks {
    /// Loopback, private, link-local and shared (CGNAT) ranges, v4 and v6.
    fn default() -> Self {
        let mut n = Networks(Vec::new());
        for s in [
            "127.0.0.0/8",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "169.254.0.0/16",
            "100.64.0.0/10",
            "::1/128",
            "fc00::/7",
            "fe80::/10",
        ] {
            n.add(s).expect("built-in network");
        }
        n
    }
}

impl Networks {
    /// Adds `a.b.c.d/len`, `v6::/len` or a single address.
    pub fn add(&mut self, cidr: &str) -> Result<(), String> {
        let (addr, len) = match cidr.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (cidr, None),
        };
        let ip: IpAddr =
            addr.trim().parse().map_err(|_| format!("`{cidr}` is not an IP address or network (a.b.c.d/nn)"))?;
        let ip = canonical(ip);
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| format!("`{cidr}`: the prefix length must be a number from 0 to {max}"))?,
            None => max,
        };
        self.0.push((ip, len));
        Ok(())
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|&(net, len)| in_network(ip, net, len))
    }
}

fn in_network(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len as u32) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len as u32) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) as the IPv4 address they are.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// The hops of a message, newest first (only `Received:` fields that name a client address),
/// parsed as they are asked for.
pub fn chain<'m>(msg: &'m Message) -> impl Iterator<Item = Relay> + 'm {
    msg.headers_named("received").filter_map(|h| parse(&h.text))
}

/// The first relay outside the trusted networks that did not authenticate and is not a
/// retrieval by the user's own fetchmail: the host whose reputation counts. The mailbox server
/// a retrieval names is trusted for the rest of the message too (its own internal hops). `None`
/// when every hop is trusted (mail from the user's own network or client) or no hop names a
/// client. The older hops are not parsed.
pub fn first_untrusted(msg: &Message, trusted: &Networks) -> Option<Relay> {
    let mut mailbox_servers: Vec<IpAddr> = Vec::new();
    chain(msg).find(|r| is_first_untrusted(r, trusted, &mut mailbox_servers))
}

/// How many `Received:` fields, from the top, the user's own servers wrote: down to and
/// including the one that records the first untrusted relay (the one [`first_untrusted`]
/// returns; the user's MX wrote it). The fields below it were written before the message
/// reached the user's servers, by the sender or whoever the sender wants to look like. `None`
/// when no hop is untrusted (every field is the user's own, or none names a client).
pub fn own_fields(msg: &Message, trusted: &Networks) -> Option<usize> {
    let mut mailbox_servers: Vec<IpAddr> = Vec::new();
    msg.headers_named("received")
        .position(|h| parse(&h.text).is_some_and(|r| is_first_untrusted(&r, trusted, &mut mailbox_servers)))
        .map(|i| i + 1)
}

/// Reading the chain from the top: whether this hop is the first untrusted one (a retrieval
/// is the user's own, and its mailbox server is remembered as trusted for the hops below).
fn is_first_untrusted(r: &Relay, trusted: &Networks, mailbox_servers: &mut Vec<IpAddr>) -> bool {
    if r.fetched {
        mailbox_servers.push(r.ip);
        return false;
    }
    !r.authenticated && !trusted.contains(r.ip) && !mailbox_servers.contains(&r.ip)
}

/// Parses one (unfolded) `Received:` value. `None` when it names no client address.
///
/// The value is read structurally (RFC 5321 section 4.4: `from DOMAIN (TCP-INFO) by DOMAIN
/// (comment) with PROTOCOL id ID for <PATH>; DATE`), and each thing is taken only from the
/// place where the receiving MTA writes it, never from text the client chose (its HELO name,
/// its envelope sender or recipient, which the MTA copies into the field and not every MTA
/// cleans):
/// - comments `(...)` and quoted local parts (`"..."@`) are single tokens, so nothing inside
///   a `for <"x by y (authenticated"@dom>` or an `(envelope-from <...>)` is a keyword;
/// - the `from` part ends at the *last* top-level `by` before the date: a HELO that reads
///   `x by y` or `x with esmtpa` is part of the `from` part and counts for nothing;
/// - the client's address is taken from the last comment of the `from` part that names one
///   (the MTA writes its TCP-info after the HELO) and comes before the TLS comments Postfix
///   writes after it (`(using TLS...)`, `(Client CN "...")`: the certificate is the client's
///   choice), or the `from` domain itself when it is an address literal;
/// - the protocol is the word after the first `with` of the `by` part: ESMTPA, ESMTPSA,
///   LMTPA, LMTPSA and their UTF8 forms (RFC 3848, RFC 6531) mean an authenticated client,
///   IMAP/POP3 a retrieval;
/// - an authentication comment (Postfix's `(Authenticated sender: jan)`, Sendmail's
///   `(authenticated bits=0)`) counts only where those MTAs write it: in the `from` part,
///   after the comment that names the client's address (a HELO comes before it). Exim's form
///   (`helo=` inside that comment) says it by the protocol only.
///
/// A field without a `by` part is read for its client address only: it never makes a hop the
/// user's own.
pub fn parse(value: &str) -> Option<Relay> {
    let toks = tokens(value);
    // The date follows the last top-level `;`.
    let toks = match toks.iter().rposition(|t| matches!(t, Tok::Semi)) {
        Some(i) => &toks[..i],
        None => &toks[..],
    };
    match toks.first() {
        Some(Tok::Word(w)) if w.eq_ignore_ascii_case("from") => {}
        _ => return None,
    }
    let by = toks.iter().rposition(|t| matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case("by")));
    let (from_part, by_part) = match by {
        Some(i) if i >= 1 => (&toks[1..i], &toks[i..]),
        _ => (&toks[1..], &toks[..0]),
    };
    let protocol = by_part
        .iter()
        .position(|t| matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case("with")))
        .and_then(|i| match by_part.get(i + 1) {
            Some(Tok::Word(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        })
        .unwrap_or_default();
    let fetched = is_retrieval(&protocol);
    let by_protocol = is_authenticated_protocol(&protocol);

    let name = match from_part.first() {
        Some(Tok::Word(w)) => w.trim_end_matches('.'),
        _ => "",
    };
    let comments: Vec<&str> = from_part
        .iter()
        .filter_map(|t| match t {
            Tok::Comment(c) => Some(*c),
            _ => None,
        })
        .collect();
    // The TCP-info comment: the last one that names an address, before the TLS comments that
    // follow it (Postfix's `smtpd_tls_received_header`): the client certificate's names in
    // `(Client CN "[IP]", ...)` are the client's choice (review R1), and a name that closes the
    // comment early starts no TCP-info either, for nothing after the first TLS comment counts.
    let names_address = |c: &str| !is_auth_comment(c) && (last_bracketed_ip(c).is_some() || bare_ip(c).is_some());
    let mut seen_address = false;
    let end = comments
        .iter()
        .position(|c| {
            let tls_after_info = seen_address && is_tls_comment(c);
            seen_address |= names_address(c);
            tls_after_info
        })
        .unwrap_or(comments.len());
    let info = comments[..end].iter().rposition(|c| names_address(c));
    let auth_comment_after = |i: usize| !by_part.is_empty() && comments[i + 1..].iter().any(|c| is_auth_comment(c));

    if let Some(i) = info {
        let c = comments[i];
        let lower = c.to_ascii_lowercase();
        // Exim: `from RDNS ([IP]:PORT helo=HELO)`.
        if let Some(pos) = lower.find("helo=") {
            let helo = word_at(&c[pos + 5..]);
            let ip = bracketed_ip(&c[..pos]).or_else(|| bracketed_ip(name))?;
            let rdns = if name.starts_with('[') || name.is_empty() {
                Rdns::Missing
            } else {
                Rdns::Name(name.to_ascii_lowercase())
            };
            return Some(Relay { ip, helo: non_empty(helo), rdns, authenticated: by_protocol, fetched });
        }
        let authenticated = by_protocol || auth_comment_after(i);
        // qmail: `from RDNS (HELO helo) (IP)`, qmail-ldap: `from RDNS (HELO helo) ([IP])`.
        let qmail_helo = helo_comment(&comments[..i]);
        if let Some(h) = qmail_helo {
            let ip = bare_ip(c).or_else(|| last_bracketed_ip(c).map(|(_, ip)| ip))?;
            return Some(Relay { ip, helo: non_empty(h), rdns: qmail_rdns(name), authenticated, fetched });
        }
        // Exchange: `from NAME (IP)`.
        if let Some(ip) = bare_ip(c) {
            let helo = if name.eq_ignore_ascii_case("unknown") { None } else { non_empty(name.to_string()) };
            return Some(Relay { ip, helo, rdns: qmail_rdns(name), authenticated, fetched });
        }
        // Postfix, Sendmail, Gmail: `from HELO (RDNS [IP])`, `(unknown [IP])`, `([IP])`,
        // Sendmail's `(IDENT@RDNS [IP] (may be forged))`.
        let (open, ip) = last_bracketed_ip(c)?;
        let before = c[..open].split_whitespace().next_back().unwrap_or("");
        // A second literal (`([IP] [IP])`) is no name.
        let before = if before.starts_with('[') { "" } else { before };
        let before = before.rsplit('@').next().unwrap_or("").trim().trim_end_matches('.');
        // Postfix writes `unknown` when there is no name. A bare `([IP])` is ambiguous:
        // Sendmail writes it both when the lookup failed and when the name equals the HELO,
        // so it is not evidence (a live PTR lookup can settle it).
        let rdns = if before.eq_ignore_ascii_case("unknown") {
            Rdns::Missing
        } else if before.is_empty() {
            Rdns::NotRecorded
        } else {
            Rdns::Name(before.to_ascii_lowercase())
        };
        return Some(Relay { ip, helo: non_empty(name.to_string()), rdns, authenticated, fetched });
    }
    let words_after_name = || {
        from_part.iter().skip(1).filter_map(|t| match t {
            Tok::Word(w) => Some(*w),
            _ => None,
        })
    };
    // Exim: `from [IP] (helo=HELO)`.
    if let Some(c) = comments.iter().find(|c| c.to_ascii_lowercase().contains("helo=")) {
        let pos = c.to_ascii_lowercase().find("helo=").unwrap_or(0);
        let ip = bracketed_ip(name)?;
        return Some(Relay {
            ip,
            helo: non_empty(word_at(&c[pos + 5..])),
            rdns: Rdns::Missing,
            authenticated: by_protocol,
            fetched,
        });
    }
    // fetchmail: `from HOST [IP] by localhost with IMAP`: HOST is the server name the user
    // configured, neither a HELO nor a looked-up name. Only for retrievals: an SMTP hop in this
    // form is unknown and stays skipped, as before.
    if fetched {
        if let Some(ip) = words_after_name().find_map(bracketed_ip) {
            return Some(Relay { ip, helo: None, rdns: Rdns::NotRecorded, authenticated: by_protocol, fetched });
        }
    }
    // `from [IP]` alone, or `from IP`; CommuniGate and others: `from [IP] (HELO helo)`.
    let ip = bracketed_ip(name).or_else(|| bare_ip(name))?;
    let helo = helo_comment(&comments).and_then(non_empty);
    Some(Relay { ip, helo, rdns: Rdns::NotRecorded, authenticated: by_protocol, fetched })
}

/// The name after the word `HELO` in the last comment that has one (qmail's `(HELO name)`,
/// CommuniGate's `(account jan HELO name)`).
fn helo_comment(comments: &[&str]) -> Option<String> {
    comments.iter().rev().find_map(|c| {
        let mut words = c.split_whitespace();
        words.by_ref().find(|w| w.eq_ignore_ascii_case("helo"))?;
        Some(words.next().unwrap_or("").to_string())
    })
}

/// The envelope recipient a `Received:` field names in its `for` clause (`for <jan@example>`,
/// Exim's `for jan@example`), without the angle brackets, when it names one. Read like
/// [`parse`] reads the field: the `for` of the `by` part, the path one word.
pub fn recipient(value: &str) -> Option<String> {
    let toks = tokens(value);
    let toks = match toks.iter().rposition(|t| matches!(t, Tok::Semi)) {
        Some(i) => &toks[..i],
        None => &toks[..],
    };
    let by = toks.iter().rposition(|t| matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case("by")))?;
    let f = by + toks[by..].iter().position(|t| matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case("for")))?;
    match toks.get(f + 1) {
        Some(Tok::Word(w)) => {
            let a = w.strip_prefix('<').unwrap_or(w);
            let a = a.strip_suffix('>').unwrap_or(a);
            a.contains('@').then(|| a.to_string())
        }
        _ => None,
    }
}

/// The `with` protocols of an authenticated client (RFC 3848, RFC 6531; `asmtp` of older
/// servers).
fn is_authenticated_protocol(protocol: &str) -> bool {
    matches!(
        protocol,
        "esmtpa" | "esmtpsa" | "lmtpa" | "lmtpsa" | "utf8smtpa" | "utf8smtpsa" | "utf8lmtpa" | "utf8lmtpsa" | "asmtp"
    )
}

/// Postfix's `Authenticated sender: jan` and Sendmail's `authenticated bits=0` comments.
fn is_auth_comment(c: &str) -> bool {
    let c = c.trim_start();
    strip_prefix_ci(c, "authenticated")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(|ch: char| ch.is_whitespace() || ch == ':'))
}

/// The comments Postfix writes after the TCP-info with `smtpd_tls_received_header = yes`:
/// `(using TLSv1.3 with cipher ...)`, `(No client certificate requested)`, `(Client did not
/// present a certificate)` and `(Client CN "...", Issuer "..." (verified OK))`. None can be a
/// TCP-info (`NAME [IP]`: a host name holds no space).
fn is_tls_comment(c: &str) -> bool {
    let c = c.trim_start();
    let using = strip_prefix_ci(c, "using ").map(str::trim_start);
    using.is_some_and(|v| strip_prefix_ci(v, "tls").is_some() || strip_prefix_ci(v, "ssl").is_some())
        || strip_prefix_ci(c, "client cn \"").is_some()
        || strip_prefix_ci(c, "no client certificate requested").is_some()
        || strip_prefix_ci(c, "client did not present a certificate").is_some()
}

/// A token of a `Received:` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    /// A word (a quoted local part `"..."@` inside it included whole).
    Word(&'a str),
    /// The inside of a parenthesized comment, nested comments included.
    Comment(&'a str),
    /// A top-level `;`.
    Semi,
}

/// Splits a `Received:` value into words, comments and `;`, in one pass. A quoted local part
/// (`"..."@`, in a word or a comment) is taken whole, so no `(`, `)`, `;` or space in it
/// counts; a `"` that does not open one is an ordinary character. A `\` escapes the next
/// character in a quoted part or a comment. An unclosed comment runs to the end.
///
/// Linear in the value: a `"` that opens nothing is remembered with how far its scan went (see
/// [`Quotes`]), so the `"`s it passed over are not scanned again (a word of `"\` repeated,
/// where every `"` outside a quoted part is ordinary but every one inside it escaped, made each
/// scan run to the end of the field: 128 KB cost 5 s).
fn tokens(s: &str) -> Vec<Tok<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quotes = Quotes::default();
    while i < b.len() {
        match b[i] {
            c if c.is_ascii_whitespace() || c == b')' => i += 1,
            b';' => {
                out.push(Tok::Semi);
                i += 1;
            }
            b'(' => {
                let start = i + 1;
                let mut depth = 1;
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        b'"' => i = quotes.end(b, i).unwrap_or(i + 1),
                        b'(' => {
                            depth += 1;
                            i += 1;
                        }
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            i += 1;
                        }
                        _ => i += 1,
                    }
                }
                let end = i.min(b.len());
                out.push(Tok::Comment(&s[start..end]));
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < b.len() {
                    match b[i] {
                        c if c.is_ascii_whitespace() || c == b'(' || c == b')' || c == b';' => break,
                        b'"' => i = quotes.end(b, i).unwrap_or(i + 1),
                        _ => i += 1,
                    }
                }
                out.push(Tok::Word(&s[start..i]));
            }
        }
    }
    out
}

/// Where quoted local parts end, for [`tokens`].
#[derive(Default)]
struct Quotes {
    /// Where the last scan that found no quoted part stopped (its closing `"`, or the end).
    opens_none_before: usize,
}

impl Quotes {
    /// When `b[open]` opens a quoted local part (`"..."` followed by `@`), the index after its
    /// closing quote. The scan stops at the next unescaped `"`. A `"` before the place where an
    /// earlier scan that found nothing stopped opens nothing either: that scan passed over it
    /// as an escaped character, so a scan from it goes the same way, from the next byte on, to
    /// the same closing `"`. Each byte is scanned once however many quotes the value holds.
    fn end(&mut self, b: &[u8], open: usize) -> Option<usize> {
        if open < self.opens_none_before {
            return None;
        }
        let mut i = open + 1;
        let found = loop {
            crate::work::add(1);
            match b.get(i) {
                None => break None,
                Some(b'\\') => i += 2,
                Some(b'"') if b.get(i + 1) == Some(&b'@') => break Some(i + 1),
                Some(b'"') => break None,
                Some(_) => i += 1,
            }
        };
        if found.is_none() {
            self.opens_none_before = i.min(b.len());
        }
        found
    }
}

/// Whether a `with` protocol is a mail retrieval (fetchmail's and getmail's names for them).
fn is_retrieval(protocol: &str) -> bool {
    matches!(
        protocol,
        "imap" | "imap4" | "imaps" | "imap4s" | "pop" | "pop2" | "pop3" | "pop3s" | "apop" | "rpop" | "kpop" | "sdps"
    )
}

fn qmail_rdns(name: &str) -> Rdns {
    if name.eq_ignore_ascii_case("unknown") {
        Rdns::Missing
    } else {
        Rdns::NotRecorded
    }
}

fn non_empty(s: String) -> Option<String> {
    let s = s.trim().trim_end_matches('.').to_string();
    (!s.is_empty()).then_some(s)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

fn word_at(s: &str) -> String {
    s.trim_start().split(|c: char| c.is_whitespace() || c == ')' || c == '(').next().unwrap_or("").to_string()
}

/// The first `[IP]` or `[IPv6:IP]` in `s`.
fn bracketed_ip(s: &str) -> Option<IpAddr> {
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let close = after.find(']')?;
        let inner = &after[..close];
        let inner = strip_prefix_ci(inner, "ipv6:").unwrap_or(inner);
        if let Ok(ip) = inner.trim().parse::<IpAddr>() {
            return Some(canonical(ip));
        }
        rest = &after[close..];
    }
    None
}

/// The last `[IP]` or `[IPv6:IP]` in `s`, with the position of its `[`.
fn last_bracketed_ip(s: &str) -> Option<(usize, IpAddr)> {
    let mut found = None;
    let mut from = 0;
    while let Some(open) = s[from..].find('[').map(|o| from + o) {
        let Some(close) = s[open + 1..].find(']').map(|c| open + 1 + c) else { break };
        let inner = &s[open + 1..close];
        let inner = strip_prefix_ci(inner, "ipv6:").unwrap_or(inner);
        if let Ok(ip) = inner.trim().parse::<IpAddr>() {
            found = Some((open, canonical(ip)));
        }
        from = close;
    }
    found
}

/// A group (or word) that is an IP address and nothing else (qmail, Exchange).
fn bare_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = strip_prefix_ci(s, "ipv6:").unwrap_or(s);
    s.parse::<IpAddr>().ok().map(canonical)
}

/// Whether a HELO name is an address literal or a bare address (`[192.0.2.1]`, `192.0.2.1`).
pub fn helo_ip(helo: &str) -> Option<IpAddr> {
    bracketed_ip(helo).or_else(|| bare_ip(helo))
}

/// Whether a reverse-DNS name looks like a dynamically assigned (consumer) address: words such as
/// dsl, dyn, pool, dhcp, cable, or the octets of the IP written into the name.
pub fn looks_dynamic(rdns: &str, ip: IpAddr) -> bool {
    const WORDS: &[&str] = &[
        "dsl",
        "adsl",
        "xdsl",
        "vdsl",
        "dyn",
        "dynamic",
        "dynip",
        "pool",
        "dhcp",
        "dialup",
        "dial",
        "ppp",
        "pppoe",
        "cable",
        "cpe",
        "broadband",
        "client",
        "customer",
        "user",
        "host",
        "ip",
        "static",
        "res",
        "residential",
        "home",
        "modem",
        "catv",
        "fibertel",
        "ftth",
        "wifi",
        "nat",
    ];
    let name = rdns.to_ascii_lowercase();
    // The host part only: the first two labels carry the pattern (`dsl-1-2-3-4.isp.example`).
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 3 {
        return false;
    }
    let head = labels[..labels.len() - 2].join(".");
    let has_word = head
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| WORDS.contains(&w) && !matches!(w, "host" | "ip" | "static" | "user" | "client" | "nat"));
    let octets_in_name = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            let dec: Vec<String> = o.iter().map(|b| b.to_string()).collect();
            let fwd = dec.join("-");
            let rev = dec.iter().rev().cloned().collect::<Vec<_>>().join("-");
            let h = head.replace(['.', '_', 'x'], "-");
            let hex = format!("{:02x}{:02x}{:02x}{:02x}", o[0], o[1], o[2], o[3]);
            h.contains(&fwd) || h.contains(&rev) || head.contains(&hex) || {
                // Three of the four octets in order (`ip-2-3-4.isp`, `c-1-2-3`).
                let three_f = dec[1..].join("-");
                let three_r = dec[..3].iter().rev().cloned().collect::<Vec<_>>().join("-");
                (h.contains(&three_f) || h.contains(&three_r)) && o[3] > 9
            }
        }
        IpAddr::V6(_) => false,
    };
    has_word || octets_in_name
}

/// An IPv4 address, for tests.
#[cfg(test)]
pub fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Relay {
        parse(&crate::message::unfold(s)).unwrap_or_else(|| panic!("no relay in {s}"))
    }

    #[test]
    fn postfix() {
        let r = p("from mail.klant.be (mail.klant.be [203.0.113.5])\r\n\tby mx.mijndomein.be (Postfix) with ESMTPS id 4Xy1Z2; Mon, 4 Nov 2024 10:00:00 +0100 (CET)");
        assert_eq!(r.ip, v4(203, 0, 113, 5));
        assert_eq!(r.helo.as_deref(), Some("mail.klant.be"));
        assert_eq!(r.rdns, Rdns::Name("mail.klant.be".into()));
        assert!(!r.authenticated);
        let r = p("from WIN-3KD8 (unknown [198.51.100.7]) by mx.mijndomein.be (Postfix) with ESMTP id 1; Mon, 4 Nov 2024 10:00:00 +0100");
        assert_eq!(r.rdns, Rdns::Missing);
        assert_eq!(r.helo.as_deref(), Some("WIN-3KD8"));
        let r = p("from mail.example (mail.example [IPv6:2001:db8::25]) by mx (Postfix) with ESMTPS id 2; Mon, 4 Nov 2024 10:00:00 +0100");
        assert_eq!(r.ip, "2001:db8::25".parse::<IpAddr>().unwrap());
        let r = p("from [192.168.1.20] (unknown [84.195.1.2]) (Authenticated sender: jan) by mx.mijndomein.be (Postfix) with ESMTPSA id 3; Mon, 4 Nov 2024 10:00:00 +0100");
        assert!(r.authenticated);
        assert_eq!(r.helo.as_deref(), Some("[192.168.1.20]"));
    }

    #[test]
    fn sendmail() {
        let r = p("from helo.example (IDENT:root@host-9.example.net [192.0.2.9] (may be forged)) by mail.example.org (8.15.2/8.15.2) with ESMTP id x1; Tue, 5 Nov 2024 01:02:03 GMT");
        assert_eq!(r.ip, v4(192, 0, 2, 9));
        assert_eq!(r.rdns, Rdns::Name("host-9.example.net".into()));
        assert_eq!(r.helo.as_deref(), Some("helo.example"));
        let r = p("from friendly ([192.0.2.10]) by mail.example.org (8.15.2/8.15.2) with SMTP id x2; Tue, 5 Nov 2024 01:02:03 GMT");
        assert_eq!(r.rdns, Rdns::NotRecorded);
    }

    #[test]
    fn exim() {
        let r = p("from mail.klant.be ([203.0.113.5]:53722 helo=smtp.klant.be)\n\tby mx.example with esmtps (TLS1.3) (Exim 4.96)\n\t(envelope-from <jan@klant.be>)\n\tid 1t8abc-000123-4x; Mon, 04 Nov 2024 10:00:00 +0000");
        assert_eq!(r.ip, v4(203, 0, 113, 5));
        assert_eq!(r.helo.as_deref(), Some("smtp.klant.be"));
        assert_eq!(r.rdns, Rdns::Name("mail.klant.be".into()));
        let r = p("from [198.51.100.77] (helo=ylmf-pc) by mx.example with esmtp (Exim 4.96) id 1t8; Mon, 04 Nov 2024 10:00:00 +0000");
        assert_eq!(r.rdns, Rdns::Missing);
        assert_eq!(r.helo.as_deref(), Some("ylmf-pc"));
    }

    #[test]
    fn exim_local_has_no_client() {
        assert_eq!(parse("from jan by mx.example with local (Exim 4.96) id 1; Mon, 04 Nov 2024 10:00:00 +0000"), None);
    }

    #[test]
    fn qmail() {
        let r =
            p("from unknown (HELO ylmf-pc) (198.51.100.9)\n  by mail.example.com with SMTP; 4 Nov 2024 10:00:00 -0000");
        assert_eq!(r.ip, v4(198, 51, 100, 9));
        assert_eq!(r.helo.as_deref(), Some("ylmf-pc"));
        assert_eq!(r.rdns, Rdns::Missing);
        let r = p("from mx1.sender.example (HELO mx1.sender.example) (192.0.2.44)\n  by mail.example.com with ESMTPS; 4 Nov 2024 10:00:00 -0000");
        assert_eq!(r.rdns, Rdns::NotRecorded);
        assert_eq!(parse("(qmail 1234 invoked by uid 1000); 4 Nov 2024 10:00:00 -0000"), None);
    }

    #[test]
    fn exchange_and_gmail() {
        let r = p("from AM0PR02MB1234.eurprd02.prod.outlook.com (2603:10a6:208:ac::17) by AM0PR02MB5678.eurprd02.prod.outlook.com (2603:10a6:208:ac::18) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8137.13; Mon, 4 Nov 2024 10:00:00 +0000");
        assert_eq!(r.ip, "2603:10a6:208:ac::17".parse::<IpAddr>().unwrap());
        assert_eq!(r.rdns, Rdns::NotRecorded);
        assert_eq!(r.helo.as_deref(), Some("AM0PR02MB1234.eurprd02.prod.outlook.com"));
        let r = p("from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])\n        by mx.google.com with SMTPS id a640c23a62f3a-a9e5;\n        Mon, 04 Nov 2024 01:00:00 -0800 (PST)");
        assert_eq!(r.ip, v4(209, 85, 220, 41));
        assert_eq!(r.rdns, Rdns::Name("mail-sor-f41.google.com".into()));
        assert_eq!(parse("by 2002:a05:6a10:a84c:b0:5a7:1234 with SMTP id b12csp123;\n        Mon, 4 Nov 2024 01:00:00 -0800 (PST)"), None);
    }

    #[test]
    fn first_untrusted_skips_own_hops() {
        let raw = b"Received: from localhost (localhost [127.0.0.1]) by mx.mijndomein.be (amavis) with ESMTP id 9; Mon, 4 Nov 2024 10:00:01 +0100\n\
Received: from mail.klant.be (mail.klant.be [203.0.113.5]) by mx.mijndomein.be (Postfix) with ESMTPS id 8; Mon, 4 Nov 2024 10:00:00 +0100\n\
Received: from [10.0.0.3] (pc.klant.lan [10.0.0.3]) by mail.klant.be (Postfix) with ESMTPSA id 7; Mon, 4 Nov 2024 09:59:59 +0100\n\
Subject: hi\n\nbody\n";
        let msg = Message::parse(raw, 1 << 20);
        let r = first_untrusted(&msg, &Networks::default()).unwrap();
        assert_eq!(r.ip, v4(203, 0, 113, 5));
        // The user's servers wrote the top two fields (the second records that relay).
        assert_eq!(own_fields(&msg, &Networks::default()), Some(2));
        let mut mine = Networks::default();
        mine.add("203.0.113.0/24").unwrap();
        // With that network trusted too, the next hop is private: nothing untrusted remains.
        assert_eq!(first_untrusted(&msg, &mine), None);
        assert_eq!(own_fields(&msg, &mine), None);
    }

    #[test]
    fn fetchmail_retrieval() {
        // The SpamAssassin corpus's 2002/2003 mail, fetched from dogma.slashnull.org by fetchmail.
        let r = p("from dogma.slashnull.org [212.17.35.15]\n\tby localhost with IMAP (fetchmail-5.9.0)\n\tfor jm@localhost (single-drop); Wed, 21 Aug 2002 13:33:03 +0100 (IST)");
        assert_eq!(r.ip, v4(212, 17, 35, 15));
        assert!(r.fetched && !r.authenticated);
        assert_eq!((r.helo, r.rdns), (None, Rdns::NotRecorded));
        let r = p("from pop.provider.example [198.51.100.110]\n\tby laptop.thuis with POP3 (fetchmail-6.4.37)\n\tfor <jan@localhost> (single-drop); Mon, 04 Nov 2024 10:00:00 +0100 (CET)");
        assert_eq!(r.ip, v4(198, 51, 100, 110));
        assert!(r.fetched);
        // The usual form with a retrieval protocol.
        let r = p("from imap.provider.example (imap.provider.example [198.51.100.111]) by laptop with IMAPS id 5; Mon, 04 Nov 2024 10:00:00 +0100");
        assert!(r.fetched);
        // An SMTP hop is not a retrieval, and the bare `from HOST [IP]` form stays unknown for it.
        assert!(!p("from mail.klant.be (mail.klant.be [203.0.113.5]) by mx with ESMTP id 1; Mon, 4 Nov 2024 10:00:00 +0100").fetched);
        assert_eq!(
            parse("from mail.klant.be [203.0.113.5] by mx with ESMTP id 1; Mon, 4 Nov 2024 10:00:00 +0100"),
            None
        );
        assert!(!p("from a.example (a.example [203.0.113.5]) (comment with IMAP) by mx with ESMTP id 1; Mon, 4 Nov 2024 10:00:00 +0100").fetched);
    }

    #[test]
    fn a_retrieval_is_the_users_own_hop() {
        let raw = b"Received: from localhost (localhost [127.0.0.1]) by phobos (Postfix) with ESMTP id 7; Wed, 21 Aug 2002 08:33:03 -0400\n\
Received: from dogma.slashnull.org [212.17.35.15]\n\tby localhost with IMAP (fetchmail-5.9.0)\n\tfor jm@localhost (single-drop); Wed, 21 Aug 2002 13:33:03 +0100\n\
Received: from dogma.slashnull.org (dogma.slashnull.org [212.17.35.15]) by dogma.slashnull.org (8.11.6) with ESMTP id 1; Wed, 21 Aug 2002 13:33:00 +0100\n\
Received: from xent.com ([64.161.22.236]) by dogma.slashnull.org (8.11.6/8.11.6) with ESMTP id g7; Wed, 21 Aug 2002 13:32:57 +0100\n\
Received: from forged.example [192.0.2.99] by localhost with IMAP (fetchmail-5.9.0); Wed, 21 Aug 2002 13:30:00 +0100\n\
Subject: hi\n\nbody\n";
        let msg = Message::parse(raw, 1 << 20);
        // The fetch hop and the mailbox server's own hop below it are the user's: the list
        // server that handed the message to the mailbox server is judged, and the retrieval
        // line a sender wrote below the real hops is never reached.
        assert_eq!(first_untrusted(&msg, &Networks::default()).unwrap().ip, v4(64, 161, 22, 236));
    }

    /// Attack report F10: the envelope recipient (`for <...>`), the envelope sender and the
    /// HELO are text the client chose; no marker, `by`, `with` or address in them counts.
    #[test]
    fn text_the_client_chose_decides_nothing() {
        // The report's field, exactly as Postfix 3.7 wrote it, and the chain it topped.
        let raw = b"Received: from mail.spammer.example (unknown [203.0.113.66])\n\tby mx.mijndomein.test (Postfix) with ESMTP id DD47B9CC651\n\tfor <\"(authenticated\"@mijndomein.test>; Thu,  3 Dec 2026 03:38:18 +0000 (UTC)\n\
Received: from mail.klant.example (mail.klant.example [198.51.100.10])\n\tby smtp.klant.example with ESMTPS id 77; Thu, 3 Dec 2026 02:59:58 +0100\n\
Subject: hello\n\nhi\n";
        let msg = Message::parse(raw, 1 << 20);
        assert_eq!(first_untrusted(&msg, &Networks::default()).unwrap().ip, v4(203, 0, 113, 66));
        assert_eq!(own_fields(&msg, &Networks::default()), Some(1));
        let real = v4(203, 0, 113, 66);
        for rcpt in [
            "<\"(authenticated\"@mijndomein.test>",
            "<\"jan+(authenticated\"@mijndomein.test>",
            "<\"x with esmtpa\"@mijndomein.test>",
            "<\"Authenticated sender: j\"@mijndomein.test>",
            "<\"jan+) by x with ESMTPSA (\"@mijndomein.test>",
            "<\"jan+\\\" (authenticated\"@mijndomein.test>",
            "<\"jan+x; by y with esmtpa\"@mijndomein.test>",
            "<jan@[198.51.100.10]>",
            "\"x by y with imap (\"@mijndomein.test",
        ] {
            let f = format!("from mail.spammer.example (unknown [203.0.113.66])\n\tby mx.mijndomein.test (Postfix) with ESMTP id DD47B9CC651\n\tfor {rcpt}; Thu,  3 Dec 2026 03:38:18 +0000 (UTC)");
            let r = p(&f);
            assert_eq!((r.ip, r.authenticated, r.fetched), (real, false, false), "{f}");
        }
        // The envelope sender in Exim's and Dovecot's `(envelope-from <...>)`.
        for f in [
            "from mail.spammer.example ([203.0.113.66]:4000 helo=x.example) by mx.example with esmtp (Exim 4.96) (envelope-from <\"a) by evil with esmtpa (\"@spam.example>) id 1t8; Thu, 3 Dec 2026 03:38:18 +0000",
            "from mx.example ([203.0.113.66]) by imap.example with LMTP id abc (envelope-from <\"a) by y with LMTPA (authenticated\"@spam.example>) for <jan@mijndomein.test>; Thu, 3 Dec 2026 03:38:18 +0000",
        ] {
            let r = p(f);
            assert_eq!((r.ip, r.authenticated, r.fetched), (real, false, false), "{f}");
        }
        // HELO forms an MTA that does not clean the HELO would write (the report's list).
        for f in [
            "from x.example with esmtpa (unknown [203.0.113.66]) by mx (Postfix) with ESMTP id 1; Thu, 3 Dec 2026 03:38:18 +0000",
            "from x.example with imap (unknown [203.0.113.66]) by mx (Postfix) with ESMTP id 1; Thu, 3 Dec 2026 03:38:18 +0000",
            "from x by y (unknown [203.0.113.66]) by mx (Postfix) with ESMTP id 1; Thu, 3 Dec 2026 03:38:18 +0000",
            "from (name [198.51.100.10]) (unknown [203.0.113.66]) by mx (Postfix) with ESMTP id 1; Thu, 3 Dec 2026 03:38:18 +0000",
            "from x (Authenticated sender: jan) (unknown [203.0.113.66]) by mx (Postfix) with ESMTP id 1; Thu, 3 Dec 2026 03:38:18 +0000",
            "from [198.51.100.10] (unknown [203.0.113.66]) by mx (Postfix) with ESMTP id 1; Thu, 3 Dec 2026 03:38:18 +0000",
            "from x; by y with esmtpa (unknown [203.0.113.66]) by mx (Postfix) with ESMTP id 1; Thu, 3 Dec 2026 03:38:18 +0000",
            "from unknown (HELO [198.51.100.10]) (203.0.113.66) by mail.example.com with SMTP; 3 Dec 2026 03:38:18 -0000",
            "from [203.0.113.66] (helo=[198.51.100.10]) by mx.example with esmtp (Exim 4.96) id 1t8; Thu, 3 Dec 2026 03:38:18 +0000",
            "from \"x (unknown [203.0.113.66]) by mx (Postfix) with ESMTP id 1 for <\"jan@mijndomein.test>; Thu, 3 Dec 2026 03:38:18 +0000",
        ] {
            let r = p(f);
            assert_eq!((r.ip, r.authenticated, r.fetched), (real, false, false), "{f}");
        }
        // TLS comments after the TCP-info (review R1): the client certificate's names are the
        // client's choice. The field exactly as Postfix 3.7.11 wrote it (smtpd_tls_ask_ccert and
        // smtpd_tls_received_header), a certificate name that closes the comment early, and
        // the other TLS forms of Postfix, Exim and Sendmail.
        for f in [
            "from mail.spammer.example (unknown [203.0.113.66])\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256\n\t client-signature RSA-PSS (2048 bits) client-digest SHA256)\n\t(Client CN \"[198.51.100.10]\", Issuer \"[198.51.100.10]\" (not verified))\n\tby mx.mijndomein.test (Postfix) with ESMTPS id 8E8CEA4612C\n\tfor <jan@mijndomein.test>; Thu,  3 Dec 2026 07:16:09 +0000 (UTC)",
            "from mail.spammer.example (unknown [203.0.113.66]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)) (Client CN \"x\") (unknown [198.51.100.10]) (\"\", Issuer \"x\" (not verified)) by mx (Postfix) with ESMTPS id 1; Thu, 3 Dec 2026 07:16:09 +0000",
            "from mail.spammer.example (unknown [203.0.113.66]) (using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)) (Client did not present a certificate) by mx (Postfix) with ESMTPS id 1; Thu, 3 Dec 2026 07:16:09 +0000",
            "from mail.spammer.example (unknown [203.0.113.66]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256) (No client certificate requested) by mx (Postfix) with ESMTPS id 1; Thu, 3 Dec 2026 07:16:09 +0000",
            "from mail.spammer.example (unknown [203.0.113.66]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)) (Client CN \"mail.klant.example\", Issuer \"R11\" (verified OK)) by mx (Postfix) with ESMTPS id 1; Thu, 3 Dec 2026 07:16:09 +0000",
            "from mail.spammer.example ([203.0.113.66]:53722 helo=[198.51.100.10]) by mx.example with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <a@spam.example>) id 1t8abc-000123-4x for jan@mijndomein.test; Thu, 3 Dec 2026 07:16:09 +0000",
            "from [198.51.100.10] (unknown [203.0.113.66]) by mail.example.org (8.17.1/8.17.1) with ESMTPS id 5B37G9x1 (version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NO) for <jan@mijndomein.test>; Thu, 3 Dec 2026 07:16:09 +0000",
        ] {
            let r = p(f);
            assert_eq!((r.ip, r.authenticated, r.fetched), (real, false, false), "{f}");
        }
        // Authentication written after the TLS comments still counts (Postfix's order).
        let r = p("from [192.168.1.20] (unknown [203.0.113.66]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)) (No client certificate requested) (Authenticated sender: jan) by mx (Postfix) with ESMTP id 1; Thu, 3 Dec 2026 07:16:09 +0000");
        assert_eq!((r.ip, r.authenticated), (real, true));
        // A field with no `by` part never makes the hop the user's own.
        let r = p("from x.example (unknown [203.0.113.66]) with ESMTPSA id 1 (Authenticated sender: j)");
        assert_eq!((r.ip, r.authenticated), (real, false));
    }

    #[test]
    fn the_envelope_recipient_of_the_for_clause() {
        let f = |s: &str| recipient(&crate::message::unfold(s));
        assert_eq!(f("from a (a [203.0.113.5]) by mx (Postfix) with ESMTP id 1\n\tfor <oud@mijn.example>; Thu, 3 Dec 2026 03:00:00 +0100").as_deref(), Some("oud@mijn.example"));
        assert_eq!(f("from a ([203.0.113.5]:1 helo=a) by mx with esmtp (Exim 4.96) id 1 for jan@mijn.example; Thu, 3 Dec 2026 03:00:00 +0000").as_deref(), Some("jan@mijn.example"));
        assert_eq!(f("from a (a [203.0.113.5]) by mx (Postfix) with ESMTP id 1\n\tfor <\"jan+x for <oud@mijn.example>\"@mijn.example>; Thu, 3 Dec 2026 03:00:00 +0100").as_deref(), Some("\"jan+x for <oud@mijn.example>\"@mijn.example"));
        assert_eq!(f("from for <oud@mijn.example> (a [203.0.113.5]) by mx (Postfix) with ESMTP id 1; Thu, 3 Dec 2026 03:00:00 +0100"), None);
    }

    /// Where each MTA writes that its client authenticated: these stay the user's own hops.
    #[test]
    fn authentication_where_the_mta_writes_it() {
        let auth = [
            // Postfix, smtpd_sasl_authenticated_header = yes, and by protocol alone.
            "from [192.168.1.20] (unknown [84.195.1.2]) (Authenticated sender: jan) by mx.mijndomein.be (Postfix) with ESMTPSA id 3; Mon, 4 Nov 2024 10:00:00 +0100",
            "from laptop (d54c3.isp.example [84.195.1.2]) by mx.mijndomein.be (Postfix) with ESMTPSA id 4Xy; Mon, 4 Nov 2024 10:00:00 +0100",
            // Postfix's comment without an RFC 3848 protocol (older versions).
            "from laptop (unknown [84.195.1.2]) (Authenticated sender: jan@mijndomein.be) by mx.mijndomein.be (Postfix) with ESMTP id 4Xy; Mon, 4 Nov 2024 10:00:00 +0100",
            // Sendmail.
            "from [192.168.1.20] (d54c3.isp.example [84.195.1.2]) (authenticated bits=0) by mail.example.org (8.15.2/8.15.2) with ESMTP id x1; Tue, 5 Nov 2024 01:02:03 GMT",
            "from [192.168.1.20] (d54c3.isp.example [84.195.1.2]) (authenticated bits=0) by mail.example.org (8.15.2/8.15.2) with ESMTPSA id x1 (version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NO) for <piet@example.net>; Tue, 5 Nov 2024 01:02:03 GMT",
            // Exim.
            "from d54c3.isp.example ([84.195.1.2]:53722 helo=[192.168.1.20])\n\tby mx.example with esmtpsa (TLS1.3) tls TLS_AES_256_GCM_SHA384\n\t(Exim 4.96)\n\t(envelope-from <jan@mijndomein.be>)\n\tid 1t8abc-000123-4x\n\tfor piet@example.net; Mon, 04 Nov 2024 10:00:00 +0000",
            // Dovecot's submission/LMTP with authentication, Courier.
            "from laptop ([84.195.1.2]) by mail.example with LMTPA id Gx (envelope-from <jan@mijndomein.be>) for <jan@mijndomein.be>; Mon, 04 Nov 2024 10:00:00 +0000",
            "from laptop (d54c3.isp.example [::ffff:84.195.1.2])\n  (AUTH: PLAIN jan, TLS: TLSv1.3,256bits,TLS_AES_256_GCM_SHA384)\n  by mail.example with UTF8SMTPSA; Mon, 04 Nov 2024 10:00:00 +0000",
        ];
        for f in auth {
            let r = p(f);
            assert_eq!((r.ip, r.authenticated), (v4(84, 195, 1, 2), true), "{f}");
        }
        let plain = [
            "from mail.klant.be (mail.klant.be [203.0.113.5]) by mx (Postfix) with ESMTPS id 1; Mon, 4 Nov 2024 10:00:00 +0100",
            "from mail.klant.be ([203.0.113.5]:53722 helo=smtp.klant.be) by mx.example with esmtps (TLS1.3) (Exim 4.96) (envelope-from <jan@klant.be>) id 1t8; Mon, 04 Nov 2024 10:00:00 +0000",
            "from mx.example ([203.0.113.5]) by imap.example with LMTP id Gx (envelope-from <jan@klant.be>) for <jan@mijndomein.be>; Mon, 04 Nov 2024 10:00:00 +0000",
            "from unknown (HELO mail.klant.be) (203.0.113.5) by mail.example.com with SMTP; 4 Nov 2024 10:00:00 -0000",
            "from EX01.klant.be (203.0.113.5) by EX02.mijndomein.be (10.0.0.2) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8137.13; Mon, 4 Nov 2024 10:00:00 +0000",
        ];
        for f in plain {
            let r = p(f);
            assert_eq!((r.ip, r.authenticated, r.fetched), (v4(203, 0, 113, 5), false, false), "{f}");
        }
    }

    /// Formats the structural reading added (corpus samples): qmail-ldap's bracketed address,
    /// CommuniGate's and others' `from [IP] (HELO name)`.
    #[test]
    fn qmail_ldap_and_communigate() {
        let r = p("from unknown (HELO [192.168.1.105]) ([66.93.225.166]) (envelope-sender <dbasinge@speakeasy.net>) by mail15.speakeasy.net (qmail-ldap-1.03) with SMTP for <rpm-list@freshrpms.net>; 9 Oct 2002 15:54:10 -0000");
        assert_eq!(r.ip, v4(66, 93, 225, 166));
        assert_eq!((r.helo.as_deref(), r.rdns), (Some("[192.168.1.105]"), Rdns::Missing));
        let r = p("from [216.23.191.127] (HELO mail.palmgear.com) by appereto.com (CommuniGate Pro SMTP 3.5.9) with ESMTP id 434609 for jm-palmgear@jmason.org; Sun, 09 Jun 2002 18:36:55 -0700");
        assert_eq!((r.ip, r.helo.as_deref()), (v4(216, 23, 191, 127), Some("mail.palmgear.com")));
        let r = p("from win2kpro ([192.168.100.11] [192.168.100.11]) by ns1.espoircompany.com (AvMailGate-2.0.0.6) id 09721-136129B5; Thu, 05 Sep 2002 18:18:44 -0400");
        assert_eq!(r.rdns, Rdns::NotRecorded);
    }

    /// A `"` outside a quoted part is ordinary, inside one a `\` escapes it: a word of `"\`
    /// repeated made every `"` scan on to the end of the field (quadratic: 128 KB of it cost
    /// 5 s). The quotes an earlier scan passed over are not scanned again.
    #[test]
    fn quotes_that_open_nothing_are_scanned_once() {
        let field = |n: usize| format!("from x {} (a [203.0.113.5]) by mx with ESMTP id 1; d", "\"\\".repeat(n));
        crate::work::assert_linear("Received quotes", 2000, field, |f| {
            assert_eq!(parse(f).map(|r| r.ip), Some(v4(203, 0, 113, 5)));
        });
        // What the memory skips is what a scan would find: a quoted part after escaped quotes.
        let f = "from a (a [203.0.113.5]) by mx with ESMTP id 1 for <\"x\\\" \"@mijn.example>; d";
        assert_eq!(recipient(f).as_deref(), Some("\"x\\\" \"@mijn.example"));
        let f = "from a \"\\\"x (a [203.0.113.5]) by mx with ESMTP id 1 for <\"j\"@mijn.example>; d";
        assert_eq!(recipient(f).as_deref(), Some("\"j\"@mijn.example"));
    }

    #[test]
    fn networks() {
        let mut n = Networks::default();
        assert!(n.contains(v4(127, 0, 0, 1)));
        assert!(n.contains(v4(192, 168, 3, 4)));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!n.contains(v4(203, 0, 113, 5)));
        n.add("2001:db8::/32").unwrap();
        assert!(n.contains("2001:db8:1::5".parse().unwrap()));
        assert!(n.add("10.0.0.0/33").is_err());
        assert!(n.add("mail.example").is_err());
    }

    #[test]
    fn dynamic_names() {
        let ip = v4(84, 195, 12, 34);
        assert!(looks_dynamic("84-195-12-34.dyn.isp.example", ip));
        assert!(looks_dynamic("34.12.195.84.cable.isp.example", ip));
        assert!(looks_dynamic("adsl-84-195-12-34.isp.example", ip));
        assert!(looks_dynamic("dhcp-077.pool.isp.example", ip));
        assert!(!looks_dynamic("mail.klant.be", ip));
        assert!(!looks_dynamic("mail-sor-f41.google.com", v4(209, 85, 220, 41)));
        assert!(!looks_dynamic("smtp.isp.example", ip));
    }
}
