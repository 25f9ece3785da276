//! Per-message parts of the score on held-out splits of the SpamAssassin corpus, for designing
//! how rules, Bayes and LR are fused and for comparing tokenizers (docs/benchmarks.md, "The Bayes
//! tokens").
//!
//!     cargo run --release --example fusion_dump -- CORPUS_DATA_DIR OUT.tsv [SPLIT_PREFIX]
//!
//! Every message is parsed once. For each split a model is trained in process (Bayes counts as
//! `train` keeps them, LR in the shuffled order and passes `train` uses) and every test message
//! is scored with the content rules (no sender checks, no starter table). Each output row is
//! `split folder spam rules bayes_log_odds lr_logit`; `scripts/fusion.py` computes the metrics
//! of candidate fusions from it. Splits: `year` (train 2002, test 2003 and hard-ham-1), `reverse`
//! (train 2003, test 2002 and hard-ham-1), `time` (all folders by Date, older half trains),
//! `curveN` (the oldest N of each class of time's older half train, its newer half is tested;
//! N is 50, 200 and 1000, or F_CURVE=N,…),
//! `randomS` (50/50 per class by a keyed hash, seeds 1–3, or 1–N with F_SEEDS=N), `fold10`
//! (10-fold cross-validation, the folds' rows pooled). The Received words' gate
//! (docs/benchmarks.md, "The Received words, gated"): G_SHARE and G_MIN set `[bayes]`
//! trace_min_share and trace_min_learned; G_SENT=F learns that share of the training ham as a
//! Sent copy (without its Received fields: no Received words, no marker), G_SENT_SPAM=F the same
//! for spam. G_TRUSTED=1 (the default) takes the Received words from the fields the user's own
//! servers wrote (down to the first untrusted hop's, built-in trusted networks), G_TRUSTED=0 from
//! every field, G_TOP=K from the top K (docs/benchmarks.md, "The Received words from the user's own
//! fields only"). LR parameters come from LR_RATE,
//! LR_PASSES, LR_MARGIN, LR_FIRST_MARGIN and LR_CLIP (train on or near error; as in lr_experiment), its view from LR_BITS, LR_WINDOW, LR_BYTES, LR_LOWER, LR_DECODED (as in lr_experiment), LR_BASEHDR=1 (the
//! shipped header fields whatever B_HEADERS adds); Bayes parameters from B_S, B_X, B_MINDEV, B_CLUES (defaults: the shipped ones).
//! B_RAWTOK=1 replaces spamfilt's tokens by a crude bogofilter-like tokenizer (`raw_tokens`), with
//! B_LOWER, B_NOURL, B_NOCT, B_NOTAGS, B_DECODED (=1) to fold case, drop URL chunks, drop the
//! Content-* fields, leave HTML tags out, or read the decoded header values; B_NODIGIT and B_NOISE
//! drop words with digits or spamfilt's noise words (1: everywhere, 2: header fields only, 3: the
//! body only); B_MAXLEN is the longest word (30); B_DROPH=field,… leaves fields out.
//! Hybrids (docs/benchmarks.md, "The address words"): B_MIX=hdr takes every header field from the
//! crude tokenizer and the body from spamfilt's, B_MIX=body the other way round; B_RAWH=field,…
//! takes only those fields from the crude tokenizer, B_RAWBODY=1 the body; B_DROPREAL=prefix,… leaves
//! spamfilt's tokens with those prefixes out. R_SCORES=NAME=POINTS,...
//! scores those rules so in the rules column instead of their shipped points. R_WEIGHT=W sets
//! `rules_trained_weight` (the content rules' points for spam once trained; the rules column is
//! weighed as a delivery weighs it, so R_WEIGHT=1 dumps them at full points). LR_RULES=1 makes each
//! content rule a message fires an LR feature too (LR_RULE_COPIES=K buckets each). R_HITS=1 appends
//! four columns to each row, for fitting rule scores per split (scripts/fit-rule-scores.py
//! --splits): which of the label's runs wrote it (0–9 for `fold10`'s folds, else 0), the message's
//! file name, its Date (seconds since the epoch, 0: none) and the content rules it fires
//! (comma-separated names, `-` for none). `OUT.tsv.trained` gets one row `split ham spam` per
//! training run (the counts LR's voice and its ham side's growth depend on). R_INNER=K adds, for
//! every split but the curve (R_INNER_CURVE=1: the curve too), rows
//! labelled `SPLIT.inner`: each training message scored by models of the other K-1 of K folds
//! of that split's training set (Bayes and LR as they score mail they were not trained on).
#[path = "common/corpus.rs"]
mod corpus;
use std::io::Write;

