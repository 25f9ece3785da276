//! What the experiment examples (lr_experiment, fusion_dump) share: the corpus parsed once into
//! features, and training in process (an LR model in the shuffled order and passes `train` uses,
//! Bayes counts as `train` keeps them).
use std::path::Path;

use spamfilt::features::TokenizerSettings;
use spamfilt::lr::{self, Model, Shape};
use spamfilt::message::Message;
use spamfilt::rules::RuleSet;
use spamfilt::scoring::Scorer;
use spamfilt::store::MemoryStore;
use spamfilt::verdict::ScoringSettings;

/// A parameter from the environment, or its default.
pub fn env<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

/// One corpus message, parsed once.
pub struct Msg {
    pub raw: Vec<u8>,
    pub spam: bool,
    pub folder: &'static str,
    /// The file's name in its folder (fusion_dump's R_HITS rows; lr_experiment has no use for it).
    #[allow(dead_code)]
    pub name: String,
    /// The Date header as seconds since the epoch (0: none readable).
    pub date: i64,
    pub digest: [u8; 16],
    /// LR's features.
    pub feats: Vec<u32>,
    /// The Bayes token hashes (`hashes` of [`load`]).
    pub hashes: Vec<u64>,
    /// Where the trace tokens (the gate's marker and the Received words) start in `hashes`:
    /// `hashes[..trace]` is what the message gives without its Received fields (a Sent copy).
    #[allow(dead_code)]
    pub trace: usize,
}

/// Every message of the SpamAssassin corpus's five folders under `dir` (its package/data), in
/// folder and file-name order; `hashes` gives a message's Bayes tokens and where its trace tokens
/// start among them ([`tokens`]).
pub fn load(
    dir: &str,
    shape: &Shape,
    tok: &TokenizerSettings,
    hashes: impl Fn(&Message) -> (Vec<u64>, usize),
) -> Vec<Msg> {
    let mut msgs = Vec::new();
    for (folder, spam) in
        [("easy-ham-1", false), ("spam-1", true), ("easy-ham-2", false), ("spam-2", true), ("hard-ham-1", false)]
    {
        let mut files: Vec<_> = std::fs::read_dir(Path::new(dir).join(folder))
            .unwrap_or_else(|e| panic!("{dir}/{folder}: {e} (scripts/fetch-corpus.sh fetches the corpus)"))
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        for p in files {
            let raw = std::fs::read(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let m = Message::parse(&raw, 512 * 1024);
            let feats = match std::env::var("LR_VIEW").as_deref() {
                Ok("proto") => lr::features(&proto_view(&raw, shape.max_bytes), shape),
                // LR_BASEHDR=1: LR's view reads the shipped header fields whatever B_HEADERS adds.
                _ if std::env::var("LR_BASEHDR").is_ok_and(|v| v == "1") => {
                    lr::features(&lr::view(&m, &TokenizerSettings::default().headers, shape), shape)
                }
                _ => lr::features(&lr::view(&m, &tok.headers, shape), shape),
            };
            let date = m.date.unwrap_or(0);
            let digest = spamfilt::learn::digest(&m);
            let (hashes, trace) = hashes(&m);
            drop(m);
            msgs.push(Msg { raw, spam, folder, name, date, digest, feats, hashes, trace });
        }
    }
    msgs
}

/// spamfilt's tokens of a message, and where its trace tokens start.
#[allow(dead_code)]
pub fn tokens(m: &Message, tok: &TokenizerSettings) -> (Vec<u64>, usize) {
    let t = spamfilt::features::tokenize(m, tok);
    let trace = t.trace_start();
    (t.into_hashes(), trace)
}

/// The LR model and the Bayes counts of these messages.
#[allow(dead_code)]
pub fn train_msgs(msgs: &[&Msg], shape: Shape, rate: f32, passes: usize, seed: u64) -> (Model, MemoryStore) {
    let learned: Vec<Learned> =
        msgs.iter().map(|m| Learned { feats: &m.feats, hashes: &m.hashes, spam: m.spam, digest: &m.digest }).collect();
    train(&learned, shape, rate, passes, seed)
}

/// What one training message gives.
pub struct Learned<'a> {
    pub feats: &'a [u32],
    pub hashes: &'a [u64],
    pub spam: bool,
    pub digest: &'a [u8; 16],
}

