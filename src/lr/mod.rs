//! The second classifier: on-line logistic regression over hashed byte n-grams. Pure: no I/O.
//!
//! What won the TREC 2005–2007 spam tracks (Goodman & Yih 2006, Cormack's wat filters): each
//! message becomes a set of binary features, the hashes of every overlapping `window`-byte
//! slice of its first `max_bytes` bytes; the model is one weight per hash bucket (a fixed-size
//! table, so its size never grows with what was learned); the spam log-odds of a message is the
//! sum of its features' weights, and learning one message moves each of its weights by
//! `rate × (y − p)` (y = 1 for spam, 0 for ham; p the current probability), at once.
//!
//! **The message view** is what is safe when ham is learned from a Sent folder (the reasoning
//! of the Bayes header selection in `features`): only the header fields Bayes tokenizes
//! (Subject, From, Reply-To, Sender, X-Mailer, User-Agent, Message-ID's domain, Organization,
//! or what `[tokenizer] headers` says) plus the MIME fields that every message has
//! (Content-Type, Content-Transfer-Encoding, MIME-Version). Trace fields (Received,
//! Return-Path, Delivered-To, X-Original-To, Date, Message-ID's random part, To, Cc) and every
//! `X-Spam-*` field never enter it, so a message's features do not change with how it was
//! delivered or stored. Line ends and runs of white space in header values are normalized.
//! The body is the raw body (transfer-encoded as sent) with CR removed, then lower-cased.
//!
//! Weights learned at one site do not travel to another: there is no starter model, and the
//! fused score gives LR a voice that grows with what the user has trained (see `scoring`).

use serde::Deserialize;

use crate::message::Message;

/// The hash table size as a power of two (2^bits weights).
pub const DEFAULT_BITS: u8 = 18;
/// The n-gram length in bytes.
pub const DEFAULT_WINDOW: usize = 4;
/// Bytes of the view that are covered.
pub const DEFAULT_MAX_BYTES: usize = 3000;
/// The learning rate (see docs/benchmarks.md for why not the literature's 0.002: a user's
/// training set is hundreds to thousands of messages, not a stream of tens of thousands).
pub const DEFAULT_RATE: f32 = 0.02;
/// Passes over the messages a training run learns (the first in shuffled order, the rest in
/// the same order), each learning only what is near error (see [`Rule`]).
pub const PASSES: usize = 5;
/// Train on or near error (TONE; Sculley & Wachman 2007, the TREC spam-track filters): in a run
/// that learns both classes, a message is learned, in the first pass as in the later ones, only
/// while the model has it on the wrong side or within this margin (log-odds) of it. After one
/// step a message is usually tens of log-odds on its side, so the later passes' steps were
/// nearly nothing and cost a whole pass of writes each (see docs/benchmarks.md for the margins
/// measured).
pub const MARGIN: f64 = 5.0;
/// The margin of a run that learns one class only (see [`Rule`]).
pub const ONE_CLASS_MARGIN: f64 = 1.0;

/// How a training run learns (see docs/benchmarks.md, "Training in runs of one class").
///
/// In a run of both classes each class holds the weights of the features every message shares
/// (the MIME fields, the common words: in effect a bias) against the other, so a message is
/// learned while within [`MARGIN`] of the wrong side, with the full gradient step. A run of one
/// class (`train --ham` of a Sent folder alone, a nightly `purge`, the honeypot queue,
/// IMAPSieve's one message) has nothing to hold them: every step also moves the other class's
/// mail towards this class, and the passes after the first pushed every learned message to the
/// margin. So a run of one class learns a message only while it is within
/// [`ONE_CLASS_MARGIN`] of the wrong side, and each step stops where the message reaches that
/// margin (the smallest change that puts it on its side, as a passive-aggressive learner's):
/// what it moves the other class's mail by is bounded by how wrong the model was about what it
/// learned, not by the learning rate times ~3,000 features.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// Learn only while the message is on the wrong side or within this (log-odds) of it.
    pub margin: f64,
    /// A step stops where the message reaches `margin` on its side.
    pub clip: bool,
}

impl Rule {
    /// A run of both classes.
    pub const BOTH: Rule = Rule { margin: MARGIN, clip: false };
    /// A run of one class.
    pub const ONE_CLASS: Rule = Rule { margin: ONE_CLASS_MARGIN, clip: true };

    /// The rule of a run that learns ham (`ham`) and spam (`spam`); a run that only forgets
    /// undoes by [`Rule::BOTH`].
    pub fn for_run(ham: bool, spam: bool) -> Rule {
        if ham != spam {
            Rule::ONE_CLASS
        } else {
            Rule::BOTH
        }
    }
}

/// The seed of the training order.
pub const SHUFFLE_SEED: u64 = 0x5eed_1a7e;

/// Header fields that are part of every message wherever it came from (MIME structure).
const MIME_FIELDS: [&str; 3] = ["content-type", "content-transfer-encoding", "mime-version"];