use corpus::{env, Msg};
use spamfilt::features::TokenizerSettings;
use spamfilt::lr::{self, Shape};
use spamfilt::message::Message;

fn main() {
    let dir = std::env::args().nth(1).expect("corpus data dir");
    let out = std::env::args().nth(2).expect("output file");
    let only: Option<String> = std::env::args().nth(3);
    // LR's message view, as examples/lr_experiment.rs reads it (defaults: the shipped shape).
    let d = Shape::default();
    let shape = Shape {
        bits: env("LR_BITS", d.bits),
        window: env("LR_WINDOW", d.window),
        max_bytes: env("LR_BYTES", d.max_bytes),
        lowercase: env("LR_LOWER", d.lowercase as u8) == 1,
        decoded_body: env("LR_DECODED", d.decoded_body as u8) == 1,
    };
    let rate: f32 = env("LR_RATE", lr::DEFAULT_RATE);
    let passes: usize = env("LR_PASSES", lr::PASSES);
    let mut tok = TokenizerSettings::default();
    if let Ok(extra) = std::env::var("B_HEADERS") {
        tok.headers.extend(extra.split(',').map(String::from));
    }
    // The Received words' fields: G_TRUSTED=1 those the user's own servers wrote (the built-in
    // trusted networks: the shipped default), G_TRUSTED=0 every field, G_TOP=K the top K.
    match std::env::var("G_TRUSTED").as_deref() {
        Ok("0") => tok.trace_fields = spamfilt::features::TraceFields::All,
        Ok("1") => tok.trace_fields = spamfilt::features::TraceFields::Own(Default::default()),
        _ => {}
    }
    if let Ok(k) = std::env::var("G_TOP") {
        tok.trace_fields = spamfilt::features::TraceFields::Top(k.parse().expect("G_TOP=K"));
    }
    let raw_tok = env("B_RAWTOK", 0u8) == 1;
    // Hybrids: which header fields (None: all the crude tokenizer reads) and whether the body come
    // from the crude tokenizer; spamfilt's tokens of the same fields and of the body are left out.
    let list = |k: &str| -> Vec<String> {
        std::env::var(k).unwrap_or_default().split(',').filter(|f| !f.is_empty()).map(String::from).collect()
    };
    let (crude_fields, crude_body): (Option<Vec<String>>, bool) = match std::env::var("B_MIX").as_deref() {
        Ok("hdr") => (None, false),
        Ok("body") => (Some(vec![]), true),
        _ => (Some(list("B_RAWH")), env("B_RAWBODY", 0u8) == 1),
    };
    // B_DROPREAL=prefix,…: spamfilt's tokens that start with one of these are left out.
    let drop_real = list("B_DROPREAL");
    let hybrid = crude_fields.as_ref().is_none_or(|f| !f.is_empty()) || crude_body || !drop_real.is_empty();
    let msgs = corpus::load(&dir, &shape, &tok, |m| {
        if !hybrid {
            return if raw_tok {
                let t = raw_tokens(m, &tok.headers, None, true);
                let n = t.len();
                (t, n)
            } else {
                corpus::tokens(m, &tok)
            };
        }
        // spamfilt's header tokens by field.
        let prefix_of = |f: &str| -> String {
            match f {
                "subject" => "subj:".into(),
                "from" => "from:".into(),
                "reply-to" => "rt:".into(),
                "sender" => "sender:".into(),
                "x-mailer" | "user-agent" => "mailer:".into(),
                "message-id" => "mid:".into(),
                other => format!("h:{other}:"),
            }
        };
        let header_prefixes = ["subj:", "from:", "rt:", "sender:", "mailer:", "mid:", "h:"];
        let dropped: Vec<String> = crude_fields.iter().flatten().map(|f| prefix_of(f)).collect();
        let real = spamfilt::features::tokenize(m, &tok);
        let keep = |t: &str| {
            if drop_real.iter().any(|p| t.starts_with(p.as_str())) {
                return false;
            }
            if header_prefixes.iter().any(|p| t.starts_with(p)) {
                crude_fields.is_some() && !dropped.iter().any(|p| t.starts_with(p.as_str()))
            } else {
                !crude_body
            }
        };
        let mut out: Vec<u64> = real.iter().zip(real.hashes()).filter(|(t, _)| keep(t)).map(|(_, h)| *h).collect();
        out.extend(raw_tokens(m, &tok.headers, crude_fields.as_deref(), crude_body));
        let n = out.len();
        (out, n)
    });
    let rules = spamfilt::rules::RuleSet::load(&Default::default()).unwrap();
    // LR_RULES=1: the content rules a message fires are LR features too (one hashed bucket per
    // rule name), so LR can learn what a rule means in this mail.
    let mut msgs = msgs;
    if env("LR_RULES", 0u8) == 1 {
        let empty = spamfilt::store::MemoryStore { totals: Default::default(), tokens: Default::default() };
        let plain = spamfilt::verdict::ScoringSettings::default();
        let sc = corpus::scorer(&plain, &tok, &empty, &rules);
        let mask = (1u64 << shape.bits) - 1;
        for m in msgs.iter_mut() {
            let v = sc.score(&m.raw).verdict;
            for h in v.hits.iter().filter(|h| !h.name.starts_with("BAYES_") && !h.name.starts_with("LR_")) {
                // LR_RULE_COPIES=K: K buckets per rule (a K-times stronger feature).
                for copy in 0..env("LR_RULE_COPIES", 1u32) {
                    let mut x = 0xcbf2_9ce4_8422_2325u64 ^ copy as u64;
                    for b in "rule:".bytes().chain(h.name.bytes()) {
                        x = (x ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
                    }
                    let i = (x & mask) as u32;
                    if !m.feats.contains(&i) {
                        m.feats.push(i);
                    }
                }
            }
            m.feats.sort_unstable();
        }
    }
    let msgs = msgs;
    let mut scoring = spamfilt::verdict::ScoringSettings::default();
    scoring.bayes.strength = env("B_S", scoring.bayes.strength);
    scoring.bayes.unknown_prob = env("B_X", scoring.bayes.unknown_prob);
    scoring.bayes.min_dev = env("B_MINDEV", scoring.bayes.min_dev);
    scoring.bayes.max_clues = env("B_CLUES", scoring.bayes.max_clues);
    // R_WEIGHT=W: the content rules' weight once trained (`rules_trained_weight`; 1: the rules
    // column at full points, as dumps before it was shipped had them).
    scoring.rules_trained_weight = env("R_WEIGHT", scoring.rules_trained_weight);
    scoring.bayes.trace_min_share = env("G_SHARE", scoring.bayes.trace_min_share);
    scoring.bayes.trace_min_learned = env("G_MIN", scoring.bayes.trace_min_learned);
    // G_SENT=F (0-1): that share of the training ham, chosen by a keyed hash, is learned as a
    // Sent copy would be, without its Received fields (its trace tokens and the gate's marker);
    // G_SENT_SPAM=F the same for spam. The test mail is scored as received.
    let (sent_ham, sent_spam): (f64, f64) = (env("G_SENT", 0.0), env("G_SENT_SPAM", 0.0));
    let sent = |m: &Msg| {
        let share = if m.spam { sent_spam } else { sent_ham };
        share > 0.0 && (lr::shuffle_key(&m.digest, 4242) as f64) < share * u64::MAX as f64
    };
    // R_SCORES=NAME=POINTS,...: score these rules so instead of their shipped points.
    let rescore: Vec<(String, f64)> = std::env::var("R_SCORES")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().expect("R_SCORES points")))
        .collect();
    let with_hits = env("R_HITS", 0u8) == 1;
    let inner: usize = env("R_INNER", 0);
    let mut runs: std::collections::HashMap<String, usize> = Default::default();
    let mut w = std::io::BufWriter::new(std::fs::File::create(&out).unwrap());
    let mut trained = std::io::BufWriter::new(std::fs::File::create(format!("{out}.trained")).unwrap());
    let mut run = |train: &[&Msg], test: &[&Msg], label: &str| {
        if only.as_ref().is_some_and(|o| !label.starts_with(o.as_str())) {
            return;
        }
        eprintln!("{label}: train {} test {}", train.len(), test.len());
        // OUT.tsv.trained: the ham and spam each run of a split trained (LR's voice and the ham
        // side's growth depend on them; scripts/fusion.py reads this file).
        let spam_trained = train.iter().filter(|m| m.spam).count();
        writeln!(trained, "{label}\t{}\t{spam_trained}", train.len() - spam_trained).unwrap();
        let run_no = {
            let n = runs.entry(label.to_string()).or_default();
            *n += 1;
            *n - 1
        };
        let score = |train: &[&Msg], test: &[&Msg]| -> Vec<(f64, f64, f64, String)> {
            let learned: Vec<corpus::Learned> = train
                .iter()
                .map(|m| corpus::Learned {
                    feats: &m.feats,
                    hashes: if sent(m) { &m.hashes[..m.trace] } else { &m.hashes },
                    spam: m.spam,
                    digest: &m.digest,
                })
                .collect();
            let (model, store) = corpus::train(&learned, shape, rate, passes, lr::SHUFFLE_SEED);
            // Scored as a delivery scores: with the weights quantised as `lr.weights` keeps them.
            let model = lr::Quantised::of(&model);
            let scorer = corpus::scorer(&scoring, &tok, &store, &rules);
            let one = |m: &&Msg| {
                let v = scorer.score(&m.raw).verdict;
                let rules: f64 = v
                    .hits
                    .iter()
                    .filter(|h| !h.name.starts_with("BAYES_"))
                    .map(|h| rescore.iter().find(|(n, _)| *n == h.name).map_or(h.score, |(_, s)| *s))
                    .sum();
                let bayes = if raw_tok || hybrid {
                    use spamfilt::store::TokenLookup;
                    spamfilt::bayes::classify(&store.lookup(&m.hashes), store.totals(), &scoring.bayes).log_odds
                } else {
                    v.bayes.as_ref().map_or(0.0, |b| b.log_odds)
                };
                let names: Vec<&str> =
                    v.hits.iter().filter(|h| !h.name.starts_with("BAYES_")).map(|h| h.name.as_ref()).collect();
                let names = if names.is_empty() { "-".to_string() } else { names.join(",") };
                (rules, bayes, lr::Table::logit(&model, &m.feats), names)
            };
            let (a, b) = test.split_at(test.len() / 2);
            std::thread::scope(|s| {
                let h = s.spawn(|| a.iter().map(one).collect::<Vec<_>>());
                let mut rb: Vec<_> = b.iter().map(one).collect();
                let mut ra = h.join().unwrap();
                ra.append(&mut rb);
                ra
            })
        };
        let mut write_rows = |label: &str, test: &[&Msg], rows: Vec<(f64, f64, f64, String)>| {
            for (m, (r, b, l, names)) in test.iter().zip(rows) {
                write!(w, "{label}\t{}\t{}\t{r:.4}\t{b:.6}\t{l:.6}", m.folder, m.spam as u8).unwrap();
                if with_hits {
                    write!(w, "\t{run_no}\t{}\t{}\t{names}", m.name, m.date).unwrap();
                }
                writeln!(w).unwrap();
            }
        };
        write_rows(label, test, score(train, test));
        // R_INNER=K: the training messages too, each scored by a model of the other K-1 of K folds
        // of the training set (as `label.inner`), so that a fit on the training set sees Bayes and
        // LR as they score mail they were not trained on.
        if inner > 1 && (!label.starts_with("curve") || env("R_INNER_CURVE", 0u8) == 1) {
            let mut order: Vec<&Msg> = train.to_vec();
            order.sort_by_key(|m| lr::shuffle_key(&m.digest, 77));
            for k in 0..inner {
                let (mut tr, mut te) = (Vec::new(), Vec::new());
                for (i, m) in order.iter().enumerate() {
                    if i % inner == k {
                        te.push(*m)
                    } else {
                        tr.push(*m)
                    }
                }
                write_rows(&format!("{label}.inner"), &te, score(&tr, &te));
            }
        }
    };
    let folders = |fs: &[&str]| -> Vec<&Msg> { msgs.iter().filter(|m| fs.contains(&m.folder)).collect() };
    run(&folders(&["easy-ham-1", "spam-1"]), &folders(&["easy-ham-2", "spam-2", "hard-ham-1"]), "year");
    run(&folders(&["easy-ham-2", "spam-2"]), &folders(&["easy-ham-1", "spam-1", "hard-ham-1"]), "reverse");
    let mut dated: Vec<&Msg> = msgs.iter().filter(|m| m.date != 0).collect();
    dated.sort_by_key(|m| m.date);
    let half = dated.len() / 2;
    run(&dated[..half], &dated[half..], "time");
    // F_CURVE=N,…: the learning curve's points (default 50,200,1000).
    let curve: Vec<usize> = list("F_CURVE").iter().map(|n| n.parse().expect("F_CURVE: numbers")).collect();
    let curve = if curve.is_empty() { vec![50, 200, 1000] } else { curve };
    for n in curve {
        let mut train: Vec<&Msg> = dated[..half].iter().filter(|m| !m.spam).take(n).copied().collect();
        train.extend(dated[..half].iter().filter(|m| m.spam).take(n));
        run(&train, &dated[half..], &format!("curve{n}"));
    }
    for seed in 1..=env("F_SEEDS", 3u64) {
        let mut all: Vec<&Msg> = msgs.iter().collect();
        all.sort_by_key(|m| lr::shuffle_key(&m.digest, seed));
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for spam in [false, true] {
            let class: Vec<&Msg> = all.iter().filter(|m| m.spam == spam).copied().collect();
            let h = class.len() / 2;
            train.extend(&class[..h]);
            test.extend(&class[h..]);
        }
        run(&train, &test, &format!("random{seed}"));
    }
    // 10-fold cross-validation over every message (the most each model learns here: about 5,400
    // messages); the folds' rows share one label, so their scores are pooled as `eval` pools them.
    let mut all: Vec<&Msg> = msgs.iter().collect();
    all.sort_by_key(|m| lr::shuffle_key(&m.digest, 10));
    for k in 0..10 {
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (i, m) in all.iter().enumerate() {
            if i % 10 == k {
                test.push(*m)
            } else {
                train.push(*m)
            }
        }
        run(&train, &test, "fold10");
    }
}

