//! `spamfilt check`: score messages without changing anything, one line per message.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{CheckArgs, GlobalArgs};
use crate::config::Settings;
use crate::mailbox;
use crate::rules::RuleSet;
use crate::scoring::{Scored, Scorer, SenderContext};
use crate::store::reputation::ReputationLookup;
use crate::store::TokenLookup;
use crate::verdict::format_score;

pub fn run(settings: &Settings, g: &GlobalArgs, args: &CheckArgs) -> Result<ExitCode> {
    let entries = super::expand_paths(g, &args.paths)?;
    let parts = Parts::open(settings, g)?;
    let scorer = parts.scorer(settings, g);
    let rules = parts.rules.as_ref();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = false;
    let mut result: Result<()> = Ok(());
    // Messages are scored on all cores, a batch at a time, and printed in their original order.
    super::map_ordered(
        &entries,
        |entry| {
            // Only `--report` shows tokens: without it they are dropped on the worker, where
            // their memory is reused at once, rather than held for the whole batch.
            score_one(&scorer, entry).map(|mut s| {
                if !args.report {
                    s.tokens = Default::default();
                }
                s
            })
        },
        |entry, scored| {
            if result.is_err() {
                return;
            }
            let scored = match scored {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("spamfilt: {}", crate::problems::error_text(&e));
                    failed = true;
                    return;
                }
            };
            result = print_one(&mut out, entry, &scored, args, rules);
        },
    );
    result?;
    out.flush()?;
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// What `check` scores with, opened once for a run: the content rules, the token database, the
/// reputation database and the LR weights. `train --below` scores with the same (see `kept`).
pub struct Parts {
    pub rules: Option<RuleSet>,
    reader: Option<crate::store::Reader>,
    reputation: Option<crate::store::reputation::Reader>,
    lr: Option<crate::store::LrReader>,
}

impl Parts {
    /// Opens them as the flags and settings say; says (unless quiet) when there is no token
    /// database yet.
    pub fn open(settings: &Settings, g: &GlobalArgs) -> Result<Parts> {
        let rules = super::rule_set(settings, g)?;
        let reader = settings.database().reader()?.map(|r| r.with_lr(!g.no_lr && settings.scoring.lr.enabled));
        if reader.is_none() && !g.quiet {
            let with = if settings.scoring.use_starter && crate::starter::Starter::embedded().is_some() && !g.no_bayes {
                "scoring with the rules and the built-in starter table"
            } else {
                "scoring without Bayes"
            };
            eprintln!("spamfilt: no token database in {} yet; {with}", settings.db_dir.display());
        }
        let reputation = super::reputation_reader(settings, g);
        let lr = super::lr_reader(settings, g);
        Ok(Parts { rules, reader, reputation, lr })
    }

    /// The scorer over these parts.
    pub fn scorer<'a>(&'a self, settings: &'a Settings, g: &GlobalArgs) -> Scorer<'a> {
        Scorer {
            scoring: &settings.scoring,
            tokenizer: &settings.tokenizer,
            db: self.reader.as_ref().map(|r| r as &dyn TokenLookup),
            starter: crate::starter::Starter::embedded(),
            rules: self.rules.as_ref(),
            use_bayes: !g.no_bayes,
            lr: self.lr.as_ref().map(|r| r as &dyn crate::lr::Table),
            sender: Some(SenderContext {
                settings: &settings.sender,
                reputation: self.reputation.as_ref().map(|r| r as &dyn ReputationLookup),
                // `check` changes nothing and asks no DNS server: the answers the filter cached
                // count as they did for the filter, and nothing else is asked.
                resolver: &crate::dns::CacheOnly,
                now: crate::store::now_secs(),
            }),
        }
    }
}

/// Scores one message as `check` does (a panic is an error naming the message).
pub fn score_one(scorer: &Scorer, entry: &mailbox::Entry) -> Result<Scored> {
    let raw = entry.read()?;
    score_read(scorer, &entry.name, &raw)
}

/// [`score_one`] of a message already read (`name` for the error).
pub fn score_read(scorer: &Scorer, name: &str, raw: &[u8]) -> Result<Scored> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scorer.score(raw)))
        .map_err(|_| anyhow::anyhow!("{name}: internal error while scoring; please report it"))
}

fn print_one(
    out: &mut impl Write,
    entry: &mailbox::Entry,
    scored: &Scored,
    args: &CheckArgs,
    rules: Option<&RuleSet>,
) -> Result<()> {
    let v = &scored.verdict;
    let verdict = if v.is_spam { "spam" } else { "ham" };
    if args.json {
        let tests = v.test_names();
        let obj = serde_json::json!({
            "path": entry.name,
            "verdict": verdict,
            "score": v.score,
            "required": v.required,
            "tests": tests,
            "bayes": v.bayes.as_ref().map(|b| b.prob),
            "lr": v.lr.as_ref().map(|r| r.prob()),
        });
        writeln!(out, "{obj}")?;
    } else if args.report {
        write_report(out, &entry.name, scored, rules)?;
    } else {
        writeln!(out, "{}\t{}\t{}\t{}", super::Shown(&entry.name), verdict, v.score_text(), v.tests())?;
    }
    Ok(())
}