/// How messages become features. Fixed for a weight table (recorded in its header as a
/// fingerprint: weights learned with other parameters mean nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub bits: u8,
    pub window: usize,
    pub max_bytes: usize,
    pub lowercase: bool,
    pub decoded_body: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            bits: DEFAULT_BITS,
            window: DEFAULT_WINDOW,
            max_bytes: DEFAULT_MAX_BYTES,
            lowercase: true,
            decoded_body: false,
        }
    }
}

impl Shape {
    pub fn size(&self) -> usize {
        1usize << self.bits
    }

    /// A fingerprint of how features are made (the view's version and these parameters).
    pub fn fingerprint(&self) -> u64 {
        const VIEW_VERSION: u64 = 1;
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for v in [
            VIEW_VERSION,
            self.bits as u64,
            self.window as u64,
            self.max_bytes as u64,
            self.lowercase as u64,
            self.decoded_body as u64,
        ] {
            h = (h ^ v).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
}

/// The bytes of a message LR looks at (see the module notes). `headers` are the field names
/// (lower case) the Bayes tokenizer reads; `X-Spam-*` is left out whatever they say.
pub fn view(msg: &Message, headers: &[String], shape: &Shape) -> Vec<u8> {
    let max = shape.max_bytes;
    let mut out = Vec::with_capacity(max + 64);
    for h in &msg.headers {
        if out.len() >= max {
            break;
        }
        let name = h.name.as_ref();
        let wanted = MIME_FIELDS.iter().any(|f| name.eq_ignore_ascii_case(f))
            || headers.iter().any(|f| name.eq_ignore_ascii_case(f));
        if !wanted || name.len() >= 7 && name[..7].eq_ignore_ascii_case("x-spam-") {
            continue;
        }
        push_lower(&mut out, name.as_bytes(), true);
        out.extend_from_slice(b": ");
        let value = h.raw.as_ref().trim();
        if name.eq_ignore_ascii_case("message-id") {
            // Only the domain: the local part is random (and absent from nothing).
            let id = value.trim_start_matches('<').trim_end_matches('>');
            let dom = id.rsplit_once('@').map_or("", |(_, d)| d);
            push_lower(&mut out, dom.as_bytes(), true);
        } else {
            let mut space = false;
            for &b in value.as_bytes() {
                if b.is_ascii_whitespace() {
                    space = true;
                    continue;
                }
                if space {
                    out.push(b' ');
                    space = false;
                }
                out.push(if shape.lowercase { b.to_ascii_lowercase() } else { b });
            }
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    if shape.decoded_body {
        for part in &msg.parts {
            if out.len() >= max {
                break;
            }
            out.extend_from_slice(part.content_type.as_bytes());
            out.push(b'\n');
            match &part.body {
                crate::message::Body::Text(t) | crate::message::Body::Html(t) => {
                    let room = max.saturating_sub(out.len());
                    let t = t.as_bytes();
                    push_body(&mut out, &t[..t.len().min(room * 2)], shape.lowercase);
                }
                crate::message::Body::Binary { .. } => {}
            }
            out.push(b'\n');
        }
    } else {
        let body = msg.raw_body();
        let room = max.saturating_sub(out.len());
        push_body(&mut out, &body[..body.len().min(room * 2)], shape.lowercase);
    }
    out.truncate(max);
    out
}

fn push_lower(out: &mut Vec<u8>, bytes: &[u8], lower: bool) {
    out.extend(bytes.iter().map(|b| if lower { b.to_ascii_lowercase() } else { *b }));
}

/// Body bytes without CR (CRLF and LF storage give the same view).
fn push_body(out: &mut Vec<u8>, bytes: &[u8], lower: bool) {
    out.extend(bytes.iter().filter(|&&b| b != b'\r').map(|b| if lower { b.to_ascii_lowercase() } else { *b }));
}

/// The feature indices of a view: the hash bucket of every `window`-byte slice, each once, in
/// ascending order (what training packs, see [`pack`]). Read off the de-duplicating bitset in
/// order, not sorted; a second bitset marks its words that have a bit set, so that reading
/// visits those only (a message sets about one word in four of the 4,096 of the default table).
pub fn features(view: &[u8], shape: &Shape) -> Vec<u32> {
    with_seen(shape, |seen, used| {
        let mut n = 0;
        walk(view, shape, |idx| {
            let w = idx as usize / 64;
            seen[w] |= 1 << (idx % 64);
            used[w / 64] |= 1 << (w % 64);
            n += 1;
        });
        let mut out = Vec::with_capacity(n);
        for (u, mask) in used.iter_mut().enumerate() {
            let mut m = std::mem::take(mask);
            while m != 0 {
                let w = u * 64 + m.trailing_zeros() as usize;
                m &= m - 1;
                let mut bits = std::mem::take(&mut seen[w]);
                while bits != 0 {
                    out.push(w as u32 * 64 + bits.trailing_zeros());
                    bits &= bits - 1;
                }
            }
        }
        out
    })
}

/// The same features as [`features`], in the order they first occur in the view: what scoring
/// reads (a sum needs no order; sorting cost a delivery more than the ordered lookups saved, see
/// docs/benchmarks.md).
pub fn features_unordered(view: &[u8], shape: &Shape) -> Vec<u32> {
    with_seen(shape, |seen, _| {
        let mut out = Vec::with_capacity(view.len());
        walk(view, shape, |idx| {
            let (w, bit) = (idx as usize / 64, idx % 64);
            if seen[w] & (1 << bit) == 0 {
                seen[w] |= 1 << bit;
                out.push(idx);
            }
        });
        for &idx in &out {
            seen[idx as usize / 64] = 0;
        }
        out
    })
}

/// Calls `f` with every window's bucket, in view order (repeats included).
fn walk(view: &[u8], shape: &Shape, mut f: impl FnMut(u32)) {
    let n = shape.window.clamp(1, 8);
    let bits = shape.bits.clamp(4, 30) as u32;
    if view.len() < n {
        return;
    }
    let mut key = 0u64;
    let mask = if n == 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
    for (i, &b) in view.iter().enumerate() {
        key = ((key << 8) | b as u64) & mask;
        if i + 1 < n {
            continue;
        }
        f(bucket(key ^ n as u64, bits));
    }
}

thread_local! {
    /// The de-duplicating bitsets of [`features`], all zero between calls: kept, so that training
    /// does not allocate and clear 32 KiB per message.
    static SEEN: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with the thread's bitsets, all zero: one bit per bucket of `shape`'s table, and one
/// bit per word of that (for [`features`] to mark the words it sets); `f` must leave them all
/// zero.
fn with_seen<R>(shape: &Shape, f: impl FnOnce(&mut [u64], &mut [u64]) -> R) -> R {
    let words = (1usize << shape.bits.clamp(4, 30)).div_ceil(64);
    let all = words + words.div_ceil(64);
    SEEN.with_borrow_mut(|seen| {
        if seen.len() < all {
            seen.resize(all, 0);
        }
        let (seen, used) = seen[..all].split_at_mut(words);
        f(seen, used)
    })
}

/// The bucket of a key: the top `bits` of a multiplicative hash (splitmix64's finalizer first,
/// so nearby keys spread).
fn bucket(x: u64, bits: u32) -> u32 {
    (crate::hash::mix64(x) >> (64 - bits)) as u32
}

/// Read access to a weight table: an in-memory one or a mapped file.
pub trait Weights {
    /// The weight of bucket `i` (0 outside the table).
    fn weight(&self, i: u32) -> f32;
}

impl Weights for [f32] {
    fn weight(&self, i: u32) -> f32 {
        self.get(i as usize).copied().unwrap_or(0.0)
    }
}

/// Weights stored as little-endian f32 in bytes (the file format's body).
pub struct LeWeights<'a>(pub &'a [u8]);

impl Weights for LeWeights<'_> {
    fn weight(&self, i: u32) -> f32 {
        let o = i as usize * 4;
        match self.0.get(o..o + 4) {
            Some(b) => {
                let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                if v.is_finite() {
                    v
                } else {
                    0.0
                }
            }
            None => 0.0,
        }
    }
}

/// The spam log-odds (natural log) of a message with these features.
pub fn logit(w: &(impl Weights + ?Sized), features: &[u32]) -> f64 {
    features.iter().map(|&i| w.weight(i) as f64).sum()
}

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// An editable weight table and how much it has learned.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub shape: Shape,
    pub weights: Vec<f32>,
    /// Messages learned as ham and as spam (net of forgets).
    pub ham: u64,
    pub spam: u64,
    /// The learning rate.
    pub rate: f32,
}

impl Model {
    pub fn new(shape: Shape) -> Model {
        Model { weights: vec![0.0; shape.size()], shape, ham: 0, spam: 0, rate: DEFAULT_RATE }
    }

    pub fn logit(&self, features: &[u32]) -> f64 {
        logit(self.weights.as_slice(), features)
    }

    /// One step towards `spam` (`sign` 1) or back (`sign` −1), when the model has the message
    /// within `rule.margin` of the wrong side or on it: each feature's weight moves by
    /// `rate × (y − p)` (the logistic loss's gradient; y = 1 for spam, 0 for ham; p the current
    /// probability), with `rule.clip` no further than puts the message at the margin on its
    /// side. Returns whether it stepped.
    fn step(&mut self, features: &[u32], spam: bool, sign: f32, rule: Rule) -> bool {
        let l = self.logit(features);
        let toward = if spam { 1.0 } else { -1.0 };
        let room = rule.margin - toward * l;
        // Fails closed: a NaN logit (a weight gone NaN) gives a NaN room, which must not step.
        if room.is_nan() || room <= 0.0 || features.is_empty() {
            return false;
        }
        let p = sigmoid(l);
        let mut d = self.rate as f64 * if spam { 1.0 - p } else { p };
        if rule.clip {
            d = d.min(room / features.len() as f64);
        }
        let d = (d * toward) as f32 * sign;
        for &i in features {
            if let Some(w) = self.weights.get_mut(i as usize) {
                *w = (*w + d).clamp(-MAX_WEIGHT, MAX_WEIGHT);
            }
        }
        true
    }

    /// Learns one message: counts it, and takes a step if the model has it within the rule's
    /// margin of the wrong side (train on or near error: a message the model already has
    /// clearly right teaches nothing). Returns whether it stepped.
    pub fn learn(&mut self, features: &[u32], spam: bool, rule: Rule) -> bool {
        self.count(spam, 1);
        self.step(features, spam, 1.0, rule)
    }

    /// Another pass over a message already counted (batch training's later passes): a step if
    /// the model has it within the rule's margin of the wrong side. Returns whether it learned.
    pub fn relearn_near_error(&mut self, features: &[u32], spam: bool, rule: Rule) -> bool {
        self.step(features, spam, 1.0, rule)
    }

    /// An approximate undo of [`Model::learn`]: the step learning it now would take, taken
    /// back; none when the model has it clear of the margin on its side (learning it now would
    /// teach nothing, as it taught nothing if it was that clear when learned). Exact only if
    /// nothing was learned since; what the message taught through later updates stays.
    pub fn unlearn(&mut self, features: &[u32], spam: bool, rule: Rule) {
        self.step(features, spam, -1.0, rule);
        self.count(spam, -1);
    }

    fn count(&mut self, spam: bool, d: i64) {
        let c = if spam { &mut self.spam } else { &mut self.ham };
        *c = (*c as i64 + d).max(0) as u64;
    }
}

/// The weights as scoring reads them from a file: each an `i8`, the table's weights times
/// 2^`exp`, rounded, where `exp` is the largest (at most 30) that keeps every one within ±127.
pub fn quantise(weights: &[f32]) -> (Vec<i8>, u8) {
    let max = weights.iter().filter(|w| w.is_finite()).fold(0f32, |m, w| m.max(w.abs()));
    let mut exp = 30u8;
    while exp > 0 && max * (1u64 << exp) as f32 > 127.0 {
        exp -= 1;
    }
    let scale = (1u64 << exp) as f32;
    let q = weights
        .iter()
        .map(|w| if w.is_finite() { (w * scale).round().clamp(-127.0, 127.0) as i8 } else { 0 })
        .collect();
    (q, exp)
}

/// Weights quantised by [`quantise`]: `(table, exp)`.
pub struct QuantWeights<'a>(pub &'a [u8], pub u8);

impl Weights for QuantWeights<'_> {
    fn weight(&self, i: u32) -> f32 {
        self.0.get(i as usize).map_or(0.0, |&b| b as i8 as f32 / (1u64 << self.1.min(30)) as f32)
    }
}