/// The LR model and the Bayes counts of these messages.
pub fn train(msgs: &[Learned], shape: Shape, rate: f32, passes: usize, seed: u64) -> (Model, MemoryStore) {
    let mut order: Vec<&Learned> = msgs.iter().collect();
    order.sort_by_key(|m| lr::shuffle_key(m.digest, seed));
    let mut model = Model::new(shape);
    model.rate = rate;
    // LR_MARGIN: every pass learns only messages within this margin of the wrong side (default
    // lr::MARGIN, as `train` for a run of both classes; `inf`: every message). LR_FIRST_MARGIN:
    // the first pass's margin alone (`inf`: the first pass learns every message, as `train` did
    // before train on or near error applied to it). LR_CLIP=1: a step stops at the margin (as
    // in a run of one class, see lr::Rule).
    let rule = lr::Rule { margin: env("LR_MARGIN", lr::MARGIN), clip: env("LR_CLIP", 0u8) == 1 };
    let first = lr::Rule { margin: env("LR_FIRST_MARGIN", rule.margin), ..rule };
    let (mut learned, mut relearned) = (0usize, 0usize);
    for pass in 0..passes {
        for m in &order {
            if pass == 0 {
                learned += model.learn(m.feats, m.spam, first) as usize;
            } else {
                relearned += model.relearn_near_error(m.feats, m.spam, rule) as usize;
            }
        }
    }
    if std::env::var_os("LR_VERBOSE").is_some() {
        eprintln!(
            "learned {learned} of {} in the first pass, {relearned} of {} in the passes after it",
            order.len(),
            order.len() * passes.saturating_sub(1)
        );
    }
    let mut store = MemoryStore::default();
    for m in msgs {
        for &h in m.hashes {
            let c = store.tokens.entry(h).or_default();
            if m.spam {
                c.spam += 1
            } else {
                c.ham += 1
            }
        }
        if m.spam {
            store.totals.spam += 1
        } else {
            store.totals.ham += 1
        }
    }
    (model, store)
}

/// The scorer the experiments compare: the content rules and Bayes over `store`, without sender
/// checks, the starter table or LR (the examples add LR's points themselves).
pub fn scorer<'a>(
    scoring: &'a ScoringSettings,
    tok: &'a TokenizerSettings,
    store: &'a MemoryStore,
    rules: &'a RuleSet,
) -> Scorer<'a> {
    Scorer {
        scoring,
        tokenizer: tok,
        db: Some(store),
        starter: None,
        rules: Some(rules),
        use_bayes: true,
        sender: None,
        lr: None,
    }
}

/// LR_VIEW=proto: issue 14's prototype's view: the raw message with the trace fields (Received,
/// Return-Path, Delivered-To, X-Original-To, Date, Message-ID, To, Cc, X-*) left out, its first
/// `max` bytes, case kept.
pub fn proto_view(raw: &[u8], max: usize) -> Vec<u8> {
    const TRACE: [&str; 8] =
        ["received", "return-path", "delivered-to", "x-original-to", "date", "message-id", "to", "cc"];
    let mut out = Vec::with_capacity(max);
    let mut i = 0;
    let mut keep = true;
    while i < raw.len() {
        let end = raw[i..].iter().position(|&b| b == b'\n').map_or(raw.len(), |p| i + p + 1);
        let line = &raw[i..end];
        if line == b"\n" || line == b"\r\n" {
            out.extend_from_slice(line);
            out.extend_from_slice(&raw[end..]);
            break;
        }
        if !(line[0] == b' ' || line[0] == b'\t') {
            let name = line.split(|&b| b == b':').next().unwrap_or(b"");
            let n = String::from_utf8_lossy(name).to_ascii_lowercase();
            keep = !(TRACE.contains(&n.as_str()) || n.starts_with("x-"));
        }
        if keep {
            out.extend_from_slice(line);
        }
        i = end;
        if out.len() >= max {
            break;
        }
    }
    out.truncate(max);
    out
}