/// How many tokens `--report` shows in each direction.
const REPORT_TOKENS: usize = 10;

/// The explanation of one verdict.
fn write_report(out: &mut impl Write, name: &str, scored: &Scored, rules: Option<&RuleSet>) -> Result<()> {
    let v = &scored.verdict;
    writeln!(out, "{}", super::Shown(name))?;
    writeln!(
        out,
        "  verdict: {} (score {}, required {})",
        if v.is_spam { "spam" } else { "ham" },
        v.score_text(),
        format_score(v.required)
    )?;
    if rules.is_none() {
        writeln!(out, "  rules: not used (--no-rules)")?;
    }
    let mut hits: Vec<_> = v.hits.iter().collect();
    hits.sort_by(|a, b| b.score.abs().total_cmp(&a.score.abs()));
    for h in hits {
        writeln!(out, "  {:>8}  {:<28} {}", format!("{:+.3}", h.score), h.name, h.description)?;
    }
    if let Some(own) = scored.sender.as_ref().and_then(|s| s.own_from.as_deref()) {
        writeln!(out, "  sender: From {own} is your own address: not a known correspondent")?;
    }
    if let Some(s) = scored.sender.as_ref() {
        if let Some(l) = &s.learned_sender {
            let why = if l.spam > 0 {
                "learned as spam too: no ham evidence".to_string()
            } else if s.known_correspondent {
                "a known correspondent already: LEARNED_SENDER does not add to it".to_string()
            } else {
                format!("LEARNED_SENDER counts {:.0}% of its points", 100.0 * l.weight())
            };
            writeln!(
                out,
                "  sender: From {} through {} learned as ham {}, as spam {}: {why}",
                l.address, l.block, l.ham, l.spam
            )?;
        }
    }
    let part = |name: &str| v.hits.iter().filter(|h| h.name.starts_with(name)).map(|h| h.score).sum::<f64>();
    let (bayes, lr) = (part("BAYES_"), part("LR_"));
    writeln!(out, "  points: rules {:+.3}, Bayes {:+.3}, LR {:+.3}", v.score - bayes - lr, bayes, lr)?;
    if v.content_weight < 1.0 {
        writeln!(
            out,
            "  rules: the built-in content rules' points for spam count {:.0}% (they give way to what you trained: rules_trained_weight)",
            100.0 * v.content_weight
        )?;
    }
    match &v.lr {
        None => writeln!(out, "  LR: not used (nothing of one class learned yet, or --no-lr)")?,
        Some(r) => writeln!(
            out,
            "  LR: spam probability {:.4} (log-odds {:+.2}), voice {:.0}% (it grows with what you train)",
            r.prob(),
            r.logit,
            100.0 * r.voice
        )?,
    }
    match &v.bayes {
        None => writeln!(out, "  Bayes: not used (too little learned yet, or --no-bayes)")?,
        Some(b) => {
            let mut clues: Vec<_> = b.clues.iter().collect();
            clues.sort_by(|x, y| y.prob.total_cmp(&x.prob));
            // A Received word's counts were scaled (by learned / learned with Received fields):
            // shown as the messages that had it, as every other word's.
            let scale = b.trace.and_then(|g| g.scale).unwrap_or(crate::bayes::Evidence { spam: 1.0, ham: 1.0 });
            let show = |c: &&crate::bayes::Clue| {
                let k = if scored.tokens.is_trace(c.token) {
                    scale
                } else {
                    crate::bayes::Evidence { spam: 1.0, ham: 1.0 }
                };
                format!(
                    "{} ({:.3}, {:.0} spam/{:.0} ham)",
                    scored.tokens.get(c.token),
                    c.prob,
                    c.evidence.spam / k.spam,
                    c.evidence.ham / k.ham
                )
            };
            let spammy: Vec<String> = clues.iter().filter(|c| c.prob > 0.5).take(REPORT_TOKENS).map(show).collect();
            let hammy: Vec<String> =
                clues.iter().rev().filter(|c| c.prob < 0.5).take(REPORT_TOKENS).map(show).collect();
            writeln!(out, "  Bayes: spam probability {:.4} from {} clues", b.prob, b.clues.len())?;
            if let Some(g) = &b.trace {
                writeln!(
                    out,
                    "    Received words: {} (learned with Received fields: {} of {} ham, {} of {} spam)",
                    if g.open { "used" } else { "not used" },
                    g.received.ham,
                    g.learned.ham,
                    g.received.spam,
                    g.learned.spam
                )?;
            }
            writeln!(out, "    towards spam: {}", if spammy.is_empty() { "none".into() } else { spammy.join(", ") })?;
            writeln!(out, "    towards ham:  {}", if hammy.is_empty() { "none".into() } else { hammy.join(", ") })?;
        }
    }
    Ok(())
}