/// A model's weights as a delivery reads them (quantised by [`quantise`], as `lr.weights`
/// stores them for readers), in memory: what `eval` scores folds with, so its figures are the
/// filter's and not those of the f32 weights only training sees.
pub struct Quantised {
    table: Vec<u8>,
    exp: u8,
    ham: u64,
    spam: u64,
}

impl Quantised {
    pub fn of(m: &Model) -> Quantised {
        let (q, exp) = quantise(&m.weights);
        Quantised { table: q.into_iter().map(|b| b as u8).collect(), exp, ham: m.ham, spam: m.spam }
    }
}

impl Table for Quantised {
    fn learned(&self) -> (u64, u64) {
        (self.ham, self.spam)
    }
    fn logit(&self, features: &[u32]) -> f64 {
        logit(&QuantWeights(&self.table, self.exp), features)
    }
}

/// Read access to a whole model: what scoring needs.
pub trait Table: Sync {
    /// Ham and spam messages learned.
    fn learned(&self) -> (u64, u64);
    /// The spam log-odds of a message with these features.
    fn logit(&self, features: &[u32]) -> f64;
}

impl Table for Model {
    fn learned(&self) -> (u64, u64) {
        (self.ham, self.spam)
    }
    fn logit(&self, features: &[u32]) -> f64 {
        Model::logit(self, features)
    }
}

