//! `spamfilt eval`: k-fold cross-validation on the user's own folders, in memory.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::cli::{EvalArgs, GlobalArgs};
use crate::config::Settings;
use crate::eval::{self, crossval, Confusion, Sample};
use crate::learn;
use crate::mailbox::Entry;
use crate::scoring::Scorer;
use crate::store::reputation::{IpRecord, Key, Record, ReputationLookup};
use std::collections::HashMap;
use std::net::IpAddr;

pub fn run(settings: &Settings, g: &GlobalArgs, args: &EvalArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let target_fp = eval::parse_rate(&args.target_fp)?;
    // The plot's name and directory are checked before the run, not after minutes of it.
    if let Some(path) = &args.plot {
        check_plot_path(path)?;
    }
    let mut entries: Vec<(Entry, bool)> = Vec::new();
    entries.extend(super::expand_paths(g, &args.ham)?.into_iter().map(|e| (e, false)));
    entries.extend(super::expand_paths(g, &args.spam)?.into_iter().map(|e| (e, true)));
    // Pass 1: read and tokenize every message once (on all cores), keeping only token hashes.
    // Each pass has a bar of its own that counts its messages once and ends at its total (one
    // bar for both counted every message twice, and ended short of twice the total when a file
    // was skipped).
    let bar = super::progress(g, args.no_progress, entries.len() as u64, "reading");
    let mut prepared: Vec<Option<crossval::Item>> = Vec::with_capacity(entries.len());
    // Files that are not mail are skipped and counted apart, as `train` and `check` count them.
    let mut not_mail = 0usize;
    super::map_ordered(
        &entries,
        |(entry, is_spam)| {
            bar.inc(1);
            entry.read().map(|raw| crossval::Item {
                prepared: learn::prepare(
                    &raw,
                    settings.scoring.scan_limit,
                    &settings.tokenizer,
                    &settings.sender.trusted,
                ),
                is_spam: *is_spam,
            })
        },
        |_, item| {
            prepared.push(
                item.map_err(|e| {
                    not_mail += usize::from(super::is_not_mail(&e));
                    bar.suspend(|| eprintln!("spamfilt: {}", crate::problems::error_text(&e)))
                })
                .ok(),
            );
        },
    );
    bar.finish_and_clear();
    let unreadable = prepared.iter().filter(|p| p.is_none()).count() - not_mail;
    let (items, sources): (Vec<crossval::Item>, Vec<&Entry>) =
        prepared.into_iter().zip(&entries).filter_map(|(p, (e, _))| p.map(|p| (p, e))).unzip();
    anyhow::ensure!(
        items.iter().any(|i| i.is_spam) && items.iter().any(|i| !i.is_spam),
        "eval needs readable ham and spam messages"
    );

    let rules = super::rule_set(settings, g)?;
    // The Received-chain rules run as in the filter, and so does IP reputation, learned like
    // the Bayes model from the other folds only (`FoldReputation`); the user's lists,
    // honeypots, reputation database and DNS stay out (they would decide messages by what the
    // user already knows).
    let reputation = FoldReputation::new(&items, args.folds as usize, args.seed, crate::store::now_secs());
    let chain_only = crate::sender::SenderSettings {
        trusted: settings.sender.trusted.clone(),
        ip_expire_days: settings.sender.ip_expire_days,
        ..Default::default()
    };
    let now = crate::store::now_secs();
    // Pass 2: score each message with a model that never saw it.
    let use_lr = !g.no_lr && settings.scoring.lr.enabled;
    let what = format!("scoring ({} folds)", args.folds.max(2));
    let bar = super::progress(g, args.no_progress, items.len() as u64, &what);
    let parts = crossval::run(
        &items,
        args.folds as usize,
        args.seed,
        use_lr,
        |i, model, lr_model| {
            let scorer = Scorer {
                scoring: &settings.scoring,
                tokenizer: &settings.tokenizer,
                db: Some(model),
                starter: None,
                rules: rules.as_ref(),
                use_bayes: !g.no_bayes,
                lr: lr_model.map(|m| m as &dyn crate::lr::Table),
                sender: Some(crate::scoring::SenderContext {
                    settings: &chain_only,
                    reputation: Some(&reputation.fold(crossval::fold_of(&items[i], reputation.folds, args.seed))),
                    resolver: &crate::dns::CacheOnly,
                    now,
                }),
            };
            match sources[i].read() {
                Ok(raw) => Parts::of(&scorer.score(&raw)),
                Err(_) => Parts::default(),
            }
        },
        || bar.inc(1),
    );
    let scores: Vec<f64> = parts.iter().map(|p| p.score).collect();
    // Each part alone, ranked by its own opinion: rules by their points in full, as they score
    // alone (`--no-bayes --no-lr`), not as weighed inside the fused score once Bayes and LR have
    // learned (`verdict::content_rules_weight`); Bayes and LR by their log-odds (what the fused
    // score would be if that part were all there is).
    let by_part: Vec<(&str, Vec<Sample>)> = [
        ("rules", (|p: &Parts| p.rules) as fn(&Parts) -> f64, rules.is_some()),
        ("Bayes", |p: &Parts| p.bayes, !g.no_bayes),
        ("LR", |p: &Parts| p.lr, use_lr),
        ("fused (the score)", |p: &Parts| p.score, true),
    ]
    .into_iter()
    .filter(|(_, _, used)| *used)
    .map(|(name, f, _)| {
        (name, items.iter().zip(&parts).map(|(it, p)| Sample { score: f(p), is_spam: it.is_spam }).collect())
    })
    .collect();
    bar.finish_and_clear();
    let samples: Vec<Sample> =
        items.iter().zip(&scores).map(|(it, &score)| Sample { score, is_spam: it.is_spam }).collect();
    let required = settings.scoring.required_score;
    let required_text = crate::verdict::format_score(required);
    let c = Confusion::at(&samples, required);
    let roca = eval::one_minus_roca_percent(&samples);
    let r01 = eval::recall_at_fp_rate(&samples, 0.001);
    let r1 = eval::recall_at_fp_rate(&samples, 0.01);
    let t_target = eval::threshold_for_fp_rate(&samples, target_fp).unwrap_or(f64::NAN);
    let secs = started.elapsed().as_secs_f64();

    if let Some(path) = &args.plot {
        let title = format!(
            "spamfilt eval: {} ham, {} spam, {} folds; 1-ROCA {:.3}%; at {}: {} FP, {} FN",
            c.ham, c.spam, args.folds, roca, required_text, c.false_positives, c.false_negatives
        );
        std::fs::write(path, eval::plot::render(&samples, required, &title))
            .with_context(|| format!("cannot write {}", path.display()))?;
        if !g.quiet {
            eprintln!("spamfilt: wrote the plot to {}", super::shown_path(path));
        }
    }
    if args.json {
        let obj = serde_json::json!({
            "messages": samples.len(), "ham": c.ham, "spam": c.spam, "unreadable": unreadable,
            "skipped_not_mail": not_mail,
            "folds": args.folds, "seed": args.seed, "required_score": required,
            // Every proportion is in percent (0 to 100) and its name ends in `_percent`.
            "false_positives": c.false_positives, "false_positive_percent": c.fp_percent(),
            "false_negatives": c.false_negatives, "false_negative_percent": c.fn_percent(),
            "one_minus_roca_percent": roca,
            "spam_recall_percent_at_0_1_percent_fp": 100.0 * r01, "spam_recall_percent_at_1_percent_fp": 100.0 * r1,
            "target_fp_percent": 100.0 * target_fp, "threshold_for_target_fp": t_target,
            "parts": by_part.iter().map(|(name, s)| (name.split(' ').next().unwrap_or(name).to_lowercase(), serde_json::json!({
                "one_minus_roca_percent": eval::one_minus_roca_percent(s),
                "spam_recall_percent_at_0_1_percent_fp": 100.0 * eval::recall_at_fp_rate(s, 0.001),
            }))).collect::<serde_json::Map<String, serde_json::Value>>(),
            "seconds": secs,
        });
        println!("{obj}");
    } else {
        println!(
            "messages:        {} ({} ham, {} spam), {} folds, seed {}{}",
            samples.len(),
            c.ham,
            c.spam,
            args.folds,
            args.seed,
            [(not_mail, "skipped (not mail)"), (unreadable, "unreadable")]
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, what)| format!(", {n} {what}"))
                .collect::<String>()
        );
        println!(
            "at threshold {required_text}: {} false positives ({:.3}%), {} false negatives ({:.3}%)",
            c.false_positives,
            c.fp_percent(),
            c.false_negatives,
            c.fn_percent()
        );
        println!("1-ROCA:          {roca:.4}%");
        println!(
            "spam recall:     {:.2}% at 0.1% false positives{}, {:.2}% at 1%{}{}",
            100.0 * r01,
            few_ham(c.ham, 0.001),
            100.0 * r1,
            few_ham(c.ham, 0.01),
            few_spam(c.spam)
        );
        println!("threshold for {:.3}% false positives: {t_target:.3}{}", 100.0 * target_fp, few_ham(c.ham, target_fp));
        if !few_ham(c.ham, 0.001).is_empty() {
            println!(
                "note: a figure at a false-positive rate below one message of your {} ham rests on no false positive at all",
                c.ham
            );
        }
        println!("each part alone (1-ROCA, spam recall at 0.1% false positives{}):", few_ham(c.ham, 0.001));
        for (name, s) in &by_part {
            println!(
                "  {name:<18} {:.4}%  {:.2}%",
                eval::one_minus_roca_percent(s),
                100.0 * eval::recall_at_fp_rate(s, 0.001)
            );
        }
        println!("time:            {secs:.1} s");
        if g.verbose > 0 {
            // The mistakes, worst first: what to look at (and perhaps train or list).
            let mut wrong: Vec<(f64, bool, &str)> = items
                .iter()
                .zip(&scores)
                .enumerate()
                .filter(|(_, (it, &sc))| (sc >= required) != it.is_spam)
                .map(|(i, (it, &sc))| (sc, it.is_spam, sources[i].name.as_str()))
                .collect();
            wrong.sort_by(|a, b| (b.0 - required).abs().total_cmp(&(a.0 - required).abs()));
            for (score, is_spam, name) in wrong {
                let what = if is_spam { "false negative" } else { "false positive" };
                println!("{what}\t{}\t{name}", crate::verdict::format_score(score));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--plot FILE`: an `.svg` name in a directory that can be written, checked before the run.
fn check_plot_path(path: &std::path::Path) -> Result<()> {
    let shown = super::shown_path(path);
    anyhow::ensure!(
        path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg")),
        "--plot {shown}: the plot is an SVG image: name a .svg file"
    );
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("--plot {shown}: cannot write there"))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// IP reputation for cross-validation: the spam and ham counts of each message's first
/// untrusted relay, learned from all messages, and for each fold the same minus that fold, so a
/// message is scored with what the other folds taught (as the Bayes model is).
struct FoldReputation {
    folds: usize,
    all: HashMap<IpAddr, (u32, u32)>,
    per_fold: Vec<HashMap<IpAddr, (u32, u32)>>,
    /// Learned senders (`LEARNED_SENDER`): spam and ham by sender key, in all and per fold.
    senders_all: HashMap<Key, (u32, u32)>,
    senders_per_fold: Vec<HashMap<Key, (u32, u32)>>,
    /// Messages with a relay, in all and per fold.
    relayed_all: u64,
    relayed_per_fold: Vec<u64>,
    now: u64,
}

/// One fold's view of `FoldReputation`.
struct OneFold<'a> {
    rep: &'a FoldReputation,
    fold: usize,
}

impl FoldReputation {
    fn new(items: &[crossval::Item], folds: usize, seed: u64, now: u64) -> FoldReputation {
        let folds = folds.max(2);
        let mut all: HashMap<IpAddr, (u32, u32)> = HashMap::new();
        let mut per_fold = vec![HashMap::new(); folds];
        let mut senders_all: HashMap<Key, (u32, u32)> = HashMap::new();
        let mut senders_per_fold = vec![HashMap::new(); folds];
        for item in items {
            let Some(ip) = item.prepared.origin else { continue };
            // As training counts them (`learn::record_sender`): spam through a list too.
            if let Some(from) = &item.prepared.from {
                let key = crate::store::reputation::sender_key(from, ip);
                let fold = crossval::fold_of(item, folds, seed);
                for map in [&mut senders_all, &mut senders_per_fold[fold]] {
                    let c: &mut (u32, u32) = map.entry(key).or_default();
                    if item.is_spam {
                        c.0 += 1;
                    } else {
                        c.1 += 1;
                    }
                }
            }
            // As training does: spam through a mailing list does not count against the list server.
            if item.is_spam && item.prepared.via_list {
                continue;
            }
            for map in [&mut all, &mut per_fold[crossval::fold_of(item, folds, seed)]] {
                let c: &mut (u32, u32) = map.entry(crate::store::reputation::ip_block(ip)).or_default();
                if item.is_spam {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
            }
        }
        let sum = |m: &HashMap<IpAddr, (u32, u32)>| m.values().map(|c| c.0 as u64 + c.1 as u64).sum::<u64>();
        let relayed_all = sum(&all);
        let relayed_per_fold = per_fold.iter().map(sum).collect();
        FoldReputation { folds, all, per_fold, senders_all, senders_per_fold, relayed_all, relayed_per_fold, now }
    }

    fn fold(&self, fold: usize) -> OneFold<'_> {
        OneFold { rep: self, fold }
    }
}

impl ReputationLookup for OneFold<'_> {
    fn relayed(&self) -> u64 {
        self.rep.relayed_all - self.rep.relayed_per_fold[self.fold]
    }

    fn get(&self, key: &Key) -> Option<Record> {
        if let Some(&(spam, ham)) = self.rep.senders_all.get(key) {
            let (fs, fh) = self.rep.senders_per_fold[self.fold].get(key).copied().unwrap_or_default();
            let (spam, ham) = (spam - fs, ham - fh);
            // The address and block only name the record in reports; eval shows none.
            return (spam > 0 || ham > 0).then(|| {
                Record::Sender(crate::store::reputation::LearnedSender {
                    ham,
                    spam,
                    last: self.rep.now,
                    ..Default::default()
                })
            });
        }
        let ip = crate::store::reputation::ip_from_key(*key);
        let (spam, ham) = *self.rep.all.get(&ip)?;
        let (fs, fh) = self.rep.per_fold[self.fold].get(&ip).copied().unwrap_or_default();
        let (spam, ham) = (spam - fs, ham - fh);
        if spam == 0 && ham == 0 {
            return None;
        }
        let now = self.rep.now;
        Some(Record::Ip(IpRecord {
            first_seen: now,
            last_seen: now,
            last_spam: if spam > 0 { now } else { 0 },
            spam,
            ham,
            ..IpRecord::default()
        }))
    }
}

/// A verdict's score and what each part said (see `by_part`).
#[derive(Debug, Clone, Copy, Default)]
struct Parts {
    score: f64,
    /// The points of the rules alone: with the content rules in full (`Scored::rules_in_full`).
    rules: f64,
    /// Bayes' log-odds (0 when not used).
    bayes: f64,
    /// LR's log-odds (0 when not used).
    lr: f64,
}

impl Parts {
    fn of(scored: &crate::scoring::Scored) -> Parts {
        let v = &scored.verdict;
        // The rule hits' own points (the score less the other parts would carry the score's
        // rounding to 0.001, which moved the rules' ranking whenever LR's points changed), in
        // full: the hits in the verdict have the content rules' points for spam weighed, and
        // not by a constant factor of the column (sender rules, `[scores]` and points for ham
        // are not weighed), so they would rank the messages unlike the rules alone.
        Parts {
            score: v.score,
            rules: scored.rules_in_full,
            bayes: v.bayes.as_ref().map_or(0.0, |b| b.log_odds),
            lr: v.lr.as_ref().map_or(0.0, |r| r.logit),
        }
    }
}

/// What to say after a figure taken at a false-positive `rate` measured on `ham` messages: a
/// rate below one message of the ham (0.1% of fewer than 1,000) rests on no false positive at
/// all, so the figure means nothing yet.
fn few_ham(ham: usize, rate: f64) -> String {
    if rate <= 0.0 || ham as f64 * rate >= 1.0 {
        return String::new();
    }
    let need = (1.0 / rate).ceil() as usize;
    format!(" (too few ham to mean anything: needs at least {need})")
}

/// What to say after spam recall measured on few spam (each message a large step of it).
fn few_spam(spam: usize) -> String {
    if spam >= 100 || spam == 0 {
        return String::new();
    }
    format!(" (on {spam} spam: each is {:.1}% of the recall)", 100.0 / spam as f64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn figures_on_too_few_messages_say_so() {
        assert_eq!(super::few_ham(60, 0.001), " (too few ham to mean anything: needs at least 1000)");
        assert_eq!(super::few_ham(1000, 0.001), "");
        assert_eq!(super::few_ham(100, 0.01), "");
        assert_eq!(super::few_spam(2), " (on 2 spam: each is 50.0% of the recall)");
        assert_eq!(super::few_spam(100), "");
    }
}
