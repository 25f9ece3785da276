//! Learning: what training one message means for the database and its ledger.
//!
//! Every learned message is recorded in the ledger by a digest of its content, so that learning
//! it again in the same class does nothing, learning it in the other class moves it (the user
//! corrected a mistake), and forgetting it undoes exactly what was learned.
//!
//! The digest covers what identifies a message wherever it is stored: Message-ID, Date, From,
//! To and Subject, and the body with line ends normalized. Trace fields that delivery adds
//! (Received, Delivered-To, Return-Path, our own X-Spam-*) and CRLF-versus-LF storage do not
//! change it, so a message learned from a Maildir file is recognized when it comes back through
//! IMAP.

use sha2::{Digest as _, Sha256};

use std::net::IpAddr;

use crate::features::{self, TokenizerSettings};
use crate::lists;
use crate::lr;
use crate::message::Message;
use crate::received::{self, Networks};
use crate::store::reputation::{Reputation, ReputationLookup};
use crate::store::{Class, Digest, Learned, Snapshot};

/// What happened to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Newly learned.
    Learned,
    /// Already learned in this class: nothing changed.
    AlreadyKnown,
    /// Had been learned in the other class: moved.
    Moved,
    /// Forgotten (unlearned).
    Forgotten,
    /// `forget` of a message that was never learned.
    NotKnown,
}

/// A message prepared for learning: its digest and token hashes, and what the reputation
/// database learns from it.
pub struct Prepared {
    pub digest: Digest,
    pub hashes: Vec<u64>,
    /// Where the trace tokens (the gate's marker, then the Received words) start in `hashes`:
    /// `hashes.len()` when the message has no Received field.
    pub trace: usize,
    /// The first relay outside the trusted networks (`None`: the message came from the user's
    /// own network or client).
    pub origin: Option<IpAddr>,
    /// Who the user wrote to, when the user wrote the message (no untrusted relay, and
    /// `lists::written_by_user`): To, Cc, Bcc, less the writer's own addresses. Learned as
    /// ham, these become known correspondents.
    pub sent_to: Vec<String>,
    /// The user's own addresses, when the user wrote the message: its From and Sender. Learned
    /// as ham, these are recorded as the user's own, never a known correspondent.
    pub own: Vec<String>,
    /// The LR features (see `lr`).
    pub lr: Vec<u32>,
    /// The message came through a mailing list (see `via_mailing_list`): its relay is the list
    /// server, which carries the subscribers' good mail too, so spam learned from it does not
    /// count against that relay (ham still does: it makes the server a known shared relay).
    pub via_list: bool,
    /// The From address, lower-cased, when the message came through an untrusted relay and it
    /// is not an address the message was delivered to (the user's own): with the relay's block
    /// it is a learned sender (`Reputation::count_sender`).
    pub from: Option<String>,
}

/// Parses and tokenizes raw message bytes the same way scoring does.
pub fn prepare(raw: &[u8], scan_limit: usize, tok: &TokenizerSettings, trusted: &Networks) -> Prepared {
    let msg = Message::parse(raw, scan_limit);
    let tokens = features::tokenize(&msg, tok);
    let trace = tokens.trace_start();
    let hashes = tokens.into_hashes();
    let origin = received::first_untrusted(&msg, trusted).map(|r| r.ip);
    let written = origin.is_none() && lists::written_by_user(&msg);
    let (sent_to, own) =
        if written { (lists::correspondents(&msg), lists::writer(&msg)) } else { (Vec::new(), Vec::new()) };
    let shape = lr::Shape::default();
    let lr = lr::features(&lr::view(&msg, &tok.headers, &shape), &shape);
    let from = origin.and(msg.first_address("from")).map(str::to_ascii_lowercase).filter(|f| {
        // Spam forged from the user's own address must not make it a learned sender.
        !f.is_empty() && !lists::delivered_to(&msg).contains(f)
    });
    Prepared { digest: digest(&msg), hashes, trace, origin, sent_to, own, lr, via_list: via_mailing_list(&msg), from }
}