/// Sorted feature indices packed as deltas, one `u16` each (a delta of 0xFFFF or more: 0xFFFF
/// and the delta in two more): how training keeps a batch's features until it learns them in
/// shuffled order. Two bytes a feature; unpacked once per message and pass, so the unpacking
/// is a loop without a branch it cannot predict (LEB128, a byte and a half a feature, took more
/// than half of training's LR time to decode).
pub fn pack(features: &[u32]) -> Vec<u16> {
    let mut out = Vec::with_capacity(features.len() + 4);
    let mut last = 0u32;
    for &f in features {
        let d = f.wrapping_sub(last);
        last = f;
        if d < 0xffff {
            out.push(d as u16);
        } else {
            out.extend([0xffff, d as u16, (d >> 16) as u16]);
        }
    }
    out
}

/// The inverse of [`pack`].
pub fn unpack(packed: &[u16]) -> Vec<u32> {
    let mut out = Vec::new();
    unpack_into(packed, &mut out);
    out
}

/// [`unpack`] into `out` (cleared first), reusing its memory.
pub fn unpack_into(packed: &[u16], out: &mut Vec<u32>) {
    out.clear();
    out.reserve(packed.len());
    let mut last = 0u32;
    let mut i = 0;
    while let Some(&d) = packed.get(i) {
        if d != 0xffff {
            last = last.wrapping_add(d as u32);
            i += 1;
        } else {
            let lo = packed.get(i + 1).copied().unwrap_or(0) as u32;
            let hi = packed.get(i + 2).copied().unwrap_or(0) as u32;
            last = last.wrapping_add(lo | hi << 16);
            i += 3;
        }
        out.push(last);
    }
}

