//! Header tokens: the configured fields' words tagged by field (`subj:`, `mailer:`, `mid:`, `h:`)
//! and the tokens of an address field (`from:`, `rt:`, `sender:` names, address and domain).

use super::*;
use crate::message::Mailbox;

pub(super) fn header_tokens(msg: &Message, s: &TokenizerSettings, sink: &mut Sink) {
    for field in &s.headers {
        let f = field.to_ascii_lowercase();
        if f.starts_with("x-spam-") {
            continue; // never evidence: senders forge them and our own Junk carries them
        }
        for (i, h) in msg.headers.iter().enumerate().filter(|(_, h)| h.name.eq_ignore_ascii_case(&f)) {
            let v = h.text.as_str();
            match f.as_str() {
                "subject" => {
                    for w in words(v) {
                        if (2..=30).contains(&w.chars().count()) && !is_noise(w) {
                            sink.push_prefixed("subj:", w);
                        }
                    }
                    if v.chars().filter(|&c| chars::is_alphabetic(c)).count() > 6
                        && v.chars().filter(|&c| chars::is_alphabetic(c)).all(|c| !c.is_lowercase())
                    {
                        sink.push("subj:ALLCAPS");
                    }
                }
                "from" | "reply-to" | "sender" => {
                    let tag = match f.as_str() {
                        "from" => "from",
                        "reply-to" => "rt",
                        _ => "sender",
                    };
                    address_tokens(msg.addresses.of_field(i), tag, sink);
                }
                "message-id" => {
                    let id = v.trim().trim_start_matches('<').trim_end_matches('>');
                    match id.rsplit_once('@') {
                        Some((_, dom)) if !dom.is_empty() => {
                            sink.push_parts(&["mid:d:", crate::domain::registrable(&dom.to_ascii_lowercase())])
                        }
                        _ => sink.push("mid:malformed"),
                    }
                }
                "x-mailer" | "user-agent" => {
                    for w in words(v).take(4) {
                        if w.len() >= 2 && !w.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                            sink.push(&format!("mailer:{}", w.to_lowercase()));
                        }
                    }
                }
                other => {
                    for w in words(v).take(20) {
                        if (3..=20).contains(&w.len()) && !is_noise(w) {
                            sink.push(&format!("h:{other}:{}", w.to_lowercase()));
                        }
                    }
                }
            }
        }
    }
    mime_header_tokens(msg, sink);
    if msg.header("message-id").is_none() && s.headers.iter().any(|h| h.eq_ignore_ascii_case("message-id")) {
        sink.push("mid:missing");
    }
}

/// The MIME fields every message has, wherever it came from: the words of the top-level
/// Content-Type, Content-Transfer-Encoding, Content-Disposition and MIME-Version values, case
/// kept, `-` and `_` inside words kept (`h:content-type:NextPart_000_0004_01C2A9F2`). They name
/// the program that built the message the way its boundary and parameters are written, which
/// bogofilter's tokens see and the `ct:`/`part:` tokens do not; on the SpamAssassin corpus they
/// halved Bayes' 1-ROCA on the reverse cross-year and time-ordered splits (docs/benchmarks.md).
pub(super) fn mime_header_tokens(msg: &Message, sink: &mut Sink) {
    const FIELDS: [&str; 4] = ["content-type", "content-transfer-encoding", "content-disposition", "mime-version"];
    for h in &msg.headers {
        let Some(name) = FIELDS.iter().find(|f| h.name.eq_ignore_ascii_case(f)) else {
            continue;
        };
        let value: &str = h.raw.as_ref();
        let words = value
            .split(|c: char| !(c.is_alphanumeric() || matches!(c, '$' | '\'' | '!' | '-' | '_')))
            .map(|w| w.trim_matches(|c: char| matches!(c, '\'' | '!' | '-' | '_')))
            .filter(|w| (3..=30).contains(&w.len()) && !w.bytes().all(|b| b.is_ascii_digit()));
        for w in words.take(20) {
            sink.push_parts(&["h:", name, ":", w]);
        }
    }
}

/// At most this many domain labels and as many local-part words of one address.
const MAX_ADDRESS_WORDS: usize = 10;

/// The mailboxes of an address field (`Message::addresses`, parsed once), at most
/// MAX_ADDRESS_WORDS of them: each one's name words, its address, registrable domain, every
/// label of the domain (`from:h:lists`, `from:h:sourceforge`, `from:h:net`) and the words of
/// the local part (`from:l:newsletter`); `from:noaddr` when none has an address.
///
/// The labels and local-part words are what bogofilter's tokens see of an address (it splits
/// the field into words) and spamfilt's did not: the mail host's name (`lists`, `mail`,
/// `bounce`), the top-level domain, a subdomain that changes with every campaign while its
/// words do not. On the SpamAssassin corpus they lowered Bayes' 1-ROCA on all nine splits of
/// `examples/fusion_dump.rs` (docs/benchmarks.md, "The Bayes tokens"). They are as safe for ham
/// learned from a Sent folder as the address itself: From is in every message, sent or received.
pub(super) fn address_tokens<'m>(mailboxes: impl Iterator<Item = Mailbox<'m>>, tag: &str, sink: &mut Sink) {
    let mut any = false;
    for m in mailboxes.take(MAX_ADDRESS_WORDS) {
        let name = m.name.to_lowercase();
        for w in words(&name) {
            if (2..=20).contains(&w.chars().count()) && !is_noise(w) {
                sink.push_parts(&[tag, ":n:", w]);
            }
        }
        let Some((local, dom)) = m.parts() else { continue };
        any = true;
        sink.push_parts(&[tag, ":a:", m.address]);
        sink.push_parts(&[tag, ":d:", crate::domain::registrable(dom)]);
        for label in dom.split('.').filter(|l| !l.is_empty()).take(MAX_ADDRESS_WORDS) {
            sink.push_parts(&[tag, ":h:", label]);
        }
        let local_words = local.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() >= 3 && !is_noise(w));
        for w in local_words.take(MAX_ADDRESS_WORDS) {
            sink.push_parts(&[tag, ":l:", w]);
        }
        if local.len() > 16 || local.bytes().filter(u8::is_ascii_digit).count() >= 4 {
            sink.push_parts(&[tag, ":local:odd"]);
        }
    }
    if !any {
        sink.push_parts(&[tag, ":noaddr"]);
    }
}