/// The hash of the Received words' gate marker (`features::TRACE_MARKER`), the first of a
/// message's trace tokens when it has a Received field.
pub fn trace_marker() -> u64 {
    crate::store::token_hash(features::TRACE_MARKER)
}

impl Prepared {
    /// Whether the message has a Received field: it is learned with the gate's marker.
    pub fn received(&self) -> bool {
        self.trace < self.hashes.len()
    }

    /// The ledger entry of this message learned as `class`.
    fn entry(&self, class: Class) -> Learned {
        Learned { class, received: Some(self.received()) }
    }
}

/// Whether a message came through a mailing list: `List-Id` (RFC 2919) and one more field that
/// list software writes (`List-Post`, `X-BeenThere`, `X-Mailman-Version`, `Mailing-List`).
/// A spammer can write these too; then its spam does not count against its own address (the
/// content, Bayes and LR still learn it): the price of not marking the lists one reads.
pub fn via_mailing_list(msg: &Message) -> bool {
    msg.header("list-id").is_some()
        && ["list-post", "x-beenthere", "x-mailman-version", "mailing-list"].iter().any(|h| msg.header(h).is_some())
}

/// The content digest (see the module notes).
pub fn digest(msg: &Message) -> Digest {
    let mut h = Sha256::new();
    for name in ["message-id", "date", "from", "to", "subject"] {
        h.update(name.as_bytes());
        h.update(b":");
        if let Some(v) = msg.header(name) {
            h.update(v.trim().as_bytes());
        }
        h.update(b"\n");
    }
    let body = msg.raw_body();
    let end = body.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |p| p + 1);
    for chunk in body[..end].split(|&b| b == b'\r') {
        h.update(chunk);
    }
    let full = h.finalize();
    let mut d = [0u8; 16];
    d.copy_from_slice(&full[..16]);
    d
}

/// Learns one message as `class`, consulting and updating the ledger.
pub fn learn(snap: &mut Snapshot, m: &Prepared, class: Class, today: u32) -> Outcome {
    match snap.learned(&m.digest) {
        Some(was) if was.class == class => Outcome::AlreadyKnown,
        Some(was) => {
            undo(snap, m, was);
            snap.learn(&m.hashes, class, today);
            snap.set_ledger(m.digest, Some(m.entry(class)));
            snap.queue_lr(&m.digest, &m.lr, Some(was.class), Some(class));
            Outcome::Moved
        }
        None => {
            snap.learn(&m.hashes, class, today);
            snap.set_ledger(m.digest, Some(m.entry(class)));
            snap.queue_lr(&m.digest, &m.lr, None, Some(class));
            Outcome::Learned
        }
    }
}

/// Takes back the counts of a message learned as `was`, through the copy `m` (a move or a
/// `forget` is given a copy, not necessarily the one learned: the Sent copy of a message learned
/// from the inbox, a copy delivered again). The tokens before the trace tokens are the same in
/// every copy; the trace tokens follow the ledger: a message learned without Received fields
/// gives back none of the copy's, and one learned with them gives back the gate's marker even
/// through a copy without any (and that copy's Received words, the learned copy's when the
/// fields are the same; the words of fields that differ, or of a copy without them, cannot be
/// known: they stay counted, as they did before). An entry from before the ledger recorded this
/// takes back the copy's tokens, as then.
fn undo(snap: &mut Snapshot, m: &Prepared, was: Learned) {
    match was.received {
        None => snap.unlearn(&m.hashes, was.class),
        Some(false) => snap.unlearn(&m.hashes[..m.trace], was.class),
        Some(true) => {
            snap.unlearn(&m.hashes, was.class);
            if !m.received() {
                snap.unlearn_tokens(&[trace_marker()], was.class);
            }
        }
    }
}

/// Learns one message and records what it says about its sender: the relay's spam and ham
/// counts follow the ledger (a move takes the count from the other class), and the people the
/// user wrote to become known correspondents.
pub fn learn_with_sender(
    snap: &mut Snapshot,
    rep: &mut Reputation,
    m: &Prepared,
    class: Class,
    today: u32,
    now: u64,
) -> Outcome {
    let before = snap.learned(&m.digest);
    let o = learn(snap, m, class, today);
    record_sender(rep, m, before, Some(class), now);
    o
}