/// How LR's opinion enters the score (config file section `[lr]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LrSettings {
    /// Use LR in the score (training updates the weights either way).
    pub enabled: bool,
    /// Points per factor of ten in LR's spam odds, at full voice.
    pub points_per_decade: f64,
    /// LR points for spam beyond + this grow only logarithmically: LR may not condemn a message
    /// on its own (a kind of ham never trained, such as received newsletters when ham is learned
    /// from Sent mail, gets positive log-odds).
    pub points_knee: f64,
    /// LR points for ham beyond − this grow only logarithmically. Larger than `points_knee`: LR
    /// trained on the user's own ham may clear a message that rules or Bayes overrate (a false
    /// positive costs more than a missed spam).
    pub ham_points_knee: f64,
    /// LR's voice grows as min(ham, spam learned)/fade: full once this many of each are learned.
    pub fade: u64,
}

impl Default for LrSettings {
    fn default() -> Self {
        LrSettings { enabled: true, points_per_decade: 1.0, points_knee: 1.0, ham_points_knee: 8.0, fade: 200 }
    }
}

/// LR's opinion of one message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrResult {
    /// The spam log-odds (natural log).
    pub logit: f64,
    /// How much of its points count (0..1): grows with what was learned (see [`voice`]).
    pub voice: f64,
}

impl LrResult {
    pub fn prob(&self) -> f64 {
        sigmoid(self.logit)
    }
}

/// LR's voice after learning `ham` and `spam` messages: min(ham, spam)/fade, at most 1.
pub fn voice(ham: u64, spam: u64, fade: u64) -> f64 {
    if fade == 0 {
        return if ham.min(spam) > 0 { 1.0 } else { 0.0 };
    }
    (ham.min(spam) as f64 / fade as f64).min(1.0)
}

/// The `tests=` name for LR's probability, in the bands of `bayes::band`.
pub fn band(prob: f64) -> &'static str {
    const NAMES: [&str; 10] =
        ["LR_00", "LR_05", "LR_20", "LR_40", "LR_50", "LR_60", "LR_80", "LR_95", "LR_99", "LR_999"];
    NAMES[crate::bayes::band_index(prob)]
}

/// LR's opinion of a parsed message, or `None` while its voice is nothing (nothing of one
/// class learned yet).
pub fn classify(table: &dyn Table, msg: &Message, headers: &[String], s: &LrSettings) -> Option<LrResult> {
    let (ham, spam) = table.learned();
    let voice = voice(ham, spam, s.fade);
    if voice <= 0.0 {
        return None;
    }
    let shape = Shape::default();
    let f = features_unordered(&view(msg, headers, &shape), &shape);
    Some(LrResult { logit: table.logit(&f), voice })
}

/// Weights are kept within ± this, so no sum of a message's features can overflow or be NaN.
pub const MAX_WEIGHT: f32 = 64.0;