/// A crude bogofilter-like tokenizer, for comparison: words of the allowed header fields
/// (tagged by field) and of the decoded text and HTML parts (tags included).
/// `only`: the header fields tokenized (None: the configured ones and every `Content-*` field).
fn raw_tokens(m: &Message, headers: &[String], only: Option<&[String]>, do_body: bool) -> Vec<u64> {
    let flag = |k: &str| env(k, 0u8) == 1;
    let (lower, nourl, noct, notags) = (flag("B_LOWER"), flag("B_NOURL"), flag("B_NOCT"), flag("B_NOTAGS"));
    // 1: headers and body, 2: headers only, 3: body only.
    let scope = |k: &str, in_hdr: bool| match env(k, 0u8) {
        1 => true,
        2 => in_hdr,
        3 => !in_hdr,
        _ => false,
    };
    let maxlen: usize = env("B_MAXLEN", 30);
    let decoded = flag("B_DECODED");
    let drop: Vec<String> = std::env::var("B_DROPH").unwrap_or_default().split(',').map(String::from).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut push = |prefix: &str, text: &str| {
        let in_hdr = !prefix.is_empty();
        let (nodigit, noise) = (scope("B_NODIGIT", in_hdr), scope("B_NOISE", in_hdr));
        for w in text
            .split_whitespace()
            .filter(|c| !nourl || !(c.contains("://") || c.starts_with("www.")))
            .flat_map(|c| c.split(|c: char| !(c.is_alphanumeric() || "$'!-_".contains(c))))
        {
            let w = w.trim_matches(|c: char| "'-_!".contains(c));
            if w.len() < 3
                || w.len() > maxlen
                || w.bytes().all(|b| b.is_ascii_digit())
                || (nodigit && w.bytes().any(|b| b.is_ascii_digit()))
                || (noise && is_noise(w))
            {
                continue;
            }
            let t = if lower { w.to_lowercase() } else { w.to_string() };
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for b in prefix.bytes().chain(t.bytes()) {
                h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
            }
            if seen.insert(h) {
                out.push(h);
            }
        }
    };
    for h in &m.headers {
        let n = h.name.to_ascii_lowercase();
        if drop.contains(&n) {
            continue;
        }
        let wanted = match only {
            None => headers.contains(&n) || (n.starts_with("content-") && !noct),
            Some(fs) => fs.contains(&n),
        };
        if wanted {
            push(&n, if decoded { h.text.as_str() } else { h.raw.as_ref() });
        }
    }
    for p in m.parts.iter().filter(|_| do_body) {
        match &p.body {
            spamfilt::message::Body::Html(t) if notags => {
                let t = &t[..t.floor_char_boundary(64 * 1024)];
                let mut vis = String::new();
                let mut intag = false;
                for c in t.chars() {
                    match c {
                        '<' => intag = true,
                        '>' => {
                            intag = false;
                            vis.push(' ')
                        }
                        _ if !intag => vis.push(c),
                        _ => {}
                    }
                }
                push("", &vis)
            }
            spamfilt::message::Body::Text(t) | spamfilt::message::Body::Html(t) => {
                push("", &t[..t.floor_char_boundary(64 * 1024)])
            }
            _ => {}
        }
    }
    out
}

/// spamfilt's `is_noise` (src/features/text.rs), for the crude tokenizer.
fn is_noise(w: &str) -> bool {
    let (digits, letters) =
        w.chars().fold((0, 0), |(d, l), c| (d + c.is_ascii_digit() as usize, l + c.is_alphabetic() as usize));
    if letters == 0 {
        return !(w.starts_with(['$', '€', '£']) && digits > 0);
    }
    digits > letters || (w.len() >= 8 && digits >= 3 && w.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
}