/// Forgets one message and takes back its sender counts.
pub fn forget_with_sender(snap: &mut Snapshot, rep: &mut Reputation, m: &Prepared, now: u64) -> Outcome {
    let before = snap.learned(&m.digest);
    let o = forget(snap, m);
    record_sender(rep, m, before, None, now);
    o
}

/// The reputation records `record_sender` may change for `m`: its own addresses, its relay,
/// its learned sender and the people it was written to.
pub fn sender_keys(m: &Prepared) -> Vec<crate::store::reputation::Key> {
    use crate::store::reputation::{address_key, ip_key, sender_key};
    let addrs = m.own.iter().chain(&m.sent_to).map(|a| address_key(a));
    let learned = m.origin.zip(m.from.as_deref()).map(|(ip, f)| sender_key(f, ip));
    let mut keys: Vec<_> = m.origin.map(ip_key).into_iter().chain(learned).chain(addrs).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn record_sender(rep: &mut Reputation, m: &Prepared, was: Option<Learned>, after: Option<Class>, now: u64) {
    let before = was.map(|l| l.class);
    if after == Some(Class::Ham) {
        // Also when the message was learned before: training the Sent folder again marks the
        // addresses it was written from as the user's own in a database that learned them as
        // correspondents (see `Reputation::add_own`).
        for addr in &m.own {
            rep.add_own(addr, now);
        }
    }
    if before == after {
        return;
    }
    if let Some(ip) = m.origin {
        // Spam a mailing list delivered says nothing about the list server (see `via_list`).
        let counts = |c: &Class| !(m.via_list && *c == Class::Spam);
        // A message learned without Received fields counted no relay: the copy in hand's (the
        // copy that came back of a message learned from the Sent folder) is not taken back.
        let counted = was.is_none_or(|l| l.received != Some(false));
        if let Some(b) = before.filter(counts).filter(|_| counted) {
            rep.count_learned(ip, b == Class::Spam, -1, now);
        }
        if let Some(a) = after.filter(counts) {
            rep.count_learned(ip, a == Class::Spam, 1, now);
        }
        // The learned sender: its From through this relay's block, spam counted always (spam
        // through a list with a member's From is evidence against that sender and list). One of
        // the user's own addresses never is one.
        if let Some(from) = m.from.as_deref().filter(|f| !rep.own_address(f)) {
            if let Some(b) = before.filter(|_| counted) {
                rep.count_sender(from, ip, b == Class::Spam, -1, now);
            }
            if let Some(a) = after {
                rep.count_sender(from, ip, a == Class::Spam, 1, now);
            }
        }
    }
    // Correspondents follow the ledger as the relay's counts do: a message unlearned as ham
    // (moved or forgotten) takes back the correspondents it made.
    if before == Some(Class::Ham) {
        for addr in &m.sent_to {
            rep.take_correspondent(addr);
        }
    }
    if after == Some(Class::Ham) {
        for addr in &m.sent_to {
            rep.add_correspondent(addr, now);
        }
    }
}

/// Unlearns one message, if the ledger has it.
pub fn forget(snap: &mut Snapshot, m: &Prepared) -> Outcome {
    match snap.learned(&m.digest) {
        Some(was) => {
            undo(snap, m, was);
            snap.set_ledger(m.digest, None);
            snap.queue_lr(&m.digest, &m.lr, Some(was.class), None);
            Outcome::Forgotten
        }
        None => Outcome::NotKnown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_from_before_the_flag_is_undone_from_the_copy_in_hand() {
        let bare = "From: a@b.example\nTo: c@d.example\nSubject: hi\nMessage-ID: <1@b>\n\nhello there\n";
        let raw = format!("Received: from x (x [127.0.0.1]) by mx.d.example with ESMTP; 1 Dec 2026\n{bare}");
        let tok = TokenizerSettings::default();
        let nets = Networks::default();
        let (got, sent) =
            (prepare(raw.as_bytes(), 1 << 20, &tok, &nets), prepare(bare.as_bytes(), 1 << 20, &tok, &nets));
        assert_eq!((got.digest, got.received(), sent.received()), (sent.digest, true, false));
        let marker = trace_marker();
        let count = |s: &Snapshot| s.token(marker).map_or(0, |r| r.ham);
        // An old ledger entry (no flag): forgetting through the copy without Received fields
        // leaves the marker counted, as before.
        let mut old = Snapshot::default();
        old.learn(&got.hashes, Class::Ham, 20_000);
        old.set_ledger(got.digest, Some(Class::Ham.into()));
        assert_eq!(forget(&mut old, &sent), Outcome::Forgotten);
        assert_eq!(count(&old), 1);
        // An entry that says: the marker goes with it.
        let mut new = Snapshot::default();
        assert_eq!(learn(&mut new, &got, Class::Ham, 20_000), Outcome::Learned);
        assert_eq!(new.learned(&got.digest), Some(Learned { class: Class::Ham, received: Some(true) }));
        assert_eq!(forget(&mut new, &sent), Outcome::Forgotten);
        assert_eq!(count(&new), 0);
    }

    /// The learned sender follows the ledger: a move takes the ham back and counts the spam, a
    /// forget takes it back; a From the message was delivered to (the user's own) is none.
    #[test]
    fn the_learned_sender_follows_the_ledger() {
        use crate::store::reputation::ReputationLookup;
        let tok = TokenizerSettings::default();
        let nets = Networks::default();
        let via = "Received: from m.example (m.example [198.51.100.7]) by mx.mijn.be with ESMTP; 1 Dec 2026\n";
        let m =
            prepare(format!("{via}From: Nieuws <nieuws@winkel.example>\n\nsale\n").as_bytes(), 1 << 20, &tok, &nets);
        assert_eq!(m.from.as_deref(), Some("nieuws@winkel.example"));
        let (mut snap, mut rep) = (Snapshot::default(), Reputation::default());
        let ip = crate::received::v4(198, 51, 100, 99);
        let counts = |rep: &Reputation| rep.learned_sender("nieuws@winkel.example", ip).map(|l| (l.ham, l.spam));
        assert_eq!(learn_with_sender(&mut snap, &mut rep, &m, Class::Ham, 20_000, 1), Outcome::Learned);
        assert_eq!(counts(&rep), Some((1, 0)));
        assert_eq!(learn_with_sender(&mut snap, &mut rep, &m, Class::Ham, 20_000, 2), Outcome::AlreadyKnown);
        assert_eq!(counts(&rep), Some((1, 0)));
        assert_eq!(learn_with_sender(&mut snap, &mut rep, &m, Class::Spam, 20_000, 3), Outcome::Moved);
        assert_eq!(counts(&rep), Some((0, 1)));
        assert_eq!(forget_with_sender(&mut snap, &mut rep, &m, 4), Outcome::Forgotten);
        assert_eq!(counts(&rep), None);
        let own = format!("{via}Delivered-To: ik@mijn.be\nFrom: ik@mijn.be\n\nloans\n");
        assert_eq!(prepare(own.as_bytes(), 1 << 20, &tok, &nets).from, None);
        // No untrusted relay: nothing to tie a sender to.
        let local = prepare(
            b"Received: from x (x [10.0.0.2]) by mx; 1 Dec 2026\nFrom: a@b.example\n\nhi\n",
            1 << 20,
            &tok,
            &nets,
        );
        assert_eq!(local.from, None);
    }

    #[test]
    fn digest_ignores_trace_headers_and_line_ends() {
        let a = b"Received: from x\nMessage-ID: <1@x>\nSubject: hi\n\nbody line\n";
        let b =
            b"Return-Path: <a@b>\r\nX-Spam-Status: Yes\r\nMessage-ID: <1@x>\r\nSubject: hi\r\n\r\nbody line\r\n\r\n";
        let da = digest(&Message::parse(a, 1 << 20));
        let db = digest(&Message::parse(b, 1 << 20));
        assert_eq!(da, db);
        let c = b"Message-ID: <1@x>\nSubject: hi\n\nother body\n";
        assert_ne!(da, digest(&Message::parse(c, 1 << 20)));
    }
}