/// A deterministic order for batch training, independent of the order messages were given in:
/// sorted by a keyed hash of each message's digest.
pub fn shuffle_key(digest: &[u8; 16], seed: u64) -> u64 {
    let x = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
        ^ u64::from_le_bytes(digest[8..].try_into().expect("8 bytes")).rotate_left(17)
        ^ seed;
    crate::hash::splitmix64(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_logit_takes_no_step() {
        let f = feats(b"Subject: cheap pills\n\nbuy now\n");
        let mut m = Model::new(Shape::default());
        m.weights[f[0] as usize] = f32::NAN;
        assert!(m.logit(&f).is_nan());
        assert!(!m.learn(&f, true, Rule::BOTH));
        assert!(!m.relearn_near_error(&f, false, Rule::ONE_CLASS));
        m.unlearn(&f, true, Rule::BOTH);
        // Only the weight that was NaN is; the message counted once, then taken back.
        assert_eq!(m.weights.iter().filter(|w| w.is_nan()).count(), 1);
        assert!(m.weights.iter().all(|w| w.is_nan() || *w == 0.0));
        assert_eq!((m.ham, m.spam), (0, 0));
    }

    fn feats(raw: &[u8]) -> Vec<u32> {
        let s = Shape::default();
        let msg = Message::parse(raw, 1 << 20);
        features(&view(&msg, &crate::features::TokenizerSettings::default().headers, &s), &s)
    }

    #[test]
    fn trace_fields_and_our_headers_do_not_change_features() {
        let plain = b"From: a@b.example\nSubject: cheap pills\nMessage-ID: <123@b.example>\n\nbuy now\n";
        let traced = b"Received: from x by y; Mon, 1 Jan 2024\r\nReturn-Path: <q@r>\r\nDelivered-To: me@here\r\n\
X-Original-To: me@here\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\nTo: me@here\r\nCc: you@there\r\n\
X-Spam-Status: Yes, score=99\r\nX-Mailer-Tag: x\r\nFrom: a@b.example\r\nSubject:  cheap\r\n pills\r\n\
Message-ID: <987@b.example>\r\nX-Spam-Flag: YES\r\n\r\nbuy now\r\n";
        assert_eq!(feats(plain), feats(traced));
        // The content does change them.
        let other = b"From: a@b.example\nSubject: cheap pills\nMessage-ID: <123@b.example>\n\nbuy later\n";
        assert_ne!(feats(plain), feats(other));
    }

    #[test]
    fn features_are_distinct_sorted_and_bounded() {
        let f = feats(b"Subject: aaaa\n\naaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
        assert!(f.windows(2).all(|w| w[0] < w[1]), "{f:?}");
        assert!(f.iter().all(|&i| (i as usize) < Shape::default().size()));
        let big = vec![b'x'; 100_000];
        let mut raw = b"Subject: s\n\n".to_vec();
        raw.extend((0..50_000u32).flat_map(|i| i.to_le_bytes()));
        raw.extend(&big);
        assert!(feats(&raw).len() <= DEFAULT_MAX_BYTES);
        assert!(features(b"abc", &Shape::default()).is_empty());
    }

    /// Both orders give the set a plain computation gives, call after call (the kept bitset is
    /// left clear), for tables of every size.
    #[test]
    fn both_orders_give_every_window_once() {
        let naive = |v: &[u8], s: &Shape| -> Vec<u32> {
            let mut all = Vec::new();
            walk(v, s, |i| all.push(i));
            all
        };
        let views: [&[u8]; 4] = [b"subject: aaaa\n\naaaaaaaaaaaa", b"abc", b"", b"the quick brown fox, the quick dog"];
        for bits in [4u8, 10, 18] {
            let s = Shape { bits, ..Shape::default() };
            for round in 0..2 {
                for v in views {
                    let all = naive(v, &s);
                    let mut first = Vec::new();
                    for &i in &all {
                        if !first.contains(&i) {
                            first.push(i);
                        }
                    }
                    let mut sorted = first.clone();
                    sorted.sort_unstable();
                    assert_eq!(features(v, &s), sorted, "bits {bits} round {round}");
                    assert_eq!(features_unordered(v, &s), first, "bits {bits} round {round}");
                }
            }
        }
        assert_eq!(naive(b"abcd", &Shape::default()).len(), 1);
    }

    /// What `eval` scores with is what a weight file gives a delivery: the same quantised sum,
    /// exactly, and within the rounding of the f32 weights.
    #[test]
    fn quantised_in_memory_scores_as_the_file_does() {
        let mut m = Model::new(Shape::default());
        let spam = feats(b"Subject: cheap pills\n\nbuy now, cheap pills online\n");
        let ham = feats(b"Subject: minutes\n\nthe meeting notes are attached\n");
        for _ in 0..20 {
            m.learn(&spam, true, Rule::BOTH);
            m.learn(&ham, false, Rule::BOTH);
        }
        let q = Quantised::of(&m);
        assert_eq!(q.learned(), (20, 20));
        // The model written as a weight file and read back as a delivery reads it.
        let file = crate::store::lrfile::encode(&m, 0);
        let h = crate::store::lrfile::parse_header(&file).unwrap();
        assert_eq!(h.version, 2);
        for f in [&spam, &ham] {
            assert_eq!(Table::logit(&q, f), crate::store::lrfile::logit(&file, &h, f));
            let step = 0.5 / (1u64 << h.exp) as f64;
            assert!((Table::logit(&q, f) - m.logit(f)).abs() <= step * f.len() as f64);
        }
        assert!(Table::logit(&q, &spam) > 0.0 && Table::logit(&q, &ham) < 0.0);
    }

    #[test]
    fn view_is_lower_case_and_skips_x_spam_even_when_configured() {
        let msg = Message::parse(b"X-Spam-Status: Yes\nSubject: HELLO  There\n\nBODY\r\nText\n", 1 << 20);
        let v = view(&msg, &["subject".into(), "x-spam-status".into()], &Shape::default());
        assert_eq!(v, b"subject: hello there\n\nbody\ntext\n");
    }

    /// A separable toy set: spam has "viagra", ham has "meeting"; both share filler.
    #[test]
    fn learns_a_separable_set_and_ranks_unseen_messages() {
        let mk = |word: &str, n: usize| -> Vec<u8> {
            format!("Subject: note {n}\n\nhello friend {word} number {n} with some filler text\n").into_bytes()
        };
        let mut m = Model::new(Shape::default());
        m.rate = 0.02;
        for n in 0..40 {
            m.learn(&feats(&mk("viagra", n)), true, Rule::BOTH);
            m.learn(&feats(&mk("meeting", n)), false, Rule::BOTH);
        }
        assert_eq!((m.ham, m.spam), (40, 40));
        for n in 100..120 {
            let s = m.logit(&feats(&mk("viagra", n)));
            let h = m.logit(&feats(&mk("meeting", n)));
            assert!(s > 0.5 && h < -0.5, "spam {s} ham {h}");
        }
    }

    #[test]
    fn relearning_skips_what_is_clear_of_the_margin() {
        let f = feats(b"Subject: x\n\nsome body text here\n");
        let mut m = Model::new(Shape::default());
        assert!(m.learn(&f, true, Rule::BOTH), "a new model has it within the margin");
        let after_one = m.clone();
        let l = m.logit(&f);
        assert!(l > 0.0);
        let margin = |margin| Rule { margin, clip: false };
        assert!(!m.relearn_near_error(&f, true, margin(l - 0.01)), "clear of the margin: nothing learned");
        assert_eq!(m, after_one);
        assert!(m.relearn_near_error(&f, true, margin(l + 0.01)), "within the margin: learned");
        assert!(m.logit(&f) > l);
        assert_eq!((m.ham, m.spam), (0, 1), "a pass again counts nothing");
        assert!(m.relearn_near_error(&f, false, margin(1e9)), "on the wrong side: learned");
    }

    /// Train on or near error in the first pass too: a message the model already has clear of
    /// the margin on its side is counted and changes no weight; on the wrong side it is
    /// learned. Its forget changes no weight either while the model has it that clear.
    #[test]
    fn learning_skips_what_the_model_has_clearly_right() {
        let f = feats(b"Subject: x\n\nsome body text here\n");
        let mut m = Model::new(Shape::default());
        for &i in &f {
            m.weights[i as usize] = 1.0;
        }
        assert!(m.logit(&f) > MARGIN);
        let before = m.weights.clone();
        for rule in [Rule::BOTH, Rule::ONE_CLASS] {
            assert!(!m.learn(&f, true, rule));
            assert_eq!(m.weights, before, "clearly spam already: nothing learned");
            m.unlearn(&f, true, rule);
            assert_eq!(m.weights, before, "and nothing taken back");
        }
        assert_eq!((m.ham, m.spam), (0, 0), "learned and forgotten twice");
        assert!(m.learn(&f, false, Rule::BOTH), "on the wrong side: learned");
        assert!(m.logit(&f) < f.len() as f64);
        assert_eq!((m.ham, m.spam), (1, 0));
    }

    /// A run of one class moves the other class's mail no more than the model was wrong about
    /// what it learned: a step stops where its message reaches ONE_CLASS_MARGIN, so a message
    /// sharing `s` of a learned message's `n` features moves by at most (margin − logit) × s/n,
    /// and a batch the model already has right moves nothing. The rule of a run of both classes
    /// (the full gradient step, then passes to MARGIN) moves it twice as far here.
    #[test]
    fn a_one_class_run_moves_the_other_class_within_a_bound() {
        // Every message shares 400 "structure" features; ham and spam have words of their own.
        let msg = |own: std::ops::Range<u32>| -> Vec<u32> { (0..400).chain(own).collect() };
        let run = |m: &mut Model, batch: &[(Vec<u32>, bool)], rule: Rule| {
            for pass in 0..PASSES {
                for (f, spam) in batch {
                    if pass == 0 {
                        m.learn(f, *spam, rule);
                    } else {
                        m.relearn_near_error(f, *spam, rule);
                    }
                }
            }
        };
        let word = |i: u32, base: u32| base + i * 200..base + 300 + i * 200;
        let train_set: Vec<(Vec<u32>, bool)> =
            (0..40u32).map(|i| (msg(word(i, if i % 2 == 0 { 10_000 } else { 50_000 })), i % 2 == 1)).collect();
        let mut m = Model::new(Shape::default());
        run(&mut m, &train_set, Rule::BOTH);
        // Held-out ham: the structure, words of the trained ham and new ones.
        let held: Vec<Vec<u32>> = (0..10u32)
            .map(|i| msg(word(2 * i, 10_000)).into_iter().chain(90_000 + i * 100..90_100 + i * 100).collect())
            .collect();
        let before: Vec<f64> = held.iter().map(|h| m.logit(h)).collect();
        assert!(before.iter().all(|&l| l < -MARGIN), "{before:?}");
        // Spam the model has right: nothing moves.
        let right: Vec<(Vec<u32>, bool)> = (0..20u32).map(|i| (msg(word(2 * i + 1, 50_000)), true)).collect();
        assert!(right.iter().all(|(f, _)| m.logit(f) > ONE_CLASS_MARGIN));
        let mut one = m.clone();
        run(&mut one, &right, Rule::ONE_CLASS);
        assert_eq!(one.weights, m.weights);
        // A spam written like ham (the structure, ham words and 100 words of its own): wrong.
        let sneaky: Vec<u32> = msg(10_000..10_200).into_iter().chain(70_000..70_100).collect();
        let batch = [(sneaky.clone(), true)];
        let l0 = m.logit(&sneaky);
        assert!(l0 < 0.0, "{l0}");
        let mut one = m.clone();
        run(&mut one, &batch, Rule::ONE_CLASS);
        assert!((one.logit(&sneaky) - ONE_CLASS_MARGIN).abs() < 1e-3, "{}", one.logit(&sneaky));
        let mut both = m.clone();
        run(&mut both, &batch, Rule::BOTH);
        for (h, b) in held.iter().zip(&before) {
            let shared = h.iter().filter(|i| sneaky.contains(i)).count() as f64;
            let bound = (ONE_CLASS_MARGIN - l0) * shared / sneaky.len() as f64;
            let moved = one.logit(h) - b;
            assert!(moved >= 0.0 && moved <= bound + 1e-3, "moved {moved}, bound {bound}");
            assert!(both.logit(h) - b > 2.0 * moved, "the full step: {} against {moved}", both.logit(h) - b);
        }
    }

    #[test]
    fn a_run_of_one_class_has_its_own_rule() {
        assert_eq!(Rule::for_run(true, true), Rule::BOTH);
        assert_eq!(Rule::for_run(false, false), Rule::BOTH, "forget only");
        assert_eq!(Rule::for_run(true, false), Rule::ONE_CLASS);
        assert_eq!(Rule::for_run(false, true), Rule::ONE_CLASS);
    }

    #[test]
    fn unlearn_takes_back_the_last_step_and_counts() {
        let f = feats(b"Subject: x\n\nsome body text here\n");
        let mut m = Model::new(Shape::default());
        m.learn(&f, true, Rule::BOTH);
        assert!(m.logit(&f) > 0.0);
        m.unlearn(&f, true, Rule::BOTH);
        assert_eq!((m.ham, m.spam), (0, 0));
        // Learned once from zero then undone at the new prediction: close to zero, not above
        // what one step gave.
        assert!(m.logit(&f).abs() < 0.1 * f.len() as f64 * m.rate as f64, "{}", m.logit(&f));
    }

    #[test]
    fn deterministic_and_stored_weights_read_the_same() {
        let f = feats(b"Subject: x\n\nsome body text here\n");
        assert_eq!(f, feats(b"Subject: x\n\nsome body text here\n"));
        let mut m = Model::new(Shape::default());
        m.learn(&f, false, Rule::BOTH);
        let bytes: Vec<u8> = m.weights.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(logit(&LeWeights(&bytes), &f), m.logit(&f));
        // Non-finite stored weights read as 0; out-of-range buckets too.
        let nan = f32::NAN.to_le_bytes();
        assert_eq!(LeWeights(&nan).weight(0), 0.0);
        assert_eq!(LeWeights(&nan).weight(5), 0.0);
    }

    #[test]
    fn voice_grows_with_the_smaller_class_and_bands_are_ordered() {
        assert_eq!(voice(0, 500, 200), 0.0);
        assert_eq!(voice(50, 500, 200), 0.25);
        assert_eq!(voice(1000, 300, 200), 1.0);
        assert_eq!(band(0.001), "LR_00");
        assert_eq!(band(0.5), "LR_50");
        assert_eq!(band(0.995), "LR_99");
        assert_eq!(band(1.0), "LR_999");
        let mut m = Model::new(Shape::default());
        let msg = Message::parse(b"Subject: x\n\nbody text\n", 1 << 20);
        assert!(classify(&m, &msg, &[], &LrSettings::default()).is_none(), "nothing learned: no voice");
        m.ham = 100;
        m.spam = 100;
        let r = classify(&m, &msg, &[], &LrSettings::default()).unwrap();
        assert_eq!((r.logit, r.voice), (0.0, 0.5));
    }

    #[test]
    fn pack_round_trips() {
        for f in [vec![], vec![0], vec![0, 1, 127, 128, 300, 70_000, 135_534, 135_535, 201_070, (1 << 30) - 1]] {
            assert_eq!(unpack(&pack(&f)), f);
        }
        let f = feats(b"Subject: x\n\nsome body text here and there\n");
        assert_eq!(unpack(&pack(&f)), f);
    }

    #[test]
    fn shuffle_keys_do_not_follow_digest_order() {
        let keys: Vec<u64> = (0..100u8).map(|i| shuffle_key(&[i; 16], 7)).collect();
        assert!(keys.windows(2).filter(|w| w[0] < w[1]).count() < 80);
        assert_ne!(shuffle_key(&[1; 16], 1), shuffle_key(&[1; 16], 2));
    }
}
