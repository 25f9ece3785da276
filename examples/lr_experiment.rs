//! How the LR classifier's parameters were chosen: trains on one part of the SpamAssassin corpus
//! and tests on another, LR alone, rules + Bayes alone, and fused (docs/benchmarks.md).
//!
//!     cargo run --release --example lr_experiment -- CORPUS_DATA_DIR [SPLIT]
//!
//! SPLIT: `year` (train the 2002 folders, test 2003 + hard-ham-1; the default), `curve`
//! (learning curve: 20/50/200/500 of each from 2002, tested on 2003), `time` (all folders
//! ordered by Date, older half trains, newer half tests). Parameters come from the environment:
//! LR_SEED (the training order), LR_BITS, LR_WINDOW, LR_BYTES, LR_RATE, LR_PASSES, LR_DECODED, LR_LOWER (0/1), LR_MARGIN (every pass skips
//! messages already on their side by more than this; `inf` skips none; LR_FIRST_MARGIN the first pass's alone, `inf`
//! as before train on or near error applied to it; LR_CLIP=1 stops each step at the margin, as a run of one class
//! does; LR_VERBOSE=1 counts them), LR_QUANT (8: score with the weights quantised
//! to i8 as readers see them), LR_FUSE
//! (comma list of LR points per decade in the fused score), LR_KNEE, LR_FADE.
#[path = "common/corpus.rs"]
mod corpus;

use corpus::{env, Msg};
use spamfilt::eval::{self, Sample};
use spamfilt::features::TokenizerSettings;
use spamfilt::lr::{self, Shape};

fn main() {
    let dir = std::env::args().nth(1).expect("corpus data dir");
    let split = std::env::args().nth(2).unwrap_or_else(|| "year".into());
    let shape = Shape {
        bits: env("LR_BITS", lr::DEFAULT_BITS),
        window: env("LR_WINDOW", lr::DEFAULT_WINDOW),
        max_bytes: env("LR_BYTES", lr::DEFAULT_MAX_BYTES),
        lowercase: env("LR_LOWER", 1u8) == 1,
        decoded_body: env("LR_DECODED", 0u8) == 1,
    };
    let rate: f32 = env("LR_RATE", lr::DEFAULT_RATE);
    let passes: usize = env("LR_PASSES", lr::PASSES);
    let fuse: Vec<f64> = env("LR_FUSE", "0.5,1,1.5,2".to_string()).split(',').filter_map(|s| s.parse().ok()).collect();
    let tok = TokenizerSettings::default();
    let msgs = corpus::load(&dir, &shape, &tok, |m| corpus::tokens(m, &tok));
    let rules = spamfilt::rules::RuleSet::load(&Default::default()).unwrap();
    let scoring = spamfilt::verdict::ScoringSettings::default();
    let run = |train: &[&Msg], test: &[&Msg], label: &str| {
        let (model, store) = corpus::train_msgs(train, shape, rate, passes, env("LR_SEED", 1u64));
        let scorer = corpus::scorer(&scoring, &tok, &store, &rules);
        let base: Vec<f64> = test.iter().map(|m| scorer.score(&m.raw).verdict.score).collect();
        // LR_QUANT=8: score with the weights quantised as a weight file stores them for readers.
        let logits: Vec<f64> = if env("LR_QUANT", 0u8) == 8 {
            let q = lr::Quantised::of(&model);
            test.iter().map(|m| lr::Table::logit(&q, &m.feats)).collect()
        } else {
            test.iter().map(|m| model.logit(&m.feats)).collect()
        };
        let report = |name: &str, scores: &[f64]| {
            let s: Vec<Sample> = scores.iter().zip(test).map(|(&score, m)| Sample { score, is_spam: m.spam }).collect();
            let c = eval::Confusion::at(&s, 5.0);
            println!(
                "{label}\t{name}\t1-ROCA {:.4}%\trecall@0.1%FP {:.2}%\tFP@5 {}/{}\tFN@5 {}/{}",
                eval::one_minus_roca_percent(&s),
                100.0 * eval::recall_at_fp_rate(&s, 0.001),
                c.false_positives,
                c.ham,
                c.false_negatives,
                c.spam
            );
        };
        report("base", &base);
        report("lr", &logits);
        let knee: f64 = env("LR_KNEE", spamfilt::lr::LrSettings::default().points_knee);
        let fade: u64 = env("LR_FADE", 200);
        for &w in &fuse {
            let s = spamfilt::lr::LrSettings { points_per_decade: w, points_knee: knee, fade, ..Default::default() };
            let voice = spamfilt::lr::voice(model.ham, model.spam, fade);
            let f: Vec<f64> = base
                .iter()
                .zip(&logits)
                .map(|(b, &logit)| b + spamfilt::verdict::lr_points(&spamfilt::lr::LrResult { logit, voice }, &s))
                .collect();
            report(&format!("fused{w}"), &f);
        }
        let (hl, sl): (Vec<_>, Vec<_>) = logits.iter().zip(test).partition(|(_, m)| !m.spam);
        let mean = |v: &[(&f64, &&Msg)]| v.iter().map(|x| *x.0).sum::<f64>() / v.len().max(1) as f64;
        println!("{label}\tlogit means: ham {:.2} spam {:.2}", mean(&hl), mean(&sl));
    };
    let in_folders = |fs: &[&str]| -> Vec<&Msg> { msgs.iter().filter(|m| fs.contains(&m.folder)).collect() };
    println!("shape {shape:?} rate {rate} passes {passes}");
    match split.as_str() {
        "year" => {
            let train = in_folders(&["easy-ham-1", "spam-1"]);
            run(&train, &in_folders(&["easy-ham-2", "spam-2", "hard-ham-1"]), "2002->2003+hard");
            run(&train, &in_folders(&["easy-ham-2", "spam-2"]), "2002->2003");
        }
        "curve" => {
            let test = in_folders(&["easy-ham-2", "spam-2"]);
            for n in [20usize, 50, 200, 500] {
                let mut ham: Vec<&Msg> = in_folders(&["easy-ham-1"]);
                let mut spam: Vec<&Msg> = in_folders(&["spam-1"]);
                ham.sort_by_key(|m| lr::shuffle_key(&m.digest, 9));
                spam.sort_by_key(|m| lr::shuffle_key(&m.digest, 9));
                let mut train: Vec<&Msg> = ham[..n].to_vec();
                train.extend(&spam[..n]);
                run(&train, &test, &format!("curve{n}"));
            }
        }
        "time" => {
            let mut all: Vec<&Msg> = msgs.iter().filter(|m| m.date != 0).collect();
            all.sort_by_key(|m| m.date);
            let half = all.len() / 2;
            run(&all[..half], &all[half..], "time");
        }
        _ => panic!("unknown split"),
    }
}
